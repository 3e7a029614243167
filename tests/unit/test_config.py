"""Settings: one validated model over the environment."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from orders.config import Settings

REQUIRED = {
    "ORDERS_TABLE_NAME": "orders",
    "IDEMPOTENCY_TABLE_NAME": "idempotency",
    "LATE_DAYS_TABLE_NAME": "late-days",
    "ORDERS_QUEUE_URL": "https://sqs.example/q",
    "DB_HOST": "proxy.example",
    "DB_NAME": "orders",
    "DB_SECRET_ID": "arn:aws:secretsmanager:us-east-1:123456789012:secret:db",
}


def test_defaults_are_the_production_ones():
    settings = Settings.model_validate(REQUIRED)
    assert settings.db_tls is True
    assert settings.db_port == 3306
    assert settings.secret_max_age_seconds == 300
    assert settings.batch_write_max_attempts == 5


def test_a_missing_or_bad_variable_fails_loudly():
    with pytest.raises(ValidationError, match="DB_HOST"):
        Settings.model_validate({k: v for k, v in REQUIRED.items() if k != "DB_HOST"})
    with pytest.raises(ValidationError, match="DB_PORT"):
        Settings.model_validate(REQUIRED | {"DB_PORT": "not-a-port"})
