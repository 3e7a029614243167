"""Events for the bench, shaped like events/ (which the tests keep valid)."""

from __future__ import annotations

import copy
import json
import uuid
from typing import Any

from workbench.emulator.template import PROJECT_ROOT

_SQS_TEMPLATE = json.loads((PROJECT_ROOT / "events" / "sqs_orders_batch.json").read_text())["Records"][0]
_ORDER = json.loads(_SQS_TEMPLATE["body"])


def sqs_batches(messages: int, batch_size: int) -> list[dict[str, Any]]:
    """`messages` valid orders with unique ids, cut into SQS events of `batch_size` records."""
    records = []
    for _ in range(messages):
        record = copy.deepcopy(_SQS_TEMPLATE)
        record["messageId"] = str(uuid.uuid4())
        record["body"] = json.dumps(_ORDER | {"order_id": str(uuid.uuid4())})
        records.append(record)
    return [{"Records": records[i : i + batch_size]} for i in range(0, len(records), batch_size)]
