"""`make tune`: AWS Lambda Power Tuning, locally — one function, one event, several memory sizes.

Per memory size: a fresh execution environment (INIT and first invocation recorded: what a cold
user waits), then N warm invocations of the event; as Power Tuning does, the fastest and slowest
20 % are dropped and the rest averaged, and cost per invocation = ceil(ms) x the architecture's
rate per GB-second x memory (measure/prices.json). CPU follows memory as on Lambda (emulator/sandbox.py);
where the host cannot emulate it, the run says so and the result file records it.

Strategies, as Power Tuning names them: cheapest (lowest cost per invocation), fastest (lowest
duration) and balanced: the lowest 0.5 x cost / max cost + 0.5 x duration / max duration
(Power Tuning's "balanced" with its default weight 0.5).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import platform
import statistics
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from workbench.emulator import sandbox
from workbench.emulator.environment import FunctionPool, Invocation
from workbench.emulator.service import LocalService
from workbench.emulator.template import PROJECT_ROOT, FunctionSpec, SamApplication
from workbench.measure.cost import Prices
from workbench.measure.results import RESULTS_PAGE, ResultTable, write_section

DEFAULT_MEMORY_SIZES = (128, 256, 512, 1024, 1769, 3008)
TRIM_FRACTION = 0.2  # Power Tuning drops the fastest and slowest 20 % of its invocations
BALANCED_WEIGHT = 0.5
IDEMPOTENCY_HEADER = "idempotency-key"  # Power Tuning's default balancedWeight: cost and speed count the same


class TuneInputError(ValueError):
    """Bad input: one line for the user, exit 2."""


def parse_memory_sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise TuneInputError(f"MEMORY must be comma-separated whole MB, got {text!r}") from None
    if not sizes:
        raise TuneInputError("MEMORY is empty")
    for size in sizes:
        try:
            sandbox.check_host_can_give(size)
        except sandbox.EmulationError as error:
            raise TuneInputError(str(error)) from None
    return sorted(set(sizes))


def read_event(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except OSError as error:
        raise TuneInputError(f"cannot read event {path}: {error.strerror}") from None
    except json.JSONDecodeError as error:
        raise TuneInputError(f"event {path} is not JSON: {error.msg} at line {error.lineno}") from None


def fresh_idempotency_key(event: Any) -> Any:
    """The event with a new Idempotency-Key header, when it has one.

    Power Tuning sends one payload again and again; for an idempotent API that measures replays of
    the first response, not the work. A new key per invocation makes every invocation do the work.
    """
    headers = event.get("headers") if isinstance(event, dict) else None
    if not isinstance(headers, dict):
        return event
    keys = [name for name in headers if name.lower() == IDEMPOTENCY_HEADER]
    if not keys:
        return event
    return {**event, "headers": {**headers, keys[0]: f"tune-{uuid.uuid4()}"}}


def trimmed_mean(values: list[float], fraction: float = TRIM_FRACTION) -> float:
    """The mean after dropping the fastest and slowest `fraction` (at least one value stays)."""
    ordered = sorted(values)
    cut = int(len(ordered) * fraction)
    kept = ordered[cut : len(ordered) - cut] or ordered
    return statistics.fmean(kept)


def cost_per_invocation(prices: Prices, arch: str, duration_ms: float, memory_mb: int) -> float:
    """Power Tuning's figure: billed duration x rate x memory (the request charge is the same at any size)."""
    return math.ceil(duration_ms) / 1000 * memory_mb / 1024 * prices.duration[arch]


def _first_restored_invocation(
    spec: FunctionSpec, environment: dict[str, str], logs: IO[str], service: LocalService, event: Any
) -> Invocation:
    """The same size under SnapStart: INIT once for the snapshot, then a restored environment's first call."""
    pool = FunctionPool(
        spec, environment, max_environments=1, log_sink=logs, emulation=service.emulation, snapstart=True
    )
    try:
        return pool.invoke(event)
    finally:
        pool.close()


def choose(rows: list[dict[str, Any]]) -> dict[str, int]:
    """The cheapest, fastest and balanced memory sizes."""
    max_cost = max(r["cost_per_invocation"] for r in rows)
    max_duration = max(r["duration_ms"] for r in rows)

    def balanced(row: dict[str, Any]) -> float:
        return float(
            BALANCED_WEIGHT * row["cost_per_invocation"] / max_cost
            + (1 - BALANCED_WEIGHT) * (row["duration_ms"] / max_duration)
        )

    return {
        "cheapest": min(rows, key=lambda r: (r["cost_per_invocation"], r["duration_ms"]))["memory_mb"],
        "fastest": min(rows, key=lambda r: (r["duration_ms"], r["memory_mb"]))["memory_mb"],
        "balanced": min(rows, key=balanced)["memory_mb"],
    }


