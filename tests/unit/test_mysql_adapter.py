"""The connection manager's choices that need no server: TLS context reuse and error handling."""

from __future__ import annotations

from typing import Any

import pymysql
import pytest
from pydantic import SecretStr

from orders.adapters import mysql
from orders.adapters.secrets import DbCredentials
from orders.config import DatabaseSettings
from tests.unit.test_config import DATABASE


class FakeConnection:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def connects(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []

    def connect(**kwargs: Any) -> FakeConnection:
        calls.append(kwargs)
        return FakeConnection()

    monkeypatch.setattr(pymysql, "connect", connect)
    monkeypatch.setattr(
        mysql,
        "get_db_credentials",
        lambda settings, force_refresh=False: DbCredentials(username="u", password=SecretStr("p")),
    )
    mysql.tls_context.cache_clear()
    return calls


def test_tls_connections_share_one_ssl_context(connects: list[dict[str, Any]]):
    # GIVEN two environments talking TLS to the proxy
    settings = DatabaseSettings.model_validate(DATABASE)

    # WHEN each opens its connection
    mysql.Database(settings).connection()
    mysql.Database(settings).connection()

    # THEN both used the same SSLContext (PyMySQL would otherwise build one, loading the CA store, per connect)
    first, second = (call["ssl"] for call in connects)
    assert first is second
    assert first.check_hostname is True
    assert all(call["ssl_disabled"] is False for call in connects)


def test_without_tls_no_context_is_built(connects: list[dict[str, Any]]):
    # GIVEN TLS turned off, WHEN a connection opens, THEN no TLS context is built and TLS is disabled
    settings = DatabaseSettings.model_validate(DATABASE | {"DB_TLS": "false"})
    mysql.Database(settings).connection()
    assert connects[0]["ssl"] is None
    assert connects[0]["ssl_disabled"] is True


def test_timeouts_bound_every_connect(connects: list[dict[str, Any]]):
    # GIVEN the default settings, WHEN a connection opens, THEN it has its timeouts and autocommit
    mysql.Database(DatabaseSettings.model_validate(DATABASE)).connection()
    assert connects[0]["connect_timeout"] == 3
    assert connects[0]["read_timeout"] == 5
    assert connects[0]["autocommit"] is True


def test_errors_other_than_access_denied_are_not_retried(monkeypatch: pytest.MonkeyPatch):
    # GIVEN a server that cannot be reached, WHEN a connection opens, THEN it fails once, without refreshing the secret
    attempts: list[bool] = []

    def refuse(settings: DatabaseSettings, force_refresh: bool = False) -> DbCredentials:
        attempts.append(force_refresh)
        raise pymysql.err.OperationalError(2003, "Can't connect")

    monkeypatch.setattr(mysql, "get_db_credentials", refuse)
    with pytest.raises(pymysql.err.OperationalError, match="Can't connect"):
        mysql.Database(DatabaseSettings.model_validate(DATABASE)).connection()
    assert attempts == [False]
