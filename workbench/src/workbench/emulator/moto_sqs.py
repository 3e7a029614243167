"""moto's SQS without its cost per queued message, applied inside the local cloud's moto process only.

Written for moto 5.2.5 (`WRITTEN_FOR`); `apply()` refuses any other version, so an upgrade fails
loudly (workbench/tests/emulator/test_moto_sqs.py) instead of silently running unpatched or patching the wrong thing.

Where the time went (cProfile): `Queue.attributes` is a property that builds every attribute, and
three of them (ApproximateNumberOf…) each scan every message in the queue. moto reads it for one
attribute at a time — three times per message returned by ReceiveMessage (through the retention
check) and once per SendMessage (ContentBasedDeduplication) — so each call cost O(queue depth).
ReceiveMessage also built the list of every visible message before taking ten, and DeleteMessage
scanned the queue twice per receipt handle, building each message's list of handles as it went.
The patch changes how things are found, not what they are:
- `Queue.attributes` becomes a read-only mapping that computes an attribute when it is asked for;
  iterating it (GetQueueAttributes All) still yields every attribute, computed as moto computes it;
- the retention check reads the queue's retention period directly;
- `Queue.messages` becomes a lazy view: iterating stops where the caller stops (ReceiveMessage
  after ten), `len()` still counts them all;
- `Queue.delete_message` stops at the one message that had the handle (handles are unique).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from importlib import metadata
from typing import Any

from moto.core.utils import camelcase_to_underscores, unix_time
from moto.sqs import models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

WRITTEN_FOR = "5.2.5"


class OnDemandAttributes(Mapping[str, Any]):
    """`Queue.attributes`, computed per key: the same names and values as moto's property."""

    def __init__(self, queue: models.Queue) -> None:
        self._queue = queue

    def _names(self) -> list[str]:
        queue = self._queue
        names = list(queue.BASE_ATTRIBUTES)
        if queue.fifo_queue:
            names += queue.FIFO_ATTRIBUTES
        if queue.kms_master_key_id:  # type: ignore[attr-defined]
            names += queue.KMS_ATTRIBUTES
        if queue.policy:
            names.append("Policy")
        if queue.redrive_policy:
            names.append("RedrivePolicy")
        return names

    def __getitem__(self, name: str) -> Any:
        if name not in self._names():
            raise KeyError(name)
        if name == "Policy":
            return self._queue.policy
        if name == "RedrivePolicy":
            return json.dumps(self._queue.redrive_policy)
        value = getattr(self._queue, camelcase_to_underscores(name))
        return str(value).lower() if isinstance(value, bool) else value

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __len__(self) -> int:
        return len(self._names())


class VisibleMessages:
    """`Queue.messages` (visible, not delayed), found while iterating instead of listed up front."""

    def __init__(self, queue: models.Queue) -> None:
        self._queue = queue

    def __iter__(self) -> Iterator[models.Message]:
        return (m for m in self._queue._messages if m.visible and not m.delayed)

    def __len__(self) -> int:
        return sum(1 for _ in self)

    def __bool__(self) -> bool:
        return any(True for _ in self)


def _delete_message(self: models.Queue, receipt_handle: str) -> None:
    """moto's delete: gone from the queue and from in-flight, every handle it had remembered."""
    if receipt_handle in self.deleted_messages:
        return  # already deleted: as moto, and SQS, deleting again is fine
    messages = self._messages
    for index, message in enumerate(messages):
        if message.receipt_handle == receipt_handle or receipt_handle in message._old_receipt_handles:
            self._messages = messages[:index] + messages[index + 1 :]  # a new list: receives iterate the old one
            self.pending_messages.discard(message)
            self.deleted_messages.update(message.all_receipt_handles)  # type: ignore[arg-type]
            return
    raise ReceiptHandleIsInvalid()


def _retained(self: models.SQSBackend, queue_name: str, message: models.Message) -> bool:
    retention_period = int(self.get_queue(queue_name).message_retention_period)  # type: ignore[attr-defined]
    return retention_period + message.sent_timestamp / 1000 > unix_time()  # type: ignore[operator]


def apply() -> None:
    installed = metadata.version("moto")
    if installed != WRITTEN_FOR:
        raise RuntimeError(
            f"emulator/moto_sqs.py was written for moto {WRITTEN_FOR}, found {installed}: "
            "re-check the hot paths it replaces (see its docstring) before updating WRITTEN_FOR"
        )
    models.Queue.attributes = property(OnDemandAttributes)  # type: ignore[assignment,method-assign]
    models.SQSBackend.is_message_valid_based_on_retention_period = _retained  # type: ignore[method-assign]
    models.Queue.messages = property(VisibleMessages)  # type: ignore[assignment,method-assign]
    models.Queue.delete_message = _delete_message  # type: ignore[method-assign]
