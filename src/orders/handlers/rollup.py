"""DailyRollupFunction: per-SKU daily totals from DynamoDB into MySQL, run by EventBridge Scheduler."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.adapters.aws_clients import dynamodb_client, prime, secretsmanager_client
from orders.adapters.daily_totals import upsert_daily_totals
from orders.adapters.late_days import clear_late_day, late_days
from orders.adapters.mysql import database_tls, get_database
from orders.adapters.orders_table import day_shard_sales
from orders.adapters.secrets import secrets_provider
from orders.config import RollupSettings, get_settings
from orders.logic.day_shards import day_shards
from orders.logic.rollup import DailyRollup, combine, roll_up_day
from orders.models import RollupRequest
from orders.observability import logger, metrics, tracer

SETTINGS = RollupSettings  # what this function reads from its environment: template.yaml gives it that

# INIT runs at full CPU, the first invocation at MemorySize's share: build every invocation's needs now.
prime(
    functools.partial(get_settings, SETTINGS),
    dynamodb_client,
    secretsmanager_client,
    secrets_provider,
    database_tls,
)


@logger.inject_lambda_context
@tracer.capture_lambda_handler
@metrics.log_metrics(capture_cold_start_metric=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    settings = get_settings(SETTINGS)
    request = RollupRequest.model_validate(event)
    sales_date = request.sales_date(now=dt.datetime.now(dt.UTC))
    orders, rows = _roll_up(sales_date)
    # Days an order arrived for after their rollup ran (the consumer marked them): recompute, then clear.
    recomputed = []
    for day, marked_at in sorted(late_days(settings).items()):
        if day != sales_date:
            _roll_up(day)
        clear_late_day(settings, day, marked_at)  # marked again meanwhile: kept for the next run
        recomputed.append(day.isoformat())
    return {"sales_date": sales_date.isoformat(), "orders": orders, "skus": rows, "late_days_recomputed": recomputed}


def _roll_up(day: dt.date) -> tuple[int, int]:
    """One day's totals from all its orders, upserted (a recomputation converges); (orders, rows)."""
    settings = get_settings(SETTINGS)

    def shard_rollup(shard_key: str) -> DailyRollup:
        return roll_up_day(day, day_shard_sales(settings, shard_key))

    # The day's shards are partitions of their own: read several at once, each at its partition's own rate.
    shards = day_shards(day.isoformat(), settings.order_day_shards)
    with ThreadPoolExecutor(max_workers=min(len(shards), settings.rollup_readers)) as readers:
        # Each read in a copy of this context: its spans are the invocation's children.
        partials = [readers.submit(contextvars.copy_context().run, shard_rollup, key) for key in shards]
        rollup = combine(day, (partial.result() for partial in partials))
    rows = upsert_daily_totals(get_database(), rollup.totals)
    logger.info("daily rollup written", sales_date=day.isoformat(), orders=rollup.order_count, rows=rows)
    return rollup.order_count, rows
