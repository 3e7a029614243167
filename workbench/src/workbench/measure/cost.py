"""`make cost`: an offline Lambda cost model, in the spirit of AWS Lambda Power Tuning.

Durations per memory size come from a `make tune` result (the profile's `tune_result`): measured
with CPU in proportion to memory, as Lambda gives it (emulator/sandbox.py). Replace them with
a real Power Tuning run or CloudWatch REPORT lines when you have them. This model only does the
arithmetic, exactly.
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from workbench.emulator.template import PROJECT_ROOT
from workbench.measure.results import RESULTS_PAGE, ResultTable, write_section

LAB = Path(__file__).resolve().parent  # prices and the traffic profile: data of the harness
SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
ARCHITECTURES = ("x86_64", "arm64")
STRATEGY_LABELS = {"on_demand": "on-demand", "provisioned": "+ PC", "snapstart": "SnapStart"}
STRATEGIES = tuple(STRATEGY_LABELS)


@dataclass(frozen=True)
class Prices:
    request: float  # per request
    duration: dict[str, float]  # per GB-second, on demand
    provisioned: dict[str, float]  # per GB-second kept warm
    provisioned_duration: dict[str, float]  # per GB-second of execution on provisioned environments
    snapstart_cache: float  # per GB-second a version's snapshot stays cached
    snapstart_restore: float  # per GB restored
    source: dict[str, Any]

    @classmethod
    def load(cls, path: Path = LAB / "prices.json") -> Prices:
        document = json.loads(path.read_text())
        lam = document["lambda"]
        return cls(
            request=lam["requests_per_million"]["value"] / 1_000_000,
            duration={a: lam["duration_per_gb_second"][a]["value"] for a in ARCHITECTURES},
            provisioned={a: lam["provisioned_concurrency_per_gb_second"][a]["value"] for a in ARCHITECTURES},
            provisioned_duration={a: lam["provisioned_duration_per_gb_second"][a]["value"] for a in ARCHITECTURES},
            snapstart_cache=lam["snapstart_cache_per_gb_second"]["value"],
            snapstart_restore=lam["snapstart_restore_per_gb"]["value"],
            source={k: document[k] for k in ("region", "currency", "retrieved")},
        )


def billed_gb_seconds(requests: float, duration_ms: float, memory_mb: int) -> float:
    """Lambda bills each invocation's duration rounded up to the millisecond, times the memory in GB."""
    return requests * math.ceil(duration_ms) / 1000 * memory_mb / 1024


def on_demand_monthly(prices: Prices, arch: str, requests: float, duration_ms: float, memory_mb: int) -> float:
    return requests * prices.request + billed_gb_seconds(requests, duration_ms, memory_mb) * prices.duration[arch]


def provisioned_monthly(
    prices: Prices,
    arch: str,
    requests: float,
    duration_ms: float,
    memory_mb: int,
    environments: int,
    hours_per_day: float,
) -> float:
    """Environments kept warm for `hours_per_day` every day; their invocations at the provisioned rate.

    Requests beyond what the warm environments can serve in those hours spill over at on-demand rates.
    """
    warm_seconds = environments * hours_per_day / 24 * SECONDS_PER_MONTH
    capacity_requests = warm_seconds / (math.ceil(duration_ms) / 1000)
    served = min(requests, capacity_requests)
    spill = requests - served
    keep_warm = warm_seconds * memory_mb / 1024 * prices.provisioned[arch]
    served_cost = (
        served * prices.request
        + billed_gb_seconds(served, duration_ms, memory_mb) * (prices.provisioned_duration[arch])
    )
    return keep_warm + served_cost + on_demand_monthly(prices, arch, spill, duration_ms, memory_mb)


@dataclass(frozen=True)
class Measured:
    """One memory size as `make tune` measured it: warm duration, INIT, and a SnapStart restore's hooks."""

    duration_ms: float
    init_ms: float = 0.0
    restore_hooks_ms: float = 0.0


def new_environments_per_month(profile: dict[str, Any]) -> float:
    """Cold starts on demand, restores with SnapStart: the peak's environments are created every day
    and replaced each time Lambda recycles them; one environment serves the off-peak hours."""
    lifetime = float(profile["environment_lifetime_hours"])
    peak_hours = float(profile["peak_hours_per_day"])
    per_day = int(profile["peak_concurrency"]) * math.ceil(peak_hours / lifetime) + math.ceil(
        (24 - peak_hours) / lifetime
    )
    return per_day * SECONDS_PER_MONTH / 86400


def on_demand_with_inits_monthly(
    prices: Prices, arch: str, requests: float, measured: Measured, memory_mb: int, cold_starts: float
) -> float:
    """Invocations plus each cold start's INIT, billed at the duration rate since 1 Aug 2025."""
    inits = billed_gb_seconds(cold_starts, measured.init_ms, memory_mb) * prices.duration[arch]
    return on_demand_monthly(prices, arch, requests, measured.duration_ms, memory_mb) + inits


