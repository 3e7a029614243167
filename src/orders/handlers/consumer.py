"""OrdersConsumer: SQS batches of priced orders into DynamoDB, with partial batch failures."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from orders.adapters.aws_clients import dynamodb_client, prime
from orders.adapters.late_days import mark_late_days
from orders.adapters.orders_table import write_orders
from orders.config import get_settings
from orders.models import Order
from orders.observability import logger, metrics, tracer

processor = BatchProcessor(event_type=EventType.SQS)
prime(get_settings, dynamodb_client)  # INIT runs at full CPU, the first invocation at MemorySize's share


class OrderNotStoredError(Exception):
    """DynamoDB did not store this order (unprocessed after the retry bound, or refused); SQS will deliver it again."""


class LateDayNotMarkedError(Exception):
    """Stored, but its day (already rolled up) could not be marked for the rollup: delivered again, stored again
    (the same item), marked then."""


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
    orders = [outcome for outcome in outcomes.values() if isinstance(outcome, Order)]
    unstored = write_orders(get_settings(), orders)
    stored = [order for order in orders if order.order_id not in unstored]
    metrics.add_metric(name="OrdersStored", unit="Count", value=len({o.order_id for o in stored}))
    # An order of a day that has ended may have missed that day's rollup: mark the day, after the write.
    now = dt.datetime.now(dt.UTC)
    late = {order.sales_day for order in stored if order.sales_day < now.date()}
    unmarked: set[dt.date] = set()
    if late:
        unmarked = mark_late_days(get_settings(), late, now)
        metrics.add_metric(name="LateOrderDays", unit="Count", value=len(late))

    def settle(record: SQSRecord) -> str:
        """Fail exactly the malformed and the unstored records; Powertools reports them by messageId."""
        outcome = outcomes[record.message_id]
        if isinstance(outcome, ValidationError):
            raise outcome
        if outcome.order_id in unstored:
            raise OrderNotStoredError(f"{outcome.order_id}: {unstored[outcome.order_id]}")
        if outcome.sales_day in unmarked:
            raise LateDayNotMarkedError(f"{outcome.order_id}: its day {outcome.order_date} was not marked")
        return outcome.order_id

    # If every record failed this raises, so Lambda retries the whole batch: never swallow that.
    return process_partial_response(event=event, record_handler=settle, processor=processor, context=context)
