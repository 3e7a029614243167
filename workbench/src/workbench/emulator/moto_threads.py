"""moto's backends made safe for the local cloud's threaded server, applied inside its process only.

The runner calls the local cloud from many threads at once (API environments, the queue's pollers,
consumers), and moto's backends are written for one caller at a time: a receive walks the queue's
in-flight set while another request changes it (`RuntimeError: Set changed size during iteration`,
seen as 500s during `make load`), a delete replaces the message list while a send appends to the old
one (a message lost), a query walks a table's items while a put adds one (`dictionary changed size
during iteration`), and likewise for a secret's versions. workbench/tests/emulator/test_cloud_concurrency.py
shows each with moto as released, and none with this applied.

- SQS: each queue's operations hold that queue's own lock — moto's `Queue._messages_lock`, the
  condition a long poll waits on, so a waiting ReceiveMessage releases it and never blocks a send;
  queues do not wait for one another.
- DynamoDB and Secrets Manager: every backend call holds one lock per service. Their calls never
  wait, and the server runs one interpreter, so one at a time costs no parallelism there was.
"""

from __future__ import annotations

import functools
import inspect
import threading
import types
from collections.abc import Callable
from typing import Any

from moto.dynamodb.models import DynamoDBBackend
from moto.secretsmanager.models import SecretsManagerBackend
from moto.sqs.models import SQSBackend

# SQSBackend's calls that read or change one queue's messages; each takes the queue's name first.
QUEUE_OPERATIONS = (
    "send_message",
    "send_message_batch",
    "receive_message",
    "delete_message",
    "delete_message_batch",
    "change_message_visibility",
    "change_message_visibility_batch",
    "purge_queue",
    "get_queue_attributes",
    "set_queue_attributes",
)
_APPLIED = "_local_runner_serialized"


def _holding_the_queue(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(self: SQSBackend, queue_name: str, *args: Any, **kwargs: Any) -> Any:
        with self.get_queue(queue_name)._messages_lock:  # an RLock's condition: a long poll's wait releases it
            return method(self, queue_name, *args, **kwargs)

    return locked


def _holding(lock: threading.RLock, method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def locked(*args: Any, **kwargs: Any) -> Any:
        with lock:
            return method(*args, **kwargs)

    return locked


def _public_methods(backend: type) -> list[str]:
    """Its own and inherited instance methods (static and class methods keep their binding)."""
    return [
        name
        for name in dir(backend)
        if not name.startswith("_") and isinstance(inspect.getattr_static(backend, name), types.FunctionType)
    ]


def apply() -> None:
    if getattr(SQSBackend, _APPLIED, False):
        return
    for name in QUEUE_OPERATIONS:
        setattr(SQSBackend, name, _holding_the_queue(getattr(SQSBackend, name)))
    for backend in (DynamoDBBackend, SecretsManagerBackend):
        lock = threading.RLock()  # reentrant: a backend call may call another (batch → put)
        for name in _public_methods(backend):
            setattr(backend, name, _holding(lock, getattr(backend, name)))
        setattr(backend, _APPLIED, True)
    setattr(SQSBackend, _APPLIED, True)
