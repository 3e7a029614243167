"""A function's log stream as Lambda writes it: its `LoggingConfig`, and the platform's own records.

`LoggingConfig` becomes what the runtime reads — `AWS_LAMBDA_LOG_FORMAT`, `AWS_LAMBDA_LOG_LEVEL` (the
application level, applied with JSON only) and `AWS_LAMBDA_LOG_GROUP_NAME` — and decides how the platform
records around each invocation look: `START`, `END` and `REPORT` lines in Text; `platform.start`,
`platform.runtimeDone` and `platform.report` records in JSON, dropped below `SystemLogLevel` (they are
INFO records: WARN keeps none). "Configuring advanced logging controls", Lambda Developer Guide.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
from dataclasses import dataclass
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from workbench.emulator.environment import Invocation

_SYSTEM_LEVELS = ("DEBUG", "INFO", "WARN")
_PLATFORM_LEVEL = "INFO"  # the level of start, runtimeDone and report


@dataclass(frozen=True)
class LogConfig:
    format: str = "Text"  # or JSON
    application_level: str | None = None
    system_level: str | None = None

    @classmethod
    def of(cls, logging_config: dict[str, Any] | None) -> LogConfig:
        declared = logging_config or {}
        log_format = str(declared.get("LogFormat", "Text"))
        if log_format != "JSON":  # levels apply to JSON logs only
            return cls(log_format)
        return cls(log_format, declared.get("ApplicationLogLevel", "INFO"), declared.get("SystemLogLevel", "INFO"))

    def variables(self) -> dict[str, str]:
        """What the runtime (and Powertools' Logger) reads."""
        variables = {"AWS_LAMBDA_LOG_FORMAT": self.format}
        if self.application_level is not None:
            variables["AWS_LAMBDA_LOG_LEVEL"] = self.application_level
        return variables

    @property
    def platform_records_kept(self) -> bool:
        if self.system_level is None:
            return True
        return _SYSTEM_LEVELS.index(_PLATFORM_LEVEL) >= _SYSTEM_LEVELS.index(self.system_level)


class PlatformLog:
    """The platform's records of one function's invocations, written to its log stream."""

    _lock = threading.Lock()  # environments of one function share a stream: a record is one write

    def __init__(self, config: LogConfig, sink: IO[str]) -> None:
        self.config = config
        self.sink = sink

    def start(self, request_id: str, version: str = "$LATEST") -> None:
        if self.config.format == "JSON":
            self._record("platform.start", {"requestId": request_id, "version": version})
        else:
            self._line(f"START RequestId: {request_id} Version: {version}")

    def end(self, invocation: Invocation) -> None:
        if self.config.format != "JSON":
            self._line(f"END RequestId: {invocation.request_id}")
            self._line(invocation.report_line())
            return
        status = _status(invocation)
        metrics: dict[str, Any] = {"durationMs": round(invocation.duration_ms, 3)}
        self._record("platform.runtimeDone", {"requestId": invocation.request_id, "status": status, "metrics": metrics})
        report = metrics | {
            "billedDurationMs": invocation.billed_duration_ms,
            "memorySizeMB": invocation.memory_size_mb,
            "maxMemoryUsedMB": invocation.max_memory_used_mb,
        }
        if invocation.init_duration_ms is not None:
            report["initDurationMs"] = round(invocation.init_duration_ms, 3)
        self._record("platform.report", {"requestId": invocation.request_id, "metrics": report, "status": status})

    def _record(self, kind: str, record: dict[str, Any]) -> None:
        if self.config.platform_records_kept:
            now = dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
            self._write(json.dumps({"time": now, "type": kind, "record": record}))

    def _line(self, text: str) -> None:
        self._write(text)

    def _write(self, text: str) -> None:
        with self._lock:
            self.sink.write(text + "\n")
            self.sink.flush()


def _status(invocation: Invocation) -> str:
    if invocation.error is None:
        return "success"
    return "timeout" if invocation.error.get("errorType") == "Sandbox.Timedout" else "error"


TAIL_BYTES = 4096  # `LogType: Tail`: the last 4 KB of the invocation's log ("Invoke", Lambda API Reference)


def log_tail(config: LogConfig, invocation: Invocation, function_log: str) -> str:
    """The invocation's log as its stream has it — the platform's lines around the function's — its last 4 KB."""
    sink = io.StringIO()
    platform = PlatformLog(config, sink)
    platform.start(invocation.request_id)
    sink.write(function_log)
    platform.end(invocation)
    return sink.getvalue().encode()[-TAIL_BYTES:].decode("utf-8", "ignore")
