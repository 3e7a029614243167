"""Loaded by Python at start-up when this folder is on PYTHONPATH: the chaos run puts it there for
the consumer's worker processes only, the way a Lambda layer or wrapper script would add a fault
injector. The function's code is unchanged and unaware.

CHAOS_UNPROCESSED_RATE / CHAOS_UNPROCESSED_SHARE: share of BatchWriteItem calls that leave part of
their items unprocessed, and the share of items left. CHAOS_THROTTLE_RATE: share of BatchWriteItem
HTTP attempts throttled. CHAOS_REPORT_DIR: where each process writes what it injected.
CHAOS_INJECTORS_PATH: the folder the injectors (sam_testkit) are imported from.
"""

import json
import os
import random
import sys
from pathlib import Path
from typing import Any

if os.environ.get("CHAOS_REPORT_DIR"):
    sys.path.insert(0, os.environ["CHAOS_INJECTORS_PATH"])  # for this import only: the function sees Lambda's path
    try:
        import botocore.session

        from sam_testkit.dynamodb_faults import SdkVisibleThrottling, random_unprocessed
    finally:
        sys.path.pop(0)

    _rng = random.Random(int(os.environ.get("CHAOS_SEED", "1")) + os.getpid())  # noqa: S311 - fault odds
    # Each process also faults its first call: every environment meets every fault at least once.
    _unprocessed = random_unprocessed(
        float(os.environ.get("CHAOS_UNPROCESSED_RATE", "0")),
        float(os.environ.get("CHAOS_UNPROCESSED_SHARE", "0.3")),
        _rng,
        first_call=True,
    )
    _throttling = SdkVisibleThrottling(float(os.environ.get("CHAOS_THROTTLE_RATE", "0")), _rng, first_attempt=True)
    _report = Path(os.environ["CHAOS_REPORT_DIR"]) / f"{os.getpid()}.json"
    _create_client = botocore.session.Session.create_client

    def _write_report() -> None:
        _report.write_text(
            json.dumps(
                {
                    "batch_write_calls": _unprocessed.calls,
                    "items_left_unprocessed": _unprocessed.items_left_unprocessed,
                    "throttled_attempts": _throttling.throttled,
                }
            )
        )

    def _chaotic_create_client(self: Any, service_name: str, *args: Any, **kwargs: Any) -> Any:
        client = _create_client(self, service_name, *args, **kwargs)
        if service_name == "dynamodb":
            _unprocessed.install(client.meta.events)
            _throttling.install(client.meta.events)
            client.meta.events.register("after-call.dynamodb.BatchWriteItem", lambda **_: _write_report())
        return client

    botocore.session.Session.create_client = _chaotic_create_client  # type: ignore[method-assign]
