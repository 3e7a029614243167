"""What one run creates on a MySQL server that other runs share: names of its own, and a claim on them.

One server serves every local run at once — `start-api` in one terminal, `make demo` or `make test`
in another, a second clone, CI. So everything a run creates there (its database, the master user it
signs in as, the application users its secrets name) is named after the run: `lrun_<pid>_<random>_…`.

While it runs, the run holds a named lock of the same name on its admin connection. The server
releases a named lock when the connection that holds it goes, however the process ended — exit,
SIGKILL, a crashed host — so "the lock is free" is exactly "the run is gone", on this host or any
other (a pid says nothing about another host's processes, and pids are reused). Each run, when it
starts, drops what runs that are gone left behind: found by the prefix, judged by the lock.
"""

from __future__ import annotations

import os
import re
import secrets
import signal
import threading
from dataclasses import dataclass
from typing import Any, Protocol

PREFIX = "lrun_"
_TAG = re.compile(rf"^({PREFIX}\d+_[0-9a-f]{{6}})(?:_|$)")
MYSQL_USER_NAME_LIMIT = 32  # MySQL's (MariaDB allows 80): names that fit both
MYSQL_DATABASE_NAME_LIMIT = 64
# The admin connection must outlive any idle spell of a long `start-api`: once it closes, the lock
# is free and the next run's sweep would take this run's database for a dead one's.
_ADMIN_IDLE_TIMEOUT_S = 31_536_000  # the server's maximum wait_timeout


class RunScopeError(RuntimeError):
    pass


class Executes(Protocol):
    def execute(self, sql: str, args: Any = None) -> list[tuple[Any, ...]]: ...


@dataclass(frozen=True)
class RunScope:
    """This run's tag, and the names it gives what it creates."""

    tag: str

    @classmethod
    def new(cls) -> RunScope:
        return cls(f"{PREFIX}{os.getpid()}_{secrets.token_hex(3)}")

    def name(self, what: str, limit: int = MYSQL_USER_NAME_LIMIT) -> str:
        """`<tag>_<what>`, cut to the server's limit (the tag always survives the cut)."""
        return f"{self.tag}_{what}"[:limit]

    def database(self, what: str) -> str:
        return self.name(what, MYSQL_DATABASE_NAME_LIMIT)

    def claim(self, admin: Executes) -> None:
        """Hold the run's lock on `admin`'s connection: from now until it closes, what we name is ours."""
        admin.execute(f"SET SESSION wait_timeout = {_ADMIN_IDLE_TIMEOUT_S}")
        if admin.execute("SELECT GET_LOCK(%s, 0)", (self.tag,))[0][0] != 1:
            raise RunScopeError(f"another run holds {self.tag}")

    def drop_all(self, admin: Executes) -> list[str]:
        """Drop this run's databases and users (call before its admin connection closes)."""
        return _drop(admin, self.tag)


def sweep(admin: Executes) -> list[str]:
    """Drop the databases and users of runs that are gone (their lock is free); returns what was dropped."""
    dropped: list[str] = []
    for tag in sorted(_tags(admin)):
        if admin.execute("SELECT IS_FREE_LOCK(%s)", (tag,))[0][0] == 1:
            dropped += _drop(admin, tag)
    return dropped


def _like(prefix: str) -> str:
    return prefix.replace("\\", "\\\\").replace("_", "\\_").replace("%", "\\%") + "%"


def _tags(admin: Executes) -> set[str]:
    names = [row[0] for row in admin.execute("SHOW DATABASES LIKE %s", (_like(PREFIX),))]
    names += [row[0] for row in admin.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (_like(PREFIX),))]
    return {match.group(1) for name in names if (match := _TAG.match(str(name)))}


def _drop(admin: Executes, tag: str) -> list[str]:
    dropped = []
    for (database,) in admin.execute("SHOW DATABASES LIKE %s", (_like(f"{tag}_"),)):
        admin.execute(f"DROP DATABASE IF EXISTS `{database}`")
        dropped.append(f"database {database}")
    users = admin.execute("SELECT User, Host FROM mysql.user WHERE User LIKE %s", (_like(f"{tag}_"),))
    for user, host in users:
        admin.execute("DROP USER IF EXISTS %s@%s", (user, host))
        dropped.append(f"user {user}")
    return dropped


def stop_cleanly_on_sigterm() -> None:
    """SIGTERM unwinds like Ctrl-C, so the run's `finally` drops what it created (SIGKILL: the next sweep)."""
    if threading.current_thread() is threading.main_thread() and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
        signal.signal(signal.SIGTERM, signal.default_int_handler)
