"""Database credentials from Secrets Manager, cached per execution environment with a TTL."""

from __future__ import annotations

import functools

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from pydantic import BaseModel, ConfigDict, SecretStr

from orders.adapters.aws_clients import secretsmanager_client
from orders.config import DatabaseSettings


class DbCredentials(BaseModel):
    """The part of an RDS-style secret we use; SecretStr keeps the password out of reprs and logs."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    username: str
    password: SecretStr


@functools.cache
def secrets_provider() -> SecretsProvider:
    return SecretsProvider(boto3_client=secretsmanager_client())


def get_db_credentials(
    settings: DatabaseSettings, *, force_refresh: bool = False, secret_id: str | None = None
) -> DbCredentials:
    """Cached for SECRET_MAX_AGE_SECONDS: one GetSecretValue per TTL instead of one per invocation.

    ``force_refresh`` bypasses the cache after MySQL refused the cached password (rotation);
    ``secret_id`` reads another user's secret than the one this function connects with.
    """
    secret = secrets_provider().get(
        secret_id or settings.db_secret_id,
        transform="json",
        max_age=settings.secret_max_age_seconds,
        force_fetch=force_refresh,
    )
    return DbCredentials.model_validate(secret)
