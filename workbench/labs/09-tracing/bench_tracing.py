"""This lab's bench step: INIT with tracing off, ours and the X-Ray SDK twin; what a span costs (lab 09)."""

from __future__ import annotations

import dataclasses
import statistics
from pathlib import Path

from workbench.emulator.build import installed_copy
from workbench.emulator.environment import FunctionPool
from workbench.emulator.sandbox import ONE_VCPU_MB
from workbench.emulator.template import FunctionSpec
from workbench.measure.bench import DISCARD_ADDRESS, Bench, Comparison, Timing, distribution_bytes

TRACED_FUNCTIONS = ("ApiFunction", "OrdersConsumer", "DailyRollupFunction")
XRAY_SDK_DISTRIBUTIONS = ("aws-xray-sdk", "wrapt")  # the "before" of src/orders/tracing, for the lab only
SPANS_PER_ROUND = 200


def tracing(bench: Bench) -> Comparison:
    """INIT with tracing off, with ours (OpenTelemetry API + UDP) and with the X-Ray SDK twin; per-span cost."""
    comparison = Comparison(
        "tracing (ApiFunction)", "OpenTelemetry API + UDP (ours)", "X-Ray SDK twin (before)", "Init Duration ms"
    )
    xray_layer = installed_copy("lab-xray-layer/python", XRAY_SDK_DISTRIBUTIONS).parent  # a layer: python/ inside
    variants: dict[str, FunctionSpec] = {}
    extra_environment: dict[str, dict[str, str]] = {}
    for logical_id in TRACED_FUNCTIONS:
        spec = bench.service.build.spec(bench.service.app.functions[logical_id])
        variants[f"{logical_id}, tracing off"] = spec
        extra_environment[f"{logical_id}, tracing off"] = {"POWERTOOLS_TRACE_DISABLED": "true"}
        variants[f"{logical_id}, ours"] = spec
        variants[f"{logical_id}, X-Ray SDK"] = bench.as_twin(
            spec,
            "xray_sdk_twin.handler",
            layer_dirs=(*spec.layer_dirs, xray_layer),
        )
        extra_environment[f"{logical_id}, X-Ray SDK"] = {"TWIN_HANDLER": spec.handler}
    inits = bench.inits(variants, extra_environment=extra_environment)
    comparison.optimized_timing = Timing(inits["ApiFunction, ours"])
    comparison.naive_timing = Timing(inits["ApiFunction, X-Ray SDK"])
    medians = {name: statistics.median(values) for name, values in inits.items()}
    added = {f: medians[f"{f}, ours"] - medians[f"{f}, tracing off"] for f in TRACED_FUNCTIONS}
    comparison.notes.append(
        "INIT added by tracing (ours − off), ms: " + ", ".join(f"{f} {ms:+.0f}" for f, ms in added.items())
    )
    per_span = _span_cost(bench, xray_layer)
    layer = bench.service.build.spec(bench.service.app.functions["ApiFunction"]).layer_dirs[0] / "python"
    sizes = {
        "ours (opentelemetry-api + X-Ray propagator)": distribution_bytes(layer, ("opentelemetry",)),
        "X-Ray SDK + wrapt": distribution_bytes(xray_layer / "python", ("aws_xray_sdk", "wrapt")),
    }
    comparison.details = {"init_ms": medians, "added_ms": added, "per_span_us": per_span, "unzipped_bytes": sizes}
    return comparison


def _span_cost(bench: Bench, xray_layer: Path) -> dict[str, float]:
    """Microseconds per span: (duration with N spans - duration with none) / N, warm, median of rounds.

    At 1,769 MB (one vCPU): below that, a short burst fits in one CFS period's quota and a long one
    does not, which would compare the throttle rather than the tracers."""
    api = dataclasses.replace(bench.api, memory_mb=ONE_VCPU_MB)
    pools = {
        "ours": FunctionPool(
            bench.as_twin(api, "span_cost.ours"),
            bench.base_environment | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS, "POWERTOOLS_TRACE_DISABLED": "false"},
            max_environments=1,
            log_sink=bench.service.log_sink,
        ),
        "X-Ray SDK": FunctionPool(
            bench.as_twin(
                api,
                "span_cost.xray",
                layer_dirs=(*api.layer_dirs, xray_layer),
            ),
            bench.base_environment | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS},
            max_environments=1,
            log_sink=bench.service.log_sink,
        ),
    }
    cost: dict[str, float] = {}
    for name, pool in pools.items():
        bench.ok(pool.invoke({"spans": 10}))
        rounds = []
        for _ in range(bench.sizes.rounds):
            empty = statistics.median(bench.ok(pool.invoke({"spans": 0})).duration_ms for _ in range(5))
            full = statistics.median(bench.ok(pool.invoke({"spans": SPANS_PER_ROUND})).duration_ms for _ in range(5))
            rounds.append((full - empty) * 1000 / SPANS_PER_ROUND)
        cost[name] = statistics.median(rounds)
        pool.close()
    return cost


STEPS = (tracing,)
