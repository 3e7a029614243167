"""`make dashboard`: the template's CloudWatch dashboard, drawn from a local run's logs instead of CloudWatch.

The run is `make demo`'s (its log groups, a file each, in bench/demo-logs). Each widget of the template's
`AWS::CloudWatch::Dashboard` is drawn where its metrics exist locally:
- the service's own metrics, from the functions' EMF lines;
- Lambda's Duration and Invocations, from each function's `platform.report` records;
- API Gateway's Count, 4xx, 5xx and Latency (per route), from the HTTP API's access log lines;
- a Logs Insights widget, by running the query's `filter` and `stats … by bin()` over its log groups' records.
What no local log holds (SQS, DynamoDB, RDS and Aurora metrics, Lambda's concurrency and throttles, metric
math over them) is named on the widget and in the output, never drawn empty. A local run lasts seconds to
minutes where the dashboard's periods are minutes: the bins are a fortieth of the run (at least 1 s).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import re
import statistics
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sam_testkit.cloudwatch import MetricRef, dashboard_widgets, emf_metrics, widget_metrics
from sam_testkit.sam_template import read_template
from workbench.emulator.service import log_file_name, log_group_of
from workbench.emulator.template import DEFAULT_TEMPLATE, PROJECT_ROOT
from workbench.scenarios.demo import demo_logs

BINS = 40  # points across a run
NOT_LOCAL = {  # what a local run keeps no record of, by namespace
    "AWS/SQS": "moto publishes no SQS metrics",
    "AWS/DynamoDB": "moto publishes no DynamoDB metrics",
    "AWS/RDS": "a local MySQL: no RDS Proxy or Aurora metrics",
    "AWS/Lambda": "Lambda's own metric, not in any log",
}
Point = tuple[float, float]  # (epoch seconds, value)


@dataclass
class LocalRun:
    """What a run's log groups hold, as points in time."""

    emf: dict[tuple[str, tuple[tuple[str, str], ...]], list[Point]] = field(default_factory=lambda: defaultdict(list))
    reports: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # by function
    records: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))  # by log group
    access: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def read(cls, template: dict[str, Any], logs: Path) -> LocalRun:
        run = cls()
        functions = [n for n, r in template["Resources"].items() if r["Type"] == "AWS::Serverless::Function"]
        groups = {log_group_of(template, function): function for function in functions}
        for path in sorted(logs.glob("*.log")):
            group = next((g for g in groups if path.name == log_file_name(g)), path.stem)
            lines = path.read_text().splitlines()
            for metric in emf_metrics(lines):
                run.emf[(metric.name, metric.dimensions)].extend((metric.timestamp_s, value) for value in metric.values)
            for record in _json_records(lines):
                run.records[group].append(record)
                if record.get("type") == "platform.report" and group in groups:
                    run.reports[groups[group]].append(record)
                if "route" in record and "status" in record:
                    run.access.append(record)
        return run


def _json_records(lines: Iterable[str]) -> Iterable[dict[str, Any]]:
    for line in lines:
        if line.startswith("{"):
            try:
                yield json.loads(line)
            except json.JSONDecodeError:
                continue


def record_time(record: dict[str, Any]) -> float:
    """A platform record's ISO time, or an access log line's `$context.requestTime`."""
    text = str(record.get("time", ""))
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        return dt.datetime.strptime(text, "%d/%b/%Y:%H:%M:%S %z").timestamp()


