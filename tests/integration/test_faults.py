"""The fault injectors themselves: what they inject is what a throttled DynamoDB would do."""

from __future__ import annotations

import random

import pytest
from botocore.exceptions import ClientError

from orders.adapters.aws_clients import dynamodb_client
from sam_testkit.dynamodb_faults import SdkVisibleThrottling, random_unprocessed
from tests.fixtures import LAMBDA_ENV, AwsWorld

TABLE = LAMBDA_ENV["ORDERS_TABLE_NAME"]


def put(order_id: str) -> dict:
    return {"PutRequest": {"Item": {"order_id": {"S": order_id}}}}


def test_sdk_visible_throttling_goes_through_the_sdk_retries(aws: AwsWorld):
    # GIVEN every BatchWriteItem attempt is throttled
    client = dynamodb_client()
    throttling = SdkVisibleThrottling(rate=1.0, rng=random.Random(1)).install(client.meta.events)

    # WHEN a call is made
    with pytest.raises(ClientError) as raised:
        client.batch_write_item(RequestItems={TABLE: [put("a")]})

    # THEN the SDK retried it (standard mode, max_attempts=3 retries: 4 attempts) before giving up
    assert raised.value.response["Error"]["Code"] == "ProvisionedThroughputExceededException"
    assert throttling.throttled == 4


def test_occasional_throttling_is_absorbed_by_the_sdk(aws: AwsWorld):
    # GIVEN DynamoDB throttling half of the attempts, WHEN ten writes are sent, THEN the SDK's retries store them all
    client = dynamodb_client()
    throttling = SdkVisibleThrottling(rate=0.5, rng=random.Random(3)).install(client.meta.events)
    for n in range(10):
        client.batch_write_item(RequestItems={TABLE: [put(f"o-{n}")]})
    assert throttling.throttled > 0
    assert len(aws.stored_order_ids()) == 10


def test_random_unprocessed_withholds_items_of_chosen_calls_only(aws: AwsWorld):
    # GIVEN an injector leaving every item of every call unprocessed, WHEN a batch is written
    # THEN none is stored and all come back
    client = dynamodb_client()
    injector = random_unprocessed(rate=1.0, share=1.0, rng=random.Random(1)).install(client.meta.events)
    response = client.batch_write_item(RequestItems={TABLE: [put("x"), put("y")]})
    assert len(response["UnprocessedItems"][TABLE]) == 2
    assert aws.stored_order_ids() == set()
    assert injector.items_left_unprocessed == 2
