"""Daily rollup: pure aggregation of one day's orders into per-SKU totals."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from orders.models import SkuDailyTotal


class LineSale(NamedTuple):
    """What the rollup needs of one line of a stored order."""

    sku: str
    quantity: int
    line_total_cents: int


@dataclass(frozen=True)
class DailyRollup:
    sales_date: dt.date
    totals: list[SkuDailyTotal]
    order_count: int


@dataclass
class _Sums:
    """Units, revenue and orders per SKU, added up in one streaming pass."""

    units: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    revenue: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    orders: defaultdict[str, int] = field(default_factory=lambda: defaultdict(int))
    order_count: int = 0

    def add(self, sku: str, units: int, revenue_cents: int, orders: int) -> None:
        self.units[sku] += units
        self.revenue[sku] += revenue_cents
        self.orders[sku] += orders

    def rollup(self, sales_date: dt.date) -> DailyRollup:
        """Rows sorted by SKU for stable writes."""
        totals = [
            SkuDailyTotal(
                sales_date=sales_date,
                sku=sku,
                units=self.units[sku],
                revenue_cents=self.revenue[sku],
                order_count=self.orders[sku],
            )
            for sku in sorted(self.units)
        ]
        return DailyRollup(sales_date=sales_date, totals=totals, order_count=self.order_count)


def roll_up_day(sales_date: dt.date, orders: Iterable[Iterable[LineSale]]) -> DailyRollup:
    """Sum units, revenue and orders per SKU of `orders`, each given by its lines (a day, or one shard of it)."""
    sums = _Sums()
    for lines in orders:
        sums.order_count += 1
        for line in lines:
            sums.add(line.sku, line.quantity, line.line_total_cents, 1)
    return sums.rollup(sales_date)


def combine(sales_date: dt.date, partials: Iterable[DailyRollup]) -> DailyRollup:
    """One day's rollup from the rollups of its shards: each order is on exactly one shard, so sums add up."""
    sums = _Sums()
    for partial in partials:
        sums.order_count += partial.order_count
        for total in partial.totals:
            sums.add(total.sku, total.units, total.revenue_cents, total.order_count)
    return sums.rollup(sales_date)
