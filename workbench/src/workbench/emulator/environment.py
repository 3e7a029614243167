"""Execution environments (worker processes) and the pool that scales them like Lambda does."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import debugpy as debugpy_module
from moto.core.models import DEFAULT_ACCOUNT_ID

from workbench.emulator import ephemeral, sandbox
from workbench.emulator.build import runtime_dir
from workbench.emulator.platform_log import PlatformLog, log_tail
from workbench.emulator.template import FunctionSpec

# Lambda's INIT limits (docs.aws.amazon.com/lambda/latest/dg/lambda-runtime-environment.html): on demand, ten
# seconds, then INIT runs again within the first invocation under the function's Timeout; before traffic
# (provisioned concurrency, SnapStart's snapshot), 130 s or the Timeout, whichever is higher, at most 900 s.
ON_DEMAND_INIT_LIMIT_S = 10
PREPARED_INIT_LIMIT_S = 130
RESTORE_TIMEOUT_S = 10  # and a restore with its after-restore hooks ten seconds too
WORKER_SCRIPT = Path(__file__).with_name("worker.py")  # run as a script: the function must not see this package
# How Lambda's runtime errors name the signal that ended the process ("signal: killed").
_SIGNAL_WORDS = {
    int(signal.SIGKILL): "killed",
    int(signal.SIGTERM): "terminated",
    int(signal.SIGSEGV): "segmentation fault",
}
_said_once: set[str] = set()
_said_lock = threading.Lock()


def say_once(message: str) -> None:
    """Limits of the emulation are said, once per run, never silently skipped."""
    with _said_lock:
        if message not in _said_once:
            _said_once.add(message)
            print(f"local runner: {message}", file=sys.stderr)


@dataclass(frozen=True)
class Emulation:
    """What of Lambda's execution environment the runner reproduces (see emulator/sandbox.py)."""

    cpu_and_memory: bool = True  # CPU ∝ MemorySize and a memory limit, through cgroups
    throttle_init: bool = False  # on-demand INIT is observed unthrottled; True for PC/SnapStart experiments

    @classmethod
    def from_environment(cls) -> Emulation:
        """LAMBDA_EMULATION=off runs at the host's full speed; LAMBDA_THROTTLE_INIT=1 throttles INIT."""
        return cls(
            cpu_and_memory=os.environ.get("LAMBDA_EMULATION", "on").lower() not in {"off", "0", "false", "no"},
            throttle_init=os.environ.get("LAMBDA_THROTTLE_INIT", "").lower() in {"1", "true", "yes", "on"},
        )

    def describe(self) -> str:
        """One line for the runner's output: what is emulated here, and what not."""
        if not self.cpu_and_memory:
            return f"{sandbox.NOT_EMULATED} (LAMBDA_EMULATION=off): every environment runs at the host's full speed"
        host = sandbox.cgroup_host()
        if isinstance(host, str):
            return f"{sandbox.NOT_EMULATED}: {host}"
        init = "throttled too (LAMBDA_THROTTLE_INIT)" if self.throttle_init else "unthrottled, as observed on Lambda"
        return (
            f"CPU = MemorySize / {sandbox.ONE_VCPU_MB} MB of a vCPU, memory limit = MemorySize "
            f"(cgroup v{host.version}); INIT {init}"
        )

    def sandbox_for(self, memory_mb: int) -> sandbox.Sandbox | None:
        """A sandbox for one environment, or None (said once) where cgroups are not available."""
        if not self.cpu_and_memory:
            return None
        host = sandbox.cgroup_host()
        if isinstance(host, str):
            say_once(f"{sandbox.NOT_EMULATED}: {host}")
            return None
        return sandbox.Sandbox(host, memory_mb, throttle_init=self.throttle_init)


@dataclass(frozen=True)
class Lifecycle:
    """When environments start and end: `lazy` on demand (Lambda's way), `eager` one per function before traffic,
    `never` a fresh one per invocation; `idle_timeout_s` retires one left idle that long, as Lambda recycles them
    (after a time it does not publish; here unlimited unless set)."""

    warm: str = "lazy"
    idle_timeout_s: float | None = None

    def describe(self) -> str:
        idle = f", idle ones retired after {self.idle_timeout_s:g} s" if self.idle_timeout_s is not None else ""
        return {
            "lazy": "started on demand, kept warm",
            "eager": "one per function started before traffic, more on demand",
            "never": "a fresh one per invocation (every invocation a cold start)",
        }[self.warm] + idle


