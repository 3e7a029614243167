"""Pattern 1 — boto3 client reuse. Both twins send one SQS message; only where the client is built differs."""

import os

import boto3
import probe  # installs the client counter before any client exists

from orders.adapters.aws_clients import sqs_client


def reused(event, context):
    """The real code: the module-scope client of src/orders/adapters/aws_clients.py."""
    sqs_client().send_message(QueueUrl=os.environ["ORDERS_QUEUE_URL"], MessageBody="{}")
    return {"clients_built": probe.clients_built}


def per_invocation(event, context):
    """The naive twin: a new client (endpoint resolution, model loading, connection pool) every time."""
    boto3.client("sqs").send_message(QueueUrl=os.environ["ORDERS_QUEUE_URL"], MessageBody="{}")
    return {"clients_built": probe.clients_built}