def points_of(ref: MetricRef, run: LocalRun) -> list[Point] | str:
    """The metric's points from the run, or why the run has none."""
    if ref.namespace not in NOT_LOCAL and ref.namespace != "AWS/ApiGateway":  # the service's own: EMF
        points = [
            p for (name, dims), found in run.emf.items() if name == ref.name and dims == ref.dimensions for p in found
        ]
        return points or "not emitted in this run"
    if ref.namespace == "AWS/Lambda" and ref.name in ("Duration", "Invocations"):
        function = dict(ref.dimensions).get("FunctionName", "")
        reports = run.reports.get(function, [])
        value: Callable[[dict[str, Any]], float] = (
            (lambda r: float(r["record"]["metrics"]["durationMs"])) if ref.name == "Duration" else (lambda r: 1.0)
        )
        return [(record_time(r), value(r)) for r in reports] or f"{function} did not run"
    if ref.namespace == "AWS/ApiGateway":
        route = dict(ref.dimensions).get("Route")
        requests = [r for r in run.access if route is None or r["route"] == route]
        if ref.name == "Latency":
            return [(record_time(r), float(r["latencyMs"])) for r in requests] or "no request on this route"
        if ref.name in ("Count", "4xx", "5xx"):
            low, high = {"Count": (0, 1000), "4xx": (400, 500), "5xx": (500, 1000)}[ref.name]
            return [(record_time(r), float(low <= int(r["status"]) < high)) for r in requests] or "no request"
    return NOT_LOCAL.get(ref.namespace, "not in any local log")


def statistic(values: list[float], stat: str) -> float:
    if stat == "Sum":
        return sum(values)
    if stat == "Maximum":
        return max(values)
    if stat == "Minimum":
        return min(values)
    if stat == "SampleCount":
        return float(len(values))
    if stat.startswith("p"):
        ordered = sorted(values)
        return ordered[min(len(ordered) - 1, math.ceil(float(stat[1:]) / 100 * len(ordered)) - 1)]
    return statistics.fmean(values)  # Average


