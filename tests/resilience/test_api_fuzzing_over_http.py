"""The slower job: Schemathesis against `start-api` over real HTTP, as an outsider would run it.

Every check, positive and negative modes, the stateful phase (POST → GET, which works because
start-api runs the queue's event source mapping). Deselected by default; `pytest -m slow` (CI with
FULL=1) runs it. What is configured or excluded holds on AWS too: tests/resilience/schemathesis.toml.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from orders.handlers import api

HERE = Path(__file__).parent
EXAMPLES_PER_OPERATION = 300


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
@pytest.mark.integration
def test_schemathesis_finds_nothing_with_every_check_and_the_stateful_phase(tmp_path: Path):
    # GIVEN start-api, as a user runs it, and the API's published contract
    port = _free_port()
    command = [sys.executable, "-m", "local_runner", "start-api", "-p", str(port)]
    command += ["--parameter-overrides", "DatabaseName=orders_fuzz_http"]
    server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)  # noqa: S603
    contract = tmp_path / "openapi.json"
    contract.write_text(json.dumps(api.openapi_document()))
    try:
        assert server.stderr is not None
        for line in server.stderr:
            if line.startswith("Ctrl-C to stop"):
                break
        threading.Thread(target=server.stderr.read, daemon=True).start()  # the functions' logs

        # WHEN Schemathesis runs everything it has against it
        st = Path(sys.executable).with_name("st")
        result = subprocess.run(  # noqa: S603
            [
                str(st),
                "--config-file",
                str(HERE / "schemathesis.toml"),
                "run",
                str(contract),
                "--url",
                f"http://127.0.0.1:{port}",
                "--checks",
                "all",
                # API Gateway routes methods: an undeclared one gets its 404 {"message":"Not Found"}, not 405.
                "--exclude-checks",
                "unsupported_method",
                "--mode",
                "all",
                "--max-examples",
                str(EXAMPLES_PER_OPERATION),
                "--phases",
                "examples,coverage,fuzzing,stateful",
            ],
            capture_output=True,
            text=True,
            check=False,
            env=os.environ | {"NO_COLOR": "1"},
        )
    finally:
        server.terminate()
        server.wait(timeout=30)

    # THEN no failure, in any phase
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Stateful" in result.stdout
