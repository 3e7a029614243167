"""SQS event source mappings of any template: FilterCriteria, Enabled, and the partial batch response as Lambda
reads it, and its scaling settings as the template's conditions decide them (templates/sqs-mappings/: no database)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.emulator.event_sources import DrainError, SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "sqs-mappings"


@pytest.fixture(scope="module")
def mappings(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalService]:
    folder = application_copy(APPLICATION, tmp_path_factory.mktemp("sqs"))
    with LocalService(template=folder / "template.yaml") as service:
        yield service


def send(service: LocalService, queue: str, *bodies: Any) -> None:
    sqs = service.cloud.client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=service.queue_url(queue), MessageBody=body if isinstance(body, str) else json.dumps(body)
        )


def waiting(service: LocalService, queue: str, *, take: bool = False) -> list[str]:
    """The bodies in the queue (received, so in flight for a while; taken: deleted too)."""
    sqs = service.cloud.client("sqs")
    messages = sqs.receive_message(QueueUrl=service.queue_url(queue), MaxNumberOfMessages=10).get("Messages", [])
    for message in messages if take else []:
        sqs.delete_message(QueueUrl=service.queue_url(queue), ReceiptHandle=message["ReceiptHandle"])
    return [m["Body"] for m in messages]


def test_only_messages_a_filter_matches_reach_the_function_the_others_are_deleted(mappings: LocalService):
    # GIVEN messages for the two filters (an order over 10; a refund-* kind), and others that match neither
    send(
        mappings,
        "Orders",
        {"n": 1, "kind": "order", "amount": 20},
        {"n": 2, "kind": "order", "amount": 5},  # the numeric rule fails
        {"n": 3, "kind": "refund-partial"},  # the second filter's prefix
        "plain text, not JSON",  # a body filter cannot match a string body
        {"n": 5, "kind": "other"},
    )

    # WHEN the mapping drains the queue
    stats = SqsEventSource(mappings, "FilteredConsumer").drain()

    # THEN the function saw the two that matched; the three others were deleted unseen, not dead-lettered
    received = sorted(n for invocation in stats.invocations for n in invocation.payload["received"])
    assert received == [1, 3]
    assert stats.messages_filtered_out == 3
    assert waiting(mappings, "Orders") == []
    assert waiting(mappings, "DeadLetters") == []


@pytest.mark.parametrize(
    ("answer", "whole_batch_fails"),
    [
        ({"batchItemFailures": "not a list"}, True),
        ("ok", True),  # not a partial batch response at all
        ({"batchItemFailures": [{"itemIdentifier": "no-such-message"}]}, True),
        ({"batchItemFailures": [{"id": "wrong key"}]}, True),
        ({"batchItemFailures": None}, False),  # null and empty are successes
        ({"batchItemFailures": []}, False),
        (None, False),
    ],
)
def test_a_response_lambda_cannot_read_fails_the_whole_batch(
    mappings: LocalService, answer: Any, whole_batch_fails: bool
):
    # GIVEN one order whose handler answers `answer`
    send(mappings, "Orders", {"n": 9, "kind": "order", "amount": 99, "answer": answer})

    # WHEN the mapping drains the queue
    stats = SqsEventSource(mappings, "FilteredConsumer").drain()

    # THEN an unreadable response returned the message until the redrive policy dead-lettered it (2 receives)
    if whole_batch_fails:
        assert (stats.messages_deleted, stats.messages_returned) == (0, 2)
        assert len(waiting(mappings, "DeadLetters", take=True)) == 1
    else:
        assert (stats.messages_deleted, stats.messages_returned) == (1, 0)
        assert waiting(mappings, "DeadLetters") == []


def test_a_disabled_mapping_polls_nothing_and_says_so(mappings: LocalService):
    # GIVEN a message in the queue of the mapping that has Enabled: false
    send(mappings, "Paused", {"n": 1})
    source = SqsEventSource(mappings, "PausedConsumer")

    # THEN no poller starts, a drain says why it cannot, and the message stays for when it is enabled
    assert source.start_polling(threading.Event()) == []
    with pytest.raises(DrainError, match="Enabled: false"):
        source.drain()
    assert source.stats.invocations == []
    assert waiting(mappings, "Paused") == [json.dumps({"n": 1})]


def test_on_demand_pollers_run_maximum_concurrency_batches_after_the_batching_window(mappings: LocalService):
    # GIVEN the template's defaults: on-demand pollers, MaximumConcurrency 3, a 2 s window (both inside !If)
    source = SqsEventSource(mappings, "ScaledConsumer")

    # THEN the mapping runs as CloudFormation would have configured it
    assert (source.max_concurrency, source.pollers, source.batching_window_s) == (3, 3, 2.0)


def test_provisioned_pollers_run_ten_batches_each_and_say_what_is_not_emulated(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # GIVEN the same template deployed with provisioned pollers (at most 4)
    folder = application_copy(APPLICATION, tmp_path)
    overrides = {"MinimumPollers": "2", "MaximumPollers": "4"}
    with LocalService(template=folder / "template.yaml", parameter_overrides=overrides) as service:
        # WHEN its mapping is created
        source = SqsEventSource(service, "ScaledConsumer")

        # THEN up to 10 batches a poller, no batching window, polled by as many threads as this host runs at once
        assert (source.max_concurrency, source.batching_window_s) == (40, 0.0)
        assert source.pollers == min(40, service.pool("ScaledConsumer").max_environments)
    # … and what the runner does not reproduce is said
    assert "provisioned SQS pollers: up to 4 x 10 batches at once; not emulated" in capsys.readouterr().err


def granted(service: LocalService, function: str) -> list[str]:
    """The actions the function's role grants, over its inline policies."""
    iam = service.cloud.client("iam")
    role = service.cloud.role_names[function]
    documents = [
        iam.get_role_policy(RoleName=role, PolicyName=name)["PolicyDocument"]
        for name in iam.list_role_policies(RoleName=role)["PolicyNames"]
    ]
    actions = [s["Action"] for d in documents for s in d["Statement"]]
    return sorted(a for action in actions for a in (action if isinstance(action, list) else [action]))


def test_a_policy_inside_if_is_granted_only_when_its_condition_holds(mappings: LocalService, tmp_path: Path):
    # GIVEN ScaledConsumer's Policies: an inline statement inside !If (provisioned pollers), and a policy template
    # WHEN deployed with on-demand pollers, THEN only the policy template's grant is there
    assert granted(mappings, "ScaledConsumer") == ["sqs:SendMessage*"]
    # AND with provisioned pollers, the conditional statement too
    folder = application_copy(APPLICATION, tmp_path)
    overrides = {"MinimumPollers": "2"}
    with LocalService(template=folder / "template.yaml", parameter_overrides=overrides) as service:
        assert granted(service, "ScaledConsumer") == ["sqs:SendMessage", "sqs:SendMessage*"]
