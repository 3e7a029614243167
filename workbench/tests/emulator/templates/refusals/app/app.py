"""Answers at once, or stays in flight until the file an event names exists (the test decides when it ends)."""

import os
import time


def handler(event, context):
    if "Records" in event:
        return {"batchItemFailures": [], "received": len(event["Records"])}
    while "until" in event and not os.path.exists(event["until"]):
        time.sleep(0.01)
    return {"pid": os.getpid()}
