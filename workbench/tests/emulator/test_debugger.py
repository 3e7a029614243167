"""`--debug-port`: a function's environment under debugpy, reached by a DAP client as VS Code or PyCharm reach
it (templates/lifecycle/: OnDemand). The client here speaks the Debug Adapter Protocol itself."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from workbench.emulator.testing import running_start_api

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "lifecycle"


class DapClient:
    """Requests and their responses, events, over one TCP connection (Content-Length framing)."""

    def __init__(self, port: int) -> None:
        deadline = time.monotonic() + 60
        while True:
            try:
                self.socket = socket.create_connection(("127.0.0.1", port), timeout=120)
                break
            except ConnectionRefusedError:
                assert time.monotonic() < deadline, "debugpy never listened"
                time.sleep(0.2)
        self.stream = self.socket.makefile("rb")
        self.seq = 0
        self.seen: list[dict[str, Any]] = []

    def send(self, command: str, **arguments: Any) -> int:
        self.seq += 1
        body = json.dumps({"seq": self.seq, "type": "request", "command": command, "arguments": arguments}).encode()
        self.socket.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self.seq

    def receive(self) -> dict[str, Any]:
        length = 0
        while (line := self.stream.readline().strip()) != b"":
            name, _, value = line.partition(b":")
            if name.lower() == b"content-length":
                length = int(value)
        message: dict[str, Any] = json.loads(self.stream.read(length))
        self.seen.append(message)
        return message

    def wait_for(self, kind: str, name: str) -> dict[str, Any]:
        """The next event or response of that name (what comes before is kept in `seen`)."""
        key = "event" if kind == "event" else "command"
        while True:
            message = self.receive()
            if message["type"] == kind and message.get(key) == name:
                return message


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def stop_at_the_handlers_return(said: list[str], port: int, alive: Callable[[], bool]) -> DapClient:
    """Once the runner says debugpy waits: attach, break on the handler's return, see it stop there, let it go."""
    deadline = time.monotonic() + 180
    while not any("waiting for a client" in line for line in said):
        assert alive(), "".join(said[-20:])
        assert time.monotonic() < deadline, "".join(said[-20:])
        time.sleep(0.2)
    (remote_root,) = re.findall(r"pathMappings remoteRoot: (\S+)", "".join(said))
    assert remote_root.endswith("/.aws-sam/local/debug/OnDemand"), "a path that stays across rebuilds"
    handler = Path(remote_root) / "app.py"
    line = 1 + handler.read_text().splitlines().index('    return os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]')

    # WHEN a client attaches, sets a breakpoint on the handler's return and lets it run
    client = DapClient(port)
    client.send("initialize", adapterID="python", clientID="test", linesStartAt1=True, pathFormat="path")
    client.wait_for("response", "initialize")
    client.send("attach", justMyCode=False)
    client.wait_for("event", "initialized")
    client.send("setBreakpoints", source={"path": str(handler)}, breakpoints=[{"line": line}])
    verified = client.wait_for("response", "setBreakpoints")["body"]["breakpoints"]
    client.send("configurationDone")

    # THEN the handler stops there, in the invocation, with the debugger holding it
    stopped = client.wait_for("event", "stopped")
    assert stopped["body"]["reason"] == "breakpoint", verified
    client.send("stackTrace", threadId=stopped["body"]["threadId"])
    (top, *_) = client.wait_for("response", "stackTrace")["body"]["stackFrames"]
    assert (top["source"]["path"], top["line"]) == (str(handler), line)
    client.send("continue", threadId=stopped["body"]["threadId"])  # … and lets it go
    return client


def test_a_dap_client_attaches_and_stops_at_a_breakpoint_in_the_handler(folder: Path):
    port = free_port()
    # GIVEN `invoke` of OnDemand under the debugger
    process = subprocess.Popen(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "workbench", "invoke", "OnDemand", "--debug-port", str(port)],
        cwd=folder,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
        env=os.environ | {"PYTHONUNBUFFERED": "1"},
    )
    said: list[str] = []
    assert process.stderr is not None
    threading.Thread(target=lambda: said.extend(iter(process.stderr.readline, "")), daemon=True).start()
    try:
        stop_at_the_handlers_return(said, port, lambda: process.poll() is None)

        # … and once let go, the invocation completes
        output, _ = process.communicate(timeout=120)
        assert process.returncode == 0, "".join(said[-20:])
        assert json.loads(output) == "on-demand"
    finally:
        if process.poll() is None:  # SIGTERM: the run removes what it made (its sandboxes) before it ends
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def test_start_api_debugs_the_function_its_lambda_api_invokes(folder: Path):
    # GIVEN start-api with OnDemand under the debugger, and an SDK call to it through the Lambda API beside
    port = free_port()
    said: list[str] = []
    args = ["--debug-port", str(port), "--debug-function", "OnDemand"]
    with running_start_api(folder, database_expected=False, args=args, said=said):
        (lambda_port,) = re.findall(r"Lambda API at http://127\.0\.0\.1:(\d+)", "".join(said))
        client = boto3.client(
            "lambda",
            endpoint_url=f"http://127.0.0.1:{lambda_port}",
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            config=Config(read_timeout=300, retries={"max_attempts": 1}),  # the call waits while the debugger holds
        )
        answers: list[Any] = []
        call = threading.Thread(target=lambda: answers.append(client.invoke(FunctionName="OnDemand")))
        call.start()

        # WHEN a DAP client attaches, THEN it stops in the handler, and once let go the call gets its answer
        stop_at_the_handlers_return(said, port, call.is_alive)
        call.join(timeout=120)
        (response,) = answers
        assert json.loads(response["Payload"].read()) == "on-demand"
