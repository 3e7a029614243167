"""`make bench`: each optimization of src/ against its naive twin, in one run, through the local runner.

Every twin runs in real worker processes (one per execution environment) against moto and the real
MySQL. Timings are compared as ratios measured in the same run — absolute times on a shared 2-core
box are noise — and counted figures (clients built, connections opened, API calls) are exact.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import importlib.util
import io
import json
import statistics
import subprocess
import sys
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from workbench.emulator.environment import FunctionPool, Invocation
from workbench.emulator.service import LocalService
from workbench.emulator.template import FunctionSpec

LABS = Path(__file__).resolve().parents[3] / "labs"  # each lab folder holds its naive twin(s)
TRACING_INIT_BUDGET_MS = 15  # what tracing may add to a function's INIT
DISCARD_ADDRESS = "127.0.0.1:9"  # the discard port: spans are encoded and sent, nobody listens
# Zipped, bytecode included (about 3x the source) and RDS's CA bundle for the rotation (≈ 60 KB): catches a
# bundled dependency (boto3 alone is megabytes), not the package's own growth.
FUNCTION_CODE_BUDGET_BYTES = 256 * 1024
LAYER_BUDGET_BYTES = 8 * 1024 * 1024  # zipped: Powertools + pydantic + PyMySQL + X-Ray SDK fit well under it


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
    details: dict[str, Any] = field(default_factory=dict)  # what a step measured beyond the comparison (its tables)

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


Step = Callable[["Bench"], Comparison]


@functools.cache
def lab_steps() -> tuple[Step, ...]:
    """Every lab's bench step, in the labs' order: each lab folder's `bench_*.py` lists its STEPS."""
    steps: list[Step] = []
    for path in sorted(LABS.glob("*/bench_*.py")):
        spec = importlib.util.spec_from_file_location(f"workbench_labs_{path.stem}", path)
        assert spec is not None, path
        assert spec.loader is not None, path
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        steps.extend(module.STEPS)
    return tuple(steps)


def lab_step(name: str) -> Step:
    """One lab's step by its name (`secret_caching`)."""
    (step,) = [step for step in lab_steps() if step.__name__ == name]
    return step


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

    def function(self, template_function: str, **env: str) -> FunctionPool:
        """A pool running a template function as built, its environment changed by `env`."""
        spec = self.service.build.spec(self.service.app.functions[template_function])
        environment = self.service.environment(template_function) | env
        return FunctionPool(spec, environment, max_environments=1, log_sink=self.service.log_sink)

    def interleaved(self, pools: dict[str, FunctionPool], event: Callable[[], Any]) -> dict[str, Timing]:
        """Rounds of warm invocations, alternating variants so both see the same machine noise."""
        for pool in pools.values():
            self.ok(pool.invoke(event()))  # warm up: INIT and the first lazy work are not what we compare
        rounds: dict[str, list[float]] = {name: [] for name in pools}
        for _ in range(self.sizes.rounds):
            samples: dict[str, list[float]] = {name: [] for name in pools}
            for _ in range(self.sizes.per_round):
                for name, pool in pools.items():
                    samples[name].append(self.ok(pool.invoke(event())).duration_ms)
            for name in pools:
                rounds[name].append(statistics.median(samples[name]))
        return {name: Timing(values) for name, values in rounds.items()}

    @contextlib.contextmanager
    def granted(self, function: str, action: str, table: str) -> Iterator[None]:
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
    def ok(invocation: Invocation) -> Invocation:
        if invocation.error is not None:
            raise RuntimeError(f"bench invocation failed: {invocation.error}")
        return invocation

    def aws_calls(self, operation: str) -> int:
        return self.service.cloud.requests.snapshot().get(operation, 0)

    # ---------------------------------------------------------------- patterns
    def twins(
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
                return [self.ok(pool.invoke({})) for _ in range(self.sizes.counted)]

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
    def delta(counter: Callable[[], int]) -> Callable[[Callable[[], list[Invocation]]], int]:
        """Count from outside: the counter's value after the invocations minus before."""

        def count(run: Callable[[], list[Invocation]]) -> int:
            before = counter()
            run()
            return counter() - before

        return count

    def cold_starts(
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
                traced = self.environment_of(spec) | {"AWS_XRAY_DAEMON_ADDRESS": DISCARD_ADDRESS}
                traced.pop("POWERTOOLS_TRACE_DISABLED", None)
                environment = traced | (extra_environment or {}).get(name, {})
                pool = FunctionPool(spec, environment, max_environments=1, log_sink=self.service.log_sink)
                invocation = pool.invoke(event(), cold=True)
                pool.close()
                assert invocation.init_duration_ms is not None
                firsts[name].append(invocation)
        return firsts

    def environment_of(self, spec: FunctionSpec) -> dict[str, str]:
        """The template function's own environment (a twin of it too: it imports that function's code)."""
        real = self.service.build.spec(self.service.app.functions[spec.logical_id])
        return self.service.environment(spec.logical_id) | {"PYTHONPATH": str(real.code_dir)}

    def inits(self, variants: dict[str, FunctionSpec], **options: Any) -> dict[str, list[float]]:
        """Init Duration of fresh environments (see cold_starts)."""
        return {
            name: [i.init_duration_ms or 0.0 for i in invocations]
            for name, invocations in self.cold_starts(variants, **options).items()
        }


def distribution_bytes(site: Path, packages: Sequence[str]) -> int:
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
