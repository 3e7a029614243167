"""Schedules of any template, fired as EventBridge fires them (templates/schedules/: an EventBridge rule, Scheduler
schedules in a time zone and disabled, a failing schedule with a retry, destinations on failure and on success)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from workbench.emulator.schedules import Schedule, ScheduleClock, ScheduleError
from workbench.emulator.service import LocalService
from workbench.emulator.testing import run_workbench, running_start_api

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "schedules"
FRIDAY_MORNING = dt.datetime(2026, 12, 4, 7, 58, 30, tzinfo=dt.UTC)  # 08:58:30 in Paris


def records(service: LocalService, queue: str) -> list[dict[str, Any]]:
    """The invocation records in a destination queue, taken."""
    sqs, url = service.cloud.client("sqs"), service.queue_url(queue)
    taken: list[dict[str, Any]] = []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in messages:
            taken.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return taken


class FakeTime:
    """Time that passes as fast as one clock waits, up to `until`; past it, waiting lasts until the stop."""

    def __init__(self, start: dt.datetime, until: dt.datetime) -> None:
        self.current, self.until = start, until
        self._lock = threading.Lock()

    def now(self) -> dt.datetime:
        with self._lock:
            return self.current

    def wait(self, stop: threading.Event, seconds: float) -> bool:
        with self._lock:
            if self.current < self.until:
                self.current = min(self.current + dt.timedelta(seconds=seconds), self.until)
                return stop.is_set()
        return stop.wait()


def test_a_rule_sends_eventbridges_scheduled_event(service: LocalService):
    # WHEN the EventBridge rule's schedule fires, THEN the function gets EventBridge's Scheduled Event for its time
    event = Schedule(service, "Ticker", "EveryMinute").event_for(FRIDAY_MORNING)
    assert {k: event[k] for k in ("detail-type", "source", "time", "detail")} == {
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "time": "2026-12-04T07:58:30Z",
        "detail": {},
    }
    assert event["resources"] == ["arn:aws:events:us-east-1:123456789012:rule/sam-local-TickerEveryMinute"]


def test_a_successful_run_sends_its_record_to_the_on_success_destination(service: LocalService):
    # WHEN the Scheduler schedule fires, THEN its Input arrives with the context attributes filled in
    schedule = Schedule(service, "Ticker", "ParisMornings")
    run = schedule.fire(dt.datetime(2026, 12, 4, 8, tzinfo=dt.UTC))
    expected = {
        "at": "2026-12-04T08:00:00Z",
        "by": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/TickerParisMornings",
    }
    assert run.attempts[-1].response == expected

    # … and the run's record is in the on-success destination, as Lambda sends it
    (record,) = records(service, "Ticks")
    assert record["requestContext"]["condition"] == "Success"
    assert (record["requestPayload"], record["responsePayload"]) == (expected, expected)
    assert "functionError" not in record["responseContext"]


def test_a_function_with_several_schedules_needs_the_one_named(service: LocalService):
    with pytest.raises(ScheduleError, match=r"Ticker has 3 schedule events \(EveryMinute, ParisMornings, Paused\)"):
        Schedule(service, "Ticker")
    with pytest.raises(ScheduleError, match="no schedule event 'Hourly'"):
        Schedule(service, "Ticker", "Hourly")


def test_the_clock_fires_each_enabled_schedule_at_its_occurrences(service: LocalService):
    # GIVEN a clock for each schedule of Ticker, from 07:58:30 UTC on a Friday to 08:01:00, each in its fast time
    said: list[str] = []
    clocks = []
    for name in ("EveryMinute", "ParisMornings", "Paused"):
        fake = FakeTime(FRIDAY_MORNING, FRIDAY_MORNING + dt.timedelta(seconds=150))
        clocks.append(
            ScheduleClock([Schedule(service, "Ticker", name)], now=fake.now, wait=fake.wait, report=said.append)
        )
    stop = threading.Event()

    # WHEN they run until the runs of that span have been reported
    for clock in clocks:
        clock.start(stop)
    deadline = time.monotonic() + 120
    while sum(" fired for " in line for line in said) < 3 and time.monotonic() < deadline:
        time.sleep(0.05)
    stop.set()
    for clock in clocks:
        clock.join()

    # THEN the rule fired at each minute after the start, the Paris schedule at 9:00 Paris time, the disabled never
    fired = sorted(line for line in said if " fired for " in line)
    assert [line.split(" fired for ")[1].split(":", 2)[:2] for line in fired] == [
        ["2026-12-04T07", "59"],
        ["2026-12-04T08", "00"],
        ["2026-12-04T08", "00"],
    ]
    assert sum("EveryMinute" in line for line in fired) == 2
    assert not any("Paused" in line for line in said)
    assert all(": ok (1 attempts, record sent to " in line for line in fired)
    bodies = [r["requestPayload"] for r in records(service, "Ticks")]
    times = sorted(body.get("time") or body["at"] for body in bodies)
    assert times == ["2026-12-04T07:59:30Z", "2026-12-04T08:00:00Z", "2026-12-04T08:00:30Z"]


def test_fire_schedule_runs_a_schedule_with_its_retries_and_destination(folder: Path):
    # GIVEN a template whose scheduled function fails, with one retry and an on-failure destination
    # WHEN its schedule is fired for a given time
    result = run_workbench(folder, "fire-schedule", "Nightly", "--time", "2026-12-01T00:15:00Z")

    # THEN both attempts ran with the scheduled time filled in, and the event went to the destination
    assert result.returncode == 1, result.stderr
    said = result.stderr.splitlines()
    assert "Nightly attempt 1: failed: the run scheduled at 2026-12-01T00:15:00Z failed" in said[-3]
    assert said[-2].startswith("Nightly attempt 2: failed")
    assert said[-1] == "Nightly: retries exhausted, sent to its on-failure destination"
    assert json.loads(result.stdout)["errorType"] == "RuntimeError"


def test_fire_schedule_refuses_an_ambiguous_schedule_in_one_line_before_starting(folder: Path):
    result = run_workbench(folder, "fire-schedule", "Ticker")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: Ticker has 3 schedule events (EveryMinute, ParisMornings, Paused): name one (--event)"
    ]


def test_start_api_says_which_schedules_fire_on_their_clock(folder: Path):
    # GIVEN start-api with --schedules, THEN it names each enabled schedule's next occurrence, and the disabled one
    said: list[str] = []
    with running_start_api(folder, database_expected=False, args=["--schedules"], said=said):
        pass
    lines = "".join(said)
    assert "Firing Ticker's Schedule EveryMinute (rate(1 minute)) on its clock: next at " in lines
    assert "Firing Ticker's ScheduleV2 ParisMornings (cron(0 9 ? * MON-FRI *), Europe/Paris) on its clock" in lines
    assert "Not firing Ticker's ScheduleV2 Paused (rate(5 minutes)): it is disabled" in lines
