"""Hot reload in the daily loop: start-api on SAM's starter sees a handler edited, and restarts when the template
changes (templates/sam-app/, copied: the edits are the copy's)."""

from __future__ import annotations

import http.client
import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from workbench.emulator.testing import application_copy, running_start_api

pytestmark = pytest.mark.integration
STARTER = Path(__file__).parent / "templates" / "sam-app"


def get_hello(port: int) -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("GET", "/hello")
    response = connection.getresponse()
    return response.status, json.loads(response.read())


def eventually(check: Callable[[], bool], what: str, timeout_s: float = 180) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, f"not within {timeout_s:.0f} s: {what}"
        time.sleep(0.2)


def test_an_edited_handler_answers_the_next_request_without_a_restart(tmp_path: Path):
    folder = application_copy(STARTER, tmp_path)
    handler = folder / "hello_world" / "app.py"
    said: list[str] = []
    with running_start_api(folder, database_expected=False, said=said) as port:
        assert get_hello(port) == (200, {"message": "hello world"})
        assert any(line.startswith("Watching template.yaml and hello_world") for line in said)

        # WHEN the handler is edited while start-api runs
        handler.write_text(handler.read_text().replace('"hello world"', '"hello again"'))

        # THEN the build is redone, the function's environment retired, and the next request runs the new code
        eventually(lambda: any("reload: HelloWorldFunction rebuilt" in line for line in said), "the reload line")
        assert get_hello(port) == (200, {"message": "hello again"})
        said_once = "".join(said)
        assert said_once.count("Ctrl-C to stop") == 1, "no restart for a code change"


def test_a_changed_template_restarts_start_api_and_says_why(tmp_path: Path):
    folder = application_copy(STARTER, tmp_path)
    template = folder / "template.yaml"
    said: list[str] = []
    with running_start_api(folder, database_expected=False, said=said) as port:
        # WHEN the template changes (its routes, resources and roles are read at start)
        template.write_text(template.read_text().replace("Timeout: 3", "Timeout: 5"))

        # THEN start-api says why it restarts, starts again on the same port, and serves
        eventually(lambda: "".join(said).count("Ctrl-C to stop") == 2, "the second start")
        reason = "restarting: template.yaml changed: routes, resources and roles are read at start"
        assert any(reason in line for line in said)
        assert get_hello(port) == (200, {"message": "hello world"})
