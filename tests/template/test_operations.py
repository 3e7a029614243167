"""Operating the service from the template: the dashboard, the alarms and their composite, the saved queries,
the SLOs. Whether the code emits what they read is tests/integration/test_metrics_contract.py's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from sam_testkit.cloudwatch import alarm_metrics, dashboard_widgets, widget_metrics
from tests.template.test_template import TEMPLATE, cloudformation, resources_of, sam_template


def widgets() -> list[dict[str, Any]]:
    (board,) = dashboard_widgets(sam_template()).values()
    return board


def widget(title_start: str) -> dict[str, Any]:
    (found,) = [w for w in widgets() if w["properties"]["title"].startswith(title_start)]
    return found


def test_the_dashboard_lays_its_widgets_out_without_overlap_and_names_only_resources_of_this_stack():
    cells: set[tuple[int, int]] = set()
    for each in widgets():
        covered = {(each["x"] + dx, each["y"] + dy) for dx in range(each["width"]) for dy in range(each["height"])}
        assert not cells & covered, each["properties"]["title"]
        assert each["x"] + each["width"] <= 24  # CloudWatch's grid is 24 wide
        cells |= covered
    resources = set(sam_template()["Resources"])
    for ref in (ref for w in widgets() for ref in widget_metrics(w)):
        for _, value in ref.dimensions:
            named = value.split(".")[0].split(":")[0]
            assert named in resources or not re.fullmatch(r"[A-Z][A-Za-z]+", named), (ref, value)


@pytest.mark.parametrize(
    "title",
    [
        "HTTP API: requests, 4xx, 5xx",
        "POST /orders latency",
        "GET /orders/{order_id} latency",
        "Function duration",
        "Cold starts",
        "Init Duration of cold starts",
        "Concurrency",
        "Throttles",
        "Orders queue",
        "Consumer: failed records, the DLQ",
        "Orders accepted and stored",
        "DynamoDB: consumed write units",
        "RDS Proxy: connections",
        "Aurora Serverless v2 capacity",
        "Cost per million orders",
    ],
)
def test_the_dashboard_shows_what_the_first_week_in_production_asks_for(title: str):
    assert widget(title)


def test_latency_widgets_show_p50_p95_p99_of_their_route_against_the_objective():
    for route in ("POST /orders", "GET /orders/{order_id}"):
        shown = widget_metrics(widget(f"{route} latency"))
        assert {ref.options["stat"] for ref in shown} == {"p50", "p95", "p99"}
        assert all(dict(ref.dimensions)["Route"] == route for ref in shown)
        lines = widget(f"{route} latency")["properties"]["annotations"]["horizontal"]
        assert [line["value"] for line in lines] == ["ApiLatencyObjectiveMs"]


def test_the_cold_start_log_widget_reads_init_duration_from_each_functions_report_records():
    query = widget("Init Duration of cold starts")["properties"]["query"]
    for group in ("ApiFunctionLogGroup", "OrdersConsumerLogGroup", "DailyRollupFunctionLogGroup"):
        assert f"SOURCE '{group}'" in query
    assert 'type = "platform.report"' in query
    assert "record.metrics.initDurationMs" in query


def test_the_report_records_the_dashboard_reads_are_logged():
    """platform.report records are INFO: a SystemLogLevel of WARN would leave the widget and two queries empty."""
    assert sam_template()["Globals"]["Function"]["LoggingConfig"]["SystemLogLevel"] in ("DEBUG", "INFO")


def cost_expressions() -> str:
    rows = widget("Cost per million orders")["properties"]["metrics"]
    return " ".join(row[0]["expression"] for row in rows if "expression" in row[0])


def test_the_cost_widget_bills_each_function_at_its_memory_size():
    """Its prices are the workbench's price lists' (workbench/tests/measure/test_dashboard.py checks them)."""
    functions = sam_template()["Resources"]
    for function, duration in (("ApiFunction", "apiMs"), ("OrdersConsumer", "consumerMs")):
        assert f"{duration} * {functions[function]['Properties']['MemorySize'] / 1024:g}" in cost_expressions()


ALARMS = {
    "ApiLatencyAlarm",
    "ApiErrorBudgetBurnAlarm",
    "ThrottlesAlarm",
    "QueueAgeAlarm",
    "OrdersDeadLetterAlarm",
    "RollupFailureAlarm",
    "ProxyConnectionsAlarm",
}


def test_one_composite_alarm_over_every_alarm_notifies_the_one_topic():
    resources = cloudformation()["Resources"]
    (composite,) = resources_of(cloudformation(), "AWS::CloudWatch::CompositeAlarm").values()
    rule = composite["Properties"]["AlarmRule"]["Fn::Sub"]
    assert (
        set(re.findall(r'ALARM\("\$\{(\w+)\}"\)', rule))
        == ALARMS
        == set(resources_of(cloudformation(), "AWS::CloudWatch::Alarm"))
    )
    assert composite["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    assert resources["AlarmTopic"]["Type"] == "AWS::SNS::Topic"
    # … and the alarms under it notify nobody themselves: one page, whatever the reasons
    assert not any("AlarmActions" in resources[alarm]["Properties"] for alarm in ALARMS)


def test_thresholds_follow_the_objectives_and_the_capacity_models_room():
    resources = cloudformation()["Resources"]
    assert resources["ApiLatencyAlarm"]["Properties"]["Threshold"] == {"Ref": "ApiLatencyObjectiveMs"}
    assert resources["QueueAgeAlarm"]["Properties"]["Threshold"] == {"Ref": "QueueAgeObjectiveSeconds"}
    burn = resources["ApiErrorBudgetBurnAlarm"]["Properties"]
    assert burn["Threshold"] == 1
    assert burn["Metrics"][-1]["Expression"]["Fn::Sub"].endswith("/ (100 - ${ApiAvailabilityObjective}) / 14.4, 0)")
    assert resources["ProxyConnectionsAlarm"]["Properties"]["Threshold"] == 80
    assert resources["ThrottlesAlarm"]["Properties"]["Threshold"] == 0


def test_every_alarm_reads_a_metric_the_dashboard_shows():
    shown = {(ref.namespace, ref.name, ref.dimensions) for w in widgets() for ref in widget_metrics(w)}
    for ref in alarm_metrics(sam_template()):
        assert (ref.namespace, ref.name, ref.dimensions) in shown, ref


QUERIES = {
    "cold starts by function": ["ApiFunctionLogGroup", "OrdersConsumerLogGroup", "DailyRollupFunctionLogGroup"],
    "slowest invocations and their traces": [
        "ApiFunctionLogGroup",
        "OrdersConsumerLogGroup",
        "DailyRollupFunctionLogGroup",
    ],
    "errors by type": ["ApiFunctionLogGroup", "OrdersConsumerLogGroup", "DailyRollupFunctionLogGroup"],
    "refused requests by reason": ["ApiFunctionLogGroup"],
}


def test_the_saved_queries_are_in_the_stacks_folder_over_its_log_groups():
    definitions = resources_of(cloudformation(), "AWS::Logs::QueryDefinition").values()
    found = {
        d["Properties"]["Name"]["Fn::Sub"].removeprefix("${AWS::StackName}/"): [
            group["Ref"] for group in d["Properties"]["LogGroupNames"]
        ]
        for d in definitions
    }
    assert found == QUERIES


def test_the_refusal_query_reads_the_line_the_api_logs_for_each_refusal():
    (refusals,) = [
        d
        for d in resources_of(cloudformation(), "AWS::Logs::QueryDefinition").values()
        if "refused" in d["Properties"]["Name"]["Fn::Sub"]
    ]
    source = (TEMPLATE.parent / "src/orders/handlers/api.py").read_text()
    message = re.search(r'filter message = "([^"]+)"', refusals["Properties"]["QueryString"])
    assert message is not None
    assert source.count(f'logger.info("{message.group(1)}", status=') == 2  # the resolver's refusals and the raw ones


def test_availability_and_latency_objectives_are_slos_over_api_gateways_metrics():
    slos = resources_of(cloudformation(), "AWS::ApplicationSignals::ServiceLevelObjective")
    availability = slos["ApiAvailabilitySlo"]["Properties"]
    assert availability["Goal"]["AttainmentGoal"] == {"Ref": "ApiAvailabilityObjective"}
    sli = availability["RequestBasedSli"]["RequestBasedSliMetric"]
    assert sli["MonitoredRequestCountMetric"]["BadCountMetric"][0]["MetricStat"]["Metric"]["MetricName"] == "5xx"
    latency = slos["ApiLatencySlo"]["Properties"]["Sli"]
    assert latency["MetricThreshold"] == {"Ref": "ApiLatencyObjectiveMs"}
    assert latency["ComparisonOperator"] == "LessThanOrEqualTo"


def test_the_operations_page_names_every_alarm():
    page = (Path(TEMPLATE.parent) / "docs" / "operations.md").read_text()
    for alarm in ALARMS:
        assert f"`{alarm}`" in page, alarm
