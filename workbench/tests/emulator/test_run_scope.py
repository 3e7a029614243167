"""Runs side by side on one MySQL server: each owns what it creates, and what a dead one left is swept."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from collections.abc import Iterator

import pytest
from tests.factories import load_event
from tests.fixtures import MySqlAdmin

from sam_testkit.run_scope import RunScope, sweep
from workbench.emulator.mysql_server import LocalMySql
from workbench.emulator.service import LocalService

pytestmark = pytest.mark.integration

# A run in a process of its own: it makes its database and users, says their names, and waits.
RUN = textwrap.dedent(
    """
    import sys
    from workbench.emulator.mysql_server import LocalMySql
    mysql = LocalMySql()
    mysql.prepare(mysql.scope.database("orders"))
    mysql.execute(f"CREATE USER '{mysql.scope.name('app')}'@'%%' IDENTIFIED BY 'x'")
    print(mysql.scope.tag, flush=True)
    sys.stdin.read()
    mysql.close()
    """
)


def owned(admin: MySqlAdmin, tag: str) -> list[str]:
    like = tag.replace("_", "\\_") + "\\_%"  # LIKE: the underscores are literal
    databases = [row[0] for row in admin.execute("SHOW DATABASES LIKE %s", (like,))]
    users = [row[0] for row in admin.execute("SELECT User FROM mysql.user WHERE User LIKE %s", (like,))]
    return sorted(databases + users)


@pytest.fixture
def other_run() -> Iterator[tuple[subprocess.Popen[str], str]]:
    process = subprocess.Popen(  # noqa: S603 - our own module
        [sys.executable, "-c", RUN], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    tag = process.stdout.readline().strip()
    yield process, tag
    if process.poll() is None:
        process.kill()
    process.wait(timeout=30)


def test_names_carry_the_run_and_fit_mysqls_limits():
    # GIVEN a run's scope, THEN its names start with its tag and fit MySQL's limits; another run gets another
    scope = RunScope.new()
    assert scope.tag.startswith(f"lrun_{os.getpid()}_")
    assert scope.name("a_rather_long_application_user_name").startswith(scope.tag)
    assert len(scope.name("a_rather_long_application_user_name")) == 32
    assert RunScope.new() != scope  # two runs of one process: two scopes


def test_what_a_live_run_made_is_left_alone(mysql_server: MySqlAdmin, other_run: tuple[subprocess.Popen[str], str]):
    # GIVEN another run, alive, with its database and users
    _, tag = other_run
    made = owned(mysql_server, tag)
    assert made == sorted([f"{tag}_orders", f"{tag}_admin", f"{tag}_app"])

    # WHEN this run starts (and sweeps)
    sweep(mysql_server)

    # THEN nothing of the other run was dropped
    assert owned(mysql_server, tag) == made


def test_a_run_ended_normally_drops_what_it_made(
    mysql_server: MySqlAdmin, other_run: tuple[subprocess.Popen[str], str]
):
    # GIVEN another run that made a database and users, WHEN it ends normally, THEN none of it is left
    process, tag = other_run
    assert process.communicate(input="", timeout=30)[0] == ""  # end of stdin: it closes
    assert process.returncode == 0
    assert owned(mysql_server, tag) == []


def test_what_a_killed_run_left_is_dropped_when_the_next_one_starts(
    mysql_server: MySqlAdmin, other_run: tuple[subprocess.Popen[str], str]
):
    # GIVEN a run killed where it stood: nothing of its own cleaning ran
    process, tag = other_run
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    assert owned(mysql_server, tag)

    # WHEN the next run starts
    LocalMySql().close()

    # THEN what the killed one left is gone (its lock went with its connection)
    assert owned(mysql_server, tag) == []


def test_a_second_run_starting_and_ending_beside_a_running_one_changes_nothing_for_it(mysql_server: MySqlAdmin):
    # GIVEN a running service that has served an order
    with LocalService() as first:
        first.prepare_database()
        api = first.pool("ApiFunction")
        assert api.invoke(load_event("api_post_order.json")).payload["statusCode"] == 202

        # WHEN a second run, on the same server, starts, serves and ends
        with LocalService() as second:
            second.prepare_database()
            assert second.database.database != first.database.database
            assert second.database.username != first.database.username
        assert owned(mysql_server, second.mysql.scope.tag) == []

        # THEN the first still prices and accepts orders: its database, users and passwords are its own
        event = load_event("api_post_order.json")
        del event["headers"]["idempotency-key"]  # a new order, not a replay
        assert api.invoke(event).payload["statusCode"] == 202
        assert first.database_proxy.connections_opened() >= 1
