"""Daily aggregation logic: pure, no I/O."""

from __future__ import annotations

import datetime as dt

from orders.logic.rollup import LineSale, roll_up_day

DAY = dt.date(2026, 11, 22)


def test_units_revenue_and_orders_are_summed_per_sku():
    # GIVEN two orders of a day that share a SKU
    orders = [
        [LineSale("MUG", 1, 1200), LineSale("BEANS", 1, 2450)],
        [LineSale("MUG", 1, 1200)],
    ]

    # WHEN the day is rolled up
    rollup = roll_up_day(DAY, iter(orders))

    # THEN each SKU's units, revenue and orders are summed, by SKU
    assert rollup.order_count == 2
    assert [(t.sku, t.units, t.revenue_cents, t.order_count) for t in rollup.totals] == [
        ("BEANS", 1, 2450, 1),
        ("MUG", 2, 2400, 2),
    ]
    assert all(t.sales_date == DAY for t in rollup.totals)


def test_no_orders_no_rows():
    # GIVEN a day without orders, WHEN it is rolled up, THEN there is nothing to write
    rollup = roll_up_day(DAY, [])
    assert (rollup.totals, rollup.order_count) == ([], 0)
