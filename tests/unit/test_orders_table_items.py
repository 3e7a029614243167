"""The DynamoDB item shape of an order."""

from __future__ import annotations

from orders.adapters.orders_table import from_item, line_sales, to_item
from orders.adapters.schema import schema_statements
from orders.logic.day_shards import day_shards
from orders.logic.rollup import LineSale
from orders.models import Order
from tests.factories import order_message


def test_an_order_survives_the_round_trip_and_carries_its_index_key():
    # GIVEN an order of the last second of a day
    order = Order.model_validate(order_message(created_at="2026-11-22T23:59:59Z", MUG=1200, BEANS=2450))

    # WHEN it becomes a DynamoDB item, its day over 16 shards
    item = to_item(order, 16)

    # THEN its index key is one of that day's shards, its total a number, and reading it back gives the same order
    assert item["order_date"] == {"S": "2026-11-22"}
    assert item["order_day_shard"]["S"] in day_shards("2026-11-22", 16)
    # AND the day index's lines are the order's, as the rollup reads them
    assert line_sales(item) == [LineSale("MUG", 1, 1200), LineSale("BEANS", 1, 2450)]
    assert item["total_cents"] == {"N": "3650"}
    assert from_item(item) == order


def test_the_schema_ships_in_the_package():
    # GIVEN the package as shipped, WHEN its schema is read
    statements = schema_statements()
    # THEN it holds the three tables, each created only when missing
    names = [s.split("(")[0].split()[-1] for s in statements]
    assert names == ["catalog_items", "daily_sku_sales", "daily_sku_shard_sales"]
    assert all(s.startswith("CREATE TABLE IF NOT EXISTS") for s in statements)
