"""Test-only handlers for the runner's CPU and memory emulation: CPU-bound work, allocation, writes."""

import os
import time

# INIT work that is pure CPU, so INIT duration shows whether INIT is throttled.
_started = time.perf_counter()
INIT_CHECKSUM = sum(i * i for i in range(int(os.environ.get("INIT_SPIN", "0"))))
INIT_CPU_S = time.perf_counter() - _started


def spin(event, context):
    """The same CPU-bound loop every time: its duration scales with the CPU share."""
    return {"checksum": sum(i * i for i in range(event.get("iterations", 2_000_000)))}


def allocate(event, context):
    """Hold `mb` MB of memory that the kernel must really back (touched, not just reserved)."""
    block = bytearray(event["mb"] * 1024 * 1024)
    for offset in range(0, len(block), 4096):
        block[offset] = 1
    return {"allocated_mb": event["mb"], "pid": os.getpid()}


def write_code_dir(event, context):
    """Try to write where Lambda's code lives: the task root and every layer folder."""
    results = {}
    for folder in [os.environ["LAMBDA_TASK_ROOT"], *os.environ.get("LOCAL_LAYER_PATHS", "").split(":")]:
        if not folder:
            continue
        try:
            with open(os.path.join(folder, "written-by-the-function"), "w") as file:
                file.write("x")
            results[folder] = "written"
        except OSError as error:
            results[folder] = type(error).__name__
    return results


def where(event, context):
    """Where the runtime's packages come from, and the import path the function sees."""
    import sys

    import boto3

    return {"boto3": boto3.__file__, "sys_path": sys.path}


def echo_size(event, context):
    """A response of `bytes` characters: over Lambda's 6 MB, Lambda drops it and says why."""
    return {"blob": "x" * event.get("bytes", 0)}