# Lambda quotas: 6 MB each for a synchronous invocation's request and response. The response's bound is the
# figure Lambda's own Function.ResponseSizeTooLarge message names.
REQUEST_LIMIT_BYTES = 6 * 1024 * 1024
RESPONSE_LIMIT_BYTES = 6_291_556


class RequestTooLargeError(Exception):
    """The Invoke API's RequestTooLargeException (HTTP 413): refused before any environment runs."""

    def __init__(self, size: int) -> None:
        super().__init__(
            f"RequestTooLargeException: Request must be smaller than {REQUEST_LIMIT_BYTES} bytes for the "
            f"InvokeFunction operation (this one: {size} bytes)"
        )


ENVIRONMENT_LIMIT_BYTES = 4096  # Lambda's quota on a function's environment variables, all of them together


class FunctionConfigError(ValueError):
    """A function Lambda would not create as the template declares it: Lambda's own message."""


def check_environment_size(logical_id: str, variables: dict[str, str]) -> None:
    """Lambda's 4 KB limit, measured as Lambda says it measures: the variables as one JSON string.

    Measured on the local values (a local queue URL is shorter than AWS's): a template close to the
    limit here may be over it on AWS.
    """
    measured = json.dumps(variables, separators=(",", ":"))
    if len(measured.encode()) > ENVIRONMENT_LIMIT_BYTES:
        raise FunctionConfigError(
            f"{logical_id}: InvalidParameterValueException: Lambda was unable to configure your environment "
            f"variables because the environment variables you have provided exceeded the 4KB limit. "
            f"String measured: {measured[:80]}… ({len(measured.encode())} bytes)"
        )


class ThrottledError(Exception):
    """The Invoke API's TooManyRequestsException (HTTP 429): every environment the function's reserved
    concurrency allows is busy, or it reserves none. Nothing ran; the caller decides whether to retry."""

    reason = "ReservedFunctionConcurrentInvocationLimitExceeded"

    def __init__(self, function: str, reserved: int) -> None:
        super().__init__(f"TooManyRequestsException: Rate Exceeded. ({self.reason}: {function} reserves {reserved})")


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
    emulated: bool = True  # CPU and memory as Lambda gives them (cgroups); False: the host's full speed
    restore_duration_ms: float | None = None  # SnapStart: set on the first invocation of a restored environment
    billed_restore_ms: float | None = None  # the after-restore hooks' time, which Lambda bills
    log_tail: str | None = None  # asked for (`LogType: Tail`): the last 4 KB of its log

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
        if self.restore_duration_ms is not None and self.billed_restore_ms is not None:
            line += (
                f"\tRestore Duration: {self.restore_duration_ms:.2f} ms"
                f"\tBilled Restore Duration: {max(1, math.ceil(self.billed_restore_ms))} ms"
            )
        if self.error is not None and self.error.get("errorType", "").startswith(("Runtime.", "Sandbox.")):
            line += f"\tStatus: error\tError Type: {self.error['errorType']}"
        if not self.emulated:
            line += f"\t({sandbox.NOT_EMULATED})"
        return line


def init_limit_s(spec: FunctionSpec, *, before_traffic: bool) -> float:
    """How long Lambda lets INIT run: on demand, or before traffic (provisioned concurrency, SnapStart)."""
    return max(PREPARED_INIT_LIMIT_S, spec.timeout_s) if before_traffic else ON_DEMAND_INIT_LIMIT_S


