"""Pattern 5 — the naive twin of ApiFunction's init: everything eagerly, whether the path needs it or not.

The seeds' "initialize everything outside the handler", taken literally: resources instead of
clients, clients for services this function never calls, every Powertools utility imported.
"""

import boto3
from aws_lambda_powertools import Logger, Metrics, Tracer  # noqa: F401
from aws_lambda_powertools.utilities import batch, idempotency, parameters, streaming  # noqa: F401
from aws_lambda_powertools.utilities.parser import models  # noqa: F401

from orders.handlers import api

dynamodb = boto3.resource("dynamodb")
s3 = boto3.client("s3")
sns = boto3.client("sns")
kinesis = boto3.client("kinesis")
secrets = boto3.client("secretsmanager")
sqs = boto3.client("sqs")


def handler(event, context):
    return api.handler(event, context)
