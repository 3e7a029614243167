"""The SQS event source mapping as Lambda runs it (schedules: emulator/schedules.py).

Local time is fast-forwarded: a batch is sent as soon as the queue has nothing more to give (the
batching window is an upper bound), and a failed message becomes visible again at once instead
of after its visibility timeout. Receive counts, redrive to the DLQ and partial batch responses
behave as on AWS, and so do the mapping's `FilterCriteria` (a message no filter matches is deleted
unseen; "Filtering events from an Amazon SQS event source", Lambda Developer Guide) and `Enabled`.
"""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from moto.events.models import EventPattern

from workbench.emulator.environment import Invocation, ThrottledError, say_once
from workbench.emulator.service import LocalService

SQS_RECEIVE_LIMIT = 10  # ReceiveMessage returns at most 10 messages per call
THROTTLE_BACKOFF_S, THROTTLE_BACKOFF_MAX_S = 0.05, 1.0  # a throttled poller's pause, doubled while it lasts


@dataclass
class SqsStats:
    batches: int = 0
    messages_received: int = 0
    messages_deleted: int = 0
    messages_returned: int = 0
    failed_invocations: int = 0
    delete_failures: int = 0
    messages_filtered_out: int = 0  # matched no filter of the mapping: deleted without an invocation
    throttled_batches: int = 0  # refused by the function's reserved concurrency: returned to the queue
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
        setting = self._setting(service, properties)
        self.batch_size = int(setting("BatchSize", 10))
        self.batching_window_s = float(setting("MaximumBatchingWindowInSeconds", 0))
        self.reports_item_failures = "ReportBatchItemFailures" in setting("FunctionResponseTypes", [])
        self.max_concurrency = self._max_concurrency(setting)
        self.pollers = min(self.max_concurrency, self.pool.max_environments)  # more would only wait for this host
        self.enabled = properties.get("Enabled", True) not in (False, "false", "False")
        # AWS's filter rule syntax is EventBridge's event patterns: moto's matcher of them, not one of our own.
        self.filters = [
            EventPattern.load(str(f["Pattern"])) for f in properties.get("FilterCriteria", {}).get("Filters", [])
        ]
        self.sqs = service.cloud.client("sqs", as_function=logical_id)  # Lambda polls with the function's role
        self.runner_sqs = service.cloud.client("sqs")  # the runner's own bookkeeping: calls Lambda does not make
        self._check_visibility_timeout(self.pool.spec.timeout_s)
        self.stats = SqsStats()
        self._throttled_in_a_row = 0
        self.problems: list[str] = []  # what went wrong while polling: reported by drain(), never dropped
        self._busy = 0  # pollers between the start of a receive and the end of its settling
        self._activity = 0  # bumped when a poll starts or ends: tells a stable snapshot from a moving one
        self._lock = threading.Lock()

    @staticmethod
    def _setting(service: LocalService, properties: dict[str, Any]) -> Callable[[str, Any], Any]:
        """A property of the event as CloudFormation applies it: conditions decided, parameters resolved."""

        def setting(name: str, default: Any) -> Any:
            value = service.cloud.applied(properties.get(name))
            return default if value is None else service.cloud.resolve(value)

        return setting

    @staticmethod
    def _max_concurrency(setting: Callable[[str, Any], Any]) -> int:
        """Batches at once: MaximumConcurrency with on-demand pollers; with provisioned ones, 10 a poller at most
        (AWS Lambda Developer Guide, provisioned mode for SQS)."""
        pollers = setting("ProvisionedPollerConfig", None)
        if pollers is None:
            return int(setting("ScalingConfig", {}).get("MaximumConcurrency", 5))
        maximum = int(pollers.get("MaximumPollers", 200))
        say_once(
            f"provisioned SQS pollers: up to {maximum} x 10 batches at once; not emulated: "
            "how pollers scale between MinimumPollers and MaximumPollers, and their bill"
        )
        return maximum * 10

    def _check_visibility_timeout(self, function_timeout_s: int) -> None:
        """What Lambda checks, as the function's role, when the mapping is created (sqs:GetQueueAttributes)."""
        attributes = self.sqs.get_queue_attributes(QueueUrl=self.queue_url, AttributeNames=["VisibilityTimeout"])
        visibility_timeout = int(attributes["Attributes"]["VisibilityTimeout"])
        if visibility_timeout < function_timeout_s:
            raise ValueError(
                f"Queue visibility timeout: {visibility_timeout} seconds is less than Function timeout: "
                f"{function_timeout_s} seconds"
            )

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
        """Receive one batch, invoke, settle it; False when nothing was received.

        Whatever happens after the receive, every message ends deleted or visible again: a delete
        that fails is retried once and otherwise returned to the queue (the consumer is idempotent),
        and if this poll raises, its messages go back before the exception leaves.
        """
        with self._lock:
            self._busy += 1
            self._activity += 1
        try:
            return self._poll()
        finally:
            with self._lock:
                self._busy -= 1
                self._activity += 1

    def _matches(self, record: dict[str, Any]) -> bool:
        """Whether any filter takes the record; a JSON body is matched by its fields, any other as a string."""
        if not self.filters:
            return True
        try:
            body = json.loads(record["body"])
        except ValueError:
            body = record["body"]
        seen: Any = {**record, "body": body}  # moto types its events as EventBridge's; any dict is matched
        return any(pattern.matches_event(seen) for pattern in self.filters)

    def _poll(self) -> bool:
        if not self.enabled:
            return False
        messages = self._receive_batch()
        if not messages:
            return False
        settled = False
        throttled = False
        invocation: Invocation | None = None
        try:
            records = {m["MessageId"]: self._record(m) for m in messages}
            unmatched = [m for m in messages if not self._matches(records[m["MessageId"]])]
            batch = [m for m in messages if m not in unmatched]
            failed: set[str] = set()
            if batch:
                try:
                    invocation = self.pool.invoke({"Records": [records[m["MessageId"]] for m in batch]})
                    failed = self._failed_message_ids(invocation, batch)
                except ThrottledError:  # the batch goes back to the queue, and this poller backs off
                    failed = {m["MessageId"] for m in batch}
                    throttled = True
            done = [m for m in messages if m["MessageId"] not in failed]
            again = [m for m in batch if m["MessageId"] in failed]
            not_deleted = self._delete(done)
            self._make_visible(again + not_deleted)
            settled = True
        finally:
            if not settled:
                self._make_visible(messages)
        with self._lock:
            self.stats.batches += invocation is not None
            self.stats.messages_received += len(messages)
            self.stats.messages_filtered_out += len(unmatched)
            self.stats.throttled_batches += throttled
            self._throttled_in_a_row = self._throttled_in_a_row + 1 if throttled else 0
            backoff_s = min(THROTTLE_BACKOFF_MAX_S, THROTTLE_BACKOFF_S * 2 ** (self._throttled_in_a_row - 1))
            self.stats.messages_deleted += len(done) - len(not_deleted)
            self.stats.messages_returned += len(again) + len(not_deleted)
            self.stats.delete_failures += len(not_deleted)
            if invocation is not None:
                self.stats.failed_invocations += invocation.error is not None
                self.stats.invocations.append(invocation)
        if throttled:  # as Lambda's poller slows down when the function throttles, without failing the messages
            time.sleep(backoff_s)
        return True

    def _delete(self, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Delete these messages (a failed entry is tried once more); returns those still not deleted."""
        pending = messages
        for _ in range(2):
            failed_ids: set[str] = set()
            for start in range(0, len(pending), SQS_RECEIVE_LIMIT):
                chunk = pending[start : start + SQS_RECEIVE_LIMIT]
                entries: list[Any] = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)]
                response = self.sqs.delete_message_batch(QueueUrl=self.queue_url, Entries=entries)
                failed_ids |= {chunk[int(f["Id"])]["MessageId"] for f in response.get("Failed", [])}
            pending = [m for m in pending if m["MessageId"] in failed_ids]
            if not pending:
                break
        return pending

    def _make_visible(self, messages: list[dict[str, Any]]) -> None:
        """Visible again at once (local time is fast-forwarded); a failure is recorded, never ignored."""
        for start in range(0, len(messages), SQS_RECEIVE_LIMIT):
            chunk = messages[start : start + SQS_RECEIVE_LIMIT]
            entries: list[Any] = [
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0} for i, m in enumerate(chunk)
            ]
            response = self.runner_sqs.change_message_visibility_batch(QueueUrl=self.queue_url, Entries=entries)
            for failure in response.get("Failed", []):
                message_id = chunk[int(failure["Id"])]["MessageId"]
                with self._lock:
                    self.problems.append(f"message {message_id} stays in flight: {failure.get('Code')}")

    def _failed_message_ids(self, invocation: Invocation, messages: list[dict[str, Any]]) -> set[str]:
        """What goes back to the queue: all of it on an error, else the reported items (if enabled)."""
        every = {m["MessageId"] for m in messages}
        if invocation.error is not None:
            return every
        if not self.reports_item_failures:
            return set()
        # A null or empty response or list is a success; anything Lambda cannot read as the partial batch
        # response — another type, an entry without an itemIdentifier, an unknown id — fails the whole batch
        # ("Handling errors for an SQS event source in Lambda", Lambda Developer Guide).
        payload = invocation.payload
        if payload is None or payload == {}:
            return set()
        if not isinstance(payload, dict):
            return every
        failures = payload.get("batchItemFailures")
        if failures is None:
            return set()
        if not isinstance(failures, list) or not all(isinstance(f, dict) for f in failures):
            return every
        reported = {f.get("itemIdentifier") for f in failures}
        if not reported <= every or None in reported or "" in reported:
            return every
        return {str(item) for item in reported}

    def depth(self) -> tuple[int, int]:
        """(visible, in flight) messages in the queue."""
        attributes = self.runner_sqs.get_queue_attributes(
            QueueUrl=self.queue_url,
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attributes["ApproximateNumberOfMessages"]), int(attributes["ApproximateNumberOfMessagesNotVisible"])

    def in_flight(self) -> int:
        return sum(self.depth())

    def start_polling(self, stop: threading.Event) -> list[threading.Thread]:
        """Poll as Lambda's mapping does, MaximumConcurrency batches at a time, until `stop` is set.

        For `start-api` and `make load`, where orders keep arriving. A poll that raises has returned
        its messages (poll_once); the error is said and kept in `problems`, and polling goes on.
        A disabled mapping (`Enabled: false`) starts no poller.
        """
        if not self.enabled:
            return []

        def poller() -> None:
            while not stop.is_set():
                try:
                    if not self.poll_once():
                        stop.wait(0.05)
                except Exception as error:
                    with self._lock:
                        self.problems.append(f"{threading.current_thread().name}: {type(error).__name__}: {error}")
                    print(f"local runner: SQS poller for {self.pool.spec.logical_id}: {error}", file=sys.stderr)
                    stop.wait(1)

        threads = [threading.Thread(target=poller, name=f"sqs-poller-{n}", daemon=True) for n in range(self.pollers)]
        for thread in threads:
            thread.start()
        return threads

    def drain(self, timeout_s: float = 120) -> SqsStats:
        """Poll with up to MaximumConcurrency concurrent batches until nothing deliverable remains.

        The drain ends when the queue is empty, or when what is left is in flight and no poller holds
        it (it would only come back after the queue's visibility timeout): that, a poller that
        raised, and reaching `timeout_s` are errors (DrainError) that say what was left.
        """
        if not self.enabled:
            raise DrainError(
                f"the SQS event of {self.pool.spec.logical_id} has Enabled: false; nothing polls the queue"
            )
        deadline = time.monotonic() + timeout_s
        outcome: dict[str, str] = {}

        def poller() -> None:
            while time.monotonic() < deadline:
                try:
                    if self.poll_once():
                        continue
                    with self._lock:
                        before = (self._busy, self._activity)
                    visible, invisible = self.depth()
                    with self._lock:
                        after = (self._busy, self._activity)
                except Exception as error:  # its messages are back in the queue (poll_once); say why it stopped
                    with self._lock:
                        self.problems.append(f"{threading.current_thread().name}: {type(error).__name__}: {error}")
                    return
                if visible == 0 and invisible == 0:
                    return
                if visible == 0 and before == after and before[0] == 0:  # a still picture: nobody works on them
                    outcome["orphaned"] = f"{invisible} messages in flight that no poller holds"
                    return
                time.sleep(0.05)
            outcome["deadline"] = f"not drained within {timeout_s:.0f} s"

        threads = [threading.Thread(target=poller, name=f"sqs-poller-{n}") for n in range(self.pollers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if outcome or self.problems:
            visible, invisible = self.depth()
            reasons = [*outcome.values(), *self.problems]
            raise DrainError(f"{'; '.join(reasons)} (left: {visible} visible, {invisible} in flight)")
        return self.stats


class DrainError(RuntimeError):
    """The drain stopped with work left, or a poller failed: the message says what and why."""
