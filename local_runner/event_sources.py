"""Event sources as AWS runs them: the SQS event source mapping and EventBridge Scheduler.

Local time is fast-forwarded: a batch is sent as soon as the queue has nothing more to give (the
batching window is an upper bound), and a failed message becomes visible again at once instead
of after its visibility timeout. Receive counts, redrive to the DLQ and partial batch responses
behave as on AWS.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from local_runner.cloud import ACCOUNT_ID
from local_runner.environment import Invocation
from local_runner.service import LocalService

SQS_RECEIVE_LIMIT = 10  # ReceiveMessage returns at most 10 messages per call


@dataclass
class SqsStats:
    batches: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_returned: int = 0
    failed_invocations: int = 0
    invocations: list[Invocation] = field(default_factory=list)


class SqsEventSource:
    """The consumer's SQS event source mapping, configured from the function's SQS event in the template."""

    def __init__(self, service: LocalService, logical_id: str) -> None:
        spec = service.app.functions[logical_id]
        (properties,) = spec.events_of_type("SQS").values()
        self.service = service
        self.pool = service.pool(logical_id)
        self.queue_arn = str(service.cloud.resolve(properties["Queue"]))
        self.queue_url = next(
            str(s["QueueUrl"]) for s in service.cloud.symbols.values() if s.get("Arn") == self.queue_arn
        )
        self.batch_size = int(properties.get("BatchSize", 10))
        self.batching_window_s = float(properties.get("MaximumBatchingWindowInSeconds", 0))
        self.reports_item_failures = "ReportBatchItemFailures" in properties.get("FunctionResponseTypes", [])
        self.max_concurrency = int(properties.get("ScalingConfig", {}).get("MaximumConcurrency", 5))
        self.sqs = service.cloud.client("sqs")
        self.stats = SqsStats()
        self._lock = threading.Lock()

    def _receive_batch(self) -> list[dict[str, Any]]:
        messages: list[dict[str, Any]] = []
        deadline = time.monotonic() + self.batching_window_s
        while len(messages) < self.batch_size:
            received = self.sqs.receive_message(
                QueueUrl=self.queue_url,
                MaxNumberOfMessages=min(SQS_RECEIVE_LIMIT, self.batch_size - len(messages)),
                AttributeNames=["All"],
            ).get("Messages", [])
            messages.extend(received)
            if not received or time.monotonic() >= deadline:
                break
        return messages

    def _record(self, message: dict[str, Any]) -> dict[str, Any]:
        return {
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": message.get("MessageAttributes", {}),
            "md5OfBody": message["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.service.app.region,
        }

    def poll_once(self) -> bool:
        """Receive one batch, invoke, settle it; False when nothing was received."""
        messages = self._receive_batch()
        if not messages:
            return False
        invocation = self.pool.invoke({"Records": [self._record(m) for m in messages]})
        failed = self._failed_message_ids(invocation, messages)
        done = [m for m in messages if m["MessageId"] not in failed]
        again = [m for m in messages if m["MessageId"] in failed]
        for start in range(0, len(done), SQS_RECEIVE_LIMIT):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done[start : start + 10])
            ]
            self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
        for start in range(0, len(again), SQS_RECEIVE_LIMIT):
            entries = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                for i, m in enumerate(again[start : start + 10])
            ]
            self.sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
        with self._lock:
            self.stats.batches += 1
            self.stats.messages_received += len(messages)
            self.stats.messages_deleted += len(done)
            self.stats.messages_returned += len(again)
            self.stats.failed_invocations += invocation.error is not None
            self.stats.invocations.append(invocation)
        return True

    def _failed_message_ids(self, invocation: Invocation, messages: list[dict[str, Any]]) -> set[str]:
        """What goes back to the queue: all of it on an error, else the reported items (if enabled)."""
        every = {m["MessageId"] for m in messages}
        if invocation.error is not None:
            return every
        if not self.reports_item_failures:
            return set()
        payload = invocation.payload if isinstance(invocation.payload, dict) else {}
        failures = payload.get("batchItemFailures") or []
        reported = {f.get("itemIdentifier") for f in failures if isinstance(f, dict)}
        if not reported <= every or None in reported or "" in reported:
            return every  # Lambda treats an unreadable response as a failure of the whole batch
        return {str(item) for item in reported}

    def in_flight(self) -> int:
        attributes = self.sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def drain(self, timeout_s: float = 120) -> SqsStats:
        """Poll with up to MaximumConcurrency concurrent batches until the queue is empty."""
        deadline = time.monotonic() + timeout_s

        def poller() -> None:
            while time.monotonic() < deadline:
                if not self.poll_once():
                    if self.in_flight() == 0:
                        return
                    time.sleep(0.05)

        threads = [threading.Thread(target=poller, name=f"sqs-poller-{n}") for n in range(self.max_concurrency)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return self.stats


@dataclass
class ScheduledRun:
    event: Any
    attempts: list[Invocation]
    sent_to_failure_destination: bool


class Schedule:
    """A ScheduleV2 event of the template: its Input with the scheduler's context attributes filled in,
    invoked asynchronously with the function's EventInvokeConfig (retries, then the on-failure destination)."""

    def __init__(self, service: LocalService, logical_id: str) -> None:
        self.service = service
        self.logical_id = logical_id
        (self.properties,) = service.app.functions[logical_id].events_of_type("ScheduleV2").values()
        configs = [
            r["Properties"]
            for r in service.app.resources_of_type("AWS::Lambda::EventInvokeConfig").values()
            if r["Properties"].get("FunctionName") == {"Ref": logical_id}
        ]
        config = configs[0] if configs else {}
        self.max_retries = int(config.get("MaximumRetryAttempts", 2))
        destination = config.get("DestinationConfig", {}).get("OnFailure", {}).get("Destination")
        self.failure_destination_arn = str(service.cloud.resolve(destination)) if destination else None

    def event_for(self, scheduled_time: dt.datetime, input_override: str | None = None) -> Any:
        text = input_override if input_override is not None else self.properties.get("Input", "{}")
        schedule_arn = f"arn:aws:scheduler:{self.service.app.region}:{ACCOUNT_ID}:schedule/default/{self.logical_id}"
        replacements = {
            "<aws.scheduler.scheduled-time>": scheduled_time.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "<aws.scheduler.execution-id>": str(uuid.uuid4()),
            "<aws.scheduler.attempt-number>": "1",
            "<aws.scheduler.schedule-arn>": schedule_arn,
        }
        for placeholder, value in replacements.items():
            text = text.replace(placeholder, value)
        return json.loads(text)

    def fire(self, scheduled_time: dt.datetime, input_override: str | None = None) -> ScheduledRun:
        event = self.event_for(scheduled_time, input_override)
        pool = self.service.pool(self.logical_id)
        attempts = [pool.invoke(event)]
        while attempts[-1].error is not None and len(attempts) <= self.max_retries:
            attempts.append(pool.invoke(event))
        failed = attempts[-1].error is not None
        if failed and self.failure_destination_arn:
            url = next(
                str(s["QueueUrl"])
                for s in self.service.cloud.symbols.values()
                if s.get("Arn") == self.failure_destination_arn
            )
            record = {
                "version": "1.0",
                "timestamp": dt.datetime.now(dt.UTC).isoformat(),
                "requestContext": {
                    "requestId": attempts[-1].request_id,
                    "functionArn": f"arn:aws:lambda:{self.service.app.region}:123456789012:function:{self.logical_id}",
                    "condition": "RetriesExhausted",
                    "approximateInvokeCount": len(attempts),
                },
                "requestPayload": event,
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
                "responsePayload": attempts[-1].error,
            }
            self.service.cloud.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(record))
        return ScheduledRun(
            event=event, attempts=attempts, sent_to_failure_destination=failed and bool(self.failure_destination_arn)
        )
