"""SchemaMigrationFunction: creates the MySQL tables; invoked once after each deploy (see README)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.adapters.catalog import apply_schema
from orders.adapters.mysql import get_database
from orders.observability import logger


@logger.inject_lambda_context
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    statements = apply_schema(get_database())
    logger.info("schema applied", statements=statements)
    return {"statements": statements}
