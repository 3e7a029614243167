"""The database's shape, made by the migration: the tables (sql/schema.sql) and the functions' user."""

from __future__ import annotations

from importlib import resources

from pymysql.cursors import DictCursor

from orders.adapters.mysql import Database
from orders.adapters.secrets import DbCredentials


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
    ("SELECT, INSERT, UPDATE", "daily_sku_shard_sales"),  # each shard's totals, summed into the day's
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
