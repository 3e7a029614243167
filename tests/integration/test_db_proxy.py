"""The local RDS Proxy (sam_testkit/db_proxy.py) counts what the functions send, as the proxy's metrics do."""

from __future__ import annotations

import pymysql
import pytest

from tests.fixtures import APP_PASSWORD, APP_USER, TEST_DATABASE, MySqlAdmin

pytestmark = pytest.mark.integration


def test_the_relay_counts_each_connection_and_each_query_it_relays(mysql: MySqlAdmin):
    # GIVEN the relay's counts, WHEN a client connects through it and runs three queries, one of them large
    connections = mysql.connections_opened()
    client = pymysql.connect(
        host=mysql.relay.host, port=mysql.relay.port, user=APP_USER, password=APP_PASSWORD, database=TEST_DATABASE
    )
    after_connect = mysql.queries_sent()
    with client.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.execute("SELECT %s", ("x" * 200_000,))  # a packet spread over many reads
        cursor.execute("SELECT 2")
    client.close()

    # THEN it counted one connection and exactly the three queries after those the driver sends to connect
    assert mysql.connections_opened() - connections == 1
    assert mysql.queries_sent() - after_connect == 3
