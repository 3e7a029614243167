"""DailyRollupFunction: per-SKU daily totals from DynamoDB into MySQL, run by EventBridge Scheduler."""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from orders.adapters.aws_clients import dynamodb_client, lambda_client, prime, secretsmanager_client
from orders.adapters.daily_totals import sum_shards_into_day, upsert_shard_totals
from orders.adapters.late_days import clear_late_day, late_days
from orders.adapters.mysql import database_tls, get_database
from orders.adapters.orders_table import day_shard_sales
from orders.adapters.rollup_runs import hand_out_shards
from orders.adapters.secrets import secrets_provider
from orders.config import RollupSettings, get_settings
from orders.logic.day_shards import shard_groups, shard_key
from orders.logic.rollup import DailyRollup, combine, roll_up_day
from orders.models import RollupRequest
from orders.observability import logger, metrics, tracer

SETTINGS = RollupSettings  # what this function reads from its environment: template.yaml gives it that

# INIT runs at full CPU, the first invocation at MemorySize's share: build every invocation's needs now.
prime(
    functools.partial(get_settings, SETTINGS),
    dynamodb_client,
    secretsmanager_client,
    lambda_client,
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
    if request.shards is not None:  # a run the scheduled one handed these shards to
        return {
            "sales_date": sales_date.isoformat(),
            "shards": request.shards,
            **_roll_up(request.shards, sales_date),
        }
    roll_up: Callable[[dt.date], dict[str, Any]]
    if settings.rollup_runs > 1:  # a day too big for one run: each run reads a share of its shards
        groups = shard_groups(settings.order_day_shards, settings.rollup_runs)
        roll_up, late_key = functools.partial(_hand_out, settings, groups), "late_days_handed_out"
    else:
        every_shard = list(range(settings.order_day_shards))
        roll_up, late_key = functools.partial(_roll_up, every_shard), "late_days_recomputed"
    result = {"sales_date": sales_date.isoformat(), **roll_up(sales_date)}
    # Days an order arrived for after their rollup ran (the consumer marked them): roll up again, then clear
    # (marked again meanwhile: kept for the next run; handed out: Lambda holds the runs, one that fails alarms).
    late = []
    for day, marked_at in sorted(late_days(settings).items()):
        if day != sales_date:
            roll_up(day)
        clear_late_day(settings, day, marked_at)
        late.append(day.isoformat())
    return result | {late_key: late}


def _hand_out(settings: RollupSettings, groups: list[list[int]], day: dt.date) -> dict[str, Any]:
    hand_out_shards(settings, day, groups)
    return {"runs": len(groups)}


def _roll_up(shards: Sequence[int], day: dt.date) -> dict[str, Any]:
    """These shards' totals from all their orders, upserted, then the day's summed from every shard's (a
    recomputation converges); the orders read and the SKUs among them."""
    settings = get_settings(SETTINGS)

    def shard_rollup(shard: int) -> DailyRollup:
        return roll_up_day(day, day_shard_sales(settings, shard_key(day.isoformat(), shard)))

    # The day's shards are partitions of their own: read several at once, each at its partition's own rate.
    with ThreadPoolExecutor(max_workers=min(len(shards), settings.rollup_readers)) as readers:
        # Each read in a copy of this context: its spans are the invocation's children.
        reads = {shard: readers.submit(contextvars.copy_context().run, shard_rollup, shard) for shard in shards}
        partials = {shard: read.result() for shard, read in reads.items()}
    upsert_shard_totals(get_database(), partials)
    sum_shards_into_day(get_database(), day)
    rollup = combine(day, partials.values())
    logger.info("rollup written", sales_date=day.isoformat(), shards=len(shards), orders=rollup.order_count)
    return {"orders": rollup.order_count, "skus": len(rollup.totals)}
