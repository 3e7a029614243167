"""The daily rollup's rows in MySQL: each day shard's per-SKU totals, and the day's as their sum; upserted, so a
re-run converges."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

from pymysql.cursors import DictCursor

from orders.adapters.mysql import Database
from orders.logic.rollup import DailyRollup
from orders.observability import tracer

# VALUES(col) works on MySQL 8, Aurora MySQL 3 and MariaDB alike (MySQL's row-alias form does not).
_UPSERT_SHARD_TOTAL = (
    "INSERT INTO daily_sku_shard_sales (sales_date, shard, sku, units, revenue_cents, order_count) "
    "VALUES (%s, %s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE units = VALUES(units), revenue_cents = VALUES(revenue_cents), "
    "order_count = VALUES(order_count)"
)
_SUM_SHARDS_INTO_DAY = (
    "INSERT INTO daily_sku_sales (sales_date, sku, units, revenue_cents, order_count) "
    "SELECT sales_date, sku, SUM(units), SUM(revenue_cents), SUM(order_count) FROM daily_sku_shard_sales "
    "WHERE sales_date = %s GROUP BY sales_date, sku "
    "ON DUPLICATE KEY UPDATE units = VALUES(units), revenue_cents = VALUES(revenue_cents), "
    "order_count = VALUES(order_count)"
)


@tracer.capture_method(capture_response=False)
def upsert_shard_totals(db: Database, shards: Mapping[int, DailyRollup]) -> int:
    """Every SKU row of the shards read, in one multi-row INSERT … ON DUPLICATE KEY UPDATE (PyMySQL's
    executemany batches it). A shard's orders only ever grow, so its new rows cover its old ones."""
    rows = [
        (t.sales_date, shard, t.sku, t.units, t.revenue_cents, t.order_count)
        for shard, rollup in shards.items()
        for t in rollup.totals
    ]
    if rows:
        db.run(lambda cursor: cursor.executemany(_UPSERT_SHARD_TOTAL, rows), transaction=True)
    return len(rows)


@tracer.capture_method(capture_response=False)
def sum_shards_into_day(db: Database, sales_date: dt.date) -> int:
    """The day's totals from every shard's rows, in one statement. Each run sums after its shards are committed,
    so the last run to finish sums them all; runs racing each other converge to the same rows."""

    def total(cursor: DictCursor) -> int:
        return int(cursor.execute(_SUM_SHARDS_INTO_DAY, (sales_date,)))

    return db.run(total)
