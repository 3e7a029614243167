"""OTLP spans as the functions send them to Lambda's daemon address, decoded into plain documents.

A datagram is `T1S`/`T1U` + base64 of an ExportTraceServiceRequest (what src/orders/tracing sends);
decoded with OpenTelemetry's own generated protobuf classes, so a test checks what the wire carries.
"""

from __future__ import annotations

import base64
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

_STATUS_ERROR = 2


def xray_trace_id(trace_id: bytes) -> str:
    """An OpenTelemetry trace id in X-Ray's spelling: 1-<8 hex of epoch seconds>-<24 hex>."""
    hex_id = trace_id.hex()
    return f"1-{hex_id[:8]}-{hex_id[8:]}"


def otlp_documents(payload: bytes) -> list[dict[str, Any]]:
    """An OTLP datagram's spans as X-Ray-like documents (id, parent_id, name, times in s, fault)."""
    request = ExportTraceServiceRequest()
    request.ParseFromString(base64.b64decode(payload, validate=True))
    documents = []
    for resource_spans in request.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                documents.append(
                    {
                        "trace_id": xray_trace_id(span.trace_id),
                        "id": span.span_id.hex(),
                        "parent_id": span.parent_span_id.hex() or None,
                        "name": span.name,
                        "start_time": span.start_time_unix_nano / 1e9,
                        "end_time": span.end_time_unix_nano / 1e9,
                        "fault": span.status.code == _STATUS_ERROR,
                        "attributes": {kv.key: _value(kv.value) for kv in span.attributes},
                        "events": [e.name for e in span.events],
                    }
                )
    return documents


def _value(value: Any) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_value(item) for item in value.array_value.values]
    return getattr(value, kind) if kind else None
