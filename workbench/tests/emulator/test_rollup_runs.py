"""A day's rollup handed to several runs of DailyRollupFunction (RollupRuns), end to end in the local runner:
the scheduled run invokes the others through Lambda's API, as its role allows, and their shards sum to the day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
from tests.factories import order_message

from orders.adapters.orders_table import to_item
from orders.models import Order
from workbench.emulator.lambda_api import LocalLambdaApi
from workbench.emulator.schedules import Schedule
from workbench.emulator.service import LocalService

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def four_runs() -> Iterator[LocalService]:
    with LocalService(parameter_overrides={"RollupRuns": "4"}) as service:
        service.prepare_database()
        yield service


def test_the_scheduled_run_hands_the_day_to_four_runs_whose_shards_sum_to_the_day(four_runs: LocalService):
    # GIVEN 24 orders of 2026-11-23 stored over the day's shards
    table = four_runs.cloud.symbols["OrdersTable"]["Ref"]
    shards = int(four_runs.environment("OrdersConsumer")["ORDER_DAY_SHARDS"])
    dynamodb = four_runs.cloud.client("dynamodb")
    for _ in range(24):
        order = Order.model_validate(order_message(created_at="2026-11-23T10:00:00Z", SCALE_01G=3500))
        dynamodb.put_item(TableName=table, Item=to_item(order, shards))

    # WHEN the schedule fires the next day, with Lambda's API serving the runs it hands out
    with LocalLambdaApi(four_runs, quiet=True):
        run = Schedule(four_runs, "DailyRollupFunction").fire(dt.datetime(2026, 11, 24, 0, 15, tzinfo=dt.UTC))
    # (the API's exit waits for the runs it queued)

    # THEN the scheduled run handed out four runs, its role allowed it, and the day's total counts each order once
    assert run.attempts[-1].error is None
    assert run.attempts[-1].payload["runs"] == 4
    assert not four_runs.cloud.iam_report()["DailyRollupFunction"].denied
    rows = four_runs.mysql.execute(
        f"SELECT units, revenue_cents, order_count FROM `{four_runs.database.database}`.daily_sku_sales "
        "WHERE sales_date = '2026-11-23' AND sku = 'SCALE-01G'"
    )
    assert [tuple(int(v) for v in row) for row in rows] == [(24, 24 * 3500, 24)]
