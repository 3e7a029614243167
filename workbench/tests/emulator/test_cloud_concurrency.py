"""The local cloud under concurrent callers: the runner's pollers, API environments and consumers call
it from many threads at once, and moto's backends are not written for that (emulator/moto_threads.py)."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from workbench.emulator.aws_server import SWITCH_INTERVAL
from workbench.emulator.cloud import ADMIN_CREDENTIALS, RequestCounts, start_aws_server

pytestmark = pytest.mark.integration
THREADS = 10
ROUNDS = 30
HELD_ROUNDS = 5  # what a thread received stays in flight for this many rounds
NO_RETRIES = Config(retries={"total_max_attempts": 1, "mode": "standard"})  # a 5xx must reach the test


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    """The local cloud, switching threads every microsecond: the races below show on every run without
    emulator/moto_threads.py (with LOCAL_RUNNER_MOTO_AS_RELEASED=1 they do), whatever the machine."""
    environment = os.environ | {SWITCH_INTERVAL: "0.000001"}
    server, port = start_aws_server("127.0.0.1", 0, environment)
    yield f"http://127.0.0.1:{port}"
    server.terminate()
    server.wait(timeout=10)


def client(endpoint: str, service: str) -> Any:
    session = boto3.session.Session(
        aws_access_key_id=ADMIN_CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=ADMIN_CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=ADMIN_CREDENTIALS["AWS_SESSION_TOKEN"],
        region_name="us-east-1",
    )
    return session.client(service, endpoint_url=endpoint, config=NO_RETRIES)  # type: ignore[call-overload]


def hammer(work: Callable[[int], None]) -> list[BaseException]:
    """`work(thread_number)` from THREADS threads released at once; what any of them raised."""
    failures: list[BaseException] = []
    start = threading.Barrier(THREADS)

    def run(number: int) -> None:
        start.wait()
        try:
            work(number)
        except Exception as error:
            failures.append(error)

    threads = [threading.Thread(target=run, args=(n,)) for n in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def test_send_receive_and_delete_from_many_threads_answer_no_5xx_and_lose_nothing(endpoint: str):
    # GIVEN one queue with messages queued, and a client per thread that does not retry
    url = client(endpoint, "sqs").create_queue(QueueName="hammered")["QueueUrl"]
    clients = [client(endpoint, "sqs") for _ in range(THREADS)]
    queued = [f"queued-{n}" for n in range(THREADS * ROUNDS)]
    for start in range(0, len(queued), 10):
        entries = [{"Id": str(i), "MessageBody": body} for i, body in enumerate(queued[start : start + 10])]
        clients[0].send_message_batch(QueueUrl=url, Entries=entries)
    received: list[str] = []
    lock = threading.Lock()

    # WHEN every thread sends, receives and deletes at once, keeping what it received in flight a few rounds
    # (moto walks the in-flight set on every receive: the larger it is, the wider the race)
    def work(number: int) -> None:
        sqs = clients[number]
        in_flight: list[dict[str, Any]] = []

        def delete_in_flight() -> None:
            if in_flight:
                for start in range(0, len(in_flight), 10):
                    batch = in_flight[start : start + 10]
                    entries = [{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)]
                    assert not sqs.delete_message_batch(QueueUrl=url, Entries=entries).get("Failed")
                with lock:
                    received.extend(m["Body"] for m in in_flight)

        for round_number in range(ROUNDS):
            sqs.send_message(QueueUrl=url, MessageBody=f"{number}-{round_number}")
            if round_number % HELD_ROUNDS == 0:
                delete_in_flight()
                in_flight = []
            in_flight += sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        delete_in_flight()

    failures = hammer(work)
    while rest := clients[0].receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        received.extend(m["Body"] for m in rest)
        for message in rest:
            clients[0].delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])

    # THEN no call failed, the server answered no 5xx, and every message came out exactly once
    assert failures == []
    assert RequestCounts(endpoint).server_errors() == {}
    sent = queued + [f"{n}-{r}" for n in range(THREADS) for r in range(ROUNDS)]
    assert sorted(received) == sorted(sent)


def test_dynamodb_and_secrets_from_many_threads_answer_no_5xx(endpoint: str):
    # GIVEN a table with an index, a secret, and clients per thread that do not retry
    admin = client(endpoint, "dynamodb")
    admin.create_table(
        TableName="hammered",
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "id", "AttributeType": "S"},
            {"AttributeName": "day", "AttributeType": "S"},
        ],
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        GlobalSecondaryIndexes=[
            {
                "IndexName": "by-day",
                "KeySchema": [{"AttributeName": "day", "KeyType": "HASH"}, {"AttributeName": "id", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "ALL"},
            }
        ],
    )
    secret = client(endpoint, "secretsmanager").create_secret(Name="hammered", SecretString="{}")["ARN"]
    tables = [client(endpoint, "dynamodb") for _ in range(THREADS)]
    secrets = [client(endpoint, "secretsmanager") for _ in range(THREADS)]

    # WHEN every thread writes, reads, queries and scans the table, and reads and rotates the secret, at once
    def work(number: int) -> None:
        for round_number in range(ROUNDS):
            key = f"{number}-{round_number}"
            item = {"id": {"S": key}, "day": {"S": "d"}}
            tables[number].batch_write_item(RequestItems={"hammered": [{"PutRequest": {"Item": item}}]})
            tables[number].put_item(TableName="hammered", Item={"id": {"S": f"{key}-p"}, "day": {"S": "d"}})
            tables[number].get_item(TableName="hammered", Key={"id": {"S": key}})
            tables[number].query(
                TableName="hammered",
                IndexName="by-day",
                KeyConditionExpression="#d = :d",
                ExpressionAttributeNames={"#d": "day"},
                ExpressionAttributeValues={":d": {"S": "d"}},
                Limit=20,
            )
            tables[number].scan(TableName="hammered", Limit=20)
            secrets[number].get_secret_value(SecretId=secret)
            secrets[number].put_secret_value(SecretId=secret, SecretString=json.dumps({"v": key}))

    failures = hammer(work)

    # THEN no call failed, the server answered no 5xx, and every write is there
    assert failures == []
    assert RequestCounts(endpoint).server_errors() == {}
    count = sum(page["Count"] for page in admin.get_paginator("scan").paginate(TableName="hammered"))
    assert count == 2 * THREADS * ROUNDS
