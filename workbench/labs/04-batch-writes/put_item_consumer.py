"""Pattern 4 — the naive twin of OrdersConsumer: the same parsing and partial-failure reporting,
but one PutItem per message instead of BatchWriteItem in chunks of 25."""

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from orders.adapters.aws_clients import dynamodb_client
from orders.adapters.orders_table import to_item
from orders.config import DayIndexSettings, get_settings
from orders.models import Order

processor = BatchProcessor(event_type=EventType.SQS)


def store(record):
    order = Order.model_validate_json(record.body)
    settings = get_settings(DayIndexSettings)
    dynamodb_client().put_item(TableName=settings.orders_table_name, Item=to_item(order, settings.order_day_shards))


def handler(event, context):
    return process_partial_response(event=event, record_handler=store, processor=processor, context=context)
