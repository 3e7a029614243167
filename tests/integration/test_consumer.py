"""OrdersConsumer: batch writes of 25, bounded retries of UnprocessedItems, failures by messageId."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orders.config import ConsumerSettings, get_settings
from orders.handlers import consumer
from sam_testkit.dynamodb_faults import UnprocessedItemsInjector, _answer
from tests.factories import FakeLambdaContext, load_event, order_message, sqs_event
from tests.fixtures import AwsWorld

pytestmark = pytest.mark.integration


def consume(event):
    return consumer.handler(event, FakeLambdaContext())


def failed_ids(response) -> set[str]:
    return {failure["itemIdentifier"] for failure in response["batchItemFailures"]}


def test_sixty_orders_take_three_batch_writes(aws: AwsWorld):
    # GIVEN a batch of 60 valid orders
    orders = [order_message() for _ in range(60)]

    # WHEN the consumer handles it
    response = consume(sqs_event(orders))

    # THEN 25 + 25 + 10 items went in exactly three BatchWriteItem calls, and every order is stored
    assert response == {"batchItemFailures": []}
    assert aws.calls["dynamodb.BatchWriteItem"] == 3
    assert aws.calls["dynamodb.PutItem"] == 0
    assert aws.stored_order_ids() == {order["order_id"] for order in orders}


def test_unprocessed_items_are_retried_until_stored(aws: AwsWorld):
    # GIVEN DynamoDB leaves every third item unprocessed on the first call
    injector = UnprocessedItemsInjector(lambda order_id, call: call == 1 and int(order_id[-2:]) % 3 == 0)
    injector.install(_functions_session_events())
    orders = [order_message(f"order-{n:02d}") for n in range(20)]

    # WHEN the consumer handles the batch
    response = consume(sqs_event(orders))

    # THEN the withheld items were retried in a second call and nothing failed
    assert injector.items_left_unprocessed == 7
    assert aws.calls["dynamodb.BatchWriteItem"] == 2
    assert response == {"batchItemFailures": []}
    assert aws.stored_order_ids() == {order["order_id"] for order in orders}


def test_items_still_unprocessed_after_the_bound_fail_by_message_id(aws: AwsWorld):
    # GIVEN two orders DynamoDB never accepts, among ten
    stubborn = {"order-03", "order-07"}
    injector = UnprocessedItemsInjector(lambda order_id, call: order_id in stubborn)
    injector.install(_functions_session_events())
    orders = [order_message(f"order-{n:02d}") for n in range(10)]
    event = sqs_event(orders)
    message_ids = {json.loads(r["body"])["order_id"]: r["messageId"] for r in event["Records"]}

    # WHEN the consumer handles the batch
    response = consume(event)

    # THEN it gave up after the bounded attempts and reported exactly those two messages
    assert aws.calls["dynamodb.BatchWriteItem"] == 5  # BATCH_WRITE_MAX_ATTEMPTS default
    assert failed_ids(response) == {message_ids["order-03"], message_ids["order-07"]}
    assert aws.stored_order_ids() == {order["order_id"] for order in orders} - stubborn


def test_a_malformed_body_fails_only_itself(aws: AwsWorld):
    # GIVEN the events/ batch: two valid orders and one truncated JSON body
    event = load_event("sqs_orders_batch.json")
    poison = event["Records"][2]["messageId"]

    # WHEN the consumer handles it
    response = consume(event)

    # THEN only the poison message is reported, and both valid orders are stored
    assert failed_ids(response) == {poison}
    assert aws.stored_order_ids() == {json.loads(r["body"])["order_id"] for r in event["Records"][:2]}


@pytest.mark.parametrize(
    "bad_body",
    [
        "",
        "[]",
        '{"order_id": "x"}',
        json.dumps(order_message() | {"total_cents": -5}),
        json.dumps(order_message() | {"unexpected": True}),
        json.dumps(order_message() | {"items": [{"sku": "A", "quantity": "many"}]}),
    ],
)
def test_each_kind_of_bad_body_fails_alone(aws: AwsWorld, bad_body: str):
    # GIVEN a batch of a good order and a bad body, WHEN it is consumed
    # THEN only the bad one fails, the good one is stored
    good = order_message()
    event = sqs_event([good, bad_body])

    response = consume(event)

    assert failed_ids(response) == {event["Records"][1]["messageId"]}
    assert aws.stored_order_ids() == {good["order_id"]}


@pytest.mark.parametrize(
    "poison",
    [
        order_message() | {"total_cents": 10**39},  # over DynamoDB's 38 digits
        order_message(MUG_CERAMIC_350ML=2**32),  # a price the catalog's INT UNSIGNED cannot hold
        order_message(created_at="0001-01-01T00:30:00+01:00"),  # its UTC day is in year 0
        order_message(created_at="9999-12-31T23:30:00-01:00"),  # … or in year 10000
        order_message(created_at="2026-11-22T14:03:11"),  # naive: no UTC day at all
    ],
)
def test_an_order_dynamodb_or_the_totals_could_not_hold_fails_alone(aws: AwsWorld, poison: dict[str, object]):
    # GIVEN nine good orders and one a second producer (or a hand-sent message) got wrong
    good = [order_message() for _ in range(9)]
    event = sqs_event([*good[:4], poison, *good[4:]])

    # WHEN the consumer handles the batch
    response = consume(event)

    # THEN only that one fails (and goes on to the DLQ); the nine are stored
    assert failed_ids(response) == {event["Records"][4]["messageId"]}
    assert aws.stored_order_ids() == {order["order_id"] for order in good}


def test_an_order_that_cannot_become_an_item_fails_alone_in_write_orders(aws: AwsWorld):
    # GIVEN orders for write_orders, one of them never validated (as a future caller might build it)
    from orders.adapters.orders_table import write_orders
    from orders.models import Order

    good = [Order.model_validate(order_message()) for _ in range(3)]
    broken = Order.model_validate(order_message()).model_copy(update={"total_cents": 10**39})  # not validated

    # WHEN they are written together
    unstored = write_orders(get_settings(ConsumerSettings), [good[0], broken, *good[1:]])

    # THEN the one that cannot be serialized is reported, the others are stored
    assert set(unstored) == {broken.order_id}
    assert unstored[broken.order_id].startswith("not storable:")
    assert aws.stored_order_ids() == {order.order_id for order in good}


def test_a_redelivered_order_in_the_same_batch_is_written_once(aws: AwsWorld):
    # GIVEN the same order delivered twice in one batch (SQS is at-least-once)
    order = order_message()

    # WHEN the consumer handles it
    response = consume(sqs_event([order, order]))

    # THEN one item was written (a repeated key would make DynamoDB reject the call) and both messages succeed
    assert response == {"batchItemFailures": []}
    assert aws.stored_order_ids() == {order["order_id"]}


def test_a_batch_where_everything_fails_raises_so_lambda_retries_it(aws: AwsWorld):
    # GIVEN a batch with only poison messages
    event = sqs_event(["{", "not json"])

    # WHEN / THEN the consumer raises instead of acknowledging the batch with an empty failure list
    with pytest.raises(BatchProcessingError):
        consume(event)


def _functions_session_events():
    """The event emitter of the session the functions build their clients from."""
    import boto3

    assert boto3.DEFAULT_SESSION is not None
    return boto3.DEFAULT_SESSION.events


def test_a_throttled_batch_write_is_retried_by_the_consumer(aws: AwsWorld):
    # GIVEN DynamoDB throttles the first two BatchWriteItem calls outright
    from sam_testkit.dynamodb_faults import ThrottlingInjector

    throttling = ThrottlingInjector(calls=2).install(_functions_session_events())
    orders = [order_message() for _ in range(3)]

    # WHEN the consumer handles a batch
    response = consume(sqs_event(orders))

    # THEN it backed off, retried, and stored everything
    assert throttling.throttled == 2
    assert response == {"batchItemFailures": []}
    assert aws.stored_order_ids() == {order["order_id"] for order in orders}


def test_an_unreadable_table_fails_every_order_unwritten(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch):
    # GIVEN the orders table does not exist (a misconfiguration DynamoDB will not fix by retrying)
    monkeypatch.setenv("ORDERS_TABLE_NAME", "no-such-table")
    from tests.fixtures import reset_execution_environment

    reset_execution_environment()
    event = sqs_event([order_message(), "{"])

    # WHEN the consumer handles a batch
    # THEN the stored orders could not be read, nothing was written unchecked, every record failed and the
    # batch is retried as a whole (nothing is acknowledged)
    with pytest.raises(BatchProcessingError):
        consume(event)
    assert aws.calls["dynamodb.BatchGetItem"] == 1
    assert aws.calls["dynamodb.BatchWriteItem"] == 0


def test_a_non_retryable_write_error_fails_the_chunk_not_the_batch(aws: AwsWorld):
    # GIVEN BatchWriteItem is refused outright (as an IAM policy without it would), reads still work
    def refuse(**_: object):
        error = {"Code": "AccessDeniedException", "Message": "not authorized to perform: dynamodb:BatchWriteItem"}
        return _answer(400), {"Error": error, "ResponseMetadata": {}}

    _functions_session_events().register_first("before-call.dynamodb.BatchWriteItem", refuse)
    orders = [order_message() for _ in range(30)]

    # WHEN the consumer handles a batch of two chunks (25 + 5) and one malformed body
    event = sqs_event([*orders, "{"])
    with pytest.raises(BatchProcessingError) as raised:
        consume(event)

    # THEN each chunk was tried once, not retried, and every record failed naming why
    assert aws.calls["dynamodb.BatchWriteItem"] == 2
    assert "AccessDeniedException: not authorized" in str(raised.value.child_exceptions)


def test_a_conflicting_duplicate_in_one_batch_fails_and_the_first_is_stored(aws: AwsWorld):
    # GIVEN two messages with one order_id and different contents, and an unrelated order, in one batch
    first = order_message(MUG_CERAMIC_350ML=1200)
    changed = {
        **first,
        "total_cents": 1,
        "items": [{**first["items"][0], "unit_price_cents": 1, "line_total_cents": 1}],
    }
    event = sqs_event([first, changed, order_message()])

    # WHEN the consumer handles it
    response = consume(event)

    # THEN the later one fails (SQS redelivers it to the DLQ) and the first is what is stored
    assert failed_ids(response) == {event["Records"][1]["messageId"]}
    assert aws.stored_order(first["order_id"])["total_cents"] == first["total_cents"]


def test_a_delivery_that_differs_from_the_stored_order_fails_and_never_overwrites_it(aws: AwsWorld):
    # GIVEN an order stored by an earlier batch
    stored = order_message(MUG_CERAMIC_350ML=1200)
    assert consume(sqs_event([stored])) == {"batchItemFailures": []}

    # WHEN a later batch brings other contents under its id, and a repeat of it as stored
    changed = {**stored, "customer_id": "someone-else"}
    event = sqs_event([changed, stored])
    writes_before = aws.calls["dynamodb.BatchWriteItem"]
    response = consume(event)

    # THEN the changed one fails, the repeat succeeds without a write, and the stored order is untouched
    assert failed_ids(response) == {event["Records"][0]["messageId"]}
    assert aws.calls["dynamodb.BatchWriteItem"] == writes_before
    assert aws.stored_order(stored["order_id"])["customer_id"] == stored["customer_id"]


@given(
    st.lists(st.one_of(st.text(max_size=40), st.binary(max_size=20).map(repr), st.just("{}")), min_size=1, max_size=8)
)
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_arbitrary_bodies_fail_alone(aws: AwsWorld, bad_bodies: list[str]):
    # GIVEN a batch mixing valid orders with arbitrary bodies
    good = [order_message() for _ in range(3)]
    event = sqs_event([*good, *bad_bodies])
    bad_ids = {record["messageId"] for record in event["Records"][3:]}

    # WHEN the consumer handles it
    response = consume(event)

    # THEN exactly the arbitrary bodies failed, by messageId, and the valid orders are stored
    assert failed_ids(response) == bad_ids
    assert {order["order_id"] for order in good} <= aws.stored_order_ids()


def test_a_late_order_whose_day_cannot_be_marked_fails_alone(aws: AwsWorld, monkeypatch: pytest.MonkeyPatch):
    # GIVEN the late-days table is unreachable, and a batch of an order of a past day and one of today
    monkeypatch.setenv("LATE_DAYS_TABLE_NAME", "no-such-table")
    from tests.fixtures import reset_execution_environment

    reset_execution_environment()
    soon = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).replace(microsecond=0).isoformat()
    late, current = order_message(created_at="2026-11-22T08:00:00Z"), order_message(created_at=soon)
    event = sqs_event([late, current])

    # WHEN the consumer handles it
    response = consume(event)

    # THEN both are stored, but the late one is delivered again (its day must reach the rollup)
    assert failed_ids(response) == {event["Records"][0]["messageId"]}
    assert aws.stored_order_ids() == {late["order_id"], current["order_id"]}


def test_keys_dynamodb_leaves_unread_are_retried_then_the_orders_fail_unwritten(aws: AwsWorld):
    # GIVEN DynamoDB hands back every key of every BatchGetItem unprocessed
    def leave_unread(params: dict[str, Any], **_: object):
        requested = json.loads(params["body"])["RequestItems"]  # before-call sees the serialized request
        return _answer(200), {"Responses": {}, "UnprocessedKeys": requested, "ResponseMetadata": {}}

    _functions_session_events().register_first("before-call.dynamodb.BatchGetItem", leave_unread)
    event = sqs_event([order_message(), order_message()])

    # WHEN the consumer handles a batch
    with pytest.raises(BatchProcessingError) as raised:
        consume(event)

    # THEN the read was retried up to the bound, nothing was written unchecked, and each order says why
    assert aws.calls["dynamodb.BatchGetItem"] == get_settings(ConsumerSettings).batch_write_max_attempts
    assert aws.calls["dynamodb.BatchWriteItem"] == 0
    assert "not checked against stored orders" in str(raised.value.child_exceptions)
