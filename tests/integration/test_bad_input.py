"""Bad input gets a clear 4xx naming what is wrong, and nothing is queued."""

from __future__ import annotations

import json
from typing import Any

import pytest

from orders.handlers import api
from orders.logic.request import MAX_BODY_BYTES
from orders.models import MAX_ITEMS_PER_ORDER
from tests.factories import FakeLambdaContext, order_request, post_order_event
from tests.fixtures import LAMBDA_ENV, AwsWorld

pytestmark = pytest.mark.integration


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def assert_nothing_queued(aws: AwsWorld) -> None:
    assert aws.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"]) == []


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/xml", "application/x-www-form-urlencoded", "multipart/form-data"],
)
def test_a_body_that_is_not_json_gets_415(orders_service: AwsWorld, content_type: str):
    # multipart/form-data without a boundary makes the validating resolver raise: it must not become a 500
    # GIVEN an order sent as another media type, WHEN it is posted, THEN a 415 and nothing queued
    status, body = invoke(post_order_event(order_request(MUG_CERAMIC_350ML=1), content_type=content_type))
    assert status == 415
    assert body["message"] == "send the order as application/json"
    assert_nothing_queued(orders_service)


def test_json_with_a_charset_is_json(orders_service: AwsWorld):
    # GIVEN JSON with a charset parameter, WHEN it is posted, THEN it is accepted
    event = post_order_event(order_request(MUG_CERAMIC_350ML=1), content_type="application/json; charset=utf-8")
    assert invoke(event)[0] == 202


def test_a_missing_content_type_is_read_as_json(orders_service: AwsWorld):
    # GIVEN an order without a content type, WHEN it is posted, THEN it is read as JSON and accepted
    event = post_order_event(order_request(MUG_CERAMIC_350ML=1))
    del event["headers"]["content-type"]
    assert invoke(event)[0] == 202


def test_an_oversized_body_gets_413_before_it_is_parsed(orders_service: AwsWorld):
    # GIVEN a body over the limit, WHEN it is posted, THEN a 413 on the body, nothing queued
    event = post_order_event('{"items": "' + "x" * (MAX_BODY_BYTES + 1) + '"}')
    status, body = invoke(event)
    assert status == 413
    assert body["errors"][0]["field"] == "body"
    assert_nothing_queued(orders_service)


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([{"sku": f"SKU-{n}", "quantity": 1} for n in range(MAX_ITEMS_PER_ORDER + 1)], "body.items"),
        ([{"sku": "MUG-CERAMIC-350ML", "quantity": -1}], "body.items.0.quantity"),
        ([{"sku": "MUG-CERAMIC-350ML", "quantity": 0}], "body.items.0.quantity"),
        ([{"sku": "MUG-CERAMIC-350ML", "quantity": 10**30}], "body.items.0.quantity"),
        ([{"sku": "MUG-CERAMIC-350ML", "quantity": 1.5}], "body.items.0.quantity"),
        ([{"sku": "MÜG-☕", "quantity": 1}], "body.items.0.sku"),
        ([{"sku": "", "quantity": 1}], "body.items.0.sku"),
    ],
)
def test_bad_lines_get_400_naming_the_field(orders_service: AwsWorld, items: list, field: str):
    # GIVEN an order with a bad line, WHEN it is posted, THEN a 400 names the field, nothing queued
    status, body = invoke(post_order_event({"items": items}))
    assert status == 400
    assert any(error["field"] == field for error in body["errors"]), body
    assert_nothing_queued(orders_service)


@pytest.mark.parametrize("customer_id", ["cust-0042", "someone-else", "", 7, None])
def test_a_body_naming_a_customer_gets_400_even_the_callers_own(orders_service: AwsWorld, customer_id: Any):
    # GIVEN a body with a customer_id (the contract before the token named the customer)
    body = {"customer_id": customer_id, "items": [{"sku": "SCALE-01G", "quantity": 1}]}
    # WHEN it is posted, THEN it is refused on that field: who orders is the token's subject, only
    status, response = invoke(post_order_event(body))
    assert status == 400
    assert [error["field"] for error in response["errors"]] == ["body.customer_id"]
    assert_nothing_queued(orders_service)


def test_an_unknown_route_gets_404_in_the_same_shape(orders_service: AwsWorld):
    # GIVEN a path no route serves, WHEN it is requested, THEN a 404 in the API's one error shape
    event = post_order_event(order_request(MUG_CERAMIC_350ML=1))
    event["rawPath"] = event["requestContext"]["http"]["path"] = "/nope"
    status, body = invoke(event)
    assert status == 404
    assert body["errors"] == [{"field": "path", "message": "not found"}]
