"""Lambda's asynchronous invocation: its internal queue, its retries and its destinations.

What EventBridge (rules and Scheduler) and an `Event` invoke get: the event is queued, a throttled
try waits and does not count, a failed run is retried as the function's `EventInvokeConfig` allows
(`MaximumRetryAttempts`, default 2), and the outcome goes to its `OnSuccess` or `OnFailure`
destination as an invocation record ("How Lambda handles errors and retries with asynchronous
invocation", "Capturing records of Lambda asynchronous invocations", Lambda Developer Guide).
Local time is fast-forwarded: retries follow at once, not after Lambda's one and two minutes.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from dataclasses import dataclass
from typing import Any

from workbench.emulator.cloud import ACCOUNT_ID
from workbench.emulator.environment import FunctionConfigError, FunctionPool, Invocation, ThrottledError
from workbench.emulator.service import LocalService

DEFAULT_RETRIES = 2  # Lambda retries a failed asynchronous event twice unless EventInvokeConfig says otherwise
ASYNC_THROTTLE_TRIES = 30  # Lambda keeps a throttled asynchronous event for up to 6 hours; locally, this many tries
THROTTLE_BACKOFF_S, THROTTLE_BACKOFF_MAX_S = 0.05, 1.0  # the pause between throttled tries, doubled while it lasts
DESTINATION_SERVICES = ("sqs", "sns")  # what the local cloud delivers records to


@dataclass
class AsyncRun:
    event: Any
    attempts: list[Invocation]
    destination_arn: str | None  # where the invocation record went, if anywhere

    @property
    def failed(self) -> bool:
        return self.attempts[-1].error is not None

    @property
    def sent_to_failure_destination(self) -> bool:
        return self.failed and self.destination_arn is not None


class AsyncInvoker:
    """One function's asynchronous invocations, configured by its EventInvokeConfig in the template."""

    def __init__(self, service: LocalService, logical_id: str) -> None:
        self.service = service
        self.logical_id = logical_id
        configs = [
            r["Properties"]
            for r in service.app.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
            if r["Properties"].get("FunctionName") == {"Ref": logical_id}
        ]
        config = configs[0] if configs else {}
        self.max_retries = int(config.get("MaximumRetryAttempts", DEFAULT_RETRIES))
        destinations = config.get("DestinationConfig", {})
        self.destinations = {
            outcome: self._destination_arn(destinations.get(outcome, {}).get("Destination"))
            for outcome in ("OnSuccess", "OnFailure")
        }

    @property
    def failure_destination_arn(self) -> str | None:
        return self.destinations["OnFailure"]

    def _destination_arn(self, destination: Any) -> str | None:
        if destination is None:
            return None
        arn = str(self.service.cloud.resolve(destination))
        if arn.split(":")[2] not in DESTINATION_SERVICES:
            raise FunctionConfigError(
                f"{self.logical_id}: its EventInvokeConfig destination {arn} is not emulated "
                f"(the local cloud delivers to {' and '.join(d.upper() for d in DESTINATION_SERVICES)})"
            )
        return arn

    def invoke(self, event: Any) -> AsyncRun:
        pool = self.service.pool(self.logical_id)
        attempts = [_invoke_through_throttles(pool, event)]
        while attempts[-1].error is not None and len(attempts) <= self.max_retries:
            attempts.append(_invoke_through_throttles(pool, event))
        failed = attempts[-1].error is not None
        destination = self.destinations["OnFailure" if failed else "OnSuccess"]
        if destination is not None:
            self._send(destination, self._record(event, attempts))
        return AsyncRun(event=event, attempts=attempts, destination_arn=destination)

    def _record(self, event: Any, attempts: list[Invocation]) -> dict[str, Any]:
        """The invocation record Lambda sends a destination."""
        last = attempts[-1]
        response_context: dict[str, Any] = {"statusCode": 200, "executedVersion": "$LATEST"}
        if last.error is not None:
            response_context["functionError"] = "Unhandled"
        return {
            "version": "1.0",
            "timestamp": dt.datetime.now(dt.UTC).isoformat(),
            "requestContext": {
                "requestId": last.request_id,
                "functionArn": f"arn:aws:lambda:{self.service.app.region}:{ACCOUNT_ID}:function:{self.logical_id}",
                "condition": "RetriesExhausted" if last.error is not None else "Success",
                "approximateInvokeCount": len(attempts),
            },
            "requestPayload": event,
            "responseContext": response_context,
            "responsePayload": last.response,
        }

    def _send(self, destination_arn: str, record: dict[str, Any]) -> None:
        body = json.dumps(record)
        cloud = self.service.cloud
        if destination_arn.split(":")[2] == "sns":  # Lambda sends as the function's role
            cloud.client("sns", as_function=self.logical_id).publish(TopicArn=destination_arn, Message=body)
            return
        url = next(str(s["QueueUrl"]) for s in cloud.symbols.values() if s.get("Arn") == destination_arn)
        cloud.client("sqs", as_function=self.logical_id).send_message(QueueUrl=url, MessageBody=body)


def _invoke_through_throttles(pool: FunctionPool, event: Any) -> Invocation:
    """Lambda's internal queue: a throttled event is tried again, backing off, and does not count as a retry."""
    for attempt in range(ASYNC_THROTTLE_TRIES - 1):
        try:
            return pool.invoke(event)
        except ThrottledError:
            time.sleep(min(THROTTLE_BACKOFF_MAX_S, THROTTLE_BACKOFF_S * 2**attempt))
    return pool.invoke(event)  # the last try: still throttled, the caller sees it
