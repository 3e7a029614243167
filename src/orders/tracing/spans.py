"""A recording tracer behind the OpenTelemetry API, exported over UDP at the end of each invocation.

Only the OpenTelemetry *API* is imported: user code and libraries that speak OpenTelemetry create
spans through `opentelemetry.trace.get_tracer(...)` and they land in the same trace. The SDK (span
processors, samplers, resource detection, a protobuf exporter) is what this module replaces: it
costs ≈ 26 ms more INIT on a cold start (measured with `python -X importtime` when the choice was made).

- Parent: a span without a local parent hangs under Lambda's own segment, from the `_X_AMZN_TRACE_ID`
  header of the current invocation (AWS X-Ray propagator).
- Sampling follows the header: `Sampled=0` gives non-recording spans and nothing is sent. (AWS's
  distro sends unsampled spans as `T1U` for Application Signals' metrics; this service does not use
  Application Signals, so those would be bytes and CPU for nothing.)
- Export: when the invocation's outermost span ends, every span of the invocation goes out in as
  many datagrams as needed; fire and forget, no thread, no extension. A send error is logged, never
  raised into the handler.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from opentelemetry import context as context_api
from opentelemetry import trace
from opentelemetry.propagators.aws import AwsXRayPropagator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util.types import Attributes, AttributeValue

from orders.config import TracingSettings, current_trace_header
from orders.tracing import otlp

logger = logging.getLogger(__name__)
MAX_ATTRIBUTE_LENGTH = 1024  # long values (SQL, messages) are cut: spans must fit a 64 KB datagram
MAX_EVENTS = 32
_XRAY_HEADER = "X-Amzn-Trace-Id"
_propagator = AwsXRayPropagator()


def _new_id(bits: int) -> int:
    """From os.urandom, not a seeded generator: environments restored from one snapshot must not repeat ids."""
    return int.from_bytes(os.urandom(bits // 8), "big")


def _capped(value: AttributeValue) -> otlp.AttributeValue:
    if isinstance(value, str):
        return value[:MAX_ATTRIBUTE_LENGTH]
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, Sequence):
        return [item[:MAX_ATTRIBUTE_LENGTH] if isinstance(item, str) else item for item in value]  # type: ignore[return-value]
    return str(value)[:MAX_ATTRIBUTE_LENGTH]


class RecordingSpan(trace.Span):
    """A span that keeps what OTLP carries and hands itself to the exporter when it ends."""

    def __init__(
        self,
        name: str,
        span_context: SpanContext,
        parent: SpanContext | None,
        kind: SpanKind,
        exporter: UdpSpanExporter,
        attributes: Attributes = None,
        start_time: int | None = None,
    ) -> None:
        self._name = name
        self._context = span_context
        self._parent = parent
        self._kind = kind
        self._exporter = exporter
        self._attributes: dict[str, otlp.AttributeValue] = {}
        self._events: list[otlp.SpanEvent] = []
        self._status = Status(StatusCode.UNSET)
        self._start = start_time or time.time_ns()
        self._end: int | None = None
        self.set_attributes(attributes or {})

    def get_span_context(self) -> SpanContext:
        return self._context

    def is_recording(self) -> bool:
        return self._end is None

    def set_attributes(self, attributes: Mapping[str, AttributeValue]) -> None:
        for key, value in attributes.items():
            self.set_attribute(key, value)

    def set_attribute(self, key: str, value: AttributeValue) -> None:
        if self._end is None and value is not None:
            self._attributes[key] = _capped(value)

    def add_event(self, name: str, attributes: Attributes = None, timestamp: int | None = None) -> None:
        if self._end is None and len(self._events) < MAX_EVENTS:
            capped = {k: _capped(v) for k, v in (attributes or {}).items()}
            self._events.append(otlp.SpanEvent(name, timestamp or time.time_ns(), capped))

    def add_link(self, context: SpanContext, attributes: Attributes = None) -> None:
        """Links are not exported by this tracer (nothing here creates them)."""

    def update_name(self, name: str) -> None:
        self._name = name

    def set_status(self, status: Status | StatusCode, description: str | None = None) -> None:
        self._status = status if isinstance(status, Status) else Status(status, description)

    def record_exception(
        self,
        exception: BaseException,
        attributes: Attributes = None,
        timestamp: int | None = None,
        escaped: bool = False,
    ) -> None:
        # The type and message, not the stack: messages are short, stacks would fill the datagram.
        details = {"exception.type": type(exception).__qualname__, "exception.message": str(exception)}
        self.add_event("exception", {**details, **dict(attributes or {})}, timestamp)

    def end(self, end_time: int | None = None) -> None:
        if self._end is None:
            self._end = end_time or time.time_ns()
            self._exporter.finished(self)

    @property
    def is_local_root(self) -> bool:
        return self._parent is None or self._parent.is_remote

    def finished(self) -> otlp.FinishedSpan:
        assert self._end is not None
        return otlp.FinishedSpan(
            trace_id=self._context.trace_id,
            span_id=self._context.span_id,
            parent_span_id=self._parent.span_id if self._parent else None,
            parent_is_remote=bool(self._parent and self._parent.is_remote),
            name=self._name,
            kind=self._kind.value + 1,  # the API's enum starts at INTERNAL = 0, OTLP's at UNSPECIFIED = 0
            start_time_unix_nano=self._start,
            end_time_unix_nano=self._end,
            attributes=self._attributes,
            events=self._events,
            status_code={StatusCode.UNSET: 0, StatusCode.OK: 1, StatusCode.ERROR: 2}[self._status.status_code],
            status_message=self._status.description or "",
        )


class UdpSpanExporter:
    """Collects an invocation's finished spans; sends them when its outermost span ends."""

    def __init__(self, address: str, resource: otlp.Resource) -> None:
        host, _, port = address.rpartition(":")
        self._address = (host, int(port))
        self._resource = resource
        self._pending: list[otlp.FinishedSpan] = []
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None

    def finished(self, span: RecordingSpan) -> None:
        with self._lock:
            self._pending.append(span.finished())
            if not span.is_local_root:
                return
            batch, self._pending = self._pending, []
        self.send(batch)

    def send(self, spans: Sequence[otlp.FinishedSpan]) -> None:
        try:
            if self._socket is None:
                self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._socket.setblocking(False)  # fire and forget: never wait on the daemon
            sent = 0
            for datagram in otlp.datagrams(self._resource, spans):
                self._socket.sendto(datagram, self._address)
                sent += 1
            if not sent and spans:
                logger.warning("no span fitted a datagram; %d spans dropped", len(spans))
        except OSError as error:
            logger.warning("could not send %d spans to %s:%s: %s", len(spans), *self._address, error)


