"""CloudWatch as a template names it and as code emits it: the metrics a dashboard's widgets and the alarms
read, and the metrics in Embedded Metric Format lines (what Powertools' Metrics prints).

Both sides are compared by the drift test (tests/integration/test_metrics_contract.py) and drawn by the
workbench's local dashboard. A `${Name}` of the dashboard's `!Sub` stays as the logical id it names.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

_SUBSTITUTION = re.compile(r"\$\{([A-Za-z0-9:.]+)\}")


@dataclass(frozen=True)
class MetricRef:
    """A metric a widget or an alarm reads: namespace, name, dimensions (values as the template writes them)."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


@dataclass(frozen=True)
class EmfMetric:
    """One metric of one EMF document: its namespace, name, the dimensions it is published under, its values."""

    namespace: str
    name: str
    dimensions: tuple[tuple[str, str], ...]
    values: tuple[float, ...]
    timestamp_s: float = 0.0  # the document's `_aws.Timestamp`

    @property
    def dimension_names(self) -> frozenset[str]:
        return frozenset(name for name, _ in self.dimensions)


def sub_text(value: Any) -> str:
    """The text of a `!Sub` (its string form, or the first element of its list form)."""
    sub = value["Fn::Sub"] if isinstance(value, dict) else value
    return str(sub[0] if isinstance(sub, list) else sub)


def dashboard_widgets(template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Each dashboard's widgets, `${Name}` kept as `Name` (the logical id or attribute it substitutes)."""
    dashboards = {}
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] == "AWS::CloudWatch::Dashboard":
            body = _SUBSTITUTION.sub(r"\1", sub_text(resource["Properties"]["DashboardBody"]))
            dashboards[logical_id] = json.loads(body)["widgets"]
    return dashboards


def widget_metrics(widget: dict[str, Any]) -> list[MetricRef]:
    """A metric widget's metrics, CloudWatch's "." and "..." shorthand expanded; expressions left out."""
    refs: list[MetricRef] = []
    previous: list[Any] = []
    for row in widget.get("properties", {}).get("metrics", []):
        options = row[-1] if row and isinstance(row[-1], dict) else {}
        fields = row[:-1] if options else list(row)
        if not fields:  # an expression: {"expression": …}
            continue
        if fields[0] == "...":
            fields = previous[: len(previous) - (len(fields) - 1)] + fields[1:]
        fields = [previous[i] if value == "." else value for i, value in enumerate(fields)]
        previous = fields
        namespace, name, *pairs = fields
        dimensions = tuple((str(pairs[i]), str(pairs[i + 1])) for i in range(0, len(pairs), 2))
        refs.append(MetricRef(str(namespace), str(name), dimensions, options))
    return refs


def alarm_metrics(template: dict[str, Any]) -> list[MetricRef]:
    """The metrics each alarm and each SLO reads (a `!Ref`/`!GetAtt` dimension value as its logical id)."""
    refs = []
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::CloudWatch::Alarm" and "MetricName" in properties:
            refs.append(_metric_ref(properties["Namespace"], properties["MetricName"], properties.get("Dimensions")))
        if resource["Type"] in ("AWS::CloudWatch::Alarm", "AWS::ApplicationSignals::ServiceLevelObjective"):
            for stat in _metric_stats(properties):
                metric = stat["Metric"]
                refs.append(_metric_ref(metric["Namespace"], metric["MetricName"], metric.get("Dimensions")))
    return refs


def _metric_stats(value: Any) -> Iterator[dict[str, Any]]:
    if isinstance(value, dict):
        if "MetricStat" in value:
            yield value["MetricStat"]
        for inner in value.values():
            yield from _metric_stats(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from _metric_stats(inner)


def _metric_ref(namespace: str, name: str, dimensions: list[dict[str, Any]] | None) -> MetricRef:
    return MetricRef(namespace, name, tuple((d["Name"], _named(d["Value"])) for d in dimensions or []))


def _named(value: Any) -> str:
    if isinstance(value, dict) and "Ref" in value:
        return str(value["Ref"])
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return ".".join(value["Fn::GetAtt"])
    return str(value)


def emf_metrics(lines: Iterable[str]) -> list[EmfMetric]:
    """Every metric of every EMF document among `lines` (other lines are skipped)."""
    metrics = []
    for line in lines:
        if '"_aws"' not in line:
            continue
        try:
            document = json.loads(line[line.index("{") :])
        except json.JSONDecodeError:
            continue
        for directive in document.get("_aws", {}).get("CloudWatchMetrics", []):
            for dimension_set in directive.get("Dimensions", [[]]) or [[]]:
                dimensions = tuple((name, str(document.get(name))) for name in dimension_set)
                for metric in directive.get("Metrics", []):
                    value = document.get(metric["Name"])
                    values = tuple(value if isinstance(value, list) else [value])
                    timestamp = float(document["_aws"].get("Timestamp", 0)) / 1000
                    metrics.append(EmfMetric(directive["Namespace"], metric["Name"], dimensions, values, timestamp))
    return metrics
