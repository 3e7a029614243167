"""Finding a MySQL for local runs: the one configured, a throwaway MariaDB, or a clear message."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from workbench.emulator import mysql_server
from workbench.emulator.mysql_server import LocalMySql, NoMySqlError


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.skipif(
    not (mysql_server._sbin("mariadbd") or mysql_server.shutil.which("mariadbd")), reason="no mariadbd here"
)
def test_a_throwaway_mariadb_is_started_and_removed_when_none_answers(monkeypatch: pytest.MonkeyPatch):
    # GIVEN nothing listens where MYSQL_PORT points
    monkeypatch.setenv("MYSQL_PORT", str(_closed_port()))

    # WHEN the runner looks for a MySQL
    local = LocalMySql()
    datadir = Path(local._datadir or "")

    # THEN it started its own, usable, and takes it away again on close
    assert local.started_here
    assert local.execute("SELECT 1") == [(1,)]
    local.close()
    assert not datadir.exists()
    assert local._process is not None
    assert local._process.poll() is not None


def test_without_mysql_or_mariadbd_the_message_says_what_to_do(monkeypatch: pytest.MonkeyPatch):
    # GIVEN no MySQL answering and no mariadbd installed, THEN the error says how to get one
    monkeypatch.setenv("MYSQL_PORT", str(_closed_port()))
    monkeypatch.setattr(mysql_server.shutil, "which", lambda _: None)
    monkeypatch.setattr(mysql_server, "_sbin", lambda _: None)
    with pytest.raises(NoMySqlError, match="Getting a MySQL"):
        LocalMySql()
