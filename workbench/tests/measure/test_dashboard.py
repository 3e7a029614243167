"""The local dashboard (`make dashboard`): the template's widgets drawn from a run's log groups."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from sam_testkit.sam_template import read_template
from workbench.emulator.template import DEFAULT_TEMPLATE
from workbench.measure import dashboard
from workbench.measure.dashboard import LocalRun, panels

TEMPLATE = read_template(DEFAULT_TEMPLATE)


def report(second: int, duration_ms: float, init_ms: float | None = None) -> str:
    metrics = {"durationMs": duration_ms} | ({"initDurationMs": init_ms} if init_ms is not None else {})
    time = f"2026-12-06T16:00:{second:02d}.000Z"
    return json.dumps({"time": time, "type": "platform.report", "record": {"requestId": "r", "metrics": metrics}})


def emf(second: int, name: str, value: float, **dimensions: str) -> str:
    directive = {"Namespace": "OrdersService", "Dimensions": [list(dimensions)], "Metrics": [{"Name": name}]}
    timestamp = 1_796_572_800_000 + second * 1000  # 2026-12-06T16:00:00Z
    return json.dumps({"_aws": {"Timestamp": timestamp, "CloudWatchMetrics": [directive]}, name: [value]} | dimensions)


def access(second: int, route: str, status: int, latency_ms: int) -> str:
    time = f"06/Dec/2026:16:00:{second:02d} +0000"
    return json.dumps({"time": time, "route": route, "status": str(status), "latencyMs": str(latency_ms)})


@pytest.fixture
def run(tmp_path: Path) -> LocalRun:
    """Two POSTs (one cold), a refused one, a consumer batch, over 400 s (10 s bins), as the log groups hold them."""
    (tmp_path / "ApiFunctionLogGroup.log").write_text(
        "\n".join(
            [
                report(1, 40.0, init_ms=800.0),
                emf(1, "OrdersAccepted", 1, service="orders"),
                emf(1, "ColdStart", 1, function_name="ApiFunction", service="orders"),
                report(12, 20.0),
                emf(12, "OrdersAccepted", 1, service="orders"),
                emf(401, "OrdersStored", 1, service="orders"),
            ]
        )
    )
    (tmp_path / "ApiAccessLogGroup.log").write_text(
        "\n".join(
            [
                access(1, "POST /orders", 202, 900),
                access(12, "POST /orders", 202, 30),
                access(13, "POST /orders", 401, 2),
            ]
        )
    )
    (tmp_path / "OrdersConsumerLogGroup.log").write_text(report(14, 60.0, init_ms=500.0))
    return LocalRun.read(TEMPLATE, tmp_path)


def by_title(run: LocalRun) -> dict[str, dashboard.Panel]:
    return {panel.title: panel for panel in panels(TEMPLATE, run)}


def test_route_latency_comes_from_the_access_log_in_ten_second_bins(run: LocalRun):
    latency = by_title(run)["POST /orders latency at API Gateway (ms)"]
    assert latency.lines["p99"] == ([0, 10], [900.0, 30.0])
    requests = by_title(run)["HTTP API: requests, 4xx, 5xx"].lines
    assert requests["requests"] == ([0, 10], [1.0, 2.0])
    assert requests["4xx (429 throttles included)"] == ([0, 10], [0.0, 1.0])


def test_the_services_metrics_come_from_the_emf_lines(run: LocalRun):
    orders = by_title(run)["Orders accepted and stored"]
    assert orders.lines["accepted (POST 202)"] == ([0, 10], [1.0, 1.0])
    assert orders.lines["stored"] == ([400], [1.0])
    assert "conflicting duplicates: not emitted in this run" in orders.missing


def test_the_init_duration_widget_runs_its_query_over_the_report_records(run: LocalRun):
    cold = by_title(run)["Init Duration of cold starts (REPORT records, ms)"]
    assert cold.lines["maxInitMs (max)"] == ([0, 10], [800.0, 500.0])
    assert cold.lines["coldStarts (count)"] == ([0, 10], [1.0, 1.0])


def test_what_no_local_log_holds_is_named_not_drawn_empty(run: LocalRun):
    queue = by_title(run)["Orders queue: depth and oldest message"]
    assert not queue.lines
    assert queue.missing == ["waiting: moto publishes no SQS metrics", "oldest (s): moto publishes no SQS metrics"]
    cost = by_title(run)["Cost per million orders (USD, on-demand list prices; Lambda, API Gateway, SQS, DynamoDB)"]
    assert any("metric math" in reason for reason in cost.missing)


def test_the_board_is_drawn_as_one_image(run: LocalRun, tmp_path: Path):
    out = tmp_path / "dashboard.png"
    dashboard.draw(panels(TEMPLATE, run), out, "a test run")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_without_a_run_it_says_what_to_run_first(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    assert dashboard.main(["--logs", str(tmp_path)]) == 2
    assert "run `make demo` first" in capsys.readouterr().err


def test_the_cost_widget_prices_as_the_price_lists_do():
    """The template's cost widget types its prices into its metric math: they are the price lists' (prices.json,
    capacity.json), so a price changed in one place fails here until the other follows."""
    (board,) = dashboard.dashboard_widgets(TEMPLATE).values()
    (cost,) = [w for w in board if w["properties"]["title"].startswith("Cost per million orders")]
    expressions = " ".join(row[0]["expression"] for row in cost["properties"]["metrics"] if "expression" in row[0])
    prices = json.loads((dashboard.PROJECT_ROOT / "workbench/src/workbench/measure/prices.json").read_text())
    extra = json.loads((dashboard.PROJECT_ROOT / "workbench/src/workbench/measure/capacity.json").read_text())["prices"]
    per_unit = [
        prices["lambda"]["duration_per_gb_second"]["arm64"]["value"],
        prices["lambda"]["requests_per_million"]["value"] / 1e6,
        *(
            extra[name]["value"] / 1e6
            for name in ("http_api_per_million", "sqs_standard_per_million", "dynamodb_write_per_million")
        ),
    ]
    for price in per_unit:
        assert f"{price:.12f}".rstrip("0") in expressions, price
