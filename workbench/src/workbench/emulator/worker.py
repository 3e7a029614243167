"""One execution environment: a process that imports the handler once (the INIT phase) and then
serves invocations one at a time, keeping its globals warm — as a Lambda sandbox does.

Started by workbench.emulator.environment with the function's environment variables. Requests arrive as
JSON lines on the file descriptor named in argv[2]; results leave as JSON lines on the one named in
argv[1]. The handler's own stdout and stderr are its logs; stdin is left to the handler (a breakpoint()).
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
import traceback
from typing import IO, Any


class LambdaContext:
    """The context object Lambda passes: request id, ARN, memory, and a deadline that counts down."""

    def __init__(self, request_id: str, deadline_epoch_ms: int, client_context: dict[str, Any] | None = None) -> None:
        self.aws_request_id = request_id
        self.function_name = os.environ["AWS_LAMBDA_FUNCTION_NAME"]
        self.function_version = os.environ["AWS_LAMBDA_FUNCTION_VERSION"]
        self.memory_limit_in_mb = int(os.environ["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"])
        self.invoked_function_arn = os.environ["LOCAL_FUNCTION_ARN"]
        self.log_group_name = os.environ["AWS_LAMBDA_LOG_GROUP_NAME"]
        self.log_stream_name = os.environ["AWS_LAMBDA_LOG_STREAM_NAME"]
        self.identity = None
        self.client_context = _ClientContext(client_context) if client_context is not None else None
        self._deadline_epoch_ms = deadline_epoch_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, self._deadline_epoch_ms - int(time.time() * 1000))


class _ClientContext:
    """What a mobile SDK caller sent (`X-Amz-Client-Context`), as the python runtime exposes it."""

    def __init__(self, document: dict[str, Any]) -> None:
        client = document.get("client")
        self.client = type("Client", (), dict(client))() if isinstance(client, dict) else None
        self.custom = document.get("custom")
        self.env = document.get("env")


_invocation = {"request_id": ""}  # the one in flight, for the runtime's log records
TAIL_BYTES = 4096  # what `LogType: Tail` returns: the last 4 KB of the invocation's log


class _Tee:
    """stdout or stderr, remembering what the invocation in flight writes when its caller asked for the tail."""

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self.captured: list[str] | None = None

    def write(self, text: str) -> int:
        if self.captured is not None:
            self.captured.append(text)
        return self._stream.write(text)

    def __getattr__(self, name: str) -> Any:  # flush, fileno, buffer, …: the stream's own
        return getattr(self._stream, name)


_PYTHON_LEVELS = {"TRACE": "DEBUG", "WARN": "WARNING", "FATAL": "CRITICAL"}  # Lambda's names → Python's


class _JsonFormatter(logging.Formatter):
    """The runtime's JSON application log record (LoggingConfig LogFormat: JSON)."""

    def format(self, record: logging.LogRecord) -> str:
        document: dict[str, Any] = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "message": record.getMessage(),
            "logger": record.name,
        }
        if _invocation["request_id"]:  # none during INIT
            document["requestId"] = _invocation["request_id"]
        if record.exc_info and record.exc_info[1] is not None:
            document |= _error(record.exc_info[1])
        return json.dumps(document, default=str)


def _with_request_id(record: logging.LogRecord) -> bool:
    record.request_id = _invocation["request_id"]
    return True


def setup_runtime_logging() -> None:
    """What the python runtime puts on the root logger before INIT: Lambda's tab-separated line, or JSON
    records filtered at the application log level (AWS_LAMBDA_LOG_FORMAT, AWS_LAMBDA_LOG_LEVEL)."""
    handler = logging.StreamHandler(sys.stdout)
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        handler.setFormatter(_JsonFormatter())
        level = os.environ.get("AWS_LAMBDA_LOG_LEVEL", "").upper()
        if level:
            logging.getLogger().setLevel(_PYTHON_LEVELS.get(level, level))
    else:
        text = logging.Formatter(
            "[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(request_id)s\t%(message)s", "%Y-%m-%dT%H:%M:%S"
        )
        text.converter = time.gmtime
        handler.setFormatter(text)
        handler.addFilter(_with_request_id)
    logging.getLogger().addHandler(handler)


def log_unhandled(error: Exception) -> None:
    """The runtime's record of an unhandled error, in the function's own log stream, with its traceback."""
    if os.environ.get("AWS_LAMBDA_LOG_FORMAT") == "JSON":
        now = time.time()
        stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{int(now * 1000) % 1000:03d}Z"
        record = {"timestamp": stamp, "level": "ERROR", "message": str(error), "requestId": _invocation["request_id"]}
        print(json.dumps(record | _error(error), default=str), file=sys.stderr)
    else:
        print(f"[ERROR] {type(error).__name__}: {error}\n{traceback.format_exc()}", file=sys.stderr)


def _error(error: BaseException, error_type: str | None = None) -> dict[str, Any]:
    return {
        "errorMessage": str(error),
        "errorType": error_type or type(error).__name__,
        "stackTrace": traceback.format_tb(error.__traceback__),
    }


