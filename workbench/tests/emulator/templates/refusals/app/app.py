"""Answers at once, or stays in flight until the file an event names exists (the test decides when it ends);
or uses /tmp as the event says."""

import os
import time


def handler(event, context):
    if "Records" in event:
        return {"batchItemFailures": [], "received": len(event["Records"])}
    while "until" in event and not os.path.exists(event["until"]):
        time.sleep(0.01)
    return {"pid": os.getpid()}


def use_tmp(event, context):
    """Marks /tmp, looks for a mark, or reserves space there (fallocate: no data written, no page cache)."""
    mark, fill = "/tmp/mark", "/tmp/fill"  # noqa: S108 - the environment's own /tmp is the subject
    if event.get("mark"):
        with open(mark, "w") as handle:
            handle.write(str(os.getpid()))
    if "allocate_mb" in event:
        with open(fill, "wb") as handle:
            try:
                os.posix_fallocate(handle.fileno(), 0, event["allocate_mb"] * 1024 * 1024)
            except OSError as error:
                return {"errno": error.errno, "error": os.strerror(error.errno)}
            finally:
                os.remove(fill)
    return {"marked": os.path.exists(mark), "pid": os.getpid()}
