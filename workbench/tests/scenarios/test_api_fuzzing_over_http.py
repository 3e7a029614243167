"""The slower job: Schemathesis against `start-api` over real HTTP, as an outsider would run it.

Every check, positive and negative modes, the stateful phase (POST → GET, which works because
start-api runs the queue's event source mapping). Deselected by default; `pytest -m slow` (CI with
FULL=1) runs it. What is configured or excluded holds on AWS too: workbench/tests/scenarios/schemathesis.toml.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from lambda_wsgi import FUZZER_TOKEN
from tools import openapi

from workbench.emulator.testing import running_start_api

HERE = Path(__file__).parent
EXAMPLES_PER_OPERATION = 300


@pytest.mark.slow
@pytest.mark.integration
def test_schemathesis_finds_nothing_with_every_check_and_the_stateful_phase(tmp_path: Path):
    # GIVEN start-api, as a user runs it, and the API's published contract
    contract = tmp_path / "openapi.json"
    contract.write_text(json.dumps(openapi.openapi_document()))
    with running_start_api() as port:
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
                # a signed-in customer; `ignored_auth` (one of all) also sends requests without it: 401 expected
                "--header",
                f"Authorization: Bearer {FUZZER_TOKEN}",
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

    # THEN no failure, in any phase
    assert result.returncode == 0, result.stdout[-6000:]
    assert "Stateful" in result.stdout
