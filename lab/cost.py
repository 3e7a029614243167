"""`make cost`: an offline Lambda cost model, in the spirit of AWS Lambda Power Tuning.

Durations per memory size come from a `make tune` result (the profile's `tune_result`): measured
with CPU in proportion to memory, as Lambda gives it (local_runner/sandbox.py). Replace them with
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

LAB = Path(__file__).resolve().parent
SECONDS_PER_MONTH = 730 * 3600  # AWS prices a month as 730 hours
ARCHITECTURES = ("x86_64", "arm64")


@dataclass(frozen=True)
class Prices:
    request: float  # per request
    duration: dict[str, float]  # per GB-second, on demand
    provisioned: dict[str, float]  # per GB-second kept warm
    provisioned_duration: dict[str, float]  # per GB-second of execution on provisioned environments
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


def break_even_utilization(prices: Prices, arch: str) -> float:
    """The share of a provisioned environment's time it must be busy for provisioned to cost less.

    Per GB-second of an environment: provisioned costs keep_warm + u * provisioned_duration,
    on demand costs u * duration; equal at u = keep_warm / (duration - provisioned_duration).
    """
    return prices.provisioned[arch] / (prices.duration[arch] - prices.provisioned_duration[arch])


class MissingTuneResult(FileNotFoundError):
    """The profile names a `make tune` result that is not there yet."""


def durations_from_tune(path: Path) -> dict[int, float]:
    """Warm duration per memory size (ms) from a `make tune` result file."""
    if not path.is_file():
        raise MissingTuneResult(f"{path} not found: run `make tune` for the profile's function first")
    result = json.loads(path.read_text())
    return {int(row["memory_mb"]): float(row["duration_ms"]) for row in result["rows"]}


def cost_table(profile: dict[str, Any], prices: Prices, durations: dict[int, float]) -> list[dict[str, Any]]:
    rows = []
    requests = float(profile["requests_per_month"])
    for memory, duration in sorted(durations.items()):
        row: dict[str, Any] = {"memory_mb": memory, "duration_ms": duration}
        for arch in ARCHITECTURES:
            row[f"{arch}_on_demand"] = on_demand_monthly(prices, arch, requests, duration, memory)
            row[f"{arch}_provisioned"] = provisioned_monthly(
                prices,
                arch,
                requests,
                duration,
                memory,
                int(profile["provisioned_concurrency"]),
                float(profile["peak_hours_per_day"]),
            )
        rows.append(row)
    return rows


def main(profile_path: Path = LAB / "traffic_profile.json", out_dir: Path = LAB.parent / "bench") -> int:
    from rich.console import Console
    from rich.table import Table

    prices = Prices.load()
    profile = json.loads(profile_path.read_text())
    tune_result = LAB.parent / profile["tune_result"]
    try:
        durations = durations_from_tune(tune_result)
    except MissingTuneResult as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    rows = cost_table(profile, prices, durations)
    console = Console(width=max(Console().width, 110))
    table = Table(
        title=f"{profile['function']}: {profile['requests_per_month']:,} requests/month, monthly cost in "
        f"{prices.source['currency']} ({prices.source['region']} list prices of {prices.source['retrieved']})"
    )
    for column in ("memory", "duration", "x86 on-demand", "arm64 on-demand", "x86 + PC", "arm64 + PC"):
        table.add_column(column, justify="right")
    cheapest = min(rows, key=lambda r: r["arm64_on_demand"])
    for row in rows:
        mark = " ←" if row is cheapest else ""
        table.add_row(
            f"{row['memory_mb']} MB",
            f"{row['duration_ms']:.0f} ms",
            f"{row['x86_64_on_demand']:.2f}",
            f"{row['arm64_on_demand']:.2f}{mark}",
            f"{row['x86_64_provisioned']:.2f}",
            f"{row['arm64_provisioned']:.2f}",
        )
    console.print(table)
    for arch in ARCHITECTURES:
        console.print(
            f"provisioned concurrency breaks even at {break_even_utilization(prices, arch):.0%} utilization on {arch}"
        )
    console.print(
        f"PC = {profile['provisioned_concurrency']} environments kept warm {profile['peak_hours_per_day']} h/day. "
        f"Durations: {profile['tune_result']} (make tune, CPU in proportion to memory)."
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    chart = _chart(rows, profile, out_dir / "cost.png")
    (out_dir / "cost.json").write_text(
        json.dumps(
            {"profile": profile, "durations_from": profile["tune_result"], "prices": prices.source, "rows": rows},
            indent=2,
        )
    )
    console.print(f"wrote {out_dir / 'cost.json'} and {chart}")
    return 0


def _chart(rows: list[dict[str, Any]], profile: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(8, 4.5))
    memories = [str(r["memory_mb"]) for r in rows]
    width = 0.2
    for offset, (key, label) in enumerate(
        [
            ("x86_64_on_demand", "x86 on-demand"),
            ("arm64_on_demand", "arm64 on-demand"),
            ("x86_64_provisioned", "x86 + PC"),
            ("arm64_provisioned", "arm64 + PC"),
        ]
    ):
        axes.bar([i + (offset - 1.5) * width for i in range(len(rows))], [r[key] for r in rows], width, label=label)
    axes.set_xticks(range(len(rows)), [f"{m} MB" for m in memories])
    axes.set_ylabel("USD per month")
    axes.set_title(f"{profile['function']}: {profile['requests_per_month']:,} requests/month")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)
    return path


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1])) if len(sys.argv) > 1 else main())