def main() -> None:
    results: IO[str] = os.fdopen(int(sys.argv[1]), "w", buffering=1)
    # Lambda's import order: the task root, the layers, the standard library, then the runtime's
    # packages. Started with -S, so nothing of the runner's venv is on the path.
    layers = [path for path in os.environ.get("LOCAL_LAYER_PATHS", "").split(":") if path]
    sys.path[0:1] = [os.environ["LAMBDA_TASK_ROOT"], *layers]
    sys.path.append(os.environ["LAMBDA_RUNTIME_DIR"])
    if importlib.util.find_spec("sitecustomize") is not None:  # what `site` would do (a wrapper layer's hook)
        importlib.import_module("sitecustomize")
    snapshot_control = os.environ.pop("LOCAL_SNAPSHOT_CONTROL", None)  # set for SnapStart's snapshot
    os.environ.pop("LOCAL_SNAPSHOT", None)
    control = socket.socket(fileno=int(snapshot_control)) if snapshot_control else None
    debug_port = os.environ.pop("LOCAL_DEBUG_PORT", None)
    if debug_port is not None:
        wait_for_debugger(int(debug_port))
    module_name, _, function_name = os.environ["_HANDLER"].rpartition(".")
    sys.stdout, sys.stderr = _Tee(sys.stdout), _Tee(sys.stderr)  # before any logger holds the streams
    setup_runtime_logging()
    started = time.perf_counter()
    try:
        handler = getattr(importlib.import_module(module_name), function_name)
    except Exception as error:  # Lambda reports init failures this way and keeps no environment
        results.write(json.dumps({"init_error": _error(error, "Runtime.ImportModuleError")}) + "\n")
        return
    init_ms = (time.perf_counter() - started) * 1000
    requests: IO[str] = os.fdopen(int(sys.argv[2]), "r")  # stdin stays the terminal's: breakpoint() works
    if control is not None:  # SnapStart: this process is the version's snapshot
        restored = serve_as_snapshot(control, results, init_ms)
        if restored is None:
            return
        requests, results = restored
    else:
        results.write(json.dumps({"init_ms": init_ms}) + "\n")
    serve(handler, requests, results)


def wait_for_debugger(port: int) -> None:
    """`--debug-port`: debugpy (the runner's, never the function's) listening before INIT, which waits for a client."""
    path = os.environ.pop("LOCAL_DEBUGPY_PATH")
    sys.path.append(path)
    debugpy = importlib.import_module("debugpy")
    debugpy.listen(("127.0.0.1", port), in_process_debug_adapter=True)
    print(f"debugpy: listening on 127.0.0.1:{port}, waiting for a client", file=sys.stderr, flush=True)
    debugpy.wait_for_client()
    sys.path.remove(path)  # the function's imports are Lambda's, not the debugger's


def _run_hooks(registry: str) -> None:
    """SnapStart's runtime hooks, as the python runtime runs them (none registered: nothing to do)."""
    if importlib.util.find_spec("snapshot_restore_py") is None:
        return
    hooks = importlib.import_module("snapshot_restore_py")
    for hook, args, kwargs in getattr(hooks, registry)():
        hook(*args, **kwargs)


def serve_as_snapshot(control: socket.socket, results: IO[str], init_ms: float) -> tuple[IO[str], IO[str]] | None:
    """After INIT: the before-snapshot hooks, then one fork per environment restored from this memory.

    A fork is what a restore is: the same memory (globals, sockets, random state) in a new process.
    Each request on `control` brings the new environment's two pipe ends. Returns them in the child;
    None in the snapshot process once the runner closes `control`.
    """
    try:
        _run_hooks("get_before_snapshot")
    except Exception as error:
        results.write(json.dumps({"init_error": _error(error, "Runtime.BeforeSnapshotError")}) + "\n")
        return None
    results.write(json.dumps({"init_ms": init_ms}) + "\n")
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # restored environments are reaped by the kernel
    while True:
        message, fds, _, _ = socket.recv_fds(control, 4096, 2)
        if not message:
            return None
        command = json.loads(message)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid:
            for fd in fds:
                os.close(fd)
            control.sendall(json.dumps({"forked": pid}).encode() + b"\n")
            continue
        # The restored environment: its own channels and log stream; the after-restore hooks run
        # once the runner has moved it into its own sandbox (the first line it reads).
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        control.close()
        results.close()
        requests, restored_results = os.fdopen(fds[0], "r"), os.fdopen(fds[1], "w", buffering=1)
        os.environ["AWS_LAMBDA_LOG_STREAM_NAME"] = command["log_stream"]
        requests.readline()
        started = time.perf_counter()
        try:
            _run_hooks("get_after_restore")
        except Exception as error:
            restored_results.write(json.dumps({"init_error": _error(error, "Runtime.AfterRestoreError")}) + "\n")
            sys.exit(1)
        restored_results.write(json.dumps({"restore_hooks_ms": (time.perf_counter() - started) * 1000}) + "\n")
        return requests, restored_results


def serve(handler: Any, requests: IO[str], results: IO[str]) -> None:
    for line in requests:
        request = json.loads(line)
        os.environ["_X_AMZN_TRACE_ID"] = request["trace_id"]
        _invocation["request_id"] = request["request_id"]
        context = LambdaContext(request["request_id"], request["deadline_epoch_ms"], request.get("client_context"))
        logs: list[str] | None = [] if request.get("tail") else None
        for stream in (sys.stdout, sys.stderr):
            if isinstance(stream, _Tee):
                stream.captured = logs
        started = time.perf_counter()
        outcome: dict[str, Any]
        try:
            outcome = {"payload": handler(request["event"], context)}
        except Exception as error:
            outcome = {"error": _error(error)}
            log_unhandled(error)
        outcome["duration_ms"] = (time.perf_counter() - started) * 1000
        outcome["max_memory_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
        sys.stdout.flush()
        sys.stderr.flush()
        if logs is not None:
            outcome["log_tail"] = "".join(logs).encode()[-TAIL_BYTES:].decode("utf-8", "ignore")
        results.write(json.dumps(outcome, default=str) + "\n")


if __name__ == "__main__":
    main()
