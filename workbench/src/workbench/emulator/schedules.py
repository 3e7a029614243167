"""Schedules as AWS runs them: EventBridge Scheduler (`ScheduleV2` events) and EventBridge rules (`Schedule`).

Expressions are read as AWS reads them: `rate(value unit)`, `cron(…)` with EventBridge's six fields
(`?`, `L`, `W`, `#`; read by aws-croniter, a maintained parser of exactly that syntax), and `at(…)`
(Scheduler's one-time schedules), in `ScheduleExpressionTimezone` (Scheduler; rules are UTC), between
`StartDate` and `EndDate`, not at all when `State` is `DISABLED` or `Enabled` is false
("Schedule types on EventBridge Scheduler", EventBridge Scheduler User Guide; "Creating a rule that runs
on a schedule", EventBridge User Guide).

The events: Scheduler sends its `Input` (default `{}`) with the context attributes filled in; a rule
sends EventBridge's "Scheduled Event" unless its `Input` replaces it. Each occurrence is one asynchronous
invocation (emulator/async_invoke.py): the function's retries and destinations apply.

Not emulated: a schedule's own `RetryPolicy` and `DeadLetterConfig` (they cover events EventBridge could
not deliver, and local delivery does not fail), and a `FlexibleTimeWindow` (an occurrence fires at the
window's start). A rate schedule's first occurrence is one period after the run starts.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aws_croniter import AwsCroniter
from aws_croniter.exceptions import AwsCroniterExpressionError

from workbench.emulator.async_invoke import AsyncInvoker, AsyncRun
from workbench.emulator.cloud import ACCOUNT_ID, STACK_NAME
from workbench.emulator.service import LocalService
from workbench.emulator.template import FunctionSpec

SCHEDULE_TYPES = ("ScheduleV2", "Schedule")
_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}
_AT = re.compile(r"at\((\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)\)")
LONGEST_WAIT_S = 60.0  # the clock looks again at least this often: a host that slept is noticed


class ScheduleError(ValueError):
    """A schedule AWS would not create, or one the command cannot tell: the message says which and why."""


@dataclass(frozen=True)
class ScheduleExpression:
    """One schedule expression in its time zone; `occurrence_after` gives its times, in UTC."""

    text: str
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(f"{self.timezone!r} is not a time zone (IANA names: Europe/Paris, UTC)") from None
        if self.text.startswith("cron(") and self.text.endswith(")"):
            try:
                AwsCroniter(self.text[5:-1])
            except AwsCroniterExpressionError as error:
                raise ScheduleError(f"{self.text}: {error}") from None
            return
        if (rate := _RATE.fullmatch(self.text)) is not None:
            value, unit = int(rate[1]), rate[2]
            if value == 0 or (value == 1) != (not unit.endswith("s")):  # AWS: 1 takes the singular, more the plural
                raise ScheduleError(f"{self.text}: the value must be positive, singular unit for 1, plural above")
            return
        if _AT.fullmatch(self.text) is not None:
            return
        raise ScheduleError(f"{self.text!r} is not rate(value unit), cron(six fields) or at(yyyy-mm-ddThh:mm:ss)")

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def occurrence_after(self, moment: dt.datetime, started: dt.datetime) -> dt.datetime | None:
        """The first occurrence strictly after `moment` (a rate counts its periods from `started`)."""
        if (rate := _RATE.fullmatch(self.text)) is not None:
            period = dt.timedelta(seconds=int(rate[1]) * _UNIT_SECONDS[rate[2].removesuffix("s")])
            return started + period * ((moment - started) // period + 1)
        if (at := _AT.fullmatch(self.text)) is not None:
            once = dt.datetime.fromisoformat(at[1]).replace(tzinfo=self.zone).astimezone(dt.UTC)
            return once if once > moment else None
        # aws-croniter reads UTC: give it the zone's wall clock as if it were UTC, and read its answer back
        wall_clock = moment.astimezone(self.zone).replace(tzinfo=dt.UTC)
        (following,) = AwsCroniter(self.text[5:-1]).get_next(wall_clock)
        if following is None:  # a cron with years that have all passed
            return None
        return following.replace(tzinfo=self.zone).astimezone(dt.UTC)  # type: ignore[no-any-return]


def schedule_events(spec: FunctionSpec) -> dict[str, tuple[str, dict[str, Any]]]:
    """The function's schedule events: name -> (type, properties)."""
    return {
        name: (str(event["Type"]), event.get("Properties", {}))
        for name, event in spec.events.items()
        if event.get("Type") in SCHEDULE_TYPES
    }


