"""Running the bench end to end: the table, results.json and the chart."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console

from workbench.emulator.service import LocalService
from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.bench import (
    FUNCTION_CODE_BUDGET_BYTES,
    LAYER_BUDGET_BYTES,
    TRACING_INIT_BUDGET_MS,
    Bench,
    Comparison,
    Sizes,
    lab_steps,
    package_sizes,
)
from workbench.measure.results import RESULTS_PAGE, ResultTable, machine_info, write_section


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench bench", description="every optimization against its naive twin")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; counts stay exact (CI)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    parser.add_argument("--results", type=Path, default=RESULTS_PAGE, help="the results page to write its section of")
    args = parser.parse_args(argv)
    return run_bench(quick=args.quick, out_dir=args.out, results_page=args.results)


@dataclass(frozen=True)
class BenchRun:
    """What one bench run measured: the comparisons, the cold-start and tracing details, the package sizes."""

    quick: bool
    comparisons: list[Comparison]
    cold: dict[str, Any]
    tracing: dict[str, Any]
    sizes: dict[str, Any]


@dataclass(frozen=True)
class Check:
    label: str
    passed: bool


def run_bench(*, quick: bool, out_dir: Path, results_page: Path | None = None) -> int:
    console = Console(width=max(Console().width, 120))
    run = measure(quick, console)
    tables = result_tables(run)
    for table in tables:
        console.print(table.rich())
    for comparison in run.comparisons:
        for note in comparison.notes:
            console.print(f"[dim]note ({comparison.pattern}): {note}[/]")
    found = checks(run)
    for check in found:
        console.print(f"{'[green]PASS' if check.passed else '[yellow]MISS'}[/] {check.label}")
    out_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": machine_info(),
        "quick": quick,
        "comparisons": [_as_dict(c) for c in run.comparisons],
        "cold_start": run.cold,
        "tracing": run.tracing,
        "package_sizes": run.sizes,
        "checks": [{"check": c.label, "pass": c.passed} for c in found],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart = _chart(run.comparisons, run.cold, out_dir / "results.png")
    console.print(f"wrote {out_dir / 'results.json'} and {chart}")
    if results_page is not None:
        labels = [f"{'PASS' if c.passed else 'MISS'} {c.label}" for c in found]
        write_section("bench", f"make bench{' QUICK=1' if quick else ''}", tables, labels, results_page)
        console.print(f"wrote the bench section of {results_page}")
    # Counts are deterministic: a wrong one is a broken run. Slow timings on a busy machine are not.
    return 1 if any(failure for c in run.comparisons for failure in c.count_failures()) else 0


def measure(quick: bool, console: Console) -> BenchRun:
    """Every lab's bench step against the local runner, then `sam build` for the deployable artifacts' sizes."""
    logs = tempfile.TemporaryFile("w")  # noqa: SIM115 - the twins' logs are not the point here
    with LocalService(log_sink=logs) as service:
        service.prepare_database()
        bench = Bench(service, Sizes(quick=quick))
        comparisons: list[Comparison] = []
        for step in lab_steps():
            console.print(f"[dim]measuring {step.__name__.replace('_', ' ')} …[/]")
            comparisons.append(step(bench))
    console.print("[dim]sam build (for package sizes: the deployable, aarch64 artifacts) …[/]")
    subprocess.run(["make", "-s", "build"], cwd=PROJECT_ROOT, check=True, capture_output=True)  # noqa: S607
    sizes = package_sizes(PROJECT_ROOT / ".aws-sam" / "build")
    return BenchRun(
        quick, comparisons, _details(comparisons, "imports_ms"), _details(comparisons, "per_span_us"), sizes
    )


def _details(comparisons: list[Comparison], key: str) -> dict[str, Any]:
    """The details of the step that measured `key` (the cold-start step's imports, the tracing step's spans)."""
    (details,) = [c.details for c in comparisons if key in c.details]
    return details


def checks(run: BenchRun) -> list[Check]:
    """What the run must show: exact counts always; timings separated only in a full run; the budgets."""
    found: list[Check] = []
    init_ms = run.tracing["init_ms"]
    for function, added in run.tracing["added_ms"].items():
        found.append(
            Check(f"tracing adds ≤ {TRACING_INIT_BUDGET_MS} ms to {function}'s INIT", added <= TRACING_INIT_BUDGET_MS)
        )
        ours, xray = init_ms[f"{function}, ours"], init_ms[f"{function}, X-Ray SDK"]
        found.append(Check(f"{function}: INIT with our tracing below the X-Ray SDK twin's", ours < xray))
    count_failures = [failure for comparison in run.comparisons for failure in comparison.count_failures()]
    for comparison in run.comparisons:
        for figure, expected in comparison.expected_counts.items():
            if not any(figure in failure for failure in count_failures):
                found.append(Check(f"{comparison.pattern}: {figure} exactly {expected}", True))
    found += [Check(failure, False) for failure in count_failures]
    for comparison in run.comparisons:
        if comparison.ratio is not None and not run.quick:
            label = f"{comparison.pattern}: optimized faster, rounds not overlapping ({comparison.ratio:.1f}×)"
            found.append(Check(label, bool(comparison.separated and comparison.ratio > 1)))
    function_kb, layer_mb = FUNCTION_CODE_BUDGET_BYTES // 1024, LAYER_BUDGET_BYTES // (1024 * 1024)
    found.append(
        Check(f"function code ≤ {function_kb} KB zipped", run.sizes["function_zipped"] <= FUNCTION_CODE_BUDGET_BYTES)
    )
    found.append(Check(f"layer ≤ {layer_mb} MB zipped", run.sizes["layer_zipped"] <= LAYER_BUDGET_BYTES))
    return found


def result_tables(run: BenchRun) -> list[ResultTable]:
    return [
        _comparisons_table(run),
        _cold_start_table(run),
        _imports_table(run),
        _tracing_table(run),
        _sizes_table(run),
    ]


def _comparisons_table(run: BenchRun) -> ResultTable:
    columns = ("pattern", "figure", "optimized", "naive", "advantage")
    table = ResultTable(f"Optimizations vs their naive twins ({'quick' if run.quick else 'full'} run)", columns)
    for comparison in run.comparisons:
        if comparison.optimized_timing and comparison.naive_timing:
            o, n = comparison.optimized_timing, comparison.naive_timing
            table.add(
                comparison.pattern,
                f"{comparison.unit}: median [min–max] over {len(o.round_medians_ms)} rounds",
                f"{o.median_ms:.2f} [{o.min_ms:.2f}–{o.max_ms:.2f}]",
                f"{n.median_ms:.2f} [{n.min_ms:.2f}–{n.max_ms:.2f}]",
                f"{comparison.ratio:.1f}×",
            )
        for figure, values in comparison.counts.items():
            optimized, naive = values.get("optimized"), values.get("naive")
            if "per second" in figure:  # a rate: more is better
                ratio = f"{optimized / naive:.1f}×" if optimized and naive else ""
            else:  # a cost or a count: less is better
                ratio = f"{naive / optimized:.1f}×" if optimized and naive else ""
            table.add(comparison.pattern, figure, optimized, naive, ratio)
    return table


def _cold_start_table(run: BenchRun) -> ResultTable:
    table = ResultTable("Cold start: Init Duration, median of fresh environments (Tracing on)", ("variant", "init ms"))
    for name, value in run.cold["init_ms"].items():
        table.add(name, f"{value:.0f}")
    return table


def _imports_table(run: BenchRun) -> ResultTable:
    table = ResultTable("What each import we keep costs (python -X importtime, fresh interpreter)", ("import", "ms"))
    for name, value in sorted(run.cold["imports_ms"].items(), key=lambda kv: -kv[1]):
        table.add(name, f"{value:.0f}")
    return table


def _tracing_table(run: BenchRun) -> ResultTable:
    columns = ("function", "tracing off", "ours (OpenTelemetry API + UDP)", "X-Ray SDK twin", "ours − off")
    table = ResultTable("Tracing: Init Duration (median ms, Tracing on) and what a span costs", columns)
    init_ms = run.tracing["init_ms"]
    for function, added in run.tracing["added_ms"].items():
        off, ours, xray = (init_ms[f"{function}, {variant}"] for variant in ("tracing off", "ours", "X-Ray SDK"))
        table.add(function, f"{off:.0f}", f"{ours:.0f}", f"{xray:.0f}", f"{added:+.0f}")
    per_span = run.tracing["per_span_us"]
    table.add("per span, µs (1 vCPU)", "", f"{per_span['ours']:.1f}", f"{per_span['X-Ray SDK']:.1f}", "")
    unzipped = list(run.tracing["unzipped_bytes"].values())
    table.add("in the layer, KB unzipped", "", f"{unzipped[0] / 1024:.0f}", f"{unzipped[1] / 1024:.0f}", "")
    return table


def _sizes_table(run: BenchRun) -> ResultTable:
    table = ResultTable("Package sizes (sam build, zipped)", ("artifact", "KB"))
    table.add("function code (ApiFunction)", f"{run.sizes['function_zipped'] / 1024:.0f}")
    table.add("dependency layer", f"{run.sizes['layer_zipped'] / 1024:.0f}")
    for name, value in run.sizes["layer_top"].items():
        table.add(f"  layer: {name}", f"{value / 1024:.0f}")
    return table


def _as_dict(comparison: Comparison) -> dict[str, Any]:
    document = dataclasses.asdict(comparison)
    document["ratio"] = comparison.ratio
    document["separated"] = comparison.separated
    return document


def _chart(comparisons: list[Comparison], cold: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    timed = [c for c in comparisons if c.ratio is not None and c.pattern != "cold start"]
    figure, (left, right) = plt.subplots(1, 2, figsize=(13, 4.8))
    names = [c.pattern.split(" (")[0] for c in timed]
    left.barh(names, [c.ratio or 0 for c in timed], color="#2f7ed8")
    left.set_xscale("log")  # ratios from ~1.5x to ~100x
    left.axvline(1, color="grey", linewidth=0.8)
    left.set_xlabel("naive twin time ÷ optimized time (same run; higher is better)")
    left.set_title("What each pattern saves per invocation")
    for y, c in enumerate(timed):
        left.text((c.ratio or 1) * 1.05, y, f"{c.ratio:.1f}×", va="center")
    variants = list(cold["init_ms"])
    right.barh(variants, [cold["init_ms"][v] for v in variants], color="#8bbc21")
    right.set_xlabel("Init Duration, ms (local worker, Tracing on)")
    right.set_title("Cold start")
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
