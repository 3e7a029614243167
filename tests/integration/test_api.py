"""ApiFunction against moto and the real MySQL catalog."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tools import openapi

from orders.adapters.orders_table import to_item
from orders.handlers import api
from orders.models import Order
from sam_testkit.sam_template import read_template, resources_of_type, transformed
from tests.factories import (
    CUSTOMER,
    FakeLambdaContext,
    get_order_event,
    load_event,
    order_message,
    order_request,
    post_order_event,
)
from tests.fixtures import LAMBDA_ENV, TEMPLATE, AwsWorld

pytestmark = pytest.mark.integration


def invoke(event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = api.handler(event, FakeLambdaContext())
    return response["statusCode"], json.loads(response["body"])


def test_valid_order_is_priced_from_the_catalog_and_queued(orders_service: AwsWorld):
    # GIVEN an order for two catalog SKUs
    event = post_order_event(order_request(COFFEE_BEANS_1KG=2, FILTER_PAPER_100=3))

    # WHEN it is posted
    status, body = invoke(event)

    # THEN it is accepted, priced from MySQL, and the priced order is the queue message
    assert status == 202
    assert body["status"] == "accepted"
    assert body["total_cents"] == 2 * 2450 + 3 * 499
    (message,) = orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"])
    queued = json.loads(message["Body"])
    assert queued["order_id"] == body["order_id"]
    assert queued["customer_id"] == "cust-0042"
    assert queued["items"] == [
        {"sku": "COFFEE-BEANS-1KG", "quantity": 2, "unit_price_cents": 2450, "line_total_cents": 4900},
        {"sku": "FILTER-PAPER-100", "quantity": 3, "unit_price_cents": 499, "line_total_cents": 1497},
    ]
    assert queued["total_cents"] == body["total_cents"]


def test_the_post_order_event_file_is_accepted(orders_service: AwsWorld):
    # GIVEN the committed POST event, WHEN the API handles it, THEN it is accepted at the catalog's prices
    status, body = invoke(load_event("api_post_order.json"))
    assert status == 202
    assert body["total_cents"] == 2 * 2450 + 499


def test_every_sku_of_an_order_is_priced_with_one_query(orders_service: AwsWorld, statements_sent: list[str]):
    # GIVEN an order with five lines
    event = post_order_event(
        order_request(COFFEE_BEANS_1KG=1, FILTER_PAPER_100=1, MUG_CERAMIC_350ML=1, GRINDER_BURR=1, KETTLE_GOOSENECK=1)
    )

    # WHEN it is posted
    status, _ = invoke(event)

    # THEN the catalog was read with exactly one statement, not one per line
    assert status == 202
    catalog_reads = [sql for sql in statements_sent if "catalog_items" in sql]
    assert len(catalog_reads) == 1
    assert all(sku in catalog_reads[0] for sku in ("COFFEE-BEANS-1KG", "GRINDER-BURR", "KETTLE-GOOSENECK"))


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"customer_id": "c-1", "items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 1}]}, "body.customer_id"),
        ({"sku": "MUG-CERAMIC-350ML"}, "body.items"),
        ({"items": []}, "body.items"),
        ({"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 0}]}, "body.items.0.quantity"),
        ({"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": "2"}]}, "body.items.0.quantity"),
        ({"items": [{"sku": "mug", "quantity": 1}]}, "body.items.0.sku"),
        ({"items": [{"sku": "MUG-CERAMIC-350ML", "quantity": 1, "x": 1}]}, "body.items.0.x"),
        ("{not json", "body"),
    ],
)
def test_malformed_orders_get_400_naming_the_field(orders_service: AwsWorld, body: Any, field: str):
    # WHEN a malformed order is posted
    status, response = invoke(post_order_event(body))

    # THEN it is refused with 400, the response names the field, and nothing is queued
    assert status == 400
    assert response["message"] == "the request is not valid"
    assert any(error["field"].startswith(field) for error in response["errors"]), response
    assert orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"]) == []


@pytest.mark.parametrize(
    ("lines", "problem"),
    [
        ({"UNKNOWN_SKU": 1}, {"field": "body.items.1.sku", "message": "unknown SKU UNKNOWN-SKU"}),
        ({"DECAF_BEANS_1KG": 1}, {"field": "body.items.1.sku", "message": "unknown SKU DECAF-BEANS-1KG"}),  # inactive
        (
            {"GRINDER_BURR": 3},
            {"field": "body.items.1.quantity", "message": "quantity 3 of GRINDER-BURR exceeds the limit of 2"},
        ),
    ],
)
def test_unpriceable_orders_get_422(orders_service: AwsWorld, lines: dict[str, int], problem: dict[str, str]):
    # GIVEN an order the catalog cannot price, WHEN it is posted, THEN a 422 names the line and nothing is queued
    status, response = invoke(post_order_event(order_request(MUG_CERAMIC_350ML=1, **lines)))

    assert status == 422
    assert response["errors"] == [problem]
    assert orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"]) == []


def test_a_sku_on_two_lines_is_a_422_not_a_400(orders_service: AwsWorld):
    # GIVEN a schema-valid order naming one SKU on two lines
    body = {"items": [{"sku": "GRINDER-BURR", "quantity": 1}] * 2}
    # WHEN it is posted, THEN the documented 422 names the repeated line; nothing is queued
    status, response = invoke(post_order_event(body))
    assert status == 422
    message = "GRINDER-BURR is already on line 0: each SKU may appear once"
    assert response["errors"] == [{"field": "body.items.1.sku", "message": message}]
    assert orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"]) == []


def test_a_retry_with_the_same_idempotency_key_returns_the_first_response(orders_service: AwsWorld):
    # GIVEN an order posted with an Idempotency-Key
    event = post_order_event(order_request(KETTLE_GOOSENECK=1), idempotency_key="checkout-1")
    first_status, first = invoke(event)

    # WHEN the client retries it
    second_status, second = invoke(post_order_event(order_request(KETTLE_GOOSENECK=1), idempotency_key="checkout-1"))

    # THEN it gets the same order back and only one order was queued
    assert (first_status, second_status) == (202, 202)
    assert second == first
    assert len(orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"])) == 1


def test_different_keys_make_different_orders(orders_service: AwsWorld):
    # GIVEN the same order under two Idempotency-Keys, WHEN both are posted, THEN two orders are queued
    _, first = invoke(post_order_event(order_request(KETTLE_GOOSENECK=1), idempotency_key="a"))
    _, second = invoke(post_order_event(order_request(KETTLE_GOOSENECK=1), idempotency_key="b"))
    assert first["order_id"] != second["order_id"]
    assert len(orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"])) == 2


def test_an_idempotency_key_reused_for_another_order_is_refused(orders_service: AwsWorld):
    # GIVEN an order posted under a key, WHEN another order comes under that key
    # THEN a 422 on the header, nothing more queued
    invoke(post_order_event(order_request(KETTLE_GOOSENECK=1), idempotency_key="checkout-2"))

    status, response = invoke(post_order_event(order_request(KETTLE_GOOSENECK=2), idempotency_key="checkout-2"))

    assert status == 422
    assert response["errors"][0]["field"] == "header.idempotency-key"
    assert len(orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"])) == 1


DAY_SHARDS = int(LAMBDA_ENV["ORDER_DAY_SHARDS"])


def _store(orders_service: AwsWorld, order_id: str, customer: str = CUSTOMER) -> Order:
    """An order in the orders table, as the consumer stores it."""
    order = Order.model_validate(order_message(order_id, MUG_CERAMIC_350ML=1200) | {"customer_id": customer})
    orders_service.client("dynamodb").put_item(
        TableName=LAMBDA_ENV["ORDERS_TABLE_NAME"], Item=to_item(order, DAY_SHARDS)
    )
    return order


def test_a_stored_order_is_read_back(orders_service: AwsWorld):
    # GIVEN the events/ GET request's customer's order in the orders table
    order = _store(orders_service, "3f6c1d2a-8b4e-4f0a-9c7d-2e5b6a1f0c93")

    # WHEN the events/ GET request asks for it
    status, body = invoke(load_event("api_get_order.json"))

    # THEN it comes back as stored
    assert status == 200
    assert body == order.model_dump(mode="json")


def test_an_unknown_order_is_404(orders_service: AwsWorld):
    # GIVEN an order id nobody has, WHEN it is read, THEN a 404 naming it
    status, body = invoke(get_order_event("no-such-order"))
    assert status == 404
    assert "no-such-order" in body["message"]


def test_another_customers_order_is_404_exactly_like_a_missing_one(orders_service: AwsWorld):
    # GIVEN c-1's order
    _store(orders_service, "order-of-c-1", customer="c-1")
    # WHEN c-2 asks for it, and for an id nobody has
    theirs = invoke(get_order_event("order-of-c-1", customer="c-2"))
    nobodys = invoke(get_order_event("order-of-nobody", customer="c-2"))
    # THEN both are the same 404 (nothing tells c-2 the first exists); c-1 reads it
    assert theirs[0] == nobodys[0] == 404
    assert theirs[1]["errors"] == nobodys[1]["errors"]
    assert invoke(get_order_event("order-of-c-1", customer="c-1"))[0] == 200


def test_the_order_is_the_callers_whatever_the_request_says(orders_service: AwsWorld):
    # WHEN c-7's token posts an order
    status, _ = invoke(post_order_event(order_request(SCALE_01G=1), customer="c-7"))
    # THEN the queued order is c-7's
    assert status == 202
    (message,) = orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"])
    assert json.loads(message["Body"])["customer_id"] == "c-7"


@pytest.mark.parametrize(
    "make_event", [lambda: post_order_event("{not json", customer=None), lambda: get_order_event("o", customer=None)]
)
def test_a_request_without_claims_is_401_before_anything_is_read(orders_service: AwsWorld, make_event: Any):
    # GIVEN an event no authorizer vouched for (a route without one, a hand-made event), even with a bad body
    # WHEN it reaches the function
    response = api.handler(make_event(), FakeLambdaContext())
    # THEN 401 naming the scheme, nothing queued
    assert response["statusCode"] == 401
    assert response["headers"]["WWW-Authenticate"] == "Bearer"
    assert json.loads(response["body"])["errors"][0]["field"] == "requestContext.authorizer.jwt.claims.sub"
    assert orders_service.queue_messages(LAMBDA_ENV["ORDERS_QUEUE_URL"]) == []


@pytest.mark.parametrize("subject", ["", "x" * 256, "ünïcødé", "two words"])
def test_a_subject_that_cannot_be_a_customer_id_is_401(orders_service: AwsWorld, subject: str):
    # GIVEN a token whose subject cannot be a customer id, WHEN it orders, THEN a 401 saying so
    status, body = invoke(post_order_event(order_request(SCALE_01G=1), customer=subject))
    assert status == 401
    assert body["message"] == "the token's subject is not a customer id"


def test_an_idempotency_key_is_per_customer(orders_service: AwsWorld):
    # GIVEN c-1's order under a key
    _, first = invoke(post_order_event(order_request(SCALE_01G=1), idempotency_key="checkout", customer="c-1"))
    # WHEN c-2 sends the same body under the same key
    status, second = invoke(post_order_event(order_request(SCALE_01G=1), idempotency_key="checkout", customer="c-2"))
    # THEN c-2 gets an order of its own, never c-1's response
    assert status == 202
    assert second["order_id"] != first["order_id"]


def test_the_contract_names_each_routes_scope_as_the_template_does_and_no_customer_in_the_body():
    # GIVEN the OpenAPI document and the routes the HTTP API is deployed with (the transformed template's body)
    document = openapi.openapi_document()
    (http_api,) = resources_of_type(transformed(read_template(TEMPLATE)), "AWS::ApiGatewayV2::Api").values()
    routes = {
        (path, method): operation
        for path, methods in http_api["Properties"]["Body"]["paths"].items()
        for method, operation in methods.items()
    }
    assert routes
    # THEN every route's operation asks for the template's authorizer and scopes, and documents its 401/403
    for (path, method), deployed in routes.items():
        operation = document["paths"][path][method]
        assert operation["security"] == deployed["security"]
        assert {"401", "403"} <= set(operation["responses"])
    scheme = document["components"]["securitySchemes"][api.JWT_SCHEME]
    assert (scheme["type"], scheme["scheme"], scheme["bearerFormat"]) == ("http", "bearer", "JWT")
    assert "customer_id" not in document["components"]["schemas"]["OrderRequest"]["properties"]


def test_every_answer_is_neither_cached_nor_sniffed(orders_service: AwsWorld):
    # GIVEN requests that end in each kind of answer: accepted, read, refused before routing, unknown, invalid
    stored = _store(orders_service, "order-for-headers")
    events = {
        202: post_order_event(order_request(MUG_CERAMIC_350ML=1)),
        200: get_order_event(stored.order_id),
        401: get_order_event(stored.order_id, customer=None),
        404: get_order_event("missing"),
        400: post_order_event({"items": []}),
        413: post_order_event("x" * (70 * 1024)),
    }

    for status, event in events.items():
        # WHEN each is answered
        response = api.handler(event, FakeLambdaContext())

        # THEN its headers forbid caching and sniffing
        assert response["statusCode"] == status
        assert response["headers"]["Cache-Control"] == "no-store", status
        assert response["headers"]["X-Content-Type-Options"] == "nosniff", status
