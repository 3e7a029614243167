"""`workbench sqs`: what an SQS call costs against the local cloud as the queue grows.

Starts the local cloud's moto process on its own, fills one queue to each depth and times, per call,
SendMessageBatch (10), ReceiveMessage (10) and DeleteMessageBatch (10): median of repeated calls.
`--unpatched` runs moto as released, for the comparison (emulator/moto_sqs.py says why).
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import boto3

from workbench.emulator.aws_server import MOTO_AS_RELEASED
from workbench.emulator.cloud import start_aws_server

DEPTHS = (10, 1000, 5000)
CALLS = 15
LOCAL_CREDENTIAL = "local"  # moto accepts any key


@contextmanager
def moto_server(patched: bool) -> Iterator[str]:
    environment = {**os.environ, **({} if patched else {MOTO_AS_RELEASED: "1"})}
    server, port = start_aws_server("127.0.0.1", 0, environment)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)


def measure(endpoint: str, depth: int) -> dict[str, float]:
    """Median ms per call of each operation with `depth` messages in the queue."""
    sqs = boto3.client(
        "sqs",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=LOCAL_CREDENTIAL,
        aws_secret_access_key=LOCAL_CREDENTIAL,
    )
    url = sqs.create_queue(QueueName=f"depth-{depth}", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    entries: list[Any] = [{"Id": str(i), "MessageBody": "x"} for i in range(10)]
    for start in range(0, depth, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=entries[: min(10, depth - start)])
    timings: dict[str, list[float]] = {"send": [], "receive": [], "delete": []}
    for _ in range(CALLS):
        started = time.perf_counter()
        sqs.send_message_batch(QueueUrl=url, Entries=entries)
        timings["send"].append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        timings["receive"].append((time.perf_counter() - started) * 1000)
        handles: list[Any] = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)]
        started = time.perf_counter()
        sqs.delete_message_batch(QueueUrl=url, Entries=handles)
        timings["delete"].append((time.perf_counter() - started) * 1000)
    return {name: statistics.median(values) for name, values in timings.items()}


def run(patched: bool = True, depths: tuple[int, ...] = DEPTHS) -> dict[int, dict[str, float]]:
    with moto_server(patched) as endpoint:
        return {depth: measure(endpoint, depth) for depth in depths}


def main(argv: list[str]) -> int:
    patched = "--unpatched" not in argv
    results = run(patched)
    print(f"ms per call, median of {CALLS} ({'patched' if patched else 'moto as released'})")
    print(f"{'depth':>6} {'send (10)':>10} {'receive (10)':>13} {'delete (10)':>12}")
    for depth, times in results.items():
        print(f"{depth:>6} {times['send']:>10.1f} {times['receive']:>13.1f} {times['delete']:>12.1f}")
    return 0
