"""Settings: one validated model per function over its environment, each part of it validated once."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orders.config import ApiSettings, ConsumerSettings, DatabaseSettings, RollupSettings

DATABASE = {
    "DB_HOST": "proxy.example",
    "DB_NAME": "orders",
    "DB_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
}
API = DATABASE | {
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "ORDERS_QUEUE_URL": "https://sqs.example/q",
}


CONSUMER = {"ORDERS_TABLE_NAME": "orders", "LATE_DAYS_TABLE_NAME": "late", "ORDER_DAY_SHARDS": "16"}


def test_defaults_are_the_production_ones():
    # GIVEN only what the template must set
    # WHEN the API's and the consumer's settings are read
    api = ApiSettings.model_validate(API)
    consumer = ConsumerSettings.model_validate(CONSUMER)
    # THEN the rest are the production defaults
    assert (api.db_tls, api.db_port, api.secret_max_age_seconds) == (True, 3306, 300)
    assert consumer.batch_write_max_attempts == 5


def test_a_missing_or_bad_variable_fails_loudly():
    # GIVEN the database's settings without DB_HOST, or with a port that is not one, THEN validation names it
    with pytest.raises(ValidationError, match="DB_HOST"):
        DatabaseSettings.model_validate({k: v for k, v in DATABASE.items() if k != "DB_HOST"})
    with pytest.raises(ValidationError, match="DB_PORT"):
        DatabaseSettings.model_validate(DATABASE | {"DB_PORT": "not-a-port"})


def test_the_consumer_needs_no_database_settings():
    # GIVEN the consumer's environment: its two tables and the day index's shards, no database
    settings = ConsumerSettings.model_validate(CONSUMER)
    # THEN it reads, and has, nothing of MySQL
    assert not any(name.startswith("db_") for name in type(settings).model_fields)


ROLLUP = DATABASE | {"ORDERS_TABLE_NAME": "orders", "LATE_DAYS_TABLE_NAME": "late", "ORDER_DAY_SHARDS": "16"}


def test_rollup_runs_need_the_functions_name_and_no_more_runs_than_shards():
    # GIVEN one run, THEN no function name is needed; GIVEN several, THEN it is, and they cannot outnumber shards
    assert RollupSettings.model_validate(ROLLUP).rollup_runs == 1
    with pytest.raises(ValidationError, match="ROLLUP_FUNCTION_NAME"):
        RollupSettings.model_validate(ROLLUP | {"ROLLUP_RUNS": "4"})
    with pytest.raises(ValidationError, match="cannot exceed ORDER_DAY_SHARDS"):
        RollupSettings.model_validate(ROLLUP | {"ROLLUP_RUNS": "17", "ROLLUP_FUNCTION_NAME": "rollup"})
    assert RollupSettings.model_validate(ROLLUP | {"ROLLUP_RUNS": "16", "ROLLUP_FUNCTION_NAME": "rollup"})