def choose_schedule_event(spec: FunctionSpec, event_name: str | None) -> str:
    """The schedule event named, or the function's only one."""
    events = schedule_events(spec)
    names = ", ".join(sorted(events)) or "none"
    if event_name is None:
        if len(events) != 1:
            raise ScheduleError(f"{spec.logical_id} has {len(events)} schedule events ({names}): name one (--event)")
        (event_name,) = events
    if event_name not in events:
        raise ScheduleError(f"{spec.logical_id} has no schedule event {event_name!r} (its schedules: {names})")
    return event_name


class Schedule:
    """One schedule event of a function: its expression, its event, its firing."""

    def __init__(self, service: LocalService, logical_id: str, event_name: str | None = None) -> None:
        spec = service.app.functions[logical_id]
        event_name = choose_schedule_event(spec, event_name)
        events = schedule_events(spec)
        self.service = service
        self.logical_id = logical_id
        self.event_name = event_name
        self.kind, properties = events[event_name]
        used = (
            "ScheduleExpression",
            "Schedule",
            "ScheduleExpressionTimezone",
            "Input",
            "State",
            "Enabled",
            "Name",
            "GroupName",
            "StartDate",
            "EndDate",
        )  # resolved: what the emulation reads
        self.properties = {
            k: service.cloud.resolve(service.cloud.applied(v)) for k, v in properties.items() if k in used
        }
        scheduler = self.kind == "ScheduleV2"
        self.expression = ScheduleExpression(
            str(self.properties["ScheduleExpression" if scheduler else "Schedule"]),
            str(self.properties.get("ScheduleExpressionTimezone") or "UTC"),
        )
        self.enabled = self.properties.get("State") != "DISABLED" and self.properties.get("Enabled") is not False
        self.start_date = _instant(self.properties.get("StartDate"))
        self.end_date = _instant(self.properties.get("EndDate"))
        # SAM names a Scheduler schedule after its logical id; CloudFormation names a rule "<stack>-<logical id>-…"
        default_name = f"{logical_id}{event_name}" if scheduler else f"{STACK_NAME}-{logical_id}{event_name}"
        self.name = str(self.properties.get("Name") or default_name)
        self.invoker = AsyncInvoker(service, logical_id)

    @property
    def arn(self) -> str:
        region = self.service.app.region
        if self.kind == "ScheduleV2":
            group = self.properties.get("GroupName") or "default"
            return f"arn:aws:scheduler:{region}:{ACCOUNT_ID}:schedule/{group}/{self.name}"
        return f"arn:aws:events:{region}:{ACCOUNT_ID}:rule/{self.name}"

    @property
    def max_retries(self) -> int:
        return self.invoker.max_retries

    @property
    def failure_destination_arn(self) -> str | None:
        return self.invoker.failure_destination_arn

    def describe(self) -> str:
        zone = f", {self.expression.timezone}" if self.expression.timezone != "UTC" else ""
        return f"{self.logical_id}'s {self.kind} {self.event_name} ({self.expression.text}{zone})"

    def occurrence_after(self, moment: dt.datetime, started: dt.datetime) -> dt.datetime | None:
        """The next time it fires after `moment`, within StartDate and EndDate; None: never again."""
        if self.start_date is not None and moment < self.start_date:
            moment, started = self.start_date - dt.timedelta(microseconds=1), self.start_date
        following = self.expression.occurrence_after(moment, started)
        if following is None or (self.end_date is not None and following > self.end_date):
            return None
        return following

    def event_for(self, scheduled_time: dt.datetime, input_override: str | None = None) -> Any:
        text = input_override if input_override is not None else self.properties.get("Input")
        when = scheduled_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        if self.kind == "Schedule" and text is None:  # EventBridge's scheduled event
            return {
                "version": "0",
                "id": str(uuid.uuid4()),
                "detail-type": "Scheduled Event",
                "source": "aws.events",
                "account": ACCOUNT_ID,
                "time": when,
                "region": self.service.app.region,
                "resources": [self.arn],
                "detail": {},
            }
        text = "{}" if text is None else str(text)
        if self.kind == "ScheduleV2":
            replacements = {
                "<aws.scheduler.scheduled-time>": when,
                "<aws.scheduler.execution-id>": str(uuid.uuid4()),
                "<aws.scheduler.attempt-number>": "1",
                "<aws.scheduler.schedule-arn>": self.arn,
            }
            for placeholder, value in replacements.items():
                text = text.replace(placeholder, value)
        try:
            return json.loads(text)
        except json.JSONDecodeError:  # Lambda targets take JSON
            raise ScheduleError(f"{self.describe()}: its Input is not JSON: {text[:80]!r}") from None

    def fire(self, scheduled_time: dt.datetime, input_override: str | None = None) -> AsyncRun:
        return self.invoker.invoke(self.event_for(scheduled_time, input_override))