class ExecutionEnvironment:
    """One worker process: INIT once, then warm invocations that reuse its globals."""

    _last_line_bytes = 0  # the worker's last message line; json.dumps escapes to ASCII, so characters are bytes
    code_version = 0  # its pool's code when it started (FunctionPool.retire)

    def __init__(
        self,
        spec: FunctionSpec,
        environment: dict[str, str],
        log_sink: IO[str] | None = None,
        emulation: Emulation | None = None,
        *,
        snapshot: Snapshot | None = None,
        pass_fds: tuple[int, ...] = (),
        provisioned: bool = False,
        for_snapshot: bool = False,
        debug_port: int | None = None,
    ):
        self.spec = spec
        self.init_limit_s = init_limit_s(spec, before_traffic=provisioned or for_snapshot)
        self._reinit_ms = 0.0  # an on-demand INIT run again within the first invocation (counted in it)
        self.debug_port = debug_port  # under debugpy: INIT waits for a client, and no timeout applies
        self.invocations = 0
        # Provisioned concurrency: INIT before traffic, under the CPU its memory buys; no Init Duration reported.
        self.provisioned = provisioned
        if provisioned:
            emulation = dataclasses.replace(emulation or Emulation(), throttle_init=True)
        self.last_used = 0.0  # when its pool last had it back (FunctionPool's clock)
        self.restore_duration_ms: float | None = None
        self.billed_restore_ms: float | None = None
        self.sandbox = (emulation or Emulation()).sandbox_for(spec.memory_mb)
        self.platform_log = PlatformLog(spec.log_config, log_sink if log_sink is not None else sys.stderr)
        self._tmp: ephemeral.PrivateTmp | None = None  # its own /tmp, once started (emulator/ephemeral.py)
        try:
            if snapshot is not None:
                self._restore(snapshot)
            else:
                self._start(environment, log_sink, pass_fds)
        except BaseException:
            self._remove_sandbox()
            raise

    def _restore(self, snapshot: Snapshot) -> None:
        """SnapStart: a fork of the snapshot process, moved into its own sandbox, then the after-restore hooks."""
        started = time.perf_counter()
        requests_read, requests_write = os.pipe()
        results_read, results_write = os.pipe()
        pid = snapshot.fork(requests_read, results_write, uuid.uuid4().hex)
        os.close(requests_read)
        os.close(results_write)
        self._process: subprocess.Popen[str] | _RestoredProcess = _RestoredProcess(pid)
        self._requests = os.fdopen(requests_write, "w")
        self._results = os.fdopen(results_read, "r")
        if self.sandbox is not None:
            self.sandbox.enter(pid)  # restores run unthrottled like INIT, unless LAMBDA_THROTTLE_INIT
        self._requests.write("restore\n")  # it is in its sandbox: run the hooks
        self._requests.flush()
        ready = self._read(RESTORE_TIMEOUT_S)
        if not isinstance(ready, dict) or "init_error" in ready:
            error = ready["init_error"] if isinstance(ready, dict) else self._exit_error(None)
            self.kill()
            raise InitError(error)
        self.init_duration_ms: float | None = None  # INIT ran once, for the snapshot
        self.restore_duration_ms = (time.perf_counter() - started) * 1000
        self.billed_restore_ms = ready["restore_hooks_ms"]
        if self.sandbox is not None:
            self.sandbox.set_throttled(True)

    def _start(self, environment: dict[str, str], log_sink: IO[str] | None, pass_fds: tuple[int, ...]) -> None:
        spec = self.spec
        stream_id = uuid.uuid4().hex
        layer_paths = [d / "python" for d in spec.layer_dirs if (d / "python").is_dir()]
        for extensions in (d / "extensions" for d in spec.layer_dirs if (d / "extensions").is_dir()):
            say_once(
                f"{spec.logical_id}: its layer ships external extensions ({extensions.parent.name}/extensions); "
                "the Extensions API is not emulated, so they do not run here"
            )
        runtime = runtime_dir()
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
            "AWS_LAMBDA_INITIALIZATION_TYPE": "provisioned-concurrency" if self.provisioned else "on-demand",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{spec.logical_id}",
            "AWS_LAMBDA_LOG_STREAM_NAME": f"{time.strftime('%Y/%m/%d')}/[$LATEST]{stream_id}",
            # No AWS_LAMBDA_RUNTIME_API: the worker is the runtime, and no Runtime or Extensions API is served
            # (an address nothing answers would mislead an extension or a custom runtime into waiting on it).
            "LAMBDA_TASK_ROOT": str(spec.code_dir),
            "LAMBDA_RUNTIME_DIR": str(runtime),  # the runtime's own packages (boto3, botocore, …)
            "_HANDLER": spec.handler,
            "LOCAL_FUNCTION_ARN": f"arn:aws:lambda:us-east-1:{DEFAULT_ACCOUNT_ID}:function:{spec.logical_id}",
            "LOCAL_LAYER_PATHS": ":".join(str(p) for p in layer_paths),  # /opt/python on Lambda
        }
        env.update(environment)
        # -S: no site-packages of the runner's venv; the worker sets Lambda's sys.path itself. _spawn adds the
        # two pipes' descriptors.
        worker = [sys.executable, "-S", "-u", str(WORKER_SCRIPT)]
        if self.debug_port is not None:
            worker[1:1] = ["-X", "frozen_modules=off"]  # debugpy sees every module's source
            env |= {
                "LOCAL_DEBUG_PORT": str(self.debug_port),
                "LOCAL_DEBUGPY_PATH": str(Path(debugpy_module.__file__).parent.parent),
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
            }
        tmp = ephemeral.private_tmp(spec.ephemeral_storage_mb)
        if isinstance(tmp, str):
            say_once(tmp)
        else:
            self._tmp = tmp
        command, problem = sandbox.launch_command(
            worker,
            sandbox=self.sandbox,
            read_only=(spec.code_dir, *spec.layer_dirs, runtime),
            mounts=tuple(tmp.mount_steps()) if not isinstance(tmp, str) else (),
        )
        if problem:
            say_once(problem)
        ready = self._spawn(
            command, env, log_sink, pass_fds, None if self.debug_port is not None else self.init_limit_s
        )
        if ready == "timeout" and self.init_limit_s == ON_DEMAND_INIT_LIMIT_S and self.debug_port is None:
            self._end_process()
            say_once(
                f"{spec.logical_id}: INIT over {ON_DEMAND_INIT_LIMIT_S} s; as Lambda does, it runs again within the "
                f"first invocation, under the function's Timeout ({spec.timeout_s:g} s), and the REPORT shows no "
                "Init Duration"
            )
            if self.sandbox is not None:
                self.sandbox.set_throttled(True)  # now part of an invocation: the CPU its memory buys
            started = time.perf_counter()
            ready = self._spawn(command, env, log_sink, pass_fds, spec.timeout_s)
            self._reinit_ms = (time.perf_counter() - started) * 1000
        if ready == "timeout":
            self.kill()
            limit = self.init_limit_s if not self._reinit_ms else spec.timeout_s
            raise InitError({"errorType": "Runtime.ExitError", "errorMessage": f"INIT over {limit:g} s"})
        if ready == "exited" or "init_error" in ready:
            error = ready["init_error"] if isinstance(ready, dict) else self._exit_error(None)
            self.kill()
            raise InitError(error)
        assert isinstance(ready, dict)
        self.init_duration_ms = None if self._reinit_ms else ready["init_ms"]
        if self.sandbox is not None:
            self.sandbox.set_throttled(True)  # from the first invocation on, CPU in proportion to memory

    def _spawn(
        self,
        command: list[str],
        env: dict[str, str],
        log_sink: IO[str] | None,
        pass_fds: tuple[int, ...],
        limit_s: float | None,
    ) -> dict[str, Any] | str:
        """The worker started on pipes of its own; its first message (INIT done), "timeout" or "exited"."""
        read_fd, write_fd = os.pipe()
        # Requests on a pipe of their own: stdin stays the terminal's, for a breakpoint() in the handler.
        requests_read, requests_write = os.pipe()
        self._process = subprocess.Popen(  # noqa: S603 - our own worker module
            [*command, str(write_fd), str(requests_read)],
            env=env,
            cwd=self.spec.code_dir,
            stdout=log_sink if log_sink is not None else sys.stderr,
            stderr=log_sink if log_sink is not None else sys.stderr,
            pass_fds=(write_fd, requests_read, *pass_fds),
            text=True,
        )
        os.close(write_fd)
        os.close(requests_read)
        self._requests = os.fdopen(requests_write, "w")
        self._results = os.fdopen(read_fd, "r")
        return self._read(limit_s)

    @property
    def alive(self) -> bool:
        return self._process.poll() is None

    def _read(self, timeout_s: float | None) -> dict[str, Any] | str:
        """The worker's next message, or "timeout", or "exited"."""
        ready, _, _ = select.select([self._results], [], [], timeout_s)
        if not ready:
            return "timeout"
        line = self._results.readline()
        self._last_line_bytes = len(line)
        return json.loads(line) if line else "exited"

    def _exit_error(self, request_id: str | None) -> dict[str, Any]:
        """Lambda's error when the runtime process dies: out of memory, or another exit."""
        code = self._process.wait()
        prefix = f"RequestId: {request_id} " if request_id else ""
        if code is None:  # a restored environment is the snapshot's child, not ours: no exit status
            reason = "signal: killed" if self.sandbox is not None and self.sandbox.out_of_memory() else "exited"
        else:
            reason = f"signal: {_SIGNAL_WORDS.get(-code, str(-code))}" if code < 0 else f"exit status {code}"
        out_of_memory = self.sandbox is not None and self.sandbox.out_of_memory()
        return {
            "errorType": "Runtime.OutOfMemory" if out_of_memory else "Runtime.ExitError",
            "errorMessage": f"{prefix}Error: Runtime exited with error: {reason}",
        }

    def invoke(
        self, event_json: str, *, tail: bool = False, client_context: dict[str, Any] | None = None
    ) -> Invocation:
        """One invocation of the event, already serialized (FunctionPool measured it against the quota);
        `tail`: keep the last 4 KB of its log, as `LogType: Tail` returns them; `client_context`: the caller's
        (`X-Amz-Client-Context`), as `context.client_context`."""
        request_id = str(uuid.uuid4())
        first = self.invocations == 0
        reinit_ms = self._reinit_ms if first else 0.0  # INIT run again within this invocation: in its time
        started = time.time() - reinit_ms / 1000
        trace_id = f"1-{int(started):08x}-{uuid.uuid4().hex[:24]}"
        request = {
            "request_id": request_id,
            "deadline_epoch_ms": int((started + self.spec.timeout_s) * 1000),
            "trace_id": f"Root={trace_id};Parent={uuid.uuid4().hex[:16]};Sampled=1",
            "tail": tail,
            "client_context": client_context,
        }
        self.platform_log.start(request_id)
        self._requests.write(f'{json.dumps(request)[:-1]}, "event": {event_json}}}\n')  # the event as given
        self._requests.flush()
        self.invocations += 1
        message = self._read(max(0.0, started + self.spec.timeout_s - time.time()) if self.debug_port is None else None)
        peak = self.sandbox.peak_memory_mb() if self.sandbox is not None else None
        outcome: dict[str, Any]
        if message == "timeout":  # Lambda stops the sandbox; the next invocation gets a new one
            self.kill()
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(started))
            error = {
                "errorMessage": f"{stamp} {request_id} Task timed out after {self.spec.timeout_s:.2f} seconds",
                "errorType": "Sandbox.Timedout",
            }
            outcome = {"error": error, "duration_ms": self.spec.timeout_s * 1000.0, "max_memory_mb": 0}
        elif message == "exited":  # killed (out of memory) or exited: this environment is gone
            outcome = {"error": self._exit_error(request_id), "max_memory_mb": 0}
            outcome["duration_ms"] = (time.time() - started) * 1000
            self.kill()
        else:
            assert isinstance(message, dict)
            outcome = message
            outcome["duration_ms"] += reinit_ms
            # The worker's line holds the payload: only a line over the quota can hold a payload over it.
            over = self._last_line_bytes > RESPONSE_LIMIT_BYTES and outcome.get("error") is None
            size = len(json.dumps(outcome.get("payload")).encode()) if over else 0
            if size > RESPONSE_LIMIT_BYTES:  # Lambda drops it, says why
                outcome["error"] = {
                    "errorType": "Function.ResponseSizeTooLarge",
                    "errorMessage": f"Response payload size ({size} bytes) exceeded maximum allowed payload size "
                    f"({RESPONSE_LIMIT_BYTES} bytes).",
                }
                outcome["payload"] = None
        invocation = Invocation(
            request_id=request_id,
            payload=outcome.get("payload"),
            error=outcome.get("error"),
            duration_ms=outcome["duration_ms"],
            memory_size_mb=self.spec.memory_mb,
            max_memory_used_mb=min(peak, self.spec.memory_mb) if peak is not None else outcome["max_memory_mb"],
            init_duration_ms=self.init_duration_ms if first and not self.provisioned else None,
            trace_id=trace_id,
            emulated=self.sandbox is not None,
            restore_duration_ms=self.restore_duration_ms if first else None,
            billed_restore_ms=self.billed_restore_ms if first else None,
        )
        self.platform_log.end(invocation)
        if tail:
            invocation = dataclasses.replace(
                invocation, log_tail=log_tail(self.spec.log_config, invocation, str(outcome.get("log_tail", "")))
            )
        return invocation

    def kill(self) -> None:
        self._end_process()
        self._remove_sandbox()

    def _end_process(self) -> None:
        """The worker gone, its pipes closed; its sandbox kept (kill removes it)."""
        if self.alive:
            self._process.kill()
        self._process.wait()
        self._results.close()
        with contextlib.suppress(OSError):  # the worker may be gone with the pipe's other end
            self._requests.close()

    def _remove_sandbox(self) -> None:
        if self.sandbox is not None:
            self.sandbox.remove()
        if self._tmp is not None:
            self._tmp.remove()
            self._tmp = None


