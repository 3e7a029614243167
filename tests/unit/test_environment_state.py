"""What a warm execution environment keeps is kept one way: behind a `functools.cache` getter.

A cold start in the tests is `reset_execution_environment()` (tests/fixtures.py): it clears every cached
getter of the `orders` package, so anything an environment keeps between invocations — clients, the
database connection, the settings, the secrets provider, the tracer, the retry jitter — must live
behind one. Everything else a module holds at import must need no reset; this test names each kind
and why, and fails on anything new, so a module-level global cannot again escape the reset.
"""

from __future__ import annotations

import functools
import importlib
import logging
import pkgutil
import re
import types
from pathlib import Path
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.event_handler import APIGatewayHttpResolver
from aws_lambda_powertools.utilities.batch import BatchProcessor
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.config import Config
from opentelemetry.propagators.aws import AwsXRayPropagator
from pydantic import TypeAdapter

import orders
from tests.fixtures import reset_execution_environment

# Kinds of module-level objects that carry nothing from one invocation to the next, and why.
NEEDS_NO_RESET: dict[type | tuple[type, ...], str] = {
    (
        Logger,
        Metrics,
        Tracer,
    ): "Powertools' own: keys, metrics and segments are per invocation, flushed by its decorators",
    logging.Logger: "the standard library's: a name, a level and handlers",
    APIGatewayHttpResolver: "its routes are fixed at import; each event is resolved on its own",
    BatchProcessor: "Powertools resets its records and failures at every batch",
    (TypeSerializer, TypeDeserializer, AwsXRayPropagator, TypeAdapter): "stateless converters",
    Config: "botocore's client settings, immutable once made",
    Path: "a path of the package's own files",
}
CONSTANTS = re.compile(r"^_?[A-Z][A-Z0-9_]*$")  # dicts and sets named as constants are read, never written
PLAIN = (str, int, float, bool, bytes, type(None), tuple, frozenset, type, types.ModuleType, types.FunctionType)


def _module_state() -> dict[str, Any]:
    found = {}
    for info in pkgutil.walk_packages(orders.__path__, "orders."):
        module = importlib.import_module(info.name)
        for name, value in vars(module).items():
            if not name.startswith("__") and name != "annotations":
                found[f"{info.name}.{name}"] = value
    return found


def _kept_without_reset(name: str, value: Any) -> bool:
    plain = isinstance(value, PLAIN) or type(value).__module__ in {"typing", "types"}
    constant = isinstance(value, dict | set | list) and CONSTANTS.match(name.rsplit(".", 1)[1]) is not None
    return plain or constant or any(isinstance(value, kind) for kind in NEEDS_NO_RESET)


def test_everything_a_module_keeps_is_a_cached_getter_or_needs_no_reset():
    # GIVEN every module of the service, imported
    state = _module_state()
    getters = {name for name, value in state.items() if isinstance(value, functools._lru_cache_wrapper)}
    # THEN what an environment keeps sits behind getters, and nothing else a module holds needs a reset
    assert {"orders.adapters.orders_table.retry_jitter", "orders.tracing.opentelemetry_tracer"} <= getters
    escaping = sorted(
        name for name, value in state.items() if name not in getters and not _kept_without_reset(name, value)
    )
    assert escaping == []


def test_a_list_kept_at_module_level_is_caught():
    # GIVEN a list or an object kept at module level, THEN the check calls it state that escapes the reset
    assert not _kept_without_reset("orders.example.seen", [])
    assert not _kept_without_reset("orders.example._rng", object())


def test_the_reset_gives_the_next_invocation_a_fresh_jitter_and_tracer_lookup():
    # GIVEN a warm environment that drew retry delays
    from orders.adapters import orders_table
    from orders.tracing import opentelemetry_tracer

    warm = orders_table.retry_jitter()
    opentelemetry_tracer()
    # WHEN it is reset, as a cold start would
    reset_execution_environment()
    # THEN nothing is kept, and the next invocation builds its own
    assert opentelemetry_tracer.cache_info().currsize == 0
    assert orders_table.retry_jitter() is not warm