def _instant(value: Any) -> dt.datetime | None:
    if value is None:
        return None
    parsed = dt.datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def wait_on(stop: threading.Event, seconds: float) -> bool:
    """Sleep until `seconds` pass or the run stops; True if it stopped."""
    return stop.wait(seconds)


def say(line: str) -> None:
    print(line, file=sys.stderr)


class ScheduleClock:
    """`start-api --schedules`: every enabled schedule fires at its occurrences for as long as the run lasts;
    each firing is its own thread, as EventBridge does not wait for one run before the next."""

    def __init__(
        self,
        schedules: list[Schedule],
        *,
        now: Callable[[], dt.datetime] = utc_now,
        wait: Callable[[threading.Event, float], bool] = wait_on,
        report: Callable[[str], None] = say,
    ) -> None:
        self.all = schedules
        self._now, self._wait, self._report = now, wait, report
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()

    def start(self, stop: threading.Event) -> None:
        started = self._now()
        for schedule in (s for s in self.all if s.enabled):
            following = schedule.occurrence_after(started, started)
            self._report(f"Firing {schedule.describe()} on its clock: next at {_stamp(following)}")
            self._spawn(self._keep_time, schedule, started, stop, name=f"schedule-{schedule.name}")

    def join(self) -> None:
        """After the stop: the clocks end at once, runs in progress finish."""
        while True:
            with self._lock:
                threads = [t for t in self._threads if t.is_alive()]
            if not threads:
                return
            for thread in threads:
                thread.join()

    def _spawn(self, target: Callable[..., None], *args: Any, name: str) -> None:
        thread = threading.Thread(target=target, args=args, name=name)
        with self._lock:
            self._threads = [t for t in self._threads if t.is_alive()] + [thread]
        thread.start()

    def _keep_time(self, schedule: Schedule, started: dt.datetime, stop: threading.Event) -> None:
        moment = started
        while (due := schedule.occurrence_after(moment, started)) is not None:
            while (left := (due - self._now()).total_seconds()) > 0:
                if self._wait(stop, min(left, LONGEST_WAIT_S)):
                    return
            if stop.is_set():
                return
            self._spawn(self._fire, schedule, due, name=f"fire-{schedule.name}")
            moment = max(due, self._now())  # occurrences missed while the host slept are not made up
        self._report(f"{schedule.describe()}: no further occurrence")

    def _fire(self, schedule: Schedule, due: dt.datetime) -> None:
        try:
            run = schedule.fire(due)
        except Exception as error:  # the clock keeps time even if one run cannot start; say why
            self._report(f"{schedule.describe()} at {_stamp(due)}: not run: {type(error).__name__}: {error}")
            return
        last = run.attempts[-1]
        outcome = "ok" if last.error is None else f"failed: {last.error.get('errorMessage')}"
        where = f", record sent to {run.destination_arn}" if run.destination_arn else ""
        self._report(f"{schedule.describe()} fired for {_stamp(due)}: {outcome} ({len(run.attempts)} attempts{where})")


def _stamp(moment: dt.datetime | None) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if moment is not None else "never"
