"""A test-only handler for the local runner: sleeps as long as the event says."""

import os
import time

LOADED_AT = time.time()  # module scope: survives warm invocations, like any global


def handler(event, context):
    time.sleep(event.get("sleep_s", 0))
    return {"loaded_at": LOADED_AT, "pid": os.getpid(), "remaining_ms": context.get_remaining_time_in_millis()}


def crash(event, context):
    raise ValueError("boom")
