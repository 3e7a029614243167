"""`workbench start-api` as a user runs it, in a process of its own: for the tests that need the CLI."""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO

from workbench.emulator.api_server import LocalHttpApi
from workbench.emulator.authorizer import LocalAuthorizers
from workbench.emulator.mysql_server import LocalMySql
from workbench.emulator.routes import route_scopes
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication
from workbench.emulator.wsgi import IDLE_TIMEOUT_S, Endpoint


@functools.cache
def signed_in_token(customer: str) -> str:
    """A token of the local issuer with every route's scope: what a signed-in client sends."""
    app = SamApplication()
    return LocalAuthorizers.of_template(app).token(customer, route_scopes(app))


@contextlib.contextmanager
def running_start_api(
    application: Path | None = None,
    *,
    database_expected: bool = True,
    args: Sequence[str] = (),
    said: list[str] | None = None,
) -> Iterator[int]:
    """The port of a `start-api` of its own (with `args`), run in `application`'s folder (default: here), with the
    database and users of its run if its template has one; it must stop cleanly on SIGTERM, and said what it started
    with (its lines until it serves are appended to `said`)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    others = ["--lambda-port", "0", "--url-port", "0"]  # the system's choice: the port after ours may be taken
    command = [sys.executable, "-m", "workbench", "start-api", "-p", str(port), *others, *args]
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command, stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"}, cwd=application
    )
    database = ""
    said = [] if said is None else said
    try:
        assert process.stderr is not None
        for line in process.stderr:
            said.append(line)
            database = (
                line.split("this run's database ", 1)[1].split()[0] if "this run's database " in line else database
            )
            if line.startswith("Ctrl-C to stop"):
                break
        else:
            raise AssertionError(f"start-api ended before serving: {''.join(said[-15:])}")
        threading.Thread(target=_keep_reading, args=(process.stderr, said), daemon=True).start()
        yield port
    finally:
        process.terminate()
        exit_code = process.wait(timeout=30)
    assert exit_code == 0
    if not database_expected:
        assert any(line.startswith("no database: ") for line in said), "start-api says it runs without one"
        return
    assert database, "start-api says which database is its run's"
    with LocalMySql() as mysql:  # SIGTERM unwound the run: what it made on the shared server is gone
        assert not mysql.execute("SHOW DATABASES LIKE %s", (database,))


def _keep_reading(stream: IO[str], said: list[str]) -> None:
    """What start-api says while it serves (the functions' logs, its reloads): kept, so the pipe keeps flowing."""
    for line in stream:
        said.append(line)


@contextlib.contextmanager
def serving(
    service: LocalService, *, idle_timeout_s: int = IDLE_TIMEOUT_S, application: Endpoint | None = None
) -> Iterator[int]:
    """The port of the local HTTP API (or another endpoint) over `service`, in this process; it must stop cleanly
    when done."""
    server = LocalHttpApi(service, "127.0.0.1", 0, quiet=True, idle_timeout_s=idle_timeout_s, application=application)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=10)
    assert not thread.is_alive(), "shutdown() ends serve_forever"


def application_copy(source: Path, parent: Path) -> Path:
    """`source` (an application folder: template, code) copied under `parent`, as a user's checkout would be:
    its build goes to its own .aws-sam/, not into the folder it came from."""
    folder = parent / source.name
    shutil.copytree(source, folder, ignore=shutil.ignore_patterns(".aws-sam"))
    return folder


def run_workbench(folder: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    """`workbench <args>` as a user runs it in `folder`: its exit code, stdout and stderr."""
    return subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "workbench", *args],
        cwd=folder,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
