"""DailyRollupFunction: one day's orders from DynamoDB (all pages) into MySQL totals, idempotently."""

from __future__ import annotations

import datetime as dt
import json
import os

import pytest
from botocore.stub import Stubber

from orders.adapters.aws_clients import lambda_client
from orders.adapters.late_days import clear_late_day, late_days, mark_late_days
from orders.adapters.orders_table import to_item
from orders.config import RollupSettings, get_settings
from orders.handlers import consumer, migrate, rollup
from orders.models import Order
from tests.factories import FakeLambdaContext, load_event, order_message, sqs_event
from tests.fixtures import LAMBDA_ENV, AwsWorld, MySqlAdmin

pytestmark = pytest.mark.integration


def store(aws: AwsWorld, orders: list[dict]) -> None:
    """The orders as the consumer stores them, over the day shards the functions' environment names."""
    for order in orders:
        item = to_item(Order.model_validate(order), int(os.environ["ORDER_DAY_SHARDS"]))
        aws.client("dynamodb").put_item(TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"], Item=item)


def totals(mysql: MySqlAdmin) -> dict[tuple[str, str], tuple[int, int, int]]:
    rows = mysql.execute("SELECT sales_date, sku, units, revenue_cents, order_count FROM daily_sku_sales")
    return {(str(day), sku): (units, revenue, count) for day, sku, units, revenue, count in rows}


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages of seven over two shards: a day of 30 orders takes several pages of each."""
    monkeypatch.setenv("ROLLUP_QUERY_PAGE_SIZE", "7")
    monkeypatch.setenv("ORDER_DAY_SHARDS", "2")


def test_a_days_orders_lie_on_many_index_partitions_and_the_rollup_reads_each_once(orders_service: AwsWorld, mysql):
    # GIVEN 64 orders of one day, stored over the template's 16 day shards
    shards = int(LAMBDA_ENV["ORDER_DAY_SHARDS"])
    store(orders_service, [order_message(created_at="2026-11-22T10:00:00Z", SCALE_01G=3500) for _ in range(64)])
    items = orders_service.client("dynamodb").scan(TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"])["Items"]
    assert len({item["order_day_shard"]["S"] for item in items}) > shards // 2  # no one partition takes the day

    # WHEN the day is rolled up, THEN each shard is queried once (one page each) and every order is counted
    queries_before = orders_service.calls["dynamodb.Query"]
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())
    assert orders_service.calls["dynamodb.Query"] - queries_before == shards
    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (64, 64 * 3500, 64)}


def test_a_day_spanning_several_pages_is_summed_into_mysql(orders_service: AwsWorld, mysql, small_pages):
    # GIVEN 30 orders on 2026-11-22 (more than four pages of seven) and orders on the days around it
    day = [order_message(created_at=f"2026-11-22T{n % 24:02d}:00:00Z", MUG_CERAMIC_350ML=1200) for n in range(20)]
    day += [
        order_message(created_at=f"2026-11-22T12:{n:02d}:00Z", GRINDER_BURR=8900, MUG_CERAMIC_350ML=1200)
        for n in range(10)
    ]
    others = [order_message(created_at="2026-11-21T23:59:59Z"), order_message(created_at="2026-11-23T00:00:00Z")]
    store(orders_service, day + others)

    # WHEN the scheduler's event (fired 2026-11-23 00:15 UTC) runs the rollup
    result = rollup.handler(load_event("schedule_daily_rollup.json"), FakeLambdaContext())

    # THEN yesterday's totals are in MySQL, read through every page of the index
    assert result == {"sales_date": "2026-11-22", "orders": 30, "skus": 2, "late_days_recomputed": []}
    assert orders_service.calls["dynamodb.Query"] >= 5
    assert totals(mysql) == {
        ("2026-11-22", "MUG-CERAMIC-350ML"): (30, 30 * 1200, 30),
        ("2026-11-22", "GRINDER-BURR"): (10, 10 * 8900, 10),
    }


def test_re_running_a_day_gives_the_same_totals(orders_service: AwsWorld, mysql):
    # GIVEN a day's orders, WHEN its rollup runs twice, THEN the totals are the same
    store(orders_service, [order_message(created_at="2026-11-22T08:00:00Z", SCALE_01G=3500) for _ in range(3)])

    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())
    first = totals(mysql)
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())

    assert totals(mysql) == first == {("2026-11-22", "SCALE-01G"): (3, 3 * 3500, 3)}


def test_a_re_run_after_late_orders_updates_the_totals(orders_service: AwsWorld, mysql):
    # GIVEN a day rolled up, WHEN another order of it is stored and the day re-run, THEN the totals count it
    store(orders_service, [order_message(created_at="2026-11-22T08:00:00Z", SCALE_01G=3500)])
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())

    store(orders_service, [order_message(created_at="2026-11-22T09:00:00Z", SCALE_01G=3500)])
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())

    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (2, 7000, 2)}


def test_an_order_stored_after_its_days_rollup_is_counted_by_the_next_run(orders_service: AwsWorld, mysql):
    # GIVEN 2026-11-22 rolled up with one order
    store(orders_service, [order_message(created_at="2026-11-22T08:00:00Z", SCALE_01G=3500)])
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())
    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (1, 3500, 1)}

    # WHEN another order of that day reaches the consumer later (a slow retry, a DLQ redrive) …
    late = order_message(created_at="2026-11-22T09:00:00Z", SCALE_01G=3500)
    assert consumer.handler(sqs_event([late]), FakeLambdaContext()) == {"batchItemFailures": []}
    # … and the next scheduled run rolls up another day
    result = rollup.handler({"date": "2026-11-30"}, FakeLambdaContext())

    # THEN the late order's day was recomputed and its mark cleared
    assert result["late_days_recomputed"] == ["2026-11-22"]
    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (2, 7000, 2)}
    assert late_days(get_settings(RollupSettings)) == {}


def test_a_day_marked_again_while_the_rollup_ran_stays_marked(orders_service: AwsWorld, mysql):
    # GIVEN a mark the rollup read, then a new one for the same day (an order stored meanwhile)
    settings = get_settings(RollupSettings)
    mark_late_days(settings, [dt.date(2026, 11, 22)], dt.datetime(2026, 12, 1, 0, 15, tzinfo=dt.UTC))
    seen = late_days(settings)[dt.date(2026, 11, 22)]
    mark_late_days(settings, [dt.date(2026, 11, 22)], dt.datetime(2026, 12, 1, 0, 16, tzinfo=dt.UTC))

    # WHEN the rollup clears the mark it read
    cleared = clear_late_day(settings, dt.date(2026, 11, 22), seen)

    # THEN the newer mark is kept for the next run
    assert cleared is False
    assert dt.date(2026, 11, 22) in late_days(settings)


def test_an_order_of_today_marks_no_day(orders_service: AwsWorld):
    # an hour ahead: its day is never before the consumer's today, even across midnight
    # GIVEN an order of today, WHEN it is consumed, THEN no day is marked late
    soon = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    consumer.handler(sqs_event([order_message(created_at=soon.isoformat())]), FakeLambdaContext())
    assert late_days(get_settings(RollupSettings)) == {}


def test_the_shards_totals_are_written_in_one_statement_and_the_days_in_one_more(
    orders_service: AwsWorld, mysql, statements_sent: list[str]
):
    # GIVEN a day's orders of three SKUs, over several of its shards
    lines = {"SCALE_01G": 3500, "GRINDER_BURR": 8900, "MUG_CERAMIC_350ML": 1}
    store(orders_service, [order_message(created_at="2026-11-22T08:00:00Z", **lines) for _ in range(8)])
    shards = {
        item["order_day_shard"]["S"]
        for item in orders_service.client("dynamodb").scan(TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"])["Items"]
    }
    assert len(shards) > 1

    # WHEN it is rolled up
    rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())

    # THEN one INSERT writes every shard's rows (executemany makes them one multi-row statement), one more the day's
    shard_inserts = [sql for sql in statements_sent if sql.startswith("INSERT INTO daily_sku_shard_sales")]
    assert len(shard_inserts) == 1
    assert shard_inserts[0].count("),(") == 3 * len(shards) - 1
    assert sum(sql.startswith("INSERT INTO daily_sku_sales") for sql in statements_sent) == 1
    assert totals(mysql)[("2026-11-22", "SCALE-01G")] == (8, 8 * 3500, 8)


def test_a_day_without_orders_writes_nothing(orders_service: AwsWorld, mysql):
    # GIVEN a day without orders, WHEN it is rolled up, THEN nothing is written
    result = rollup.handler({"date": "2026-01-01"}, FakeLambdaContext())
    assert result == {"sales_date": "2026-01-01", "orders": 0, "skus": 0, "late_days_recomputed": []}
    assert totals(mysql) == {}


def test_the_migration_function_creates_the_schema_idempotently(orders_service: AwsWorld, mysql):
    # GIVEN a database missing the rollup table
    mysql.execute("DROP TABLE daily_sku_sales")

    # WHEN the migration runs twice (every deploy runs it)
    first = migrate.handler(load_event("schema_migration.json"), FakeLambdaContext())
    second = migrate.handler({}, FakeLambdaContext())

    # THEN the tables exist and the second run changed nothing
    assert first == second == {"statements": 3}
    tables = {row[0] for row in mysql.execute("SHOW TABLES")}
    assert {"catalog_items", "daily_sku_sales", "daily_sku_shard_sales"} <= tables


def test_a_rollup_whose_connection_dies_mid_transaction_still_converges(orders_service: AwsWorld, mysql, monkeypatch):
    # GIVEN a connection killed in the middle of the rollup's INSERT, WHEN the day is rolled up
    # THEN it is retried on a new connection, and the totals are right
    import pymysql

    store(orders_service, [order_message(created_at="2026-11-22T08:00:00Z", SCALE_01G=3500) for _ in range(2)])
    original = pymysql.connections.Connection.query
    kills = {"left": 1}

    def query(self, sql, unbuffered=False):
        text = sql if isinstance(sql, str) else bytes(sql).decode()
        if kills["left"] and text.startswith("INSERT INTO daily_sku_sales"):
            kills["left"] -= 1
            mysql.execute(f"KILL {self.thread_id()}")
        return original(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", query)

    result = rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())

    assert kills["left"] == 0
    assert result["skus"] == 1
    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (2, 7000, 2)}


def test_runs_over_disjoint_shards_sum_to_the_whole_day_in_any_order(orders_service: AwsWorld, mysql):
    # GIVEN 40 orders of a day over its 16 shards
    store(orders_service, [order_message(created_at="2026-11-22T09:00:00Z", SCALE_01G=3500) for _ in range(40)])
    halves = ([shard for shard in range(16) if shard % 2], [shard for shard in range(16) if not shard % 2])

    # WHEN two runs each read half of the shards, the second first, and one of them again (a retry)
    for shards in (halves[1], halves[0], halves[1]):
        rollup.handler({"date": "2026-11-22", "shards": shards}, FakeLambdaContext())

    # THEN the day's totals count every order once
    assert totals(mysql) == {("2026-11-22", "SCALE-01G"): (40, 40 * 3500, 40)}


def test_a_day_too_big_for_one_run_is_handed_out_as_shard_groups(
    orders_service: AwsWorld, mysql, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN four runs configured, and a late day marked
    monkeypatch.setenv("ROLLUP_RUNS", "4")
    monkeypatch.setenv("ROLLUP_FUNCTION_NAME", "orders-daily-rollup")
    store(orders_service, [order_message(created_at="2026-11-22T09:00:00Z", SCALE_01G=3500)])
    settings = get_settings(RollupSettings)
    mark_late_days(settings, [dt.date(2026, 11, 20)], dt.datetime(2026, 11, 23, 0, 10, tzinfo=dt.UTC))

    # WHEN the scheduled run starts, with Lambda's Invoke stubbed (botocore's Stubber checks each call)
    groups = [list(range(first, 16, 4)) for first in range(4)]
    with Stubber(lambda_client()) as lambda_api:
        for day in ("2026-11-22", "2026-11-20"):
            for shards in groups:
                payload = json.dumps({"date": day, "shards": shards}).encode()
                expected = {"FunctionName": "orders-daily-rollup", "InvocationType": "Event", "Payload": payload}
                lambda_api.add_response("invoke", {"StatusCode": 202}, expected)
        result = rollup.handler({"date": "2026-11-22"}, FakeLambdaContext())
        lambda_api.assert_no_pending_responses()

    # THEN each day's 16 shards went to four runs, four each, none read here, and the late mark is cleared
    assert result == {"sales_date": "2026-11-22", "runs": 4, "late_days_handed_out": ["2026-11-20"]}
    assert totals(mysql) == {}
    assert late_days(get_settings(RollupSettings)) == {}
