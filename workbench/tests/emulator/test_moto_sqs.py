"""The local cloud's SQS patch: same answers as moto, no cost per queued message, and a loud failure
when moto changes underneath it."""

from __future__ import annotations

import json
from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws
from moto.sqs import models
from moto.sqs.exceptions import ReceiptHandleIsInvalid

from workbench.emulator import moto_sqs
from workbench.measure.sqs_depth import run


@pytest.fixture
def sqs() -> Iterator[tuple[object, models.SQSBackend]]:
    with mock_aws():
        client = boto3.client("sqs", region_name="us-east-1")
        yield client, models.sqs_backends["123456789012"]["us-east-1"]


def test_the_patch_refuses_a_moto_it_was_not_written_for(monkeypatch: pytest.MonkeyPatch):
    # GIVEN another moto release, WHEN the patch applies, THEN it refuses, naming both versions
    monkeypatch.setattr(moto_sqs.metadata, "version", lambda _: "9.9.9")
    with pytest.raises(RuntimeError, match=r"written for moto 5\.2\.5, found 9\.9\.9"):
        moto_sqs.apply()


def test_attributes_on_demand_are_motos_own(sqs: tuple[object, models.SQSBackend]):
    # GIVEN a queue with a redrive policy and messages visible, in flight and delayed
    client, backend = sqs
    dlq = client.create_queue(QueueName="dlq")["QueueUrl"]  # type: ignore[attr-defined]
    dlq_arn = client.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]  # type: ignore[attr-defined]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 5})
    url = client.create_queue(QueueName="q", Attributes={"RedrivePolicy": redrive})["QueueUrl"]  # type: ignore[attr-defined]
    for n in range(5):
        client.send_message(QueueUrl=url, MessageBody=str(n))  # type: ignore[attr-defined]
    client.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)  # type: ignore[attr-defined]
    client.receive_message(QueueUrl=url, MaxNumberOfMessages=2)  # type: ignore[attr-defined]
    queue = backend.get_queue("q")

    # THEN the on-demand mapping holds exactly what moto's property computes, key by key
    original = models.Queue.attributes.fget(queue)  # type: ignore[attr-defined]
    on_demand = moto_sqs.OnDemandAttributes(queue)
    assert dict(on_demand) == original
    assert on_demand.get("ContentBasedDeduplication") is None  # not a FIFO queue: as moto
    assert (on_demand["ApproximateNumberOfMessages"], on_demand["ApproximateNumberOfMessagesNotVisible"]) == (3, 2)
    # … and the lazy view lists the same messages moto's property does
    assert list(moto_sqs.VisibleMessages(queue)) == models.Queue.messages.fget(queue)  # type: ignore[attr-defined]
    assert len(moto_sqs.VisibleMessages(queue)) == 3


def test_delete_removes_the_one_message_and_refuses_an_unknown_handle(sqs: tuple[object, models.SQSBackend]):
    # GIVEN three messages, WHEN one is received and deleted, THEN only it goes, and an unknown handle is refused
    client, backend = sqs
    url = client.create_queue(QueueName="q")["QueueUrl"]  # type: ignore[attr-defined]
    for n in range(3):
        client.send_message(QueueUrl=url, MessageBody=str(n))  # type: ignore[attr-defined]
    received = client.receive_message(QueueUrl=url, MaxNumberOfMessages=1)["Messages"][0]  # type: ignore[attr-defined]
    queue = backend.get_queue("q")

    moto_sqs._delete_message(queue, received["ReceiptHandle"])
    moto_sqs._delete_message(queue, received["ReceiptHandle"])  # again: fine, as on SQS

    assert [m.body for m in queue._messages] == [str(n) for n in range(3) if str(n) != received["Body"]]
    assert not queue.pending_messages
    with pytest.raises(ReceiptHandleIsInvalid):
        moto_sqs._delete_message(queue, "not-a-handle")


@pytest.mark.integration
@pytest.mark.timing
def test_calls_cost_the_same_with_ten_or_thousands_of_messages_queued():
    # WHEN the local cloud's moto (patched) answers with 10 and with 3,000 messages queued
    costs = run(patched=True, depths=(10, 3000))

    # THEN each operation costs within a wide band of the same: moto as released grows send and receive
    # 20-40x by 2,000 messages (`workbench sqs --unpatched`); the two depths are measured one after the
    # other, so a busy machine can stretch one side (2.7x seen under a loaded CI run), hence 8x
    for operation in ("send", "receive", "delete"):
        ratio = costs[3000][operation] / costs[10][operation]
        assert ratio < 8, f"{operation}: {costs[10][operation]:.1f} ms at 10, {costs[3000][operation]:.1f} at 3,000"
