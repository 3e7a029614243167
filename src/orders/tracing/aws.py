"""A span per AWS call, from botocore's own events: no instrumentation framework.

opentelemetry-instrumentation-botocore would do this for ≈ 33 ms of INIT (packaging, semantic
conventions, wrapt); botocore already announces every call (`before-parameter-build`, `after-call`,
`after-call-error`), with the operation, the parsed response and how many retries it took. The span
starts at `before-parameter-build`, which every call emits, rather than `before-call`, which a
handler answering in place of AWS (botocore's Stubber, a cache) can cut short.
"""

from __future__ import annotations

from typing import Any

from opentelemetry import trace
from opentelemetry.trace import SpanKind, Status, StatusCode

_SPAN = "orders.tracing.span"  # where the span waits in botocore's per-request context


def instrument(client: Any, tracer: trace.Tracer) -> None:
    """Trace every call `client` makes: one CLIENT span, named `Service.Operation`."""
    service = client.meta.service_model.service_id.hyphenize()
    region = client.meta.region_name

    def started(model: Any, context: dict[str, Any], **_: Any) -> None:
        attributes = {
            "rpc.system": "aws-api",
            "rpc.service": model.service_model.service_id,
            "rpc.method": model.name,
            "cloud.region": region or "",
        }
        context[_SPAN] = tracer.start_span(
            f"{model.service_model.service_id}.{model.name}", kind=SpanKind.CLIENT, attributes=attributes
        )

    def answered(http_response: Any, parsed: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        span = context.pop(_SPAN, None)
        if span is None:
            return
        metadata = parsed.get("ResponseMetadata", {})
        span.set_attribute("http.response.status_code", int(getattr(http_response, "status_code", 0)))
        span.set_attribute("aws.request_id", metadata.get("RequestId", ""))
        span.set_attribute("aws.retries", int(metadata.get("RetryAttempts", 0)))
        error = parsed.get("Error", {}).get("Code")
        if error:
            span.set_attribute("aws.error.code", error)
            span.set_status(Status(StatusCode.ERROR, error))
        span.end()

    def failed(exception: BaseException, context: dict[str, Any], **_: Any) -> None:
        span = context.pop(_SPAN, None)
        if span is not None:
            span.record_exception(exception)
            span.set_status(Status(StatusCode.ERROR, type(exception).__name__))
            span.end()

    events = client.meta.events
    events.register(f"before-parameter-build.{service}", started)
    events.register(f"after-call.{service}", answered)
    events.register(f"after-call-error.{service}", failed)
