"""The orders queue: accepted orders go here for the consumer to store."""

from __future__ import annotations

from orders.adapters.aws_clients import sqs_client
from orders.config import ApiSettings
from orders.models import Order
from orders.observability import tracer


@tracer.capture_method(capture_response=False)
def enqueue_order(settings: ApiSettings, order: Order) -> str:
    """Send the priced order as the message body; return SQS's MessageId."""
    response = sqs_client().send_message(QueueUrl=settings.orders_queue_url, MessageBody=order.model_dump_json())
    return response["MessageId"]
