"""The MySQL catalog: prices and per-order limits, every SKU of an order in one query."""

from __future__ import annotations

from collections.abc import Collection

from pymysql.cursors import DictCursor

from orders.adapters.mysql import Database
from orders.models import CatalogEntry
from orders.observability import tracer


@tracer.capture_method(capture_response=False)
def fetch_catalog_entries(db: Database, skus: Collection[str]) -> dict[str, CatalogEntry]:
    """Every SKU of the order in ONE round trip (an IN list), not one query per line."""
    if not skus:
        return {}
    placeholders = ", ".join(["%s"] * len(skus))
    query = (
        "SELECT sku, unit_price_cents, max_quantity FROM catalog_items "  # noqa: S608 - placeholders only
        f"WHERE active AND sku IN ({placeholders})"
    )

    def read(cursor: DictCursor) -> dict[str, CatalogEntry]:
        cursor.execute(query, tuple(skus))
        return {row["sku"]: CatalogEntry.model_validate(row) for row in cursor.fetchall()}

    return db.run(read)
