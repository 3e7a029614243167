"""The DynamoDB orders table: batched writes with bounded retries, point reads, and day queries."""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Collection, Iterator, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import ClientError

from orders.adapters.aws_clients import dynamodb_client
from orders.config import ConsumerSettings, OrdersTableSettings, RollupSettings
from orders.logic.backoff import full_jitter_delay_seconds
from orders.logic.day_shards import day_shard
from orders.logic.rollup import LineSale
from orders.models import Order
from orders.observability import logger, metrics, tracer
from orders.tracing import add_event

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.type_defs import WriteRequestTypeDef

BATCH_WRITE_LIMIT = 25  # DynamoDB rejects a BatchWriteItem of more than 25 requests
BATCH_GET_LIMIT = 100  # and a BatchGetItem of more than 100 keys
_RETRYABLE_ERRORS = {"ProvisionedThroughputExceededException", "ThrottlingException", "RequestLimitExceeded"}
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


@functools.cache
def retry_jitter() -> random.Random:
    """The environment's own random sequence for retry delays (seeded from the OS when first drawn)."""
    return random.Random()  # noqa: S311 - pacing retries, not cryptography


def reseed_retry_jitter() -> None:
    """A fresh seed from the OS: environments restored from one snapshot must not share a sequence."""
    retry_jitter().seed()


class StoredOrdersUnreadError(Exception):
    """DynamoDB left keys unread after the retry bound: the batch cannot be checked, so it is not written."""


def _retry_delay_s(settings: ConsumerSettings, attempt: int) -> float:
    base_ms, cap_ms = settings.batch_write_base_delay_ms, settings.batch_write_max_delay_ms
    return full_jitter_delay_seconds(attempt - 1, base_ms=base_ms, cap_ms=cap_ms, rng=retry_jitter())


def _named(error: ClientError) -> str:
    details = error.response.get("Error", {})
    return f"{details.get('Code', '')}: {details.get('Message', '')}"


# The rollup's index carries one string per order, "SKU QUANTITY CENTS,…" (a SKU has no space or comma): botocore
# parses a Query's items attribute by attribute, and this one attribute parses ~8x faster than the order's
# items as a list of maps (`make capacity` measures the pace), in fewer read units.
LINE_SALES = "line_sales"


def to_item(order: Order, day_shards: int) -> dict[str, Any]:
    """The order as a DynamoDB item, plus its day, the day shard the rollup's index is keyed on, and its lines
    as that index projects them."""
    document = order.model_dump(mode="json") | {
        "order_date": order.order_date,
        "order_day_shard": day_shard(order.order_date, order.order_id, day_shards),
        LINE_SALES: ",".join(f"{line.sku} {line.quantity} {line.line_total_cents}" for line in order.items),
    }
    return {key: _serializer.serialize(value) for key, value in document.items()}


def from_item(item: dict[str, Any]) -> Order:
    document = _plain({key: _deserializer.deserialize(value) for key, value in item.items()})
    for derived in ("order_date", "order_day_shard", LINE_SALES):
        document.pop(derived, None)
    return Order.model_validate(document)


def line_sales(item: dict[str, Any]) -> list[LineSale]:
    """An index item's lines (written by to_item from a validated order: parsed, not validated again)."""
    lines = []
    for line in item[LINE_SALES]["S"].split(","):
        sku, quantity, cents = line.split(" ")
        lines.append(LineSale(sku, int(quantity), int(cents)))
    return lines


