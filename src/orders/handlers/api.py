"""ApiFunction: the HTTP API (payload v2) — POST /orders and GET /orders/{order_id}."""

from __future__ import annotations

import datetime as dt
import functools
import json
import uuid
from collections.abc import Callable
from http import HTTPStatus
from typing import Annotated, Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestValidationError
from aws_lambda_powertools.event_handler.openapi.params import Header, Path
from aws_lambda_powertools.event_handler.openapi.types import OpenAPIResponse
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.idempotency import idempotent_function
from aws_lambda_powertools.utilities.idempotency.exceptions import (
    IdempotencyAlreadyInProgressError,
    IdempotencyValidationError,
)
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import BaseModel

from orders import snapstart
from orders.adapters.aws_clients import dynamodb_client, prime, secretsmanager_client, sqs_client
from orders.adapters.catalog import catalog_cache
from orders.adapters.idempotency import idempotency_config, persistence_layer
from orders.adapters.mysql import database_tls, get_database
from orders.adapters.orders_queue import enqueue_order
from orders.adapters.orders_table import get_order
from orders.adapters.secrets import secrets_provider
from orders.config import ApiSettings, get_settings
from orders.logic.pricing import PricingError, price_order
from orders.logic.request import (
    MAX_BODY_BYTES,
    RequestRefused,
    authenticated_customer,
    canonical_json_event,
    decoded_path_event,
)
from orders.models import ErrorBody, GatewayMessage, Order, OrderAccepted, OrderRequest
from orders.observability import logger, metrics, tracer

SETTINGS = ApiSettings  # what this function reads from its environment: template.yaml gives it that

app = APIGatewayHttpResolver(enable_validation=True)
INVALID_REQUEST = "the request is not valid"  # every 400's message; its errors name the fields and why
# INIT runs at full CPU, the first invocation at MemorySize's share: build every invocation's needs now.
prime(
    functools.partial(get_settings, SETTINGS),
    sqs_client,
    dynamodb_client,
    secretsmanager_client,
    secrets_provider,
    persistence_layer,
    database_tls,
    catalog_cache,
)
snapstart.register_hooks()  # ColdStartStrategy=snapstart: safe restores (src/orders/snapstart.py)


def _documented(description: str, model: type[BaseModel] = ErrorBody) -> OpenAPIResponse:
    return {"description": description, "content": {content_types.APPLICATION_JSON: {"model": model}}}


INVALID: dict[int, OpenAPIResponse] = {400: _documented("The request is not valid: the errors name the fields")}
JWT_SCHEME = "OrdersJwt"  # template.yaml's authorizer: API Gateway checks the token and the route's scope
GUARDED: dict[int, OpenAPIResponse] = {
    401: _documented(
        "No token, or one API Gateway's authorizer refused (invalid, expired, wrong issuer)", GatewayMessage
    ),
    403: _documented("The token lacks the route's scope (API Gateway's authorizer)", GatewayMessage),
}


def _needs(scope: str) -> list[dict[str, list[str]]]:
    return [{JWT_SCHEME: [scope]}]


UNREADABLE_BODY: dict[int, OpenAPIResponse] = {
    413: _documented(f"The body is over {MAX_BODY_BYTES} bytes"),
    415: _documented("The body is not application/json (any case, parameters allowed; charset UTF-8)"),
}


class CreateOrderCommand(BaseModel):
    """What the idempotency record is keyed (customer, key) and validated (order) on."""

    customer_id: str
    idempotency_key: str
    order: OrderRequest


def _error(status: HTTPStatus, message: str, errors: list[dict[str, Any]]) -> Response[dict[str, Any]]:
    logger.info("request refused", status=int(status), reason=message)  # the saved query "refused requests by reason"
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body={"message": message, "errors": errors},
    )


@app.exception_handler(RequestValidationError)
def invalid_request(error: RequestValidationError) -> Response[dict[str, Any]]:
    errors = [
        {"field": ".".join(str(part) for part in e["loc"]), "message": e["msg"], "type": e["type"]}
        for e in error.errors()
    ]
    return _error(HTTPStatus.BAD_REQUEST, INVALID_REQUEST, errors)


@app.not_found
def no_such_route(_: NotFoundError) -> Response[dict[str, Any]]:
    return _error(HTTPStatus.NOT_FOUND, "no such route", [{"field": "path", "message": "not found"}])


@app.exception_handler(PricingError)
def unpriceable_order(error: PricingError) -> Response[dict[str, Any]]:
    errors = [problem | {"field": f"body.{problem['field']}"} for problem in error.problems]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "the order cannot be priced", errors)


@app.exception_handler(IdempotencyValidationError)
def reused_idempotency_key(_: IdempotencyValidationError) -> Response[dict[str, Any]]:
    errors = [{"field": "header.idempotency-key", "message": "already used with a different order"}]
    return _error(HTTPStatus.UNPROCESSABLE_ENTITY, "Idempotency-Key reused with a different body", errors)


@app.exception_handler(IdempotencyAlreadyInProgressError)
def concurrent_retry(_: IdempotencyAlreadyInProgressError) -> Response[dict[str, Any]]:
    errors = [{"field": "header.idempotency-key", "message": "a request with this key is still in progress"}]
    return _error(HTTPStatus.CONFLICT, "retry later", errors)


