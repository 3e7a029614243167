"""Pattern 2 — MySQL connection reuse. Both twins price the same SKUs with the same query."""

import pymysql

from orders.adapters.catalog import fetch_catalog_entries
from orders.adapters.mysql import get_database
from orders.adapters.secrets import get_db_credentials
from orders.config import DatabaseSettings, get_settings

SKUS = ("COFFEE-BEANS-1KG", "MUG-CERAMIC-350ML")
QUERY = "SELECT sku, unit_price_cents, max_quantity FROM catalog_items WHERE active AND sku IN (%s, %s)"


def reused(event, context):
    """The real code: one connection per environment, pinged before use (src/orders/adapters/mysql.py)."""
    return {"rows": len(fetch_catalog_entries(get_database(), SKUS))}


def per_invocation(event, context):
    """The naive twin: connect, query, close on every invocation (TLS too, where the server offers it)."""
    settings = get_settings(DatabaseSettings)
    credentials = get_db_credentials(settings)  # cached in both twins: only the connection pattern differs
    connection = pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=credentials.username,
        password=credentials.password.get_secret_value(),
        database=settings.db_name,
        connect_timeout=settings.db_connect_timeout_seconds,
    )
    try:
        with connection.cursor() as cursor:
            cursor.execute(QUERY, SKUS)
            return {"rows": len(cursor.fetchall())}
    finally:
        connection.close()
