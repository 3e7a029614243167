"""What Lambda refuses, refused here too (templates/refusals/): throttling at the reserved concurrency.

Nothing here depends on the machine's speed: an invocation stays in flight until the test creates a file.
"""

from __future__ import annotations

import http.client
import json
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator.environment import FunctionPool, Invocation, ThrottledError
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.testing import serving

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "refusals"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    copy = tmp_path_factory.mktemp("refusals") / "refusals"
    shutil.copytree(APPLICATION, copy, ignore=shutil.ignore_patterns(".aws-sam"))
    return copy


@pytest.fixture(scope="module")
def refusing(folder: Path) -> Iterator[LocalService]:
    with LocalService(template=folder / "template.yaml") as service:
        yield service


class InFlight:
    """One invocation of `pool` held in flight until release()."""

    def __init__(self, pool: FunctionPool, until: Path) -> None:
        self.until = until
        self.results: list[Invocation] = []
        self.thread = threading.Thread(target=lambda: self.results.append(pool.invoke({"until": str(until)})))
        self.thread.start()
        deadline = time.monotonic() + 120  # how long the environment takes to start does not matter
        while pool.in_flight < 1:
            assert time.monotonic() < deadline, "the invocation never started"
            time.sleep(0.01)

    def release(self) -> Invocation:
        self.until.touch()
        self.thread.join()
        return self.results[0]


def test_a_function_that_reserves_no_concurrency_is_throttled_every_time(refusing: LocalService):
    with pytest.raises(ThrottledError, match=r"TooManyRequestsException: Rate Exceeded\. \(Reserved"):
        refusing.pool("ZeroFunction").invoke({})


def test_at_its_reserved_concurrency_the_next_invocation_is_throttled_not_queued(
    refusing: LocalService, tmp_path: Path
):
    # GIVEN the function that reserves one, with one invocation in flight
    pool = refusing.pool("OneAtATime")
    held = InFlight(pool, tmp_path / "release")

    # WHEN another arrives, THEN Lambda's 429 at once
    with pytest.raises(ThrottledError):
        pool.invoke({})

    # … and once the first has ended, the function takes invocations again
    assert held.release().error is None
    assert pool.invoke({}).error is None


def test_a_throttled_integration_is_api_gateways_500_on_both_kinds_of_api(refusing: LocalService):
    with serving(refusing) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        answers = {}
        for path in ("/zero", "/zero-rest"):
            connection.request("GET", path)
            response = connection.getresponse()
            answers[path] = (response.status, json.loads(response.read()))
    assert answers == {
        "/zero": (500, {"message": "Internal Server Error"}),
        "/zero-rest": (500, {"message": "Internal server error"}),
    }


def test_a_throttled_sqs_batch_goes_back_to_the_queue_and_is_delivered_later(refusing: LocalService, tmp_path: Path):
    # GIVEN a message, and the function's one environment busy
    sqs = refusing.cloud.client("sqs")
    sqs.send_message(QueueUrl=refusing.queue_url("Work"), MessageBody="{}")
    source = SqsEventSource(refusing, "OneAtATime")
    held = InFlight(refusing.pool("OneAtATime"), tmp_path / "release")

    # WHEN the mapping polls, THEN the batch is throttled and returned, not failed
    assert source.poll_once()
    assert (source.stats.throttled_batches, source.stats.messages_returned, source.stats.invocations) == (1, 1, [])

    # … and once the environment is free, the drain delivers it
    held.release()
    stats = source.drain()
    assert stats.messages_deleted == 1
    assert [i.payload["received"] for i in stats.invocations] == [1]


def test_the_cli_says_throttled_and_exits_non_zero(folder: Path):
    result = subprocess.run(
        [sys.executable, "-m", "workbench", "invoke", "ZeroFunction"],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: TooManyRequestsException: Rate Exceeded.")
