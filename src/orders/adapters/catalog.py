"""The MySQL side of the service: catalog prices, daily rollup rows, and the schema."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from importlib import resources

from pymysql.cursors import DictCursor

from orders.adapters.mysql import Database
from orders.adapters.secrets import DbCredentials
from orders.models import CatalogEntry, SkuDailyTotal
from orders.observability import tracer

# VALUES(col) works on MySQL 8, Aurora MySQL 3 and MariaDB alike (MySQL's row-alias form does not).
_UPSERT_DAILY_TOTAL = (
    "INSERT INTO daily_sku_sales (sales_date, sku, units, revenue_cents, order_count) "
    "VALUES (%s, %s, %s, %s, %s) "
    "ON DUPLICATE KEY UPDATE units = VALUES(units), revenue_cents = VALUES(revenue_cents), "
    "order_count = VALUES(order_count)"
)


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


@tracer.capture_method(capture_response=False)
def upsert_daily_totals(db: Database, totals: Sequence[SkuDailyTotal]) -> int:
    """One multi-row INSERT … ON DUPLICATE KEY UPDATE (PyMySQL's executemany batches it): re-runs converge."""
    rows = [(t.sales_date, t.sku, t.units, t.revenue_cents, t.order_count) for t in totals]
    if not rows:
        return 0
    db.run(lambda cursor: cursor.executemany(_UPSERT_DAILY_TOTAL, rows), transaction=True)
    return len(rows)


def schema_statements() -> list[str]:
    """The statements of sql/schema.sql, shipped inside the package for the migration function."""
    text = resources.files("orders").joinpath("sql/schema.sql").read_text(encoding="utf-8")
    without_comments = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in without_comments.split(";") if statement.strip()]


def apply_schema(db: Database) -> int:
    """Create missing tables; safe to run on every deploy."""
    statements = schema_statements()

    def create(cursor: DictCursor) -> None:
        for statement in statements:
            cursor.execute(statement)

    db.run(create)
    return len(statements)


# What the functions' user may do, and nothing more: read the catalog, write the daily totals.
APP_USER_GRANTS = (
    ("SELECT", "catalog_items"),
    ("SELECT, INSERT, UPDATE", "daily_sku_sales"),  # INSERT … ON DUPLICATE KEY UPDATE
)


def ensure_app_user(db: Database, credentials: DbCredentials, database: str) -> None:
    """Create the least-privilege user if missing, set its password from its secret, grant exactly its job.

    Idempotent: each deploy's migration re-syncs the password (a rotated secret stays valid).
    """

    def create(cursor: DictCursor) -> None:
        password = credentials.password.get_secret_value()
        cursor.execute("CREATE USER IF NOT EXISTS %s@'%%' IDENTIFIED BY %s", (credentials.username, password))
        cursor.execute("ALTER USER %s@'%%' IDENTIFIED BY %s", (credentials.username, password))
        for privileges, table in APP_USER_GRANTS:
            cursor.execute(f"GRANT {privileges} ON `{database}`.`{table}` TO %s@'%%'", (credentials.username,))

    db.run(create)
