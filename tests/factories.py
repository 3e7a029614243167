"""Event and context factories. Every event starts from a file in events/, so those files stay valid."""

from __future__ import annotations

import copy
import json
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

EVENTS_DIR = Path(__file__).resolve().parents[1] / "events"


def load_event(name: str) -> dict[str, Any]:
    return json.loads((EVENTS_DIR / name).read_text())


@dataclass
class FakeLambdaContext:
    """The attributes of Lambda's context object that Powertools reads."""

    function_name: str = "orders-test"
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:orders-test"
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    function_version: str = "$LATEST"
    log_group_name: str = "/aws/lambda/orders-test"
    log_stream_name: str = "2026/11/23/[$LATEST]0123456789abcdef"

    def get_remaining_time_in_millis(self) -> int:
        return 10_000


CUSTOMER = "cust-0042"  # the subject of the events/ files' token claims


def as_caller(event: dict[str, Any], customer: str | None) -> dict[str, Any]:
    """The event as API Gateway's JWT authorizer passes it for `customer`'s token; None: no authorizer ran."""
    if customer is None:
        event["requestContext"].pop("authorizer", None)
        event["headers"].pop("authorization", None)
    else:
        event["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = customer
    return event


def post_order_event(
    body: Any,
    *,
    idempotency_key: str | None = None,
    content_type: str = "application/json",
    customer: str | None = CUSTOMER,
):
    event = as_caller(load_event("api_post_order.json"), customer)
    event["body"] = body if isinstance(body, str) else json.dumps(body)
    event["headers"]["content-type"] = content_type
    event["headers"].pop("idempotency-key", None)
    if idempotency_key is not None:
        event["headers"]["idempotency-key"] = idempotency_key
    event["requestContext"]["requestId"] = str(uuid.uuid4())
    return event


def get_order_event(order_id: str, *, customer: str | None = CUSTOMER) -> dict[str, Any]:
    event = as_caller(load_event("api_get_order.json"), customer)
    event["rawPath"] = event["requestContext"]["http"]["path"] = f"/orders/{order_id}"
    event["pathParameters"] = {"order_id": order_id}
    return event


def order_request(**lines: int) -> dict[str, Any]:
    """A POST /orders body: order_request(COFFEE_BEANS_1KG=2) → sku COFFEE-BEANS-1KG, quantity 2."""
    items = [{"sku": sku.replace("_", "-"), "quantity": quantity} for sku, quantity in lines.items()]
    return {"items": items}


def order_message(order_id: str | None = None, *, created_at: str = "2026-11-22T14:03:11Z", **lines: int):
    """A priced order, as the API enqueues it. Prices come from the lines' keyword values (cents)."""
    priced = [
        {"sku": sku.replace("_", "-"), "quantity": 1, "unit_price_cents": cents, "line_total_cents": cents}
        for sku, cents in (lines or {"MUG_CERAMIC_350ML": 1200}).items()
    ]
    return {
        "order_id": order_id or str(uuid.uuid4()),
        "customer_id": CUSTOMER,
        "items": priced,
        "total_cents": sum(line["line_total_cents"] for line in priced),
        "currency": "USD",
        "created_at": created_at,
    }


def sqs_event(bodies: list[str | dict[str, Any]]) -> dict[str, Any]:
    """An SQS batch shaped like events/sqs_orders_batch.json, one record per body, fresh messageIds."""
    template = load_event("sqs_orders_batch.json")["Records"][0]
    records = []
    for body in bodies:
        record = copy.deepcopy(template)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = body if isinstance(body, str) else json.dumps(body)
        records.append(record)
    return {"Records": records}
