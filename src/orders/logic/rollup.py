"""Daily rollup: pure aggregation of one day's orders into per-SKU totals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from orders.models import Order, SkuDailyTotal


@dataclass(frozen=True)
class DailyRollup:
    sales_date: dt.date
    totals: list[SkuDailyTotal]
    order_count: int


def roll_up_day(sales_date: dt.date, orders: Iterable[Order]) -> DailyRollup:
    """Sum units, revenue and orders per SKU in one streaming pass; rows sorted by SKU for stable writes."""
    units: defaultdict[str, int] = defaultdict(int)
    revenue: defaultdict[str, int] = defaultdict(int)
    orders_per_sku: defaultdict[str, int] = defaultdict(int)
    order_count = 0
    for order in orders:
        order_count += 1
        for line in order.items:
            units[line.sku] += line.quantity
            revenue[line.sku] += line.line_total_cents
            orders_per_sku[line.sku] += 1
    totals = [
        SkuDailyTotal(
            sales_date=sales_date,
            sku=sku,
            units=units[sku],
            revenue_cents=revenue[sku],
            order_count=orders_per_sku[sku],
        )
        for sku in sorted(units)
    ]
    return DailyRollup(sales_date=sales_date, totals=totals, order_count=order_count)
