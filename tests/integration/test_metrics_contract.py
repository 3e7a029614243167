"""Alarms cannot drift from the code: every metric of the service's namespace that the dashboard, the alarms
or the SLOs read is one the functions emit, with the dimensions they name; and every metric the functions emit
is on the dashboard. The evidence is the EMF the handlers print when run here, through each path that meters.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.metrics.provider import cold_start

from orders.config import get_settings
from orders.handlers import api, consumer, rollup
from sam_testkit.cloudwatch import EmfMetric, MetricRef, alarm_metrics, dashboard_widgets, emf_metrics, widget_metrics
from sam_testkit.dynamodb_faults import UnprocessedItemsInjector
from sam_testkit.sam_template import read_template
from tests.factories import FakeLambdaContext, order_message, order_request, post_order_event, sqs_event
from tests.fixtures import LAMBDA_ENV, TEMPLATE, AwsWorld, MySqlAdmin

pytestmark = pytest.mark.integration

SOURCE = Path(__file__).resolve().parents[2] / "src" / "orders"


def service_namespace() -> str:
    """The namespace the functions publish to on AWS: what the template gives Powertools."""
    return str(
        read_template(TEMPLATE)["Globals"]["Function"]["Environment"]["Variables"]["POWERTOOLS_METRICS_NAMESPACE"]
    )


def template_refs() -> list[MetricRef]:
    """Every metric of the service's own namespace the dashboard's widgets, the alarms and the SLOs read."""
    template = read_template(TEMPLATE)
    refs = [ref for board in dashboard_widgets(template).values() for widget in board for ref in widget_metrics(widget)]
    return [ref for ref in [*refs, *alarm_metrics(template)] if ref.namespace == service_namespace()]


@pytest.fixture
def emitted(
    orders_service: AwsWorld, mysql: MySqlAdmin, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> list[EmfMetric]:
    """The EMF of each function run through each path that meters something, each invocation a cold start."""
    monkeypatch.setenv("CATALOG_MAX_AGE_SECONDS", "0")  # every POST reaches MySQL: the reconnect must meet one
    get_settings.cache_clear()
    seen: list[EmfMetric] = []

    def run(handler: Callable[..., Any], event: dict[str, Any], function: str) -> Any:
        cold_start.reset_cold_start_flag()  # a new environment each time: its ColdStart too
        capsys.readouterr()
        result = handler(event, FakeLambdaContext(function_name=function))
        seen.extend(emf_metrics(capsys.readouterr().out.splitlines()))
        return result

    # An accepted order; then its connection killed and the password rotated under the warm environment
    assert run(api.handler, post_order_event(order_request(MUG_CERAMIC_350ML=1)), "ApiFunction")["statusCode"] == 202
    mysql.set_app_password("rotated-for-the-contract")
    orders_service.put_db_secret("rotated-for-the-contract")
    mysql.kill_app_connections()
    assert run(api.handler, post_order_event(order_request(MUG_CERAMIC_350ML=1)), "ApiFunction")["statusCode"] == 202

    # A batch: an order stored after part of its write came back unprocessed, one of a past day, a conflicting
    # duplicate of it, and poison
    assert boto3.DEFAULT_SESSION is not None  # the session the functions' clients come from
    current = order_message(created_at=dt.datetime.now(dt.UTC).isoformat())
    UnprocessedItemsInjector(lambda order_id, call: call == 1 and order_id == current["order_id"]).install(
        boto3.DEFAULT_SESSION.events
    )
    late = order_message(created_at=(dt.datetime.now(dt.UTC) - dt.timedelta(days=2)).isoformat())
    conflicting = order_message(late["order_id"], created_at=late["created_at"], MUG_CERAMIC_350ML=1300)
    run(consumer.handler, sqs_event([current, late, conflicting, "not json"]), "OrdersConsumer")

    # The daily rollup
    run(rollup.handler, {"date": dt.date.today().isoformat()}, "DailyRollupFunction")
    return seen


def test_every_metric_the_dashboard_alarms_and_slos_read_is_emitted_with_their_dimensions(emitted: list[EmfMetric]):
    published = {(m.name, m.dimensions) for m in emitted}
    for ref in template_refs():
        # a function_name dimension names the function's logical id; the functions here are named after them
        assert (ref.name, ref.dimensions) in published, f"{ref.name} {dict(ref.dimensions)} is read, never emitted"


def test_every_metric_the_functions_emit_is_on_the_dashboard(emitted: list[EmfMetric]):
    shown = {(ref.name, ref.dimension_names) for ref in template_refs()}
    for metric in emitted:
        assert (metric.name, metric.dimension_names) in shown, f"{metric.name} is emitted, on no widget"


def test_every_metric_the_source_names_was_emitted_here(emitted: list[EmfMetric]):
    """The scenario above reaches every add_metric of the code: none is left unproven."""
    named = set(re.findall(r'add_metric\(name="(\w+)"', "".join(p.read_text() for p in SOURCE.rglob("*.py"))))
    assert named | {"ColdStart"} == {metric.name for metric in emitted}


def test_the_functions_publish_to_the_namespace_powertools_is_given(emitted: list[EmfMetric]):
    # the tests give Powertools their own namespace; on AWS the template's, read the same way
    assert {metric.namespace for metric in emitted} == {LAMBDA_ENV["POWERTOOLS_METRICS_NAMESPACE"]}
    assert service_namespace() == "OrdersService"