class LambdaTracer(trace.Tracer):
    def __init__(self, exporter: UdpSpanExporter) -> None:
        self._exporter = exporter

    def start_span(
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
    ) -> trace.Span:
        parent = trace.get_current_span(context).get_span_context()
        if not parent.is_valid:  # no local parent: hang under Lambda's segment for this invocation
            parent = trace.get_current_span(lambda_parent_context()).get_span_context()
        if not parent.is_valid or not parent.trace_flags.sampled:
            trace_id = parent.trace_id if parent.is_valid else _new_id(128)
            unsampled = SpanContext(trace_id, _new_id(64), is_remote=False, trace_flags=TraceFlags(0))
            return trace.NonRecordingSpan(unsampled)
        span_context = SpanContext(
            parent.trace_id, _new_id(64), is_remote=False, trace_flags=TraceFlags(TraceFlags.SAMPLED)
        )
        return RecordingSpan(name, span_context, parent, kind, self._exporter, attributes, start_time)

    # The API types this with its private _agnosticcontextmanager; a plain contextmanager behaves the same.
    @contextmanager
    def start_as_current_span(  # type: ignore[override]
        self,
        name: str,
        context: context_api.Context | None = None,
        kind: SpanKind = SpanKind.INTERNAL,
        attributes: Attributes = None,
        links: Sequence[Link] | None = None,
        start_time: int | None = None,
        record_exception: bool = True,
        set_status_on_exception: bool = True,
        end_on_exit: bool = True,
    ) -> Iterator[trace.Span]:
        span = self.start_span(name, context, kind, attributes, links, start_time)
        with trace.use_span(
            span,
            end_on_exit=end_on_exit,
            record_exception=record_exception,
            set_status_on_exception=set_status_on_exception,
        ) as current:
            yield current


class LambdaTracerProvider(trace.TracerProvider):
    def __init__(self, exporter: UdpSpanExporter) -> None:
        self._tracer = LambdaTracer(exporter)

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return self._tracer  # one scope for the whole function: what it names is the service


def lambda_parent_context() -> context_api.Context:
    """Lambda's segment for the current invocation, as a remote parent (empty when there is none)."""
    header = current_trace_header()
    return _propagator.extract({_XRAY_HEADER: header}) if header else context_api.Context()


def install(settings: TracingSettings) -> LambdaTracerProvider:
    """Make this tracer the global OpenTelemetry tracer provider; spans go to the X-Ray daemon address."""
    assert settings.daemon_address is not None
    resource_attributes: dict[str, otlp.AttributeValue] = {
        "service.name": settings.service_name,
        "cloud.provider": "aws",
        "cloud.platform": "aws_lambda",
    }
    for key, value in (
        ("faas.name", settings.function_name),
        ("faas.version", settings.function_version),
        ("cloud.region", settings.region),
    ):
        if value:
            resource_attributes[key] = value
    # No scope version: looking one up (importlib.metadata.version) costs ≈ 7 ms of INIT.
    resource = otlp.Resource(resource_attributes, scope_name="orders", scope_version="")
    provider = LambdaTracerProvider(UdpSpanExporter(settings.daemon_address, resource))
    trace.set_tracer_provider(provider)
    return provider
