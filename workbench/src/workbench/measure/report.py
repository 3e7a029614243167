"""Running the bench end to end: the table, results.json and the chart."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from workbench.emulator.service import LocalService
from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.bench import (
    FUNCTION_CODE_BUDGET_BYTES,
    LAYER_BUDGET_BYTES,
    TRACING_INIT_BUDGET_MS,
    Bench,
    Comparison,
    Sizes,
    machine_info,
    package_sizes,
)


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench bench", description="every optimization against its naive twin")
    parser.add_argument("--quick", action="store_true", help="fewer repetitions; counts stay exact (CI)")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    args = parser.parse_args(argv)
    return run_bench(quick=args.quick, out_dir=args.out)


def run_bench(*, quick: bool, out_dir: Path) -> int:
    console = Console(width=max(Console().width, 120))
    sizes = Sizes(quick=quick)
    logs = tempfile.TemporaryFile("w")  # noqa: SIM115 - the twins' logs are not the point here
    checks: list[tuple[str, bool]] = []
    with LocalService(log_sink=logs) as service:
        service.prepare_database()
        bench = Bench(service, sizes)
        comparisons: list[Comparison] = []
        steps = (
            bench.client_reuse,
            bench.connection_reuse,
            bench.secret_caching,
            bench.batch_writes,
            bench.shipped_bytecode,
            bench.init_priming,
        )
        for step in steps:
            console.print(f"[dim]measuring {step.__name__.replace('_', ' ')} …[/]")
            comparisons.append(step())
        console.print("[dim]measuring cold starts …[/]")
        cold, cold_details = bench.cold_start()
        comparisons.append(cold)
        console.print("[dim]measuring tracing …[/]")
        tracing, tracing_details = bench.tracing()
        comparisons.append(tracing)
    build = PROJECT_ROOT / ".aws-sam" / "build"
    console.print("[dim]sam build (for package sizes: the deployable, aarch64 artifacts) …[/]")
    subprocess.run(["make", "-s", "build"], cwd=PROJECT_ROOT, check=True, capture_output=True)  # noqa: S607
    sizes_found = package_sizes(build)

    table = Table(title=f"Optimizations vs their naive twins ({'quick' if quick else 'full'} run)")
    for column in ("pattern", "figure", "optimized", "naive", "advantage"):
        table.add_column(column, justify="left" if column in ("pattern", "figure") else "right")
    for comparison in comparisons:
        if comparison.optimized_timing and comparison.naive_timing:
            o, n = comparison.optimized_timing, comparison.naive_timing
            table.add_row(
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
            table.add_row(comparison.pattern, figure, str(optimized), str(naive), ratio)
    console.print(table)

    cold_table = Table(title="Cold start: Init Duration, median of fresh environments (Tracing on)")
    cold_table.add_column("variant")
    cold_table.add_column("init ms", justify="right")
    for name, value in cold_details["init_ms"].items():
        cold_table.add_row(name, f"{value:.0f}")
    console.print(cold_table)
    import_table = Table(title="What each import we keep costs (python -X importtime, fresh interpreter)")
    import_table.add_column("import")
    import_table.add_column("ms", justify="right")
    for name, value in sorted(cold_details["imports_ms"].items(), key=lambda kv: -kv[1]):
        import_table.add_row(name, f"{value:.0f}")
    console.print(import_table)
    tracing_table = Table(title="Tracing: Init Duration (median ms, Tracing on) and what a span costs")
    for column in ("function", "tracing off", "ours (OpenTelemetry API + UDP)", "X-Ray SDK twin", "ours − off"):
        tracing_table.add_column(column, justify="left" if column == "function" else "right")
    init_ms = tracing_details["init_ms"]
    for function, added in tracing_details["added_ms"].items():
        tracing_table.add_row(
            function,
            f"{init_ms[f'{function}, tracing off']:.0f}",
            f"{init_ms[f'{function}, ours']:.0f}",
            f"{init_ms[f'{function}, X-Ray SDK']:.0f}",
            f"{added:+.0f}",
        )
        checks.append(
            (f"tracing adds ≤ {TRACING_INIT_BUDGET_MS} ms to {function}'s INIT", added <= TRACING_INIT_BUDGET_MS)
        )
        checks.append(
            (
                f"{function}: INIT with our tracing below the X-Ray SDK twin's",
                init_ms[f"{function}, ours"] < init_ms[f"{function}, X-Ray SDK"],
            )
        )
    per_span = tracing_details["per_span_us"]
    tracing_table.add_row("per span, µs (1 vCPU)", "", f"{per_span['ours']:.1f}", f"{per_span['X-Ray SDK']:.1f}", "")
    unzipped = list(tracing_details["unzipped_bytes"].values())
    tracing_table.add_row("in the layer, KB unzipped", "", f"{unzipped[0] / 1024:.0f}", f"{unzipped[1] / 1024:.0f}", "")
    console.print(tracing_table)
    size_table = Table(title="Package sizes (sam build, zipped)")
    size_table.add_column("artifact")
    size_table.add_column("KB", justify="right")
    size_table.add_row("function code (ApiFunction)", f"{sizes_found['function_zipped'] / 1024:.0f}")
    size_table.add_row("dependency layer", f"{sizes_found['layer_zipped'] / 1024:.0f}")
    for name, value in sizes_found["layer_top"].items():
        size_table.add_row(f"  layer: {name}", f"{value / 1024:.0f}")
    console.print(size_table)

    count_failures = [failure for comparison in comparisons for failure in comparison.count_failures()]
    for comparison in comparisons:
        for figure, expected in comparison.expected_counts.items():
            if not any(figure in failure for failure in count_failures):
                checks.append((f"{comparison.pattern}: {figure} exactly {expected}", True))
    checks.extend((failure, False) for failure in count_failures)
    for comparison in comparisons:
        if comparison.ratio is not None and not quick:
            checks.append(
                (
                    f"{comparison.pattern}: optimized faster, rounds not overlapping ({comparison.ratio:.1f}×)",
                    bool(comparison.separated and comparison.ratio > 1),
                )
            )
        for note in comparison.notes:
            console.print(f"[dim]note ({comparison.pattern}): {note}[/]")
    checks.append(
        (
            f"function code ≤ {FUNCTION_CODE_BUDGET_BYTES // 1024} KB zipped",
            sizes_found["function_zipped"] <= FUNCTION_CODE_BUDGET_BYTES,
        )
    )
    checks.append(
        (f"layer ≤ {LAYER_BUDGET_BYTES // (1024 * 1024)} MB zipped", sizes_found["layer_zipped"] <= LAYER_BUDGET_BYTES)
    )
    for label, ok in checks:
        console.print(f"{'[green]PASS' if ok else '[yellow]MISS'}[/] {label}")

    out_dir.mkdir(parents=True, exist_ok=True)
    results = {
        "machine": machine_info(),
        "quick": quick,
        "comparisons": [_as_dict(c) for c in comparisons],
        "cold_start": cold_details,
        "tracing": tracing_details,
        "package_sizes": sizes_found,
        "checks": [{"check": label, "pass": ok} for label, ok in checks],
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    chart = _chart(comparisons, cold_details, out_dir / "results.png")
    console.print(f"wrote {out_dir / 'results.json'} and {chart}")
    # Counts are deterministic: a wrong one is a broken run. Slow timings on a busy machine are not.
    return 1 if count_failures else 0


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
