"""SchemaMigrationFunction: creates the MySQL tables and the functions' least-privilege user; invoked
once after each deploy (see README). It alone connects as the master user."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.adapters.mysql import get_database
from orders.adapters.schema import apply_schema, ensure_app_user
from orders.adapters.secrets import get_db_credentials
from orders.config import MigrationSettings, get_settings
from orders.observability import logger

SETTINGS = MigrationSettings  # what this function reads from its environment: template.yaml gives it that


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings(SETTINGS)
    statements = apply_schema(get_database())
    logger.info("schema applied", statements=statements)
    if settings.app_db_secret_id:
        app_user = get_db_credentials(settings, secret_id=settings.app_db_secret_id, force_refresh=True)
        ensure_app_user(get_database(), app_user, settings.db_name)
        logger.info("app user in place", username=app_user.username)
    return {"statements": statements}
