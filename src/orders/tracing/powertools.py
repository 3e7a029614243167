"""Powertools' Tracer on OpenTelemetry spans: `@tracer.capture_lambda_handler` and `@tracer.capture_method`
stay as they are; Powertools imports the X-Ray SDK only when no provider is given.
"""

from __future__ import annotations

import numbers
import traceback
from collections.abc import AsyncGenerator, Generator, Sequence
from contextlib import asynccontextmanager, contextmanager
from typing import Any

from aws_lambda_powertools.tracing.base import BaseProvider, BaseSegment
from opentelemetry import trace
from opentelemetry.trace import Status, StatusCode


class SpanSegment(BaseSegment):
    """What Powertools calls a subsegment: here, one OpenTelemetry span."""

    def __init__(self, span: trace.Span) -> None:
        self.span = span

    def close(self, end_time: int | None = None) -> None:
        self.span.end(end_time * 1_000_000_000 if end_time else None)

    def add_subsegment(self, subsegment: Any) -> None:
        """Children find their parent through the OpenTelemetry context."""

    def remove_subsegment(self, subsegment: Any) -> None:
        """Children find their parent through the OpenTelemetry context."""

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        self.span.set_attribute(key, value)  # type: ignore[arg-type]

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Dropped: metadata is where Powertools puts whole responses and errors; they could hold
        secrets and would not fit a 64 KB datagram. Annotations and exception events are kept."""

    def add_exception(
        self, exception: BaseException, stack: list[traceback.StackSummary], remote: bool = False
    ) -> None:
        self.span.record_exception(exception)
        self.span.set_status(Status(StatusCode.ERROR, type(exception).__name__))


class OpenTelemetryProvider(BaseProvider):
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    @contextmanager
    def in_subsegment(self, name: str | None = None, **kwargs: Any) -> Generator[BaseSegment, None, None]:
        with self._tracer.start_as_current_span(name or "subsegment") as span:
            yield SpanSegment(span)

    @asynccontextmanager
    async def in_subsegment_async(self, name: str | None = None, **kwargs: Any) -> AsyncGenerator[BaseSegment, None]:
        with self._tracer.start_as_current_span(name or "subsegment") as span:
            yield SpanSegment(span)

    def put_annotation(self, key: str, value: str | numbers.Number | bool) -> None:
        trace.get_current_span().set_attribute(key, value)  # type: ignore[arg-type]

    def put_metadata(self, key: str, value: Any, namespace: str = "default") -> None:
        """Dropped, as on segments (see SpanSegment.put_metadata)."""

    def patch(self, modules: Sequence[str]) -> None:
        """AWS calls are traced where clients are built (orders.tracing.instrument_client), not by patching."""

    def patch_all(self) -> None:
        """AWS calls are traced where clients are built (orders.tracing.instrument_client), not by patching."""
