"""Find a MySQL for the local runs — or start a throwaway MariaDB — and prepare its database and user."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import pymysql

from sam_testkit.run_scope import RunScope, sweep
from workbench.emulator.cloud import DatabaseEndpoint
from workbench.emulator.environment import say_once


class NoMySqlError(RuntimeError):
    pass


def admin_settings() -> dict[str, Any]:
    return {
        "host": os.environ.get("MYSQL_HOST", "127.0.0.1"),
        "port": int(os.environ.get("MYSQL_PORT", "3306")),
        "user": os.environ.get("MYSQL_USER", "root"),
        "password": os.environ.get("MYSQL_PASSWORD", ""),
    }


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


class LocalMySql:
    """An admin connection to a MySQL we found, or to a MariaDB we started in a temp dir (and stop).

    The server may be shared with other runs: what this run creates is named by its `scope` and
    dropped by `close()`; what runs that are gone left is dropped when this one starts.
    """

    def __init__(self) -> None:
        self.settings = admin_settings()
        self._process: subprocess.Popen[bytes] | None = None
        self._datadir: str | None = None
        if not _answers(self.settings["host"], self.settings["port"]):
            self._start_throwaway()
        self.admin = pymysql.connect(**self.settings, autocommit=True, connect_timeout=5)
        self.scope = RunScope.new()
        self.scope.claim(self)
        self._databases: list[str] = []  # the ones prepare() made, named by the scope or chosen on purpose
        if left := sweep(self):
            say_once(f"dropped what local runs that are gone left on the MySQL server: {', '.join(left)}")

    def _start_throwaway(self) -> None:
        server = shutil.which("mariadbd") or shutil.which("mysqld") or _sbin("mariadbd") or _sbin("mysqld")
        installer = shutil.which("mariadb-install-db") or shutil.which("mysql_install_db")
        if not server or not installer:
            raise NoMySqlError(
                f"No MySQL answers at {self.settings['host']}:{self.settings['port']} and no mariadbd/mysqld is "
                "installed. Start one (README: 'Getting a MySQL') or set MYSQL_HOST/MYSQL_PORT/MYSQL_USER/"
                "MYSQL_PASSWORD."
            )
        self._datadir = tempfile.mkdtemp(prefix="orders-mysql-")
        port = _free_port()
        subprocess.run(  # noqa: S603 - fixed arguments, our temp dir
            [
                installer,
                "--no-defaults",
                f"--datadir={self._datadir}",
                "--auth-root-authentication-method=normal",
                "--user=root",
                "--skip-test-db",
            ],
            check=True,
            capture_output=True,
        )
        socket_path = Path(self._datadir) / "mysqld.sock"
        self._process = subprocess.Popen(  # noqa: S603
            [
                server,
                "--no-defaults",
                f"--datadir={self._datadir}",
                f"--socket={socket_path}",
                f"--port={port}",
                "--bind-address=127.0.0.1",
                "--user=root",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.settings = {"host": "127.0.0.1", "port": port, "user": "root", "password": ""}
        for _ in range(100):
            if _answers("127.0.0.1", port):
                return
            time.sleep(0.1)
        raise NoMySqlError("the throwaway MariaDB did not start")

    @property
    def started_here(self) -> bool:
        return self._process is not None

    def execute(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]:
        with self.admin.cursor() as cursor:
            cursor.execute(sql, args if args is not None else ())
            return list(cursor.fetchall())

    def offers_tls(self) -> bool:
        rows = self.execute("SHOW VARIABLES LIKE 'have_ssl'")
        return bool(rows) and rows[0][1] == "YES"

    def prepare(self, database: str) -> DatabaseEndpoint:
        """A fresh database and its master user with a new random password (the cluster's generated secret).

        The master may create users and grant on its database: the schema migration creates the
        functions' least-privilege user with it, as on Aurora.
        """
        password = secrets.token_urlsafe(18)
        user = self.scope.name("admin")
        self._databases.append(database)
        self.execute(f"DROP DATABASE IF EXISTS `{database}`")
        self.execute(f"CREATE DATABASE `{database}` CHARACTER SET utf8mb4")
        self.execute(f"DROP USER IF EXISTS '{user}'@'%%'")
        self.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        self.execute(f"GRANT ALL PRIVILEGES ON `{database}`.* TO '{user}'@'%%' WITH GRANT OPTION")
        self.execute(f"GRANT CREATE USER ON *.* TO '{user}'@'%%'")
        return DatabaseEndpoint(
            host=self.settings["host"],
            port=self.settings["port"],
            username=user,
            password=password,
            database=database,
            tls=self.offers_tls(),
        )

    def load_sql(self, database: str, path: Path) -> None:
        """An application's seed file, run in this run's database as one statement."""
        self.execute(f"USE `{database}`")
        self.execute(path.read_text())

    def close(self) -> None:
        """Drop what this run made (its lock goes with the connection), then stop a server we started."""
        for database in self._databases:
            self.execute(f"DROP DATABASE IF EXISTS `{database}`")
        self.scope.drop_all(self)
        self.admin.close()
        if self._process is not None:
            self._process.terminate()
            self._process.wait(timeout=30)
        if self._datadir:
            shutil.rmtree(self._datadir, ignore_errors=True)

    def __enter__(self) -> LocalMySql:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def _sbin(name: str) -> str | None:
    path = Path("/usr/sbin") / name
    return str(path) if path.exists() else None


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])
