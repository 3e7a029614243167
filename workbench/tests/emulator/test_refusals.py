"""What Lambda refuses, refused here too (templates/refusals/): throttling at the reserved concurrency.

Nothing here depends on the machine's speed: an invocation stays in flight until the test creates a file.
"""

from __future__ import annotations

import http.client
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from workbench.emulator import ephemeral
from workbench.emulator.environment import (
    FunctionConfigError,
    FunctionPool,
    Invocation,
    ThrottledError,
    check_environment_size,
)
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy, run_workbench, serving

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "refusals"


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


def test_a_throttled_integration_is_a_500_and_an_unreadable_answer_a_rest_apis_502(refusing: LocalService):
    with serving(refusing) as port:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        answers = {}
        for path in ("/zero", "/zero-rest", "/unreadable"):
            connection.request("GET", path)
            response = connection.getresponse()
            answers[path] = (response.status, json.loads(response.read()))
    assert answers == {
        "/zero": (500, {"message": "Internal Server Error"}),
        "/zero-rest": (500, {"message": "Internal server error"}),
        "/unreadable": (502, {"message": "Internal server error"}),  # it ran, and answered no statusCode
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
    result = run_workbench(folder, "invoke", "ZeroFunction")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1].startswith("error: TooManyRequestsException: Rate Exceeded.")


needs_private_tmp = pytest.mark.skipif(isinstance(reason := ephemeral.private_tmp_reason(), str), reason=str(reason))


@needs_private_tmp
def test_each_environment_has_its_own_tmp(refusing: LocalService):
    # GIVEN an environment that marks its /tmp
    pool = refusing.pool("TmpFunction")
    first = pool.invoke({"mark": True})

    # WHEN another environment starts (a cold start), THEN it does not see the mark; the first still does
    other = pool.invoke({}, cold=True)
    assert first.payload["marked"]
    assert not other.payload["marked"]
    assert other.payload["pid"] != first.payload["pid"]
    assert not Path("/tmp/mark").exists()  # noqa: S108 - nor does the host's


@needs_private_tmp
def test_tmp_is_the_size_ephemeral_storage_gives(refusing: LocalService):
    # GIVEN the function's 600 MB of EphemeralStorage
    pool = refusing.pool("TmpFunction")

    # THEN 500 MB fit, 700 MB fail with Lambda's ENOSPC
    assert pool.invoke({"allocate_mb": 500}).payload["marked"] is False
    assert pool.invoke({"allocate_mb": 700}).payload == {"errno": 28, "error": "No space left on device"}


def test_environment_variables_over_4_kb_are_refused_as_lambda_refuses_them():
    # GIVEN variables that are 4 KB as Lambda measures them (one JSON string), and one byte more
    at_limit = {"A": "x" * (4096 - len('{"A":""}'))}
    over = {"A": "x" * (4097 - len('{"A":""}'))}

    # THEN the first is taken, the second refused with Lambda's message
    check_environment_size("Fn", at_limit)
    with pytest.raises(FunctionConfigError, match=r"exceeded the 4KB limit\. String measured: "):
        check_environment_size("Fn", over)


def test_a_template_over_the_environment_limit_does_not_start(folder: Path, tmp_path: Path):
    # GIVEN the application with 5 KB of variables for every function
    big = application_copy(folder, tmp_path)
    template = big / "template.yaml"
    template.write_text(
        template.read_text().replace(
            "    Timeout: 30\n", f"    Timeout: 30\n    Environment:\n      Variables:\n        BIG: {'x' * 5000}\n"
        )
    )

    # WHEN it is invoked, THEN one line says what Lambda says, and nothing ran
    result = run_workbench(big, "invoke", "ZeroFunction")
    assert result.returncode == 2
    assert (
        "InvalidParameterValueException: Lambda was unable to configure your environment variables"
        in (result.stderr.splitlines()[-1])
    )


@needs_private_tmp  # the other reasons come first elsewhere
def test_without_what_it_needs_tmp_is_the_hosts_and_the_runner_says_why(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(ephemeral, "IMAGES_ROOT", Path("/no/such/folder"))
    assert ephemeral.private_tmp_reason.__wrapped__() == f"{ephemeral.NOT_PRIVATE}: no /no/such/folder"


@needs_private_tmp
def test_the_images_of_runners_that_are_gone_are_removed():
    # GIVEN an image folder named after a process that cannot exist (beyond the kernel's pid_max)
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    left = ephemeral.IMAGES_ROOT / f"{ephemeral.PREFIX}{dead}-abc"
    left.mkdir()
    mine = ephemeral.PrivateTmp(ephemeral.PROBE_SIZE_MB)  # this process's: alive

    # WHEN stale images are swept, THEN only the dead runner's goes
    try:
        assert left.name in ephemeral.remove_stale()
        assert not left.exists()
        assert mine.root.exists()
    finally:
        mine.remove()
