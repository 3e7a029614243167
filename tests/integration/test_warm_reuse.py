"""The execution-environment optimizations, proven by counting: clients, connections, secret fetches."""

from __future__ import annotations

import importlib
import time

import pytest

from orders.config import get_settings
from orders.handlers import api
from tests.factories import FakeLambdaContext, get_order_event, order_request, post_order_event
from tests.fixtures import APP_PASSWORD, AwsWorld, MySqlAdmin, reset_execution_environment

pytestmark = pytest.mark.integration


@pytest.fixture(autouse=True)
def every_post_queries_mysql(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests are about the connection, so every POST must reach MySQL: no price cache here
    (tests/integration/test_price_cache.py has its own)."""
    monkeypatch.setenv("CATALOG_MAX_AGE_SECONDS", "0")
    get_settings.cache_clear()


def post_order(idempotency_key: str | None = None) -> int:
    event = post_order_event(order_request(MUG_CERAMIC_350ML=1), idempotency_key=idempotency_key)
    return int(api.handler(event, FakeLambdaContext())["statusCode"])


def test_warm_invocations_build_no_clients(orders_service: AwsWorld):
    # GIVEN a cold environment
    # WHEN it serves POSTs (with and without Idempotency-Key) and GETs, twice over
    for round_number in range(2):
        assert post_order() == 202
        assert post_order(idempotency_key=f"key-{round_number}") == 202
        api.handler(get_order_event("missing"), FakeLambdaContext())

    # THEN each client was built exactly once, by the first invocation that needed it
    assert dict(orders_service.clients_built) == {"sqs": 1, "secretsmanager": 1, "dynamodb": 1}


@pytest.mark.parametrize(
    ("module", "clients"),
    [
        ("orders.handlers.api", {"sqs": 1, "secretsmanager": 1, "dynamodb": 1}),
        ("orders.handlers.consumer", {"dynamodb": 1}),
        ("orders.handlers.rollup", {"secretsmanager": 1, "dynamodb": 1, "lambda": 1}),
    ],
)
def test_init_builds_every_client_the_function_needs(orders_service: AwsWorld, module: str, clients: dict[str, int]):
    # GIVEN a cold environment (no client built yet)
    assert not orders_service.clients_built

    # WHEN the handler module is imported, as Lambda's INIT does
    importlib.reload(importlib.import_module(module))

    # THEN its clients exist before the first invocation: built at full CPU, not in the throttled first call
    assert dict(orders_service.clients_built) == clients


def test_warm_invocations_reuse_one_mysql_connection(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN the server's connection counter before a cold start
    before = mysql.connections_opened()

    # WHEN one environment serves ten orders
    statuses = [post_order() for _ in range(10)]

    # THEN the server saw exactly one new connection, and it is still open for the next invocation
    assert statuses == [202] * 10
    assert mysql.connections_opened() - before == 1
    assert len(mysql.wait_for_app_connections(1)) == 1


def test_a_connection_killed_server_side_is_reopened_transparently(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a warm environment whose connection the server (or the proxy's idle timeout) then closed
    assert post_order() == 202
    assert mysql.kill_app_connections() == 1
    before = mysql.connections_opened()

    # WHEN the next invocation arrives
    status = post_order()

    # THEN it succeeds on one new connection
    assert status == 202
    assert mysql.connections_opened() - before == 1


def test_a_new_environment_opens_its_own_connection(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a warm environment's connection, WHEN a cold start comes, THEN it opens one of its own
    assert post_order() == 202
    before = mysql.connections_opened()

    reset_execution_environment()  # a cold start in a new environment
    assert post_order() == 202

    assert mysql.connections_opened() - before == 1


def test_reconnects_within_the_ttl_reuse_the_cached_secret(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a warm environment that must reconnect on every invocation
    # WHEN it serves five orders within the secret's TTL
    for _ in range(5):
        assert post_order() == 202
        mysql.kill_app_connections()

    # THEN the credentials were fetched once for five connects
    assert orders_service.calls["secretsmanager.GetSecretValue"] == 1


def test_after_the_ttl_the_secret_is_fetched_again(
    orders_service: AwsWorld, mysql: MySqlAdmin, monkeypatch: pytest.MonkeyPatch
):
    # GIVEN a one-second TTL and a warm environment that fetched the secret once
    monkeypatch.setenv("SECRET_MAX_AGE_SECONDS", "1")
    reset_execution_environment()
    assert post_order() == 202
    mysql.kill_app_connections()

    # WHEN the next connect happens after the TTL
    time.sleep(1.1)
    assert post_order() == 202

    # THEN the secret was fetched a second time
    assert orders_service.calls["secretsmanager.GetSecretValue"] == 2


def test_a_rotated_password_triggers_exactly_one_refresh(orders_service: AwsWorld, mysql: MySqlAdmin):
    # GIVEN a warm environment that cached the secret, then the password was rotated
    assert post_order() == 202
    mysql.set_app_password("rotated-password-2")
    orders_service.put_db_secret("rotated-password-2")
    mysql.kill_app_connections()

    # WHEN the next invocation reconnects with the cached (now wrong) password
    status = post_order()

    # THEN MySQL's refusal forced one refresh, and the request succeeded
    assert status == 202
    assert orders_service.calls["secretsmanager.GetSecretValue"] == 2


def test_a_password_that_is_still_wrong_after_refresh_fails_without_looping(
    orders_service: AwsWorld, mysql: MySqlAdmin
):
    # GIVEN a secret whose password MySQL refuses even when fetched fresh
    orders_service.put_db_secret("not-" + APP_PASSWORD)

    # WHEN an order arrives
    with pytest.raises(Exception, match="Access denied"):
        post_order()

    # THEN the function tried the cached value and one refresh, no more
    assert orders_service.calls["secretsmanager.GetSecretValue"] == 2


@pytest.fixture
def kill_before_next_catalog_query(mysql: MySqlAdmin, monkeypatch: pytest.MonkeyPatch):
    """The server drops the connection after the ping succeeded and before the query runs."""
    import pymysql

    original = pymysql.connections.Connection.query
    armed = {"kills": 1}

    def query(self, sql, unbuffered=False):
        text = sql if isinstance(sql, str) else bytes(sql).decode()
        if armed["kills"] and ("catalog_items" in text or "daily_sku_sales" in text):
            armed["kills"] -= 1
            mysql.execute(f"KILL {self.thread_id()}")
        return original(self, sql, unbuffered)

    monkeypatch.setattr(pymysql.connections.Connection, "query", query)
    return armed


def test_a_connection_lost_between_ping_and_query_is_retried_once(
    orders_service: AwsWorld, mysql: MySqlAdmin, kill_before_next_catalog_query
):
    # GIVEN a warm environment whose connection will die right under the catalog query
    assert post_order() == 202
    kill_before_next_catalog_query["kills"] = 1
    before = mysql.connections_opened()

    # WHEN the next order is priced
    status = post_order()

    # THEN the read was retried on one new connection and the client never saw the failure
    assert status == 202
    assert kill_before_next_catalog_query["kills"] == 0
    assert mysql.connections_opened() - before == 1


def test_statement_errors_are_not_retried(orders_service: AwsWorld, mysql: MySqlAdmin, statements_sent):
    # GIVEN a statement MySQL refuses, WHEN it runs, THEN it fails once: only a lost connection is retried
    import pymysql

    from orders.adapters.mysql import get_database

    with pytest.raises(pymysql.err.ProgrammingError):
        get_database().run(lambda cursor: cursor.execute("SELEC 1"))
    assert statements_sent.count("SELEC 1") == 1