def tune(
    function: str,
    event_path: Path,
    memory_sizes: list[int],
    *,
    quick: bool,
    out_dir: Path,
    requests_per_month: int,
    replay: bool = False,
    results_page: Path | None = None,
) -> dict[str, Any]:
    from rich.console import Console
    from rich.progress import Progress

    template_event = read_event(event_path)

    def event() -> Any:
        return template_event if replay else fresh_idempotency_key(template_event)

    app = SamApplication()
    if function not in app.functions:
        raise TuneInputError(
            f"no function {function!r} in template.yaml (functions: {', '.join(sorted(app.functions))})"
        )
    warm_count = 8 if quick else 30
    prices = Prices.load()
    arch = app.functions[function].architectures[0]
    console = Console(stderr=True)
    rows: list[dict[str, Any]] = []
    with (
        open(os.devnull, "w") as function_logs,
        LocalService(log_sink=function_logs) as service,
    ):
        service.prepare_database()
        size = _OneSize(
            service.build.spec(service.app.functions[function]), service.environment(function), function_logs, service
        )
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"tuning {function}", total=len(memory_sizes) * (warm_count + 2))
            for memory in memory_sizes:
                rows.append(size.measure(memory, event, warm_count, lambda: progress.advance(task)))
    for row in rows:
        row["cost_per_invocation"] = cost_per_invocation(prices, arch, row["duration_ms"], row["memory_mb"])
        row["cost_per_month"] = requests_per_month * (prices.request + row["cost_per_invocation"])
    result = {
        "function": function,
        "event": str(event_path),
        "fresh_idempotency_key": not replay and fresh_idempotency_key(template_event) is not template_event,
        "architecture": arch,
        "warm_invocations": warm_count,
        "trim_fraction": TRIM_FRACTION,
        "balanced_weight": BALANCED_WEIGHT,
        "requests_per_month": requests_per_month,
        "emulation": {
            "cpu_and_memory": all(row["emulated"] for row in rows),
            "throttle_init": service.emulation.throttle_init,
            "note": "CPU ∝ memory via cgroups (1,769 MB = 1 vCPU); no network latency, no Firecracker",
        },
        "choices": choose(rows),
        "rows": rows,
        "prices": prices.source,
        "machine": {"platform": platform.platform(), "python": platform.python_version(), "cpus": sandbox.host_cpus()},
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"tune-{function}.json").write_text(json.dumps(result, indent=2) + "\n")
    _chart(result, out_dir / f"tune-{function}.png")
    _print(result, out_dir, quick, results_page)
    return result


@dataclasses.dataclass(frozen=True)
class _OneSize:
    """One function measured at one memory size: a fresh environment, warm invocations, a SnapStart restore."""

    base: FunctionSpec
    environment: dict[str, str]
    logs: IO[str]
    service: LocalService

    def measure(
        self, memory: int, event: Callable[[], Any], warm_count: int, step: Callable[[], None]
    ) -> dict[str, Any]:
        spec = dataclasses.replace(self.base, memory_mb=memory)
        emulation = self.service.emulation
        pool = FunctionPool(spec, self.environment, max_environments=1, log_sink=self.logs, emulation=emulation)
        try:
            first = pool.invoke(event())
            step()
            warm = []
            for _ in range(warm_count):
                warm.append(pool.invoke(event()))
                step()
        finally:
            pool.close()
        restored = _first_restored_invocation(spec, self.environment, self.logs, self.service, event())
        step()
        failed = [i for i in [first, *warm, restored] if i.error is not None]
        if failed:
            raise RuntimeError(f"{spec.logical_id} at {memory} MB failed: {failed[0].error}")
        return {
            "memory_mb": memory,
            "vcpus": round(sandbox.vcpus_for(memory), 3),
            "duration_ms": trimmed_mean([i.duration_ms for i in warm]),
            "warm_durations_ms": [i.duration_ms for i in warm],
            "init_ms": first.init_duration_ms,
            "first_invocation_ms": first.duration_ms,
            "time_to_first_response_ms": (first.init_duration_ms or 0) + first.duration_ms,
            "restore_ms": restored.restore_duration_ms,  # SnapStart: restore + hooks, instead of INIT
            "restore_hooks_ms": restored.billed_restore_ms,
            "first_invocation_after_restore_ms": restored.duration_ms,
            "max_memory_used_mb": max(i.max_memory_used_mb for i in [first, *warm]),
            "emulated": all(i.emulated for i in [first, *warm]),
        }