def snapstart_monthly(
    prices: Prices,
    arch: str,
    requests: float,
    measured: Measured,
    memory_mb: int,
    restores: float,
    cached_versions: int,
) -> float:
    """Invocations at on-demand rates; per restore, its GB and its hooks' billed time; the snapshot cache.

    INIT runs once per version, when it is published, instead of in every new environment.
    """
    memory_gb = memory_mb / 1024
    cache = cached_versions * memory_gb * SECONDS_PER_MONTH * prices.snapstart_cache
    restore = restores * memory_gb * prices.snapstart_restore
    hooks = billed_gb_seconds(restores, measured.restore_hooks_ms, memory_mb) * prices.duration[arch]
    return on_demand_monthly(prices, arch, requests, measured.duration_ms, memory_mb) + cache + restore + hooks


def snapstart_break_even_restores(
    prices: Prices, arch: str, measured: Measured, memory_mb: int, versions: int
) -> float:
    """New environments a month above which SnapStart costs less than on-demand INITs (inf: never)."""
    memory_gb = memory_mb / 1024
    saved_per_environment = (
        billed_gb_seconds(1, measured.init_ms, memory_mb) * prices.duration[arch]
        - memory_gb * prices.snapstart_restore
        - billed_gb_seconds(1, measured.restore_hooks_ms, memory_mb) * prices.duration[arch]
    )
    cache = versions * memory_gb * SECONDS_PER_MONTH * prices.snapstart_cache
    return cache / saved_per_environment if saved_per_environment > 0 else math.inf


def snapstart_init_break_even_seconds(prices: Prices, arch: str) -> float:
    """The INIT a restore must replace for SnapStart to cost less per new environment (any memory size).

    Per GB: a restore costs the restore rate, an INIT of t seconds costs t x the duration rate.
    """
    return prices.snapstart_restore / prices.duration[arch]


def break_even_utilization(prices: Prices, arch: str) -> float:
    """The share of a provisioned environment's time it must be busy for provisioned to cost less.

    Per GB-second of an environment: provisioned costs keep_warm + u * provisioned_duration,
    on demand costs u * duration; equal at u = keep_warm / (duration - provisioned_duration).
    """
    return prices.provisioned[arch] / (prices.duration[arch] - prices.provisioned_duration[arch])


class MissingTuneResult(FileNotFoundError):
    """The profile names a `make tune` result that is not there yet."""


def durations_from_tune(path: Path) -> dict[int, Measured]:
    """Per memory size, from a `make tune` result file: warm duration, INIT and restore-hook times (ms)."""
    if not path.is_file():
        raise MissingTuneResult(f"{path} not found: run `make tune` for the profile's function first")
    result = json.loads(path.read_text())
    return {
        int(row["memory_mb"]): Measured(
            duration_ms=float(row["duration_ms"]),
            init_ms=float(row.get("init_ms") or 0.0),
            restore_hooks_ms=float(row.get("restore_hooks_ms") or 0.0),
        )
        for row in result["rows"]
    }


def ensure_tune_result(profile: dict[str, Any], tune_result: Path) -> None:
    """A fresh clone has no `make tune` result yet: measure one now, quickly, on this machine, and say so."""
    from workbench.measure.tune import DEFAULT_MEMORY_SIZES, tune

    print(
        f"{profile['tune_result']} not found: running the quick tune of {profile['function']} it needs first "
        f"(`make tune FN={profile['function']} EVENT={profile['tune_event']}` for the full one)",
        file=sys.stderr,
    )
    tune(
        profile["function"],
        PROJECT_ROOT / profile["tune_event"],
        list(DEFAULT_MEMORY_SIZES),
        quick=True,
        out_dir=tune_result.parent,
        requests_per_month=int(profile["requests_per_month"]),
    )


def cost_table(profile: dict[str, Any], prices: Prices, measured: dict[int, Measured]) -> list[dict[str, Any]]:
    rows = []
    requests = float(profile["requests_per_month"])
    environments = new_environments_per_month(profile)
    versions = int(profile["snapstart_cached_versions"])
    for memory, figures in sorted(measured.items()):
        row: dict[str, Any] = {
            "memory_mb": memory,
            "duration_ms": figures.duration_ms,
            "init_ms": figures.init_ms,
            "new_environments_per_month": environments,
        }
        for arch in ARCHITECTURES:
            row[f"{arch}_on_demand"] = on_demand_with_inits_monthly(
                prices, arch, requests, figures, memory, environments
            )
            row[f"{arch}_provisioned"] = provisioned_monthly(
                prices,
                arch,
                requests,
                figures.duration_ms,
                memory,
                int(profile["provisioned_concurrency"]),
                float(profile["peak_hours_per_day"]),
            )
            row[f"{arch}_snapstart"] = snapstart_monthly(
                prices, arch, requests, figures, memory, environments, versions
            )
            row[f"{arch}_snapstart_break_even_restores"] = snapstart_break_even_restores(
                prices, arch, figures, memory, versions
            )
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    import argparse

    parser = argparse.ArgumentParser(prog="workbench cost", description="monthly cost per memory size")
    parser.add_argument("profile", type=Path, nargs="?", default=LAB / "traffic_profile.json")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench")
    parser.add_argument("--results", type=Path, default=RESULTS_PAGE, help="the results page to write its section of")
    args = parser.parse_args(argv)
    return report_cost(args.profile, args.out, args.results)


