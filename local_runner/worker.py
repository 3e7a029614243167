"""One execution environment: a process that imports the handler once (the INIT phase) and then
serves invocations one at a time, keeping its globals warm — as a Lambda sandbox does.

Started by local_runner.environment with the function's environment variables. Requests arrive as
JSON lines on stdin; results leave as JSON lines on the file descriptor named in argv[1]. The
handler's own stdout and stderr are its logs.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import resource
import sys
import time
import traceback
from typing import Any


class LambdaContext:
    """The context object Lambda passes: request id, ARN, memory, and a deadline that counts down."""

    def __init__(self, request_id: str, deadline_epoch_ms: int) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = os.environ["LOCAL_FUNCTION_ARN"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main() -> None:
    results = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    # Lambda's import order: the task root, the layers, the standard library, then the runtime's
    # packages. Started with -S, so nothing of the runner's venv is on the path.
    layers = [path for path in os.environ.get("LOCAL_LAYER_PATHS", "").split(":") if path]
    sys.path[0:1] = [os.environ["LAMBDA_TASK_ROOT"], *layers]
    sys.path.append(os.environ["LAMBDA_RUNTIME_DIR"])
    if importlib.util.find_spec("sitecustomize") is not None:  # what `site` would do (a wrapper layer's hook)
        importlib.import_module("sitecustomize")
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # Lambda reports init failures this way and keeps no environment
        results.write(json.dumps({"init_error": _error(error, "Runtime.ImportModuleError")}) + "\n")
        return
    results.write(json.dumps({"init_ms": (time.perf_counter() - started) * 1000}) + "\n")

    for line in sys.stdin:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
        context = LambdaContext(request["request_id"], request["deadline_epoch_ms"])
        started = time.perf_counter()
        outcome: dict[str, Any]
        try:
            outcome = {"payload": handler(request["event"], context)}
        except Exception as error:
            outcome = {"error": _error(error)}
            # Lambda's runtime logs an unhandled error in the function's own log stream, with its traceback.
            print(f"[ERROR] {type(error).__name__}: {error}\n{traceback.format_exc()}", file=sys.stderr)
        outcome["duration_ms"] = (time.perf_counter() - started) * 1000
        outcome["max_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        sys.stdout.flush()
        sys.stderr.flush()
        results.write(json.dumps(outcome, default=str) + "\n")


if __name__ == "__main__":
    main()