def result_table(result: dict[str, Any]) -> ResultTable:
    choices = result["choices"]
    columns = ("memory", "vCPU", "warm", "INIT", "1st invocation", "first response", "max mem", "$ / 1M inv.",
               f"$ / month ({result['requests_per_month']:,})", "choice")  # fmt: skip
    title = (
        f"{result['function']} ({result['architecture']}): mean of {result['warm_invocations']} warm "
        f"invocations minus the fastest/slowest 20 %, {result['event']}"
    )
    table = ResultTable(title, columns)
    for row in result["rows"]:
        table.add(
            f"{row['memory_mb']} MB",
            f"{row['vcpus']:.2f}",
            f"{row['duration_ms']:.1f} ms",
            f"{row['init_ms']:.0f} ms",
            f"{row['first_invocation_ms']:.0f} ms",
            f"{row['time_to_first_response_ms']:.0f} ms",
            f"{row['max_memory_used_mb']} MB",
            f"{row['cost_per_invocation'] * 1e6:.3f}",
            f"{row['cost_per_month']:.2f}",
            ", ".join(name for name, memory in choices.items() if memory == row["memory_mb"]),
        )
    return table


def _print(result: dict[str, Any], out_dir: Path, quick: bool, results_page: Path | None) -> None:
    from rich.console import Console

    console = Console(width=max(Console().width, 120))
    table = result_table(result)
    console.print(table.rich())
    notes = [
        f"balanced = lowest {result['balanced_weight']} x cost/max cost + {1 - result['balanced_weight']} x "
        "duration/max duration"
    ]
    if result["fresh_idempotency_key"]:
        notes.append("each invocation got a new Idempotency-Key (--replay sends the event's own)")
    if not result["emulation"]["cpu_and_memory"]:
        console.print(f"[bold red]{sandbox.NOT_EMULATED}[/]: every size ran at the host's full speed")
        notes.append(f"{sandbox.NOT_EMULATED}: every size ran at the host's full speed")
    for note in notes:
        console.print(note)
    command = f"make tune FN={result['function']} EVENT={result['event']}{' QUICK=1' if quick else ''}"
    console.print(f"Wrote {out_dir / ('tune-' + result['function'] + '.json')} and .png")
    if results_page is not None:
        write_section(f"tune-{result['function']}", command, [table], notes, results_page)
        console.print(f"Wrote its section of {results_page}")


def _chart(result: dict[str, Any], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = result["rows"]
    labels = [str(r["memory_mb"]) for r in rows]
    figure, duration_axis = plt.subplots(figsize=(8, 4.5))
    duration_axis.plot(labels, [r["duration_ms"] for r in rows], "o-", color="tab:red", label="warm duration")
    duration_axis.set_xlabel("memory (MB)")
    duration_axis.set_ylabel("warm duration (ms)", color="tab:red")
    cost_axis = duration_axis.twinx()
    cost_axis.plot(labels, [r["cost_per_invocation"] * 1e6 for r in rows], "s-", color="tab:blue", label="cost")
    cost_axis.set_ylabel("USD per 1M invocations (duration)", color="tab:blue")
    duration_axis.set_title(f"{result['function']} — local power tuning ({result['architecture']} prices)")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench tune")
    parser.add_argument("function")
    parser.add_argument("event", type=Path)
    parser.add_argument("--memory", default=",".join(map(str, DEFAULT_MEMORY_SIZES)))
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--replay", action="store_true", help="send the event as is, Idempotency-Key included")
    parser.add_argument("--requests-per-month", type=int, default=10_000_000)
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    parser.add_argument("--results", type=Path, default=RESULTS_PAGE, help="the results page to write its section of")
    args = parser.parse_args(argv)
    try:
        sizes = parse_memory_sizes(args.memory)
        tune(
            args.function,
            args.event,
            sizes,
            quick=args.quick,
            out_dir=args.out,
            requests_per_month=args.requests_per_month,
            replay=args.replay,
            results_page=args.results,
        )
    except TuneInputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
