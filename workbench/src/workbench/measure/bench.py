"""`make bench`: each optimization of src/ against its naive twin, in one run, through the local runner.

Every twin runs in real worker processes (one per execution environment) against moto and the real
MySQL. Timings are compared as ratios measured in the same run — absolute times on a shared 2-core
box are noise — and counted figures (clients built, connections opened, API calls) are exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.emulator.build import installed_copy
from workbench.emulator.environment import FunctionPool, Invocation
from workbench.emulator.sandbox import ONE_VCPU_MB
from workbench.emulator.service import LocalService
from workbench.emulator.template import PROJECT_ROOT, FunctionSpec
from workbench.measure.events import sqs_batches
from workbench.measure.tune import fresh_idempotency_key

LABS = Path(__file__).resolve().parents[3] / "labs"  # each lab folder holds its naive twin(s)
TRACED_FUNCTIONS = ("ApiFunction", "OrdersConsumer", "DailyRollupFunction")
XRAY_SDK_DISTRIBUTIONS = ("aws-xray-sdk", "wrapt")  # the "before" of src/orders/tracing, for the lab only
SPANS_PER_ROUND = 200
TRACING_INIT_BUDGET_MS = 15  # what tracing may add to a function's INIT
DISCARD_ADDRESS = "127.0.0.1:9"  # the discard port: spans are encoded and sent, nobody listens
PRIMING_MEMORY_MB = 512  # the template's default size, and where the first invocation's CPU share (29 %) shows
# Zipped, bytecode included (about 3x the source) and RDS's CA bundle for the rotation (≈ 60 KB): catches a
# bundled dependency (boto3 alone is megabytes), not the package's own growth.
FUNCTION_CODE_BUDGET_BYTES = 256 * 1024
LAYER_BUDGET_BYTES = 8 * 1024 * 1024  # zipped: Powertools + pydantic + PyMySQL + X-Ray SDK fit well under it
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


@dataclass(frozen=True)
class Sizes:
    quick: bool

    @property
    def rounds(self) -> int:
        return 3 if self.quick else 7

    @property
    def per_round(self) -> int:
        return 10 if self.quick else 30

    @property
    def counted(self) -> int:
        return 100  # "per 100 invocations": exact counts are cheap, so quick runs count the full 100

    @property
    def messages(self) -> int:
        return 200 if self.quick else 1000

    @property
    def cold_starts(self) -> int:
        return 1 if self.quick else 5


@dataclass
class Timing:
    """Per-round medians of one variant: the median of those, and their spread."""

    round_medians_ms: list[float]

    @property
    def median_ms(self) -> float:
        return statistics.median(self.round_medians_ms)

    @property
    def min_ms(self) -> float:
        return min(self.round_medians_ms)

    @property
    def max_ms(self) -> float:
        return max(self.round_medians_ms)


@dataclass
class Comparison:
    pattern: str
    optimized: str
    naive: str
    unit: str
    optimized_timing: Timing | None = None
    naive_timing: Timing | None = None
    counts: dict[str, dict[str, float]] = field(default_factory=dict)  # figure -> {variant: value}
    expected_counts: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    @property
    def ratio(self) -> float | None:
        if not self.optimized_timing or not self.naive_timing or self.optimized_timing.median_ms <= 0:
            return None
        return self.naive_timing.median_ms / self.optimized_timing.median_ms

    @property
    def separated(self) -> bool | None:
        """The naive twin's fastest round is slower than the optimized variant's slowest round."""
        if not self.optimized_timing or not self.naive_timing:
            return None
        return self.naive_timing.min_ms > self.optimized_timing.max_ms

    def count_failures(self) -> list[str]:
        failures = []
        for figure, expected in self.expected_counts.items():
            for variant, value in expected.items():
                actual = self.counts.get(figure, {}).get(variant)
                if actual != value:
                    failures.append(f"{self.pattern}: {figure} for {variant} was {actual}, expected {value}")
        return failures


class Bench:
    def __init__(self, service: LocalService, sizes: Sizes) -> None:
        self.service = service
        self.sizes = sizes
        # The twins import `orders` from the built, read-only function code, as the real function does.
        self.api = service.build.spec(service.app.functions["ApiFunction"])
        self.base_environment = service.environment("ApiFunction") | {"PYTHONPATH": str(self.api.code_dir)}
        self._lab_code: dict[Path, Path] = {}

    # ---------------------------------------------------------------- helpers
    def lab_code(self, handler: str) -> Path:
        """The built code of the lab folder holding the handler's module (`client_reuse.reused`: 01-client-reuse/)."""
        module = handler.split(".")[0]
        (folder,) = {path.parent for path in LABS.glob(f"*/{module}.py")}
        if folder not in self._lab_code:
            self._lab_code[folder] = self.service.build.code(folder)
        return self._lab_code[folder]

    def as_twin(self, spec: FunctionSpec, handler: str, **changes: Any) -> FunctionSpec:
        """A function's spec running a lab handler instead of its own."""
        return dataclasses.replace(spec, handler=handler, code_dir=self.lab_code(handler), **changes)

    def twin(self, handler: str, *, template_function: str = "ApiFunction", **env: str) -> FunctionPool:
        """A pool running a lab handler with a real function's settings and environment."""
        real = self.service.build.spec(self.service.app.functions[template_function])
        spec = self.as_twin(real, handler, logical_id=handler.replace(".", "_"))
        # The real function's environment, its execution role included: the twin may call what it may.
        environment = self.service.environment(template_function) | {"PYTHONPATH": str(self.api.code_dir)} | env
        return FunctionPool(spec, environment, max_environments=1, log_sink=self.service.log_sink)

    def interleaved(self, pools: dict[str, FunctionPool], event: Callable[[], Any]) -> dict[str, Timing]:
        """Rounds of warm invocations, alternating variants so both see the same machine noise."""
        for pool in pools.values():
            self._ok(pool.invoke(event()))  # warm up: INIT and the first lazy work are not what we compare
        rounds: dict[str, list[float]] = {name: [] for name in pools}
        for _ in range(self.sizes.rounds):
            samples: dict[str, list[float]] = {name: [] for name in pools}
            for _ in range(self.sizes.per_round):
                for name, pool in pools.items():
                    samples[name].append(self._ok(pool.invoke(event())).duration_ms)
            for name in pools:
                rounds[name].append(statistics.median(samples[name]))
        return {name: Timing(values) for name, values in rounds.items()}

    @contextlib.contextmanager
    def _granted(self, function: str, action: str, table: str) -> Iterator[None]:
        """An inline policy on the function's role in the local cloud while the block runs (IAM judges by it)."""
        statement = {"Effect": "Allow", "Action": action, "Resource": self.service.cloud.symbols[table]["Arn"]}
        iam, role, name = self.service.cloud.client("iam"), self.service.cloud.role_names[function], "lab-twin-grant"
        document = json.dumps({"Version": "2012-10-17", "Statement": [statement]})
        iam.put_role_policy(RoleName=role, PolicyName=name, PolicyDocument=document)
        try:
            yield
        finally:
            iam.delete_role_policy(RoleName=role, PolicyName=name)

    @staticmethod
    def _ok(invocation: Invocation) -> Invocation:
        if invocation.error is not None:
            raise RuntimeError(f"bench invocation failed: {invocation.error}")
        return invocation

    def aws_calls(self, operation: str) -> int:
        return self.service.cloud.requests.snapshot().get(operation, 0)

    # ---------------------------------------------------------------- patterns
    def _twins(
        self,
        comparison: Comparison,
        handlers: tuple[str, str],
        figure: str,
        count: Callable[[Callable[[], list[Invocation]]], int],
    ) -> Comparison:
        """The shared recipe: count over 100 invocations of a fresh environment each, then time both warm.

        `count` gets a function that runs the 100 invocations and returns what it counted.
        """
        variants = dict(zip(("optimized", "naive"), handlers, strict=True))
        counted: dict[str, float] = {}
        for name, handler in variants.items():
            pool = self.twin(handler)

            def hundred_invocations(pool: FunctionPool = pool) -> list[Invocation]:
                return [self._ok(pool.invoke({})) for _ in range(self.sizes.counted)]

            counted[name] = count(hundred_invocations)
            pool.close()
        comparison.counts[figure] = counted
        comparison.expected_counts[figure] = {"optimized": 1, "naive": self.sizes.counted}
        pools = {name: self.twin(handler) for name, handler in variants.items()}
        timings = self.interleaved(pools, dict)
        comparison.optimized_timing, comparison.naive_timing = timings["optimized"], timings["naive"]
        for pool in pools.values():
            pool.close()
        return comparison

    @staticmethod
    def _delta(counter: Callable[[], int]) -> Callable[[Callable[[], list[Invocation]]], int]:
        """Count from outside: the counter's value after the invocations minus before."""

        def count(run: Callable[[], list[Invocation]]) -> int:
            before = counter()
            run()
            return counter() - before

        return count

    def client_reuse(self) -> Comparison:
        return self._twins(
            Comparison("client reuse", "module-scope client", "client per invocation", "ms/invocation"),
            ("client_reuse.reused", "client_reuse.per_invocation"),
            "clients built per 100 invocations",
            lambda run: int(run()[-1].payload["clients_built"]),  # the worker's own create_client count
        )

    def connection_reuse(self) -> Comparison:
        comparison = self._twins(
            Comparison(
                "connection reuse (RDS Proxy pooling)",
                "one connection per environment",
                "connect per invocation",
                "ms/invocation",
            ),
            ("connection_reuse.reused", "connection_reuse.per_invocation"),
            "MySQL connections opened per 100 invocations (counted at the proxy)",
            self._delta(self.service.database_proxy.connections_opened),
        )
        if not self.service.database.tls:
            comparison.notes.append(
                "the local server offers no TLS, so the naive twin pays no handshake here; through RDS Proxy "
                "(RequireTLS) each connect also costs a TLS handshake — PyMySQL >= 1.2 measured 23 ms per connect "
                "with its default SSL context vs 1.85 ms with one context built once (measured on this project's "
                "machine, PyMySQL 1.2.4, Nov 2026)"
            )
        return comparison

    def secret_caching(self) -> Comparison:
        return self._twins(
            Comparison("secret caching", "cached with TTL", "GetSecretValue per invocation", "ms/invocation"),
            ("secret_caching.cached", "secret_caching.per_invocation"),
            "GetSecretValue calls per 100 invocations (within one TTL)",
            self._delta(lambda: self.aws_calls("secretsmanager.GetSecretValue")),
        )

    def batch_writes(self) -> Comparison:
        consumer = self.service.app.functions["OrdersConsumer"]
        (mapping,) = consumer.events_of_type("SQS").values()
        batch_size = int(mapping.get("BatchSize", 10))
        messages = self.sizes.messages
        comparison = Comparison(
            "batch writes",
            f"BatchWriteItem x25 (batches of {batch_size})",
            "PutItem per message",
            "ms per batch of " + str(batch_size),
        )
        optimized = FunctionPool(
            self.service.build.spec(consumer),
            self.service.environment("OrdersConsumer"),
            max_environments=1,
            log_sink=self.service.log_sink,
        )
        naive = self.twin("put_item_consumer.handler", template_function="OrdersConsumer")
        batches = sqs_batches(messages, batch_size)
        counted: dict[str, dict[str, float]] = {"DynamoDB write requests": {}, "messages per second": {}}
        durations: dict[str, list[float]] = {}
        # The naive twin writes one PutItem per message: a permission the shipped consumer, which only
        # batches, does not hold. Granted to its role for this comparison only.
        with self._granted("OrdersConsumer", "dynamodb:PutItem", "OrdersTable"):
            for name, pool, operation in (
                ("optimized", optimized, "dynamodb.BatchWriteItem"),
                ("naive", naive, "dynamodb.PutItem"),
            ):
                self._ok(pool.invoke(sqs_batches(1, 1)[0]))  # INIT and lazy clients out of the way
                before = self.aws_calls(operation)
                durations[name] = [self._ok(pool.invoke(batch)).duration_ms for batch in batches]
                counted["DynamoDB write requests"][name] = self.aws_calls(operation) - before
                counted["messages per second"][name] = round(messages / (sum(durations[name]) / 1000), 1)
                pool.close()
        comparison.counts = counted
        comparison.expected_counts["DynamoDB write requests"] = {
            "optimized": sum(math.ceil(len(batch["Records"]) / 25) for batch in batches),  # ceil(n/25) per batch
            "naive": messages,
        }
        per_round = max(1, len(durations["optimized"]) // self.sizes.rounds)
        for name in ("optimized", "naive"):
            chunks = [durations[name][i : i + per_round] for i in range(0, len(durations[name]), per_round)]
            setattr(comparison, f"{name}_timing", Timing([statistics.median(chunk) for chunk in chunks]))
        return comparison

    def cold_start(self) -> tuple[Comparison, dict[str, Any]]:
        comparison = Comparison("cold start", "ApiFunction as shipped", "naive eager init", "Init Duration ms")
        variants: dict[str, FunctionSpec] = {
            "floor (import boto3 + 1 client)": self.as_twin(self.api, "floor.handler"),
            "naive eager init": self.as_twin(self.api, "heavy_init.handler"),
        }
        for logical_id in ("ApiFunction", "OrdersConsumer", "DailyRollupFunction"):
            variants[logical_id] = self.service.build.spec(self.service.app.functions[logical_id])
        inits = self._inits(variants)
        comparison.optimized_timing = Timing(inits["ApiFunction"])
        comparison.naive_timing = Timing(inits["naive eager init"])
        imports = {label: import_time_ms(statement) for label, statement in IMPORTS_WE_KEEP.items()}
        comparison.notes.append(
            "on Lambda (python3.13 arm64) a hello world inits in ≈ 80 ms (maxday/lambda-perf) and import boto3 + one "
            "client in ≈ 404–430 ms (cebert/aws-lambda-performance-benchmarks, Dec 2025); "
            "the tracing table shows what Tracing costs at INIT"
        )
        return comparison, {"init_ms": {k: statistics.median(v) for k, v in inits.items()}, "imports_ms": imports}

    def _cold_starts(
        self,
        variants: dict[str, FunctionSpec],
        *,
        event: Callable[[], Any] = dict,
        extra_environment: dict[str, dict[str, str]] | None = None,
    ) -> dict[str, list[Invocation]]:
        """First invocations of fresh environments, variants interleaved, Tracing on as deployed
        (a variant's extra environment may switch it off)."""
        firsts: dict[str, list[Invocation]] = {name: [] for name in variants}
        for _ in range(self.sizes.cold_starts):
            for name, spec in variants.items():
                traced = self._environment_of(spec) | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS}
                traced.pop("POWERTOOLS_TRACE_DISABLED", None)
                environment = traced | (extra_environment or {}).get(name, {})
                pool = FunctionPool(spec, environment, max_environments=1, log_sink=self.service.log_sink)
                invocation = pool.invoke(event(), cold=True)
                pool.close()
                assert invocation.init_duration_ms is not None
                firsts[name].append(invocation)
        return firsts

    def _environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        """The template function's own environment (a twin of it too: it imports that function's code)."""
        real = self.service.build.spec(self.service.app.functions[spec.logical_id])
        return self.service.environment(spec.logical_id) | {"PYTHONPATH": str(real.code_dir)}

    def _inits(self, variants: dict[str, FunctionSpec], **options: Any) -> dict[str, list[float]]:
        """Init Duration of fresh environments (see _cold_starts)."""
        return {
            name: [i.init_duration_ms or 0.0 for i in invocations]
            for name, invocations in self._cold_starts(variants, **options).items()
        }

    def init_priming(self) -> Comparison:
        """Time to first response (INIT + first invocation) at 512 MB: clients primed at INIT vs built on first use."""
        comparison = Comparison(
            "clients primed at INIT",
            "ApiFunction as shipped (primed)",
            "lazy: built in the first invocation",
            f"time to first response ms at {PRIMING_MEMORY_MB} MB",
        )
        variants = {
            "optimized": dataclasses.replace(self.api, memory_mb=PRIMING_MEMORY_MB),
            "naive": self.as_twin(
                self.api,
                "lazy_api.handler",
                memory_mb=PRIMING_MEMORY_MB,
            ),
        }
        event = json.loads((PROJECT_ROOT / "events" / "api_post_order.json").read_text())
        firsts = self._cold_starts(variants, event=lambda: fresh_idempotency_key(event))
        phases = {
            name: {
                "init": [self._ok(i).init_duration_ms or 0.0 for i in invocations],
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

    def tracing(self) -> tuple[Comparison, dict[str, Any]]:
        """INIT with tracing off, with ours (OpenTelemetry API + UDP) and with the X-Ray SDK twin; per-span cost."""
        comparison = Comparison(
            "tracing (ApiFunction)", "OpenTelemetry API + UDP (ours)", "X-Ray SDK twin (before)", "Init Duration ms"
        )
        xray_layer = installed_copy("lab-xray-layer/python", XRAY_SDK_DISTRIBUTIONS).parent  # a layer: python/ inside
        variants: dict[str, FunctionSpec] = {}
        extra_environment: dict[str, dict[str, str]] = {}
        for logical_id in TRACED_FUNCTIONS:
            spec = self.service.build.spec(self.service.app.functions[logical_id])
            variants[f"{logical_id}, tracing off"] = spec
            extra_environment[f"{logical_id}, tracing off"] = {"POWERTOOLS_TRACE_DISABLED": "true"}
            variants[f"{logical_id}, ours"] = spec
            variants[f"{logical_id}, X-Ray SDK"] = self.as_twin(
                spec,
                "xray_sdk_twin.handler",
                layer_dirs=(*spec.layer_dirs, xray_layer),
            )
            extra_environment[f"{logical_id}, X-Ray SDK"] = {"TWIN_HANDLER": spec.handler}
        inits = self._inits(variants, extra_environment=extra_environment)
        comparison.optimized_timing = Timing(inits["ApiFunction, ours"])
        comparison.naive_timing = Timing(inits["ApiFunction, X-Ray SDK"])
        medians = {name: statistics.median(values) for name, values in inits.items()}
        added = {f: medians[f"{f}, ours"] - medians[f"{f}, tracing off"] for f in TRACED_FUNCTIONS}
        comparison.notes.append(
            "INIT added by tracing (ours − off), ms: " + ", ".join(f"{f} {ms:+.0f}" for f, ms in added.items())
        )
        per_span = self._span_cost(xray_layer)
        layer = self.service.build.spec(self.service.app.functions["ApiFunction"]).layer_dirs[0] / "python"
        sizes = {
            "ours (opentelemetry-api + X-Ray propagator)": _distribution_bytes(layer, ("opentelemetry",)),
            "X-Ray SDK + wrapt": _distribution_bytes(xray_layer / "python", ("aws_xray_sdk", "wrapt")),
        }
        details = {"init_ms": medians, "added_ms": added, "per_span_us": per_span, "unzipped_bytes": sizes}
        return comparison, details

    def _span_cost(self, xray_layer: Path) -> dict[str, float]:
        """Microseconds per span: (duration with N spans - duration with none) / N, warm, median of rounds.

        At 1,769 MB (one vCPU): below that, a short burst fits in one CFS period's quota and a long one
        does not, which would compare the throttle rather than the tracers."""
        api = dataclasses.replace(self.api, memory_mb=ONE_VCPU_MB)
        pools = {
            "ours": FunctionPool(
                self.as_twin(api, "span_cost.ours"),
                self.base_environment
                | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS, "POWERTOOLS_TRACE_DISABLED": "false"},
                max_environments=1,
                log_sink=self.service.log_sink,
            ),
            "X-Ray SDK": FunctionPool(
                self.as_twin(
                    api,
                    "span_cost.xray",
                    layer_dirs=(*api.layer_dirs, xray_layer),
                ),
                self.base_environment | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS},
                max_environments=1,
                log_sink=self.service.log_sink,
            ),
        }
        cost: dict[str, float] = {}
        for name, pool in pools.items():
            self._ok(pool.invoke({"spans": 10}))
            rounds = []
            for _ in range(self.sizes.rounds):
                empty = statistics.median(self._ok(pool.invoke({"spans": 0})).duration_ms for _ in range(5))
                full = statistics.median(
                    self._ok(pool.invoke({"spans": SPANS_PER_ROUND})).duration_ms for _ in range(5)
                )
                rounds.append((full - empty) * 1000 / SPANS_PER_ROUND)
            cost[name] = statistics.median(rounds)
            pool.close()
        return cost

    def shipped_bytecode(self) -> Comparison:
        """INIT from read-only code with the .pyc files the build ships, and with none (`--no-compile`)."""
        comparison = Comparison(
            "shipped bytecode", "code + layer with .pyc", "source only (compiled every cold start)", "Init Duration ms"
        )
        function = self.service.app.functions["ApiFunction"]
        variants = {"optimized": self.api, "naive": self.service.build.without_bytecode(function)}
        inits = self._inits(variants)
        comparison.optimized_timing = Timing(inits["optimized"])
        comparison.naive_timing = Timing(inits["naive"])
        comparison.counts[".pyc files shipped (function + layer)"] = {
            name: sum(1 for folder in (spec.code_dir, *spec.layer_dirs) for _ in folder.rglob("*.pyc"))
            for name, spec in variants.items()
        }
        return comparison