def _caller() -> str:
    """The authenticated customer: handler() put it in the resolver's context before routing."""
    return str(app.context["customer_id"])


def _accept_order(customer_id: str, order: OrderRequest) -> dict[str, Any]:
    settings = get_settings(SETTINGS)
    skus = {line.sku for line in order.items}
    catalog = catalog_cache().entries(get_database(), skus, max_age_s=settings.catalog_max_age_seconds)
    priced = price_order(
        order, catalog, customer_id=customer_id, order_id=str(uuid.uuid4()), created_at=dt.datetime.now(dt.UTC)
    )
    enqueue_order(settings, priced)
    metrics.add_metric(name="OrdersAccepted", unit="Count", value=1)
    return OrderAccepted(
        order_id=priced.order_id, total_cents=priced.total_cents, currency=priced.currency
    ).model_dump()


@functools.cache
def _accept_order_once() -> Callable[..., dict[str, Any]]:
    """_accept_order behind Powertools idempotency; built on first use so the store's client is lazy too."""

    def accept(command: CreateOrderCommand) -> dict[str, Any]:
        return _accept_order(command.customer_id, command.order)

    return idempotent_function(  # type: ignore[no-any-return]
        accept,
        data_keyword_argument="command",
        persistence_store=persistence_layer(),
        config=idempotency_config(),
        key_prefix="orders.create",
    )


@app.post(
    "/orders",
    summary="Accept an order for the calling customer: validate, price from the catalog, queue it",
    security=_needs("orders/write"),
    responses={
        202: _documented("Accepted and queued; retries with the same Idempotency-Key return this again", OrderAccepted),
        409: _documented("A request with this Idempotency-Key is still in progress"),
        422: _documented(
            "Unknown SKUs, a SKU on two lines, quantities over a SKU's limit, "
            "or an Idempotency-Key reused for another order"
        ),
        **INVALID,
        **GUARDED,
        **UNREADABLE_BODY,
    },
)
def create_order(
    order: OrderRequest,
    idempotency_key: Annotated[str | None, Header(alias="idempotency-key", min_length=1, max_length=128)] = None,
) -> Response[dict[str, Any]]:
    customer_id = _caller()
    if idempotency_key is None:
        accepted = _accept_order(customer_id, order)
    else:
        command = CreateOrderCommand(customer_id=customer_id, idempotency_key=idempotency_key, order=order)
        accepted = _accept_order_once()(command=command)
    return Response(status_code=HTTPStatus.ACCEPTED, content_type=content_types.APPLICATION_JSON, body=accepted)


@app.get(
    "/orders/<order_id>",
    summary="Read one of the calling customer's stored orders",
    security=_needs("orders/read"),
    responses={
        200: _documented("The order as stored", Order),
        404: _documented("The caller has no order with this id stored (yet: storing is asynchronous)"),
        **INVALID,
        **GUARDED,
    },
)
def read_order(order_id: Annotated[str, Path(min_length=1, max_length=64)]) -> Response[dict[str, Any]]:
    order = get_order(get_settings(SETTINGS), order_id)
    if order is None or order.customer_id != _caller():  # another's order: 404, not 403 — never confirm it exists
        return _error(
            HTTPStatus.NOT_FOUND, f"order {order_id} not found", [{"field": "order_id", "message": "not found"}]
        )
    return Response(
        status_code=HTTPStatus.OK, content_type=content_types.APPLICATION_JSON, body=order.model_dump(mode="json")
    )


def _raw_error(refused: RequestRefused) -> dict[str, Any]:
    """The API's error shape, built without the resolver: the body never reached it."""
    message = INVALID_REQUEST if refused.status == HTTPStatus.BAD_REQUEST else refused.message
    logger.info("request refused", status=int(refused.status), reason=refused.message)
    headers = {"Content-Type": content_types.APPLICATION_JSON}
    if refused.status == HTTPStatus.UNAUTHORIZED:  # RFC 9110 §15.5.2: a 401 names the scheme to use
        headers["WWW-Authenticate"] = "Bearer"
    return {
        "statusCode": int(refused.status),
        "headers": headers,
        "body": json.dumps(
            {"message": message, "errors": [{"field": refused.field, "message": refused.message, "type": refused.type}]}
        ),
        "isBase64Encoded": False,
    }


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_HTTP)
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    try:
        customer_id = authenticated_customer(event)  # who calls, before anything they sent is read
        checked = decoded_path_event(canonical_json_event(event))  # JSON the resolver can read, or a 4xx here
    except RequestRefused as refused:
        return _with_response_headers(_raw_error(refused))
    app.context["customer_id"] = customer_id  # routing context: resolve() clears it when the request is answered
    idempotency_config().register_lambda_context(context)
    return _with_response_headers(app.resolve(checked, context))


# On every answer: a customer's orders are never kept by a browser or a shared cache, and no client
# second-guesses the declared JSON (OWASP REST Security Cheat Sheet, "Security headers").
RESPONSE_HEADERS = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff"}


def _with_response_headers(response: dict[str, Any]) -> dict[str, Any]:
    return response | {"headers": {**(response.get("headers") or {}), **RESPONSE_HEADERS}}
