"""MySQL through RDS Proxy: one connection per execution environment, checked before each use.

RDS Proxy pools and multiplexes the real database connections; the function keeps a single client
connection to the proxy open across warm invocations instead of paying TCP + TLS + auth each time.
Nothing here pins the session to one database connection (which would defeat multiplexing):
no user variables or SET of session variables, no LOCK TABLES or GET_LOCK, no temporary tables,
no server-side prepared statements (PyMySQL interpolates on the client), no statement > 16 KB.
"""

from __future__ import annotations

import functools
import ssl
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

import pymysql
from pymysql.constants import ER
from pymysql.cursors import DictCursor

from orders.adapters.secrets import DbCredentials, get_db_credentials
from orders.config import DatabaseSettings, get_settings
from orders.observability import logger, metrics
from orders.tracing import add_event, span

T = TypeVar("T")
# Errors meaning "this connection is gone", not "this statement is wrong": lost, gone away, killed, shut down.
_CONNECTION_LOST_CODES = {0, 1053, 1927, 2006, 2013, 2014, 2055}


def _connection_lost(error: pymysql.err.Error) -> bool:
    return isinstance(error, pymysql.err.InterfaceError) or (
        bool(error.args) and error.args[0] in _CONNECTION_LOST_CODES
    )


if TYPE_CHECKING:
    from pymysql.connections import Connection as _Connection

    Connection = _Connection[DictCursor]


RDS_ROOTS = Path(__file__).with_name("rds-ca-g1.pem")  # tools/rds_ca.py writes it


@functools.cache
def tls_context(trust: str = "proxy") -> ssl.SSLContext:
    """Built once: PyMySQL >= 1.2 otherwise builds a new context (loading the CA store) on every connect.

    RDS Proxy presents an ACM certificate, which the runtime's default trust store verifies; the
    cluster itself presents one of its region's RDS root, which only RDS's own bundle holds.
    """
    return ssl.create_default_context(cafile=str(RDS_ROOTS) if trust == "rds" else None)


def database_tls() -> ssl.SSLContext | None:
    """The TLS context this environment's connections use; None where the settings turn TLS off."""
    settings = get_settings(DatabaseSettings)
    return tls_context(settings.db_tls_trust) if settings.db_tls else None


def sign_in(settings: DatabaseSettings, username: str, password: str, *, database: str | None = None) -> Connection:
    """A new connection as `username` with the settings' host, timeouts and TLS: the one way this code connects."""
    return pymysql.connect(
        host=settings.db_host,
        port=settings.db_port,
        user=username,
        password=password,
        database=database,
        connect_timeout=settings.db_connect_timeout_seconds,
        read_timeout=settings.db_read_timeout_seconds,
        write_timeout=settings.db_read_timeout_seconds,
        autocommit=True,  # reads end their transaction at once, so the proxy can multiplex freely
        charset="utf8mb4",
        cursorclass=DictCursor,
        ssl=tls_context(settings.db_tls_trust) if settings.db_tls else None,  # database_tls() primes it
        ssl_disabled=not settings.db_tls,  # off only where the server has no TLS, e.g. a local MySQL
    )


def set_own_password(connection: Connection, password: str) -> None:
    """The signed-in user changes its own password: no privilege needed, in either dialect."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT VERSION() AS version")
        row = cursor.fetchone()
        mariadb = row is not None and "mariadb" in str(row["version"]).lower()
        # MySQL 8 (Aurora MySQL 3) takes the password itself; MariaDB wants PASSWORD(), which MySQL 8 removed.
        cursor.execute("SET PASSWORD = PASSWORD(%s)" if mariadb else "SET PASSWORD = %s", (password,))


class Database:
    """Owns the execution environment's single connection and re-opens it when it went stale."""

    def __init__(self, settings: DatabaseSettings) -> None:
        self._settings = settings
        self._connection: Connection | None = None

    def connection(self) -> Connection:
        """The live connection: ping before use, since the proxy closes idle clients (default 30 min)."""
        if self._connection is not None:
            try:
                self._connection.ping()  # ping(reconnect=True) is deprecated since PyMySQL 1.2
                return self._connection
            except pymysql.err.Error:
                logger.info("MySQL connection went stale; opening a new one")
                metrics.add_metric(name="DbReconnects", unit="Count", value=1)
                self.close()
        self._connection = self._connect()
        return self._connection

    def run(self, work: Callable[[DictCursor], T], *, transaction: bool = False) -> T:
        """Run idempotent `work` (a read, or an upsert that converges); if the connection drops under it
        — killed, failed over, timed out between the ping and the query — run it once more on a new one."""
        where = {"db.system": "mysql", "db.namespace": self._settings.db_name, "server.address": self._settings.db_host}
        with span("MySQL", **where):
            try:
                return self._run_once(work, transaction)
            except (pymysql.err.OperationalError, pymysql.err.InterfaceError) as error:
                if not _connection_lost(error):
                    raise
                logger.info("MySQL connection lost mid-statement; retrying once on a new connection")
                metrics.add_metric(name="DbReconnects", unit="Count", value=1)
                add_event("retry", reason="connection lost")
                self.close()
                return self._run_once(work, transaction)

    def _run_once(self, work: Callable[[DictCursor], T], transaction: bool) -> T:
        connection = self.connection()
        if not transaction:
            with connection.cursor() as cursor:
                return work(cursor)
        # A short explicit transaction: the proxy can hand the backend connection on once it ends.
        connection.begin()
        try:
            with connection.cursor() as cursor:
                result = work(cursor)
        except BaseException:
            if connection.open:
                connection.rollback()
            raise
        connection.commit()
        return result

    def close(self) -> None:
        if self._connection is not None:
            if self._connection.open:
                self._connection.close()
            self._connection = None

    def _connect(self) -> Connection:
        try:
            return self._open(get_db_credentials(self._settings))
        except pymysql.err.OperationalError as error:
            if error.args[0] != ER.ACCESS_DENIED_ERROR:
                raise
        # The cached password was refused: the secret was probably rotated. Refresh it once and retry.
        logger.info("MySQL refused the cached credentials; refreshing the secret once")
        metrics.add_metric(name="DbSecretRefreshes", unit="Count", value=1)
        return self._open(get_db_credentials(self._settings, force_refresh=True))

    def _open(self, credentials: DbCredentials) -> Connection:
        password = credentials.password.get_secret_value()
        return sign_in(self._settings, credentials.username, password, database=self._settings.db_name)


@functools.cache
def get_database() -> Database:
    """The execution environment's database handle, created on first use and reused while warm."""
    return Database(get_settings(DatabaseSettings))
