"""The functions' MySQL user can do its job and nothing else (errors asserted against the real MariaDB)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pymysql
import pytest
from pymysql.constants import ER

from workbench.emulator.service import LocalService
from workbench.scenarios.traffic import database_user

pytestmark = pytest.mark.integration


@pytest.fixture
def app_user(service: LocalService) -> Iterator[pymysql.connections.Connection]:
    secret, user = database_user(service, "ApiFunction")
    value = service.cloud.client("secretsmanager").get_secret_value(SecretId=service.cloud.symbols[secret]["Ref"])
    credentials = json.loads(value["SecretString"])
    assert credentials["username"] == user != service.database.username  # not the master
    connection = pymysql.connect(
        host=service.database.host,
        port=service.database.port,
        user=user,
        password=credentials["password"],
        database=service.database.database,
        autocommit=True,
    )
    yield connection
    connection.close()


def refused(connection: pymysql.connections.Connection, sql: str) -> int:
    with pytest.raises(pymysql.err.MySQLError) as raised, connection.cursor() as cursor:
        cursor.execute(sql)
    return int(raised.value.args[0])


def test_the_api_and_the_rollup_connect_as_the_app_user_and_only_the_migration_as_master(service: LocalService):
    # GIVEN the template's secrets, THEN the API and the rollup sign in as the app user, only the migration as master
    assert database_user(service, "ApiFunction")[0] == "AppDatabaseSecret"
    assert database_user(service, "DailyRollupFunction")[0] == "AppDatabaseSecret"
    assert database_user(service, "SchemaMigrationFunction") == ("DatabaseCluster", service.database.username)


def test_the_app_user_does_its_job(app_user: pymysql.connections.Connection):
    # GIVEN the app user the migration made, WHEN it reads the catalog and writes totals, THEN it may
    with app_user.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM catalog_items")
        cursor.execute(
            "INSERT INTO daily_sku_sales (sales_date, sku, units, revenue_cents, order_count) "
            "VALUES ('2026-11-23', 'MUG-CERAMIC-350ML', 1, 1200, 1) "
            "ON DUPLICATE KEY UPDATE units = VALUES(units)"
        )
        cursor.execute("SELECT units FROM daily_sku_sales WHERE sku = 'MUG-CERAMIC-350ML'")
        assert cursor.fetchone() == (1,)


def test_the_app_user_cannot_do_anything_else(service: LocalService, app_user: pymysql.connections.Connection):
    # GIVEN the app user, WHEN it tries anything beyond its grants, THEN MySQL refuses each
    service.mysql.execute(f"CREATE TABLE IF NOT EXISTS `{service.database.database}`.audit_log (id INT)")
    assert refused(app_user, "DROP TABLE catalog_items") == ER.TABLEACCESS_DENIED_ERROR
    assert refused(app_user, "SELECT * FROM audit_log") == ER.TABLEACCESS_DENIED_ERROR  # outside its grant
    assert refused(app_user, "UPDATE catalog_items SET unit_price_cents = 1") == ER.TABLEACCESS_DENIED_ERROR
    assert refused(app_user, "DELETE FROM daily_sku_sales") == ER.TABLEACCESS_DENIED_ERROR
    assert refused(app_user, "CREATE USER 'intruder'@'%' IDENTIFIED BY 'x'") == ER.SPECIFIC_ACCESS_DENIED_ERROR
    assert refused(app_user, "SELECT user FROM mysql.user") == ER.TABLEACCESS_DENIED_ERROR


def test_the_migration_is_idempotent_and_resyncs_the_password(service: LocalService):
    # GIVEN the user made, WHEN the migration runs again (every deploy)
    # THEN it succeeds and the password is the secret's
    assert service.pool("SchemaMigrationFunction").invoke({}).error is None  # the user exists already: fine
