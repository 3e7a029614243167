"""The late-days table: days whose orders changed after their rollup ran, until it runs again.

The consumer marks a day when it stores an order of a day that has already ended (a slow retry, a
DLQ redrive); the rollup recomputes each marked day and clears its mark — only if nobody marked it
again meanwhile, so an order stored while the rollup ran is counted by the next one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from botocore.exceptions import ClientError

from orders.adapters.aws_clients import dynamodb_client
from orders.config import LateDaysSettings
from orders.observability import logger


def mark_late_days(settings: LateDaysSettings, days: Iterable[dt.date], now: dt.datetime) -> set[dt.date]:
    """Mark each day for the next rollup; returns the days that could not be marked."""
    failed: set[dt.date] = set()
    for day in sorted(set(days)):
        try:
            dynamodb_client().update_item(
                TableName=settings.late_days_table_name,
                Key={"sales_date": {"S": day.isoformat()}},
                UpdateExpression="SET marked_at = :now",
                ExpressionAttributeValues={":now": {"S": now.isoformat()}},
            )
        except ClientError:
            logger.exception("could not mark a late day for the rollup", sales_date=day.isoformat())
            failed.add(day)
    return failed


def late_days(settings: LateDaysSettings) -> dict[dt.date, str]:
    """Every marked day, with the mark's time (what clearing it checks)."""
    paginator = dynamodb_client().get_paginator("scan")
    pages = paginator.paginate(TableName=settings.late_days_table_name, ConsistentRead=True)
    return {
        dt.date.fromisoformat(item["sales_date"]["S"]): item["marked_at"]["S"]
        for page in pages
        for item in page.get("Items", [])
    }


def clear_late_day(settings: LateDaysSettings, day: dt.date, marked_at: str) -> bool:
    """Clear the mark if it is still the one the rollup read; False when it was marked again since."""
    try:
        dynamodb_client().delete_item(
            TableName=settings.late_days_table_name,
            Key={"sales_date": {"S": day.isoformat()}},
            ConditionExpression="marked_at = :seen",
            ExpressionAttributeValues={":seen": {"S": marked_at}},
        )
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            return False
        raise
    return True
