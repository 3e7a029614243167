"""boto3 clients, each built once per execution environment and reused by every warm invocation.

Building a client costs tens of milliseconds (endpoint resolution, service model loading) and a
new connection pool; the lazy getters below pay that once per environment, on first use, which
also lets tests start moto before any client exists. Clients honour AWS_ENDPOINT_URL, so the same
code talks to AWS, to a local emulator, or to moto.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING

import boto3
from botocore.config import Config

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_secretsmanager import SecretsManagerClient
    from mypy_boto3_sqs import SQSClient

# Fail fast inside Lambda's time budget; standard mode retries throttling (3 retries) with backoff.
_CLIENT_CONFIG = Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3, "mode": "standard"})


@functools.cache
def dynamodb_client() -> DynamoDBClient:
    return boto3.client("dynamodb", config=_CLIENT_CONFIG)


@functools.cache
def sqs_client() -> SQSClient:
    return boto3.client("sqs", config=_CLIENT_CONFIG)


@functools.cache
def secretsmanager_client() -> SecretsManagerClient:
    return boto3.client("secretsmanager", config=_CLIENT_CONFIG)
