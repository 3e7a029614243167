"""OrdersConsumer: SQS batches of priced orders into DynamoDB, with partial batch failures."""

from __future__ import annotations

import datetime as dt
import functools
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from orders.adapters.aws_clients import dynamodb_client, prime
from orders.adapters.late_days import mark_late_days
from orders.adapters.orders_table import StoredOrdersUnreadError, stored_orders, write_orders
from orders.config import ConsumerSettings, get_settings
from orders.logic.deliveries import Deliveries, sort_deliveries
from orders.models import Order
from orders.observability import logger, metrics, tracer

SETTINGS = ConsumerSettings  # what this function reads from its environment: template.yaml gives it that

processor = BatchProcessor(event_type=EventType.SQS)
prime(
    functools.partial(get_settings, SETTINGS), dynamodb_client
)  # INIT runs at full CPU, the first invocation at MemorySize's share


class OrderNotStoredError(Exception):
    """DynamoDB did not store this order (unprocessed after the retry bound, or refused); SQS will deliver it again."""


class LateDayNotMarkedError(Exception):
    """Stored, but its day (already rolled up) could not be marked for the rollup: delivered again, stored again
    (the same item), marked then."""


class ConflictingDuplicateError(Exception):
    """Another order already has this order_id: delivered again until the DLQ, the known order kept as it is."""


def _parse(record: SQSRecord) -> Order | ValidationError:
    try:
        return Order.model_validate_json(record.body)
    except ValidationError as error:
        return error


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> PartialItemFailureResponse:
    # Parse the whole batch first, then write the valid orders together: BatchWriteItem needs them all.
    outcomes = {record.message_id: _parse(record) for record in map(SQSRecord, event["Records"])}
    delivered = [(message_id, order) for message_id, order in outcomes.items() if isinstance(order, Order)]
    settings = get_settings(SETTINGS)
    unchecked: str | None = None
    try:
        deliveries = sort_deliveries(delivered, stored_orders(settings, {order.order_id for _, order in delivered}))
    except StoredOrdersUnreadError as error:  # nothing is written unchecked: every order is delivered again
        unchecked, deliveries = str(error), Deliveries()
    for message_id, known in deliveries.conflicts.items():
        logger.error(
            "conflicting duplicate: another order already has this order_id",
            message_id=message_id,
            order_id=known.order_id,
        )
    if deliveries.conflicts:
        metrics.add_metric(name="ConflictingDuplicateOrders", unit="Count", value=len(deliveries.conflicts))
    unstored = write_orders(settings, deliveries.to_write)
    metrics.add_metric(name="OrdersStored", unit="Count", value=len(deliveries.to_write) - len(unstored))
    # An order of a day that has ended may have missed that day's rollup: mark the day, after the write.
    # Repeats of a stored order too: the delivery that stored it may have failed to mark its day.
    now = dt.datetime.now(dt.UTC)
    written = {order.order_id for order in deliveries.to_write} - unstored.keys()
    settled = [
        order
        for message_id, order in delivered
        if message_id in deliveries.already_stored
        or (order.order_id in written and message_id not in deliveries.conflicts)
    ]
    late = {order.sales_day for order in settled if order.sales_day < now.date()}
    unmarked: set[dt.date] = set()
    if late:
        unmarked = mark_late_days(settings, late, now)
        metrics.add_metric(name="LateOrderDays", unit="Count", value=len(late))

    def settle(record: SQSRecord) -> str:
        """Fail exactly the malformed and the unstored records; Powertools reports them by messageId."""
        outcome = outcomes[record.message_id]
        if isinstance(outcome, ValidationError):
            raise outcome
        if unchecked is not None:
            raise OrderNotStoredError(f"{outcome.order_id}: not checked against stored orders: {unchecked}")
        if record.message_id in deliveries.conflicts:
            raise ConflictingDuplicateError(
                f"{outcome.order_id}: its contents differ from the order already known under this id"
            )
        if outcome.order_id in unstored:
            raise OrderNotStoredError(f"{outcome.order_id}: {unstored[outcome.order_id]}")
        if outcome.sales_day in unmarked:
            raise LateDayNotMarkedError(f"{outcome.order_id}: its day {outcome.order_date} was not marked")
        return outcome.order_id

    # If every record failed this raises, so Lambda retries the whole batch: never swallow that.
    try:
        response = process_partial_response(event=event, record_handler=settle, processor=processor, context=context)
    except BatchProcessingError:
        metrics.add_metric(name="OrderRecordsFailed", unit="Count", value=len(event["Records"]))  # flushed, then raised
        raise
    metrics.add_metric(name="OrderRecordsFailed", unit="Count", value=len(response["batchItemFailures"]))
    return response
