"""`python -m local_runner start-api` as a user runs it, in a process of its own: for the tests that need the CLI."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def running_start_api(database: str) -> Iterator[int]:
    """The port of a `start-api` serving a fresh `database`; it must stop cleanly on SIGTERM."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    command = [sys.executable, "-m", "local_runner", "start-api", "-p", str(port)]
    command += ["--parameter-overrides", f"DatabaseName={database}"]
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        command, stderr=subprocess.PIPE, text=True, env=os.environ | {"PYTHONUNBUFFERED": "1"}
    )
    try:
        assert process.stderr is not None
        for line in process.stderr:
            if line.startswith("Ctrl-C to stop"):
                break
        threading.Thread(target=process.stderr.read, daemon=True).start()  # the functions' logs: keep it flowing
        yield port
    finally:
        process.terminate()
        exit_code = process.wait(timeout=30)
    assert exit_code == 0