def _plain(value: Any) -> Any:
    """DynamoDB hands numbers back as Decimal; every number we store is a whole number of cents or units."""
    if isinstance(value, Decimal):
        return int(value)
    if isinstance(value, dict):
        return {key: _plain(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_plain(inner) for inner in value]
    return value


@tracer.capture_method(capture_response=False)
def write_orders(settings: ConsumerSettings, orders: Sequence[Order]) -> dict[str, str]:
    """Store orders with BatchWriteItem, 25 per call; return why each order that was not stored was not.

    One call per 25 orders instead of one PutItem each saves round trips (same write capacity).
    A key may appear only once per call, so repeated deliveries of one order are collapsed first.
    """
    unique = {order.order_id: order for order in orders}
    items: list[dict[str, Any]] = []
    unstored: dict[str, str] = {}
    for order in unique.values():
        try:  # one order that cannot be an item fails alone, never the chunk it would have been sent with
            items.append({"PutRequest": {"Item": to_item(order, settings.order_day_shards)}})
        except (TypeError, ValueError, ArithmeticError) as error:
            logger.warning("order cannot be stored as a DynamoDB item", order_id=order.order_id, error=str(error))
            unstored[order.order_id] = f"not storable: {error}"
    for start in range(0, len(items), BATCH_WRITE_LIMIT):
        chunk: list[WriteRequestTypeDef] = items[start : start + BATCH_WRITE_LIMIT]  # type: ignore[assignment]
        unstored |= _write_chunk(settings, chunk)
    return unstored


def _write_chunk(settings: ConsumerSettings, requests: list[WriteRequestTypeDef]) -> dict[str, str]:
    """Send one chunk; retry what DynamoDB left unprocessed with full-jitter backoff, up to a bound.

    The SDK retries whole-request errors itself but never UnprocessedItems: that is our job here.
    """
    pending: list[Any] = requests  # requests, or what DynamoDB handed back unprocessed
    table = settings.orders_table_name
    reason = f"still unprocessed after {settings.batch_write_max_attempts} BatchWriteItem attempts"
    for attempt in range(settings.batch_write_max_attempts):
        if attempt:
            metrics.add_metric(name="BatchWriteRetries", unit="Count", value=1)
            add_event("retry", attempt=attempt, unprocessed_items=len(pending))
            time.sleep(_retry_delay_s(settings, attempt))
        try:
            response = dynamodb_client().batch_write_item(RequestItems={table: pending})
        except ClientError as error:
            code = error.response.get("Error", {}).get("Code", "")
            if code not in _RETRYABLE_ERRORS:
                logger.exception("BatchWriteItem failed; the chunk's messages go back to the queue")
                reason = _named(error)  # e.g. AccessDenied: named
                break
            continue
        pending = response.get("UnprocessedItems", {}).get(table, [])
        if not pending:
            return {}
    return {request["PutRequest"]["Item"]["order_id"]["S"]: reason for request in pending}


@tracer.capture_method(capture_response=False)
def stored_orders(settings: ConsumerSettings, order_ids: Collection[str]) -> dict[str, Order]:
    """The orders already stored under these ids, with BatchGetItem, 100 keys per call.

    One eventually consistent read per batch (half a read unit per item up to 4 KB) is what lets the
    consumer refuse a conflicting duplicate instead of overwriting the order it names. Two conflicting
    deliveries in concurrent batches can still both find nothing; only a conditional write per order
    (no batching) would close that window.
    """
    found: dict[str, Order] = {}
    ids = sorted(set(order_ids))
    table = settings.orders_table_name
    for start in range(0, len(ids), BATCH_GET_LIMIT):
        pending: Any = {
            table: {"Keys": [{"order_id": {"S": order_id}} for order_id in ids[start : start + BATCH_GET_LIMIT]]}
        }
        for attempt in range(settings.batch_write_max_attempts):
            if attempt:
                time.sleep(_retry_delay_s(settings, attempt))
            try:
                response = dynamodb_client().batch_get_item(RequestItems=pending)
            except ClientError as error:  # the SDK has retried what retrying can fix
                logger.exception("BatchGetItem failed; the batch's orders go back to the queue unwritten")
                raise StoredOrdersUnreadError(_named(error)) from error
            for item in response.get("Responses", {}).get(table, []):
                order = from_item(item)
                found[order.order_id] = order
            pending = response.get("UnprocessedKeys") or {}
            if not pending:
                break
        else:
            raise StoredOrdersUnreadError(
                f"keys still unprocessed after {settings.batch_write_max_attempts} BatchGetItem attempts"
            )
    return found


def get_order(settings: OrdersTableSettings, order_id: str) -> Order | None:
    response = dynamodb_client().get_item(
        TableName=settings.orders_table_name, Key={"order_id": {"S": order_id}}, ConsistentRead=True
    )
    item = response.get("Item")
    return from_item(item) if item else None


@tracer.capture_method(capture_response=False)
def day_shard_sales(settings: RollupSettings, shard_key: str) -> Iterator[list[LineSale]]:
    """The lines of every order of one day shard (`2026-11-22#7`), from the day index, following
    LastEvaluatedKey through all pages."""
    paginator = dynamodb_client().get_paginator("query")
    pages = paginator.paginate(
        TableName=settings.orders_table_name,
        IndexName=settings.orders_by_day_index,
        KeyConditionExpression="order_day_shard = :shard",
        ExpressionAttributeValues={":shard": {"S": shard_key}},
        ProjectionExpression=LINE_SALES,  # nothing else to parse
        PaginationConfig={"PageSize": settings.rollup_query_page_size},
    )
    for page in pages:
        for item in page.get("Items", []):
            yield line_sales(item)
