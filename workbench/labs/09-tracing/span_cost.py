"""What one span costs inside an invocation: created, ended, encoded and sent (event: {"spans": N}).

`ours` goes through the OpenTelemetry API to src/orders/tracing; `xray` through the X-Ray SDK, one
subsegment streamed at a time as Powertools configures it. Run each in its own environment.
"""

import os


def ours(event, context):
    from opentelemetry import trace

    from orders.observability import tracer  # installs our tracer (tracing is on in the bench)

    spans = trace.get_tracer("lab")

    @tracer.capture_lambda_handler
    def run(event, context):
        for _ in range(event["spans"]):
            with spans.start_as_current_span("span"):
                pass
        return {"spans": event["spans"]}

    return run(event, context)


def xray(event, context):
    from aws_xray_sdk.core import xray_recorder

    xray_recorder.configure(streaming_threshold=0, context_missing="LOG_ERROR")  # as Powertools sets it
    for _ in range(event["spans"]):
        with xray_recorder.in_subsegment("span"):
            pass
    return {"spans": event["spans"], "daemon": os.environ.get("AWS_XRAY_DAEMON_ADDRESS")}