def report_cost(profile_path: Path, out_dir: Path, results_page: Path | None = None) -> int:
    from rich.console import Console

    prices = Prices.load()
    profile = json.loads(profile_path.read_text())
    tune_result = PROJECT_ROOT / profile["tune_result"]
    if not tune_result.is_file() and profile.get("tune_event"):
        ensure_tune_result(profile, tune_result)
    try:
        durations = durations_from_tune(tune_result)
    except MissingTuneResult as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    made = json.loads(tune_result.read_text())
    print(
        f"durations from {profile['tune_result']}: {'quick' if made.get('warm_invocations', 0) < 30 else 'full'} "
        f"tune of {made.get('date', '?')} on {made.get('machine', {}).get('platform', '?')}",
        file=sys.stderr,
    )
    rows = cost_table(profile, prices, durations)
    console = Console(width=max(Console().width, 110))
    table = result_table(rows, profile, prices)
    console.print(table.rich())
    notes = findings(rows, profile, prices, made)
    for note in notes:
        console.print(note)
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = _chart(rows, profile, out_dir / "cost.png")
    (out_dir / "cost.json").write_text(
        json.dumps(
            {"profile": profile, "durations_from": profile["tune_result"], "prices": prices.source, "rows": rows},
            indent=2,
        )
    )
    console.print(f"wrote {out_dir / 'cost.json'} and {chart}")
    if results_page is not None:
        write_section("cost", f"make cost PROFILE={profile_path.name}", [table], notes, results_page)
        console.print(f"wrote the cost section of {results_page}")
    return 0


def result_table(rows: list[dict[str, Any]], profile: dict[str, Any], prices: Prices) -> ResultTable:
    title = (
        f"{profile['function']}: {profile['requests_per_month']:,} requests/month, monthly cost in "
        f"{prices.source['currency']} ({prices.source['region']} list prices of {prices.source['retrieved']})"
    )
    columns = (
        "memory",
        "duration",
        "INIT",
        *(f"{a} {s}" for s in ("on-demand", "+ PC", "SnapStart") for a in ("x86", "arm64")),
    )
    table = ResultTable(title, columns)
    cheapest = min(rows, key=lambda r: min(r[f"arm64_{s}"] for s in STRATEGIES))
    for row in rows:
        table.add(
            f"{row['memory_mb']} MB{' ←' if row is cheapest else ''}",
            f"{row['duration_ms']:.0f} ms",
            f"{row['init_ms']:.0f} ms",
            *(f"{row[f'{a}_{s}']:.2f}" for s in STRATEGIES for a in ARCHITECTURES),
        )
    return table


def findings(rows: list[dict[str, Any]], profile: dict[str, Any], prices: Prices, tune: dict[str, Any]) -> list[str]:
    """What the table says, in sentences: the break-evens, the assumptions, where the durations came from."""
    inits = [row["init_ms"] for row in rows]
    said = [
        f"{arch}: provisioned concurrency breaks even at {break_even_utilization(prices, arch):.0%} utilization; "
        f"a SnapStart restore costs what {snapstart_init_break_even_seconds(prices, arch):.1f} s of INIT costs, "
        f"so it saves money only where INIT takes longer (this function's: {min(inits):.0f}–{max(inits):.0f} ms)"
        for arch in ARCHITECTURES
    ]
    said.append(
        f"New environments a month: {rows[0]['new_environments_per_month']:,.0f} (peak "
        f"{profile['peak_concurrency']} × {profile['peak_hours_per_day']} h/day, environments recycled every "
        f"{profile['environment_lifetime_hours']} h — an assumption, see measure/traffic_profile.json). "
        f"PC = {profile['provisioned_concurrency']} environments kept warm {profile['peak_hours_per_day']} h/day; "
        f"SnapStart caches {profile['snapstart_cached_versions']} version(s); INIT billed on demand since Aug 2025."
    )
    said.append(
        f"Durations: {profile['tune_result']}, a {'quick' if tune.get('warm_invocations', 0) < 30 else 'full'} "
        f"`make tune` of {tune.get('date', '?')} on {tune.get('machine', {}).get('platform', '?')} "
        "(CPU in proportion to memory)."
    )
    return said


def _chart(rows: list[dict[str, Any]], profile: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    memories = [str(r["memory_mb"]) for r in rows]
    series = [(f"{a}_{s}", f"{a} {label}") for s, label in STRATEGY_LABELS.items() for a in ARCHITECTURES]
    width = 0.8 / len(series)
    for offset, (key, label) in enumerate(series):
        positions = [i + (offset - (len(series) - 1) / 2) * width for i in range(len(rows))]
        axes.bar(positions, [r[key] for r in rows], width, label=label)
    axes.set_xticks(range(len(rows)), [f"{m} MB" for m in memories])
    axes.set_ylabel("USD per month")
    axes.set_title(f"{profile['function']}: {profile['requests_per_month']:,} requests/month")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path