class _RestoredProcess:
    """A restored environment's process: forked by the snapshot process, so known here by pid only."""

    def __init__(self, pid: int) -> None:
        self.pid = pid

    def poll(self) -> int | None:
        try:
            os.kill(self.pid, 0)  # the snapshot process lets the kernel reap its children: gone means gone
        except ProcessLookupError:
            return 0
        return None

    def wait(self) -> int | None:
        deadline = time.monotonic() + 5
        while self.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        return None  # its exit status went to the snapshot process

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid, signal.SIGKILL)


class Snapshot:
    """SnapStart for one function version: INIT once, then every new environment is restored from it.

    The snapshot is a worker that ran INIT and the before-snapshot hooks and now only forks: each
    fork starts with its memory — globals, open sockets, random state — as a restore does on
    Lambda (docs.aws.amazon.com/lambda/latest/dg/snapstart.html). Linux only (os.fork).
    """

    def __init__(
        self, spec: FunctionSpec, environment: dict[str, str], log_sink: IO[str] | None, emulation: Emulation
    ) -> None:
        self._control, theirs = socket.socketpair()
        snapshot_environment = environment | {
            "LOCAL_SNAPSHOT_CONTROL": str(theirs.fileno()),
            "AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
        }
        try:
            self.process = ExecutionEnvironment(
                spec, snapshot_environment, log_sink, emulation, pass_fds=(theirs.fileno(),), for_snapshot=True
            )
        finally:
            theirs.close()
        self.init_duration_ms = self.process.init_duration_ms
        self._lock = threading.Lock()
        self._replies = self._control.makefile("r")

    def fork(self, requests_fd: int, results_fd: int, log_stream_id: str) -> int:
        """A new process with the snapshot's memory, reading requests from and writing results to these."""
        command = json.dumps({"log_stream": f"{time.strftime('%Y/%m/%d')}/[1]{log_stream_id}"}).encode()
        with self._lock:
            socket.send_fds(self._control, [command + b"\n"], [requests_fd, results_fd])
            reply = self._replies.readline()
        if not reply:
            raise InitError({"errorType": "Runtime.ExitError", "errorMessage": "the SnapStart snapshot exited"})
        return int(json.loads(reply)["forked"])

    def close(self) -> None:
        self._control.close()
        self.process.kill()


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
        emulation: Emulation | None = None,
        snapstart: bool = False,
        reserved_concurrency: int | None = None,
        provisioned: int = 0,
        lifecycle: Lifecycle | None = None,
        clock: Callable[[], float] = time.monotonic,
        debug_port: int | None = None,
    ) -> None:
        self.spec = spec
        self.debug_port = debug_port  # its one environment under debugpy (emulator/worker.py)
        self.provisioned = provisioned  # environments initialised before traffic (ProvisionedConcurrencyConfig)
        self.lifecycle = lifecycle or Lifecycle()
        self._clock = clock
        # Lambda throttles at the reserved concurrency; `max_environments` is this host's cap, where invocations wait.
        self.reserved_concurrency = reserved_concurrency
        self.emulation = emulation or Emulation.from_environment()
        self.environment = environment
        self.snapstart = snapstart and hasattr(os, "fork")
        if snapstart and not self.snapstart:
            say_once(f"{spec.logical_id}: SnapStart not emulated here (no os.fork): every environment runs INIT")
        self._snapshot: Snapshot | None = None
        self._snapshot_lock = threading.Lock()
        self.max_environments = max_environments
        self.log_sink = log_sink
        self._idle: list[ExecutionEnvironment] = []
        self._busy = 0
        self._started = 0
        self._code_version = 0  # raised by retire(): environments of an older one end when their invocation does
        self._condition = threading.Condition()
        self.invocations: list[Invocation] = []

    @property
    def environments_started(self) -> int:
        return self._started

    @property
    def in_flight(self) -> int:
        return self._busy

    def builds_in_use(self) -> set[Path]:
        """The build folders its environments and its next environment run from."""
        with self._condition:
            specs = [self.spec, *(environment.spec for environment in self._idle)]
        return {spec.code_dir.resolve().parent for spec in specs}  # a debugged function runs through a link

    def retire(self, spec: FunctionSpec) -> None:
        """New code: idle environments end now, busy ones once their invocation ends; the next start is a cold
        start of `spec` (and SnapStart takes a new snapshot, as publishing a version does)."""
        with self._condition:
            self.spec = spec
            self._code_version += 1
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.kill()
        with self._snapshot_lock:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None

    def prepare(self) -> list[ExecutionEnvironment]:
        """Before traffic: the provisioned environments (or, `--warm eager`, one on-demand environment), INIT
        run; the environments started."""
        count = self.provisioned or (1 if self.lifecycle.warm == "eager" else 0)
        started = []
        for _ in range(count - self._started):
            with self._condition:
                self._started += 1
            environment = self._new_environment(self._code_version, provisioned=self.provisioned > 0)
            environment.last_used = self._clock()
            started.append(environment)
            with self._condition:
                self._idle.append(environment)
                self._condition.notify()
        return started

    def _new_environment(self, code_version: int, *, provisioned: bool) -> ExecutionEnvironment:
        environment = ExecutionEnvironment(
            self.spec,
            self.environment,
            self.log_sink,
            self.emulation,
            snapshot=self.snapshot(),
            provisioned=provisioned,
            debug_port=self.debug_port,
        )
        environment.code_version = code_version
        return environment

    def _acquire(self, cold: bool) -> ExecutionEnvironment | None:
        with self._condition:
            if self.reserved_concurrency is not None and self._busy >= self.reserved_concurrency:
                raise ThrottledError(self.spec.logical_id, self.reserved_concurrency)
            while True:
                idle_limit = self.lifecycle.idle_timeout_s
                now = self._clock()
                for environment in self._idle:  # Lambda recycles environments left idle
                    old = idle_limit is not None and now - environment.last_used > idle_limit
                    if cold or old:
                        environment.kill()
                self._idle = [e for e in self._idle if e.alive]
                if self._idle:
                    self._busy += 1
                    self._idle.sort(key=lambda e: e.provisioned)  # provisioned environments take traffic first
                    return self._idle.pop()
                if self._busy + len(self._idle) < self.max_environments:
                    self._busy += 1
                    self._started += 1
                    return None  # the caller starts one, outside the lock
                self._condition.wait()

    def _release(self, environment: ExecutionEnvironment | None, code_version: int) -> None:
        with self._condition:
            self._busy -= 1
            current = code_version == self._code_version
            if environment is not None and environment.alive and current and self.lifecycle.warm != "never":
                environment.last_used = self._clock()
                self._idle.append(environment)
            elif environment is not None:
                environment.kill()  # retired while it ran (new code), or `never` keeps none
            self._condition.notify()

    def invoke(
        self, event: Any, *, cold: bool = False, tail: bool = False, client_context: dict[str, Any] | None = None
    ) -> Invocation:
        """A synchronous invocation; an event over Lambda's request quota raises RequestTooLargeError, one over
        the function's reserved concurrency ThrottledError; `tail` keeps the last 4 KB of its log."""
        event_json = json.dumps(event)  # once: measured here, sent as it is
        size = len(event_json.encode())
        if size > REQUEST_LIMIT_BYTES:
            raise RequestTooLargeError(size)
        environment = self._acquire(cold)
        code_version = self._code_version if environment is None else environment.code_version
        try:
            if environment is None:
                environment = self._new_environment(code_version, provisioned=False)  # past provisioned: on demand
            invocation = environment.invoke(event_json, tail=tail, client_context=client_context)
        finally:
            self._release(environment, code_version)
        with self._condition:
            self.invocations.append(invocation)
        return invocation

    def snapshot(self) -> Snapshot | None:
        """SnapStart's snapshot of this version, taken (INIT) the first time an environment is needed."""
        if not self.snapstart:
            return None
        with self._snapshot_lock:
            if self._snapshot is None:
                self._snapshot = Snapshot(self.spec, self.environment, self.log_sink, self.emulation)
            return self._snapshot

    def close(self) -> None:
        with self._condition:
            for environment in self._idle:
                environment.kill()
            self._idle.clear()
        with self._snapshot_lock:
            if self._snapshot is not None:
                self._snapshot.close()
                self._snapshot = None
