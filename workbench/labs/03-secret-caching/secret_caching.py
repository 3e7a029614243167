"""Pattern 3 — secret caching. Both twins read the database credentials with the same client."""

import json

from orders.adapters.aws_clients import secretsmanager_client
from orders.adapters.secrets import get_db_credentials
from orders.config import DatabaseSettings, get_settings


def cached(event, context):
    """The real code: Powertools parameters with a TTL (src/orders/adapters/secrets.py)."""
    return {"user": get_db_credentials(get_settings(DatabaseSettings)).username}


def per_invocation(event, context):
    """The naive twin: GetSecretValue on every invocation."""
    secret = secretsmanager_client().get_secret_value(SecretId=get_settings(DatabaseSettings).db_secret_id)
    return {"user": json.loads(secret["SecretString"])["username"]}
