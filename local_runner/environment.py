"""Execution environments (worker processes) and the pool that scales them like Lambda does."""

from __future__ import annotations

import json
import math
import os
import select
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from local_runner.template import FunctionSpec

INIT_TIMEOUT_S = 10  # Lambda gives INIT ten seconds
WORKER_SCRIPT = Path(__file__).with_name("worker.py")  # run as a script: the function must not see this package


@dataclass
class Invocation:
    """What Lambda reports about one invocation."""

    request_id: str
    payload: Any
    error: dict[str, Any] | None
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: float | None  # set on a cold start only
    trace_id: str  # the X-Ray trace this invocation's segments belong to

    @property
    def billed_duration_ms(self) -> int:
        return max(1, math.ceil(self.duration_ms))

    @property
    def response(self) -> Any:
        """The invoke response body: the payload, or Lambda's error shape."""
        return self.error if self.error is not None else self.payload

    def report_line(self) -> str:
        line = (
            f"REPORT RequestId: {self.request_id}\tDuration: {self.duration_ms:.2f} ms\t"
            f"Billed Duration: {self.billed_duration_ms} ms\tMemory Size: {self.memory_size_mb} MB\t"
            f"Max Memory Used: {self.max_memory_used_mb} MB"
        )
        if self.init_duration_ms is not None:
            line += f"\tInit Duration: {self.init_duration_ms:.2f} ms"
        return line


class ExecutionEnvironment:
    """One worker process: INIT once, then warm invocations that reuse its globals."""

    def __init__(self, spec: FunctionSpec, environment: dict[str, str], log_sink: IO[str] | None = None):
        self.spec = spec
        self.invocations = 0
        read_fd, write_fd = os.pipe()
        stream_id = uuid.uuid4().hex
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "LANG": "C.UTF-8",
            "TZ": ":UTC",
            "AWS_REGION": environment.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
            "AWS_DEFAULT_REGION": environment.get("AWS_REGION", os.environ.get("AWS_DEFAULT_REGION", "us-east-1")),
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{spec.runtime}",
            "AWS_LAMBDA_FUNCTION_NAME": spec.logical_id,
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(spec.memory_mb),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{stream_id}",
            "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": sys.prefix,
            "_HANDLER": spec.handler,
            "LOCAL_FUNCTION_ARN": f"arn:aws:lambda:us-east-1:123456789012:function:{spec.logical_id}",
            # Layers land in /opt/python on Lambda; a built layer for *this* machine would go here.
            "LOCAL_LAYER_PATHS": ":".join(str(d / "python") for d in spec.layer_dirs if (d / "python").is_dir()),
        }
        env.update(environment)
        self._process = subprocess.Popen(  # noqa: S603 - our own worker module
            [sys.executable, "-u", str(WORKER_SCRIPT), str(write_fd)],
            env=env,
            cwd=spec.code_dir,
            stdin=subprocess.PIPE,
            stdout=log_sink if log_sink is not None else sys.stderr,
            stderr=log_sink if log_sink is not None else sys.stderr,
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        self._results = os.fdopen(read_fd, "r")
        ready = self._read(INIT_TIMEOUT_S)
        if ready is None or "init_error" in ready:
            self.kill()
            error = (ready or {}).get("init_error") or {
                "errorType": "Runtime.ExitError",
                "errorMessage": f"INIT did not finish within {INIT_TIMEOUT_S} s or the process exited",
            }
            raise InitError(error)
        self.init_duration_ms: float = ready["init_ms"]

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _read(self, timeout_s: float) -> dict[str, Any] | None:
        ready, _, _ = select.select([self._results], [], [], timeout_s)
        if not ready:
            return None
        line = self._results.readline()
        return json.loads(line) if line else None

    def invoke(self, event: Any) -> Invocation:
        request_id = str(uuid.uuid4())
        started = time.time()
        trace_id = f"1-{int(started):08x}-{uuid.uuid4().hex[:24]}"
        request = {
            "event": event,
            "request_id": request_id,
            "deadline_epoch_ms": int((started + self.spec.timeout_s) * 1000),
            "trace_id": f"Root={trace_id};Parent={uuid.uuid4().hex[:16]};Sampled=1",
        }
        assert self._process.stdin is not None
        self._process.stdin.write(json.dumps(request) + "\n")
        self._process.stdin.flush()
        first = self.invocations == 0
        self.invocations += 1
        outcome = self._read(self.spec.timeout_s)
        if outcome is None:  # Lambda stops the sandbox; the next invocation gets a new one
            self.kill()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
            outcome = {
                "error": {
                    "errorMessage": f"{stamp} {request_id} Task timed out after {self.spec.timeout_s:.2f} seconds",
                    "errorType": "Sandbox.Timedout",
                },
                "duration_ms": self.spec.timeout_s * 1000.0,
                "max_memory_mb": 0,
            }
        return Invocation(
            request_id=request_id,
            payload=outcome.get("payload"),
            error=outcome.get("error"),
            duration_ms=outcome["duration_ms"],
            memory_size_mb=self.spec.memory_mb,
            max_memory_used_mb=outcome["max_memory_mb"],
            init_duration_ms=self.init_duration_ms if first else None,
            trace_id=trace_id,
        )

    def kill(self) -> None:
        if self.alive:
            self._process.kill()
        self._process.wait()
        self._results.close()
        if self._process.stdin:
            self._process.stdin.close()


class InitError(RuntimeError):
    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(f"{error.get('errorType')}: {error.get('errorMessage')}")
        self.error = error


class FunctionPool:
    """Environments of one function: reuse an idle one, start another when invocations overlap."""

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        *,
        max_environments: int = 10,
        log_sink: IO[str] | None = None,
    ) -> None:
        self.spec = spec
        self.environment = environment
        self.max_environments = max_environments
        self.log_sink = log_sink
        self._idle: list[ExecutionEnvironment] = []
        self._busy = 0
        self._started = 0
        self._condition = threading.Condition()
        self.invocations: list[Invocation] = []

    @property
    def environments_started(self) -> int:
        return self._started

    def _acquire(self, cold: bool) -> ExecutionEnvironment | None:
        with self._condition:
            while True:
                if cold:
                    for environment in self._idle:
                        environment.kill()
                    self._idle.clear()
                self._idle = [e for e in self._idle if e.alive]
                if self._idle:
                    self._busy += 1
                    return self._idle.pop()
                if self._busy + len(self._idle) < self.max_environments:
                    self._busy += 1
                    self._started += 1
                    return None  # the caller starts one, outside the lock
                self._condition.wait()

    def _release(self, environment: ExecutionEnvironment | None) -> None:
        with self._condition:
            self._busy -= 1
            if environment is not None and environment.alive:
                self._idle.append(environment)
            self._condition.notify()

    def invoke(self, event: Any, *, cold: bool = False) -> Invocation:
        environment = self._acquire(cold)
        try:
            if environment is None:
                environment = ExecutionEnvironment(self.spec, self.environment, self.log_sink)
            invocation = environment.invoke(event)
        finally:
            self._release(environment)
        with self._condition:
            self.invocations.append(invocation)
        return invocation

    def close(self) -> None:
        with self._condition:
            for environment in self._idle:
                environment.kill()
            self._idle.clear()
