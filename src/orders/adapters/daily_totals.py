"""The daily rollup's rows in MySQL: per-SKU totals, upserted so a re-run converges."""

from __future__ import annotations

from collections.abc import Sequence

from orders.adapters.mysql import Database
from orders.models import SkuDailyTotal
from orders.observability import tracer

# VALUES(col) works on MySQL 8, Aurora MySQL 3 and MariaDB alike (MySQL's row-alias form does not).
_UPSERT_DAILY_TOTAL = (
    "INSERT INTO daily_sku_sales (sales_date, sku, units, revenue_cents, order_count) "
    "VALUES (%s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE units = VALUES(units), revenue_cents = VALUES(revenue_cents), "
    "order_count = VALUES(order_count)"
)


@tracer.capture_method(capture_response=False)
def upsert_daily_totals(db: Database, totals: Sequence[SkuDailyTotal]) -> int:
    """One multi-row INSERT … ON DUPLICATE KEY UPDATE (PyMySQL's executemany batches it): re-runs converge."""
    rows = [(t.sales_date, t.sku, t.units, t.revenue_cents, t.order_count) for t in totals]
    if not rows:
        return 0
    db.run(lambda cursor: cursor.executemany(_UPSERT_DAILY_TOTAL, rows), transaction=True)
    return len(rows)
