"""Powertools idempotency records in DynamoDB, so a retried POST returns the first response."""

from __future__ import annotations

import functools

from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer, IdempotencyConfig

from orders.adapters.aws_clients import dynamodb_client
from orders.config import ApiSettings, get_settings


@functools.cache
def persistence_layer() -> DynamoDBPersistenceLayer:
    """Shares the module-scope DynamoDB client instead of building a second one."""
    return DynamoDBPersistenceLayer(
        table_name=get_settings(ApiSettings).idempotency_table_name, boto3_client=dynamodb_client()
    )


@functools.cache
def idempotency_config() -> IdempotencyConfig:
    return IdempotencyConfig(
        event_key_jmespath="[customer_id, idempotency_key]",  # per customer: B reusing A's key never gets A's order
        payload_validation_jmespath="order",  # the same key with a different body is refused, not replayed
        expires_after_seconds=get_settings(ApiSettings).idempotency_ttl_seconds,
    )
