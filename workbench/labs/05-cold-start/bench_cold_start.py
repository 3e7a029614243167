"""This lab's bench step: What INIT costs, and what priming at INIT saves the first response (lab 05)."""

from __future__ import annotations

import dataclasses
import json
import statistics

from workbench.emulator.template import PROJECT_ROOT, FunctionSpec
from workbench.measure.bench import Bench, Comparison, Timing, import_time_ms
from workbench.measure.tune import fresh_idempotency_key

PRIMING_MEMORY_MB = 512  # the template's default size, and where the first invocation's CPU share (29 %) shows
IMPORTS_WE_KEEP = {
    "boto3": "import boto3",
    "pymysql": "import pymysql",
    "pydantic": "import pydantic",
    "Powertools Logger + Metrics": "from aws_lambda_powertools import Logger, Metrics",
    "OpenTelemetry API + X-Ray propagator (our tracing)": "import opentelemetry.trace, opentelemetry.propagators.aws",
    "X-Ray SDK (the lab's 'before' only)": "import aws_xray_sdk.core",
    "Powertools parameters": "from aws_lambda_powertools.utilities import parameters",
    "Powertools batch": "from aws_lambda_powertools.utilities.batch import BatchProcessor",
    "Powertools event_handler": "from aws_lambda_powertools.event_handler import APIGatewayHttpResolver",
    "Powertools idempotency": "from aws_lambda_powertools.utilities.idempotency import idempotent_function",
}


def init_priming(bench: Bench) -> Comparison:
    """Time to first response (INIT + first invocation) at 512 MB: clients primed at INIT vs built on first use."""
    comparison = Comparison(
        "clients primed at INIT",
        "ApiFunction as shipped (primed)",
        "lazy: built in the first invocation",
        f"time to first response ms at {PRIMING_MEMORY_MB} MB",
    )
    variants = {
        "optimized": dataclasses.replace(bench.api, memory_mb=PRIMING_MEMORY_MB),
        "naive": bench.as_twin(
            bench.api,
            "lazy_api.handler",
            memory_mb=PRIMING_MEMORY_MB,
        ),
    }
    event = json.loads((PROJECT_ROOT / "events" / "api_post_order.json").read_text())
    firsts = bench.cold_starts(variants, event=lambda: fresh_idempotency_key(event))
    phases = {
        name: {
            "init": [bench.ok(i).init_duration_ms or 0.0 for i in invocations],
            "first": [i.duration_ms for i in invocations],
        }
        for name, invocations in firsts.items()
    }
    for name in variants:
        first_response = [i + f for i, f in zip(phases[name]["init"], phases[name]["first"], strict=True)]
        setattr(comparison, f"{name}_timing", Timing(first_response))
    comparison.notes.append(
        "INIT / first invocation medians, ms: "
        + "; ".join(
            f"{name} {statistics.median(p['init']):.0f} / {statistics.median(p['first']):.0f}"
            for name, p in phases.items()
        )
    )
    return comparison


def cold_start(bench: Bench) -> Comparison:
    comparison = Comparison("cold start", "ApiFunction as shipped", "naive eager init", "Init Duration ms")
    variants: dict[str, FunctionSpec] = {
        "floor (import boto3 + 1 client)": bench.as_twin(bench.api, "floor.handler"),
        "naive eager init": bench.as_twin(bench.api, "heavy_init.handler"),
    }
    for logical_id in ("ApiFunction", "OrdersConsumer", "DailyRollupFunction"):
        variants[logical_id] = bench.service.build.spec(bench.service.app.functions[logical_id])
    inits = bench.inits(variants)
    comparison.optimized_timing = Timing(inits["ApiFunction"])
    comparison.naive_timing = Timing(inits["naive eager init"])
    imports = {label: import_time_ms(statement) for label, statement in IMPORTS_WE_KEEP.items()}
    comparison.notes.append(
        "on Lambda (python3.13 arm64) a hello world inits in ≈ 80 ms (maxday/lambda-perf) and import boto3 + one "
        "client in ≈ 404–430 ms (cebert/aws-lambda-performance-benchmarks, Dec 2025); "
        "the tracing table shows what Tracing costs at INIT"
    )
    comparison.details = {"init_ms": {k: statistics.median(v) for k, v in inits.items()}, "imports_ms": imports}
    return comparison


STEPS = (
    init_priming,
    cold_start,
)
