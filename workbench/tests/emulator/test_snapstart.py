"""SnapStart in the local runner: INIT once per version, environments restored from a fork of it,
REPORT with Restore Duration — and the hazards a restore brings, with and without the hooks."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.factories import load_event

from workbench.emulator.environment import Emulation, FunctionPool
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication

FUNCTIONS = Path(__file__).parent / "functions"
MYSQL = (os.environ.get("MYSQL_HOST", "127.0.0.1"), os.environ.get("MYSQL_PORT", "3306"))
pytestmark = [pytest.mark.integration, pytest.mark.skipif(not hasattr(os, "fork"), reason="SnapStart needs os.fork")]


@pytest.fixture
def probes() -> Iterator[dict[str, FunctionPool]]:
    app = SamApplication()
    spec = dataclasses.replace(
        app.functions["ApiFunction"],
        logical_id="SnapStartProbe",
        handler="snapstart_probe.handler",
        code_dir=FUNCTIONS,
        layer_dirs=(),
    )
    environment = {"AWS_REGION": "us-east-1", "PROBE_HOST": MYSQL[0], "PROBE_PORT": MYSQL[1]}
    pools = {
        hooks: FunctionPool(
            spec, environment | {"PROBE_HOOKS": hooks}, max_environments=2, snapstart=True, emulation=Emulation()
        )
        for hooks in ("on", "off")
    }
    yield pools
    for pool in pools.values():
        pool.close()


def two_restored_environments(pool: FunctionPool) -> list[dict[str, object]]:
    """Two environments, each new (cold), both restored from the pool's one snapshot."""
    answers = [pool.invoke({}, cold=True) for _ in range(2)]
    assert all(a.error is None for a in answers), answers
    payloads = [a.payload for a in answers]
    assert payloads[0]["pid"] != payloads[1]["pid"]  # two processes, …
    return payloads  # type: ignore[return-value]


def test_without_hooks_restored_environments_share_the_snapshots_socket_and_random_state(probes):
    # GIVEN a function whose INIT opens a socket and seeds a generator, no hooks
    # WHEN two environments are restored from one snapshot, THEN they share the socket and draw the same numbers
    first, second = two_restored_environments(probes["off"])
    assert first["socket"] == second["socket"]  # one TCP connection, used by both
    assert first["draws"] == second["draws"]  # the same "random" numbers


def test_with_the_after_restore_hook_each_environment_has_its_own(probes):
    # GIVEN the same function with an after-restore hook, WHEN two are restored, THEN each has its own
    first, second = two_restored_environments(probes["on"])
    assert first["socket"] != second["socket"]
    assert first["draws"] != second["draws"]


def test_init_runs_once_per_version_and_restores_are_reported_as_lambda_reports_them(probes):
    # GIVEN a SnapStart function, WHEN three cold invocations come
    # THEN INIT ran once, each REPORT says Restore Duration
    pool = probes["on"]
    invocations = [pool.invoke({}, cold=True) for _ in range(3)]
    snapshot = pool.snapshot()
    assert snapshot is not None
    assert snapshot.init_duration_ms > 0
    for invocation in invocations:
        line = invocation.report_line()
        assert "Restore Duration: " in line
        assert "Billed Restore Duration: " in line
        assert "Init Duration" not in line
    warm = pool.invoke({})
    assert "Restore Duration" not in warm.report_line()  # a warm invocation reports neither


def test_the_api_with_snapstart_answers_202_from_a_restored_environment():
    # GIVEN the API under SnapStart, WHEN an order is posted, THEN a restored environment answers 202
    with LocalService(parameter_overrides={"ColdStartStrategy": "snapstart"}) as service:
        service.prepare_database()
        invocation = service.pool("ApiFunction").invoke(load_event("api_post_order.json"))
    assert invocation.error is None
    assert invocation.payload["statusCode"] == 202
    assert invocation.restore_duration_ms is not None
    assert invocation.init_duration_ms is None