def _distribution_bytes(site: Path, packages: Sequence[str]) -> int:
    """Unzipped bytes of these top-level packages (and their .dist-info) in a site folder."""
    return sum(
        path.stat().st_size
        for entry in site.iterdir()
        if entry.name.split("-")[0].split(".")[0] in packages
        for path in ([entry] if entry.is_file() else entry.rglob("*"))
        if path.is_file()
    )


def import_time_ms(statement: str) -> float:
    """What one statement adds to a fresh interpreter's imports (`python -X importtime`), in ms.

    The modules the statement imports beyond a bare interpreter's (`pass`), each counted once with
    everything it imported: differences of totals would carry the startup imports' noise.
    """
    baseline = set(_top_level_imports("pass"))
    return sum(us for name, us in _top_level_imports(statement).items() if name not in baseline) / 1000


def _top_level_imports(statement: str) -> dict[str, int]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed statement
        [sys.executable, "-X", "importtime", "-c", statement], capture_output=True, text=True, check=True
    )
    return top_level_import_times(result.stderr)


def top_level_import_times(importtime_output: str) -> dict[str, int]:
    """`-X importtime`'s report → each top-level import's cumulative µs (it includes what it imported)."""
    times: dict[str, int] = {}
    for line in importtime_output.splitlines():
        if not line.startswith("import time:") or line.startswith("import time: self"):  # the header
            continue
        _, cumulative, name = line.split("|")
        if not name.startswith("  "):  # indented: imported by the module above it, already in its cumulative
            times[name.strip()] = int(cumulative)
    return times


def package_sizes(build_dir: Path) -> dict[str, Any]:
    """Zipped sizes of the built function code and layer, and the layer's biggest contributors."""

    def zipped(path: Path) -> int:
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for file in sorted(path.rglob("*")):
                if file.is_file():
                    archive.write(file, file.relative_to(path))
        return buffer.tell()

    layer = build_dir / "DependenciesLayer"
    function = build_dir / "ApiFunction"
    contributors = {
        entry.name: zipped(entry) if entry.is_dir() else entry.stat().st_size
        for entry in (layer / "python").iterdir()
        if not entry.name.endswith(".dist-info")
    }
    top = dict(sorted(contributors.items(), key=lambda kv: -kv[1])[:6])
    return {"function_zipped": zipped(function), "layer_zipped": zipped(layer), "layer_top": top}
