"""DailyRollupFunction: per-SKU daily totals from DynamoDB into MySQL, run by EventBridge Scheduler."""

from __future__ import annotations

import datetime as dt
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.adapters.aws_clients import dynamodb_client, prime, secretsmanager_client
from orders.adapters.catalog import upsert_daily_totals
from orders.adapters.mysql import database_tls, get_database
from orders.adapters.orders_table import orders_for_date
from orders.adapters.secrets import secrets_provider
from orders.config import get_settings
from orders.logic.rollup import roll_up_day
from orders.models import RollupRequest
from orders.observability import logger, metrics, tracer

# INIT runs at full CPU, the first invocation at MemorySize's share: build every invocation's needs now.
prime(get_settings, dynamodb_client, secretsmanager_client, secrets_provider, database_tls)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    request = RollupRequest.model_validate(event)
    sales_date = request.sales_date(now=dt.datetime.now(dt.UTC))
    rollup = roll_up_day(sales_date, orders_for_date(get_settings(), sales_date))
    rows = upsert_daily_totals(get_database(), rollup.totals)
    logger.info("daily rollup written", sales_date=sales_date.isoformat(), orders=rollup.order_count, rows=rows)
    return {"sales_date": sales_date.isoformat(), "orders": rollup.order_count, "skus": rows}