def binned(points: list[Point], stat: str, start: float, bin_s: int) -> tuple[list[float], list[float]]:
    """The points in bins of `bin_s` from the run's start: seconds since it, and the statistic of each bin."""
    bins: dict[int, list[float]] = defaultdict(list)
    for when, value in points:
        bins[int((when - start) // bin_s)].append(value)
    keys = sorted(bins)
    return [k * bin_s for k in keys], [statistic(bins[k], stat) for k in keys]


_FILTER = re.compile(r"filter (.+?) \|", re.S)
_STATS = re.compile(r"stats (.+?) by bin\((\d+)m\)", re.S)


def log_query_series(query: str, run: LocalRun) -> dict[str, list[Point]] | str:
    """A Logs Insights widget's query over the run's records: `SOURCE`s, one `filter` of `field = "text"` and
    `ispresent(field)` joined by `and`, then `stats fn(field) as name, … by bin(Nm)` (avg, max, min, sum,
    count). Anything else is refused (the widget says so)."""
    groups = re.findall(r"SOURCE '([^']+)'", query)
    found_filter, found_stats = _FILTER.search(query), _STATS.search(query)
    if not groups or found_filter is None or found_stats is None:
        return "a query this drawing cannot run locally"
    conditions = [c.strip() for c in found_filter.group(1).split(" and ")]
    records = [r for g in groups for r in run.records.get(g, []) if all(_holds(c, r) for c in conditions)]
    if not records:
        return "no record matched in this run"
    series: dict[str, list[Point]] = {}
    for aggregate in found_stats.group(1).split(","):
        match = re.fullmatch(r"\s*(\w+)\(([\w.*]+)\)\s+as\s+(\w+)\s*", aggregate)
        if match is None:
            return f"a stats function this drawing cannot run: {aggregate.strip()}"
        function, path, name = match.groups()
        series[f"{name} ({function})"] = [
            (record_time(r), 1.0 if function == "count" else float(_field(r, path))) for r in records
        ]
    return series


def _holds(condition: str, record: dict[str, Any]) -> bool:
    present = re.fullmatch(r"ispresent\(([\w.]+)\)", condition)
    if present:
        return _field(record, present.group(1)) is not None
    equals = re.fullmatch(r'([\w.]+)\s*=\s*"([^"]*)"', condition)
    return equals is not None and _field(record, equals.group(1)) == equals.group(2)


def _field(record: dict[str, Any], path: str) -> Any:
    value: Any = record
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


_STAT_OF_FUNCTION = {"avg": "Average", "max": "Maximum", "min": "Minimum", "sum": "Sum", "count": "Sum"}


@dataclass
class Panel:
    title: str
    lines: dict[str, tuple[list[float], list[float]]]
    missing: list[str]  # rows the run cannot fill, with why
    placement: tuple[int, int, int, int]  # x, y, width, height on CloudWatch's 24-wide grid
    bin_s: int


def panels(template: dict[str, Any], run: LocalRun) -> list[Panel]:
    (board,) = dashboard_widgets(template).values()
    times = [t for points in run.emf.values() for t, _ in points] + [record_time(r) for r in run.access]
    start = min(times, default=0.0)
    bin_s = max(1, round((max(times, default=0.0) - start) / BINS))
    drawn = []
    for widget in board:
        properties = widget["properties"]
        lines: dict[str, tuple[list[float], list[float]]] = {}
        missing: list[str] = []
        if widget["type"] == "log":
            series = log_query_series(properties["query"], run)
            if isinstance(series, str):
                missing.append(series)
            else:
                for label, points in series.items():
                    function = label.rsplit("(", 1)[1].rstrip(")")
                    lines[label] = binned(points, _STAT_OF_FUNCTION[function], start, bin_s)
        else:
            for row in properties["metrics"]:
                if isinstance(row[0], dict):  # metric math
                    missing.append(f"{row[0].get('label', row[0]['id'])}: metric math over metrics no local log holds")
            for ref in widget_metrics(widget):
                if ref.options.get("visible") is False:
                    continue
                label = str(ref.options.get("label", ref.name))
                found = points_of(ref, run)
                if isinstance(found, str):
                    missing.append(f"{label}: {found}")
                else:
                    stat = str(ref.options.get("stat", properties.get("stat", "Average")))
                    lines[label] = binned(found, stat, start, bin_s)
        placement = (widget["x"], widget["y"], widget["width"], widget["height"])
        drawn.append(Panel(properties["title"], lines, missing, placement, bin_s))
    return drawn


def draw(drawn: list[Panel], out: Path, subtitle: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = max(p.placement[1] + p.placement[3] for p in drawn)
    figure = plt.figure(figsize=(24, rows * 0.75), layout="constrained")
    grid = figure.add_gridspec(rows, 24)
    for panel in drawn:
        x, y, width, height = panel.placement
        axes = figure.add_subplot(grid[y : y + height, x : x + width])
        axes.set_title(panel.title, fontsize=10, loc="left")
        for label, (seconds, values) in panel.lines.items():
            axes.plot(seconds, values, marker=".", label=label)
        note = "\n".join(panel.missing[:5]) + (" …" if len(panel.missing) > 5 else "")
        if panel.lines:
            axes.legend(fontsize=7, loc="upper right")
            axes.set_xlabel(f"seconds into the run ({panel.bin_s} s bins)", fontsize=7)
            if note:
                axes.text(0.01, 0.98, f"not in this run: {note}", transform=axes.transAxes, va="top", fontsize=6)
        else:
            axes.set_xticks([])
            axes.set_yticks([])
            axes.text(
                0.5, 0.5, f"not filled by a local run:\n{note}", transform=axes.transAxes, ha="center", va="center"
            )
    figure.suptitle(f"The template's dashboard, drawn from a local run — {subtitle}", fontsize=14)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=70)
    plt.close(figure)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="workbench dashboard", description="the template's dashboard, locally")
    parser.add_argument("--logs", type=Path, default=demo_logs(DEFAULT_TEMPLATE), help="a run's log groups")
    parser.add_argument("--out", type=Path, default=PROJECT_ROOT / "bench" / "dashboard.png")
    args = parser.parse_args(argv)
    if not any(args.logs.glob("*.log")):
        print(f"workbench dashboard: no logs in {args.logs}: run `make demo` first", file=sys.stderr)
        return 2
    template = read_template(DEFAULT_TEMPLATE)
    drawn = panels(template, LocalRun.read(template, args.logs))
    draw(
        drawn,
        args.out,
        f"{args.logs.relative_to(PROJECT_ROOT) if args.logs.is_relative_to(PROJECT_ROOT) else args.logs}",
    )
    for panel in drawn:
        state = "drawn" if panel.lines else "not filled"
        print(f"{state:>10}  {panel.title}" + (f"  — missing: {'; '.join(panel.missing)}" if panel.missing else ""))
    print(f"wrote {args.out}")
    return 0
