"""Tracing: OpenTelemetry spans, sent as Lambda expects them (OTLP over UDP to the X-Ray daemon address).

Everything about tracing lives in this package; the rest of `src/` uses four names:
- `powertools_provider()`: for `Tracer(provider=…)` in orders/observability.py, so the functions'
  `@tracer.capture_lambda_handler` / `@tracer.capture_method` make OpenTelemetry spans;
- `instrument_client(client)`: a span per AWS call (orders/adapters/aws_clients.py);
- `span(name, **attributes)`: a span around a piece of work (the MySQL query);
- `add_event(name, **attributes)`: an event on the current span (a batch write's retries).
With tracing off — POWERTOOLS_TRACE_DISABLED=true, or no AWS_XRAY_DAEMON_ADDRESS (Lambda sets it
when `Tracing: Active`) — nothing of OpenTelemetry is imported and these cost nothing.
"""

from __future__ import annotations

import contextlib
import functools
import numbers
import traceback
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment

from orders.config import get_tracing_settings

if TYPE_CHECKING:
    from opentelemetry.trace import Tracer


@functools.cache
def opentelemetry_tracer() -> Tracer | None:
    """The environment's tracer, installed on first use when tracing is on; None when it is off."""
    settings = get_tracing_settings()
    if not settings.enabled:
        return None
    from orders.tracing.spans import install

    return install(settings).get_tracer("orders")


def powertools_provider() -> BaseProvider:
    """The OpenTelemetry tracer for Powertools when tracing is on; a provider that records nothing when off."""
    tracer = opentelemetry_tracer()
    if tracer is None:
        return _NoTracing()
    from orders.tracing.powertools import OpenTelemetryProvider

    return OpenTelemetryProvider(tracer)


def instrument_client(client: Any) -> Any:
    """`client`, with a span for each of its calls when tracing is on."""
    if (tracer := opentelemetry_tracer()) is not None:
        from orders.tracing.aws import instrument

        instrument(client, tracer)
    return client


@contextmanager
def span(name: str, **attributes: str | int | float | bool) -> Iterator[None]:
    """A CLIENT span around a piece of work, child of the current span."""
    if (tracer := opentelemetry_tracer()) is None:
        yield
        return
    from opentelemetry.trace import SpanKind

    with tracer.start_as_current_span(name, kind=SpanKind.CLIENT, attributes=attributes):
        yield


def add_event(name: str, **attributes: str | int | float | bool) -> None:
    """An event on the current span (nothing when tracing is off)."""
    if opentelemetry_tracer() is not None:
        from opentelemetry import trace

        trace.get_current_span().add_event(name, attributes)


class _NullSegment(BaseSegment):
    def close(self, end_time: int | None = None) -> None: ...
    def add_subsegment(self, subsegment: Any) -> None: ...
    def remove_subsegment(self, subsegment: Any) -> None: ...
    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None: ...


class _NoTracing(BaseProvider):
    """Tracing off: Powertools' decorators run, nothing is recorded, no X-Ray SDK, no OpenTelemetry."""

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        yield _NullSegment()

    @contextlib.asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> Any:
        yield _NullSegment()

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None: ...
    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None: ...
    def patch(self, modules: Sequence[str]) -> None: ...
    def patch_all(self) -> None: ...
