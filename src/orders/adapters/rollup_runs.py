"""Hand a day's shards to other runs of the rollup function: asynchronous invocations, each a share."""

from __future__ import annotations

import datetime as dt
import json

from orders.adapters.aws_clients import lambda_client
from orders.config import RollupSettings
from orders.observability import tracer


@tracer.capture_method(capture_response=False)
def hand_out_shards(settings: RollupSettings, sales_date: dt.date, groups: list[list[int]]) -> None:
    """One Event invocation per group: Lambda queues each, retries it as the function's EventInvokeConfig says
    and sends one that still fails to its on-failure destination (RollupFailureQueue)."""
    assert settings.rollup_function_name is not None  # RollupSettings refuses runs without it
    for shards in groups:
        lambda_client().invoke(
            FunctionName=settings.rollup_function_name,
            InvocationType="Event",
            Payload=json.dumps({"date": sales_date.isoformat(), "shards": shards}).encode(),
        )
