"""OpenTelemetry spans over UDP: what goes on the wire, under which parent, when, and what never does.

The datagrams are decoded with OpenTelemetry's own generated classes (opentelemetry-proto), so a wrong
field number or wire type in our hand-written encoder fails here.
"""

from __future__ import annotations

import logging
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from botocore.stub import Stubber
from opentelemetry.trace import SpanKind, StatusCode

from orders.tracing import otlp
from orders.tracing.aws import instrument
from orders.tracing.powertools import OpenTelemetryProvider
from orders.tracing.spans import LambdaTracer, UdpSpanExporter
from sam_testkit.otlp import otlp_documents
from tests.fixtures import reset_execution_environment

ROOT = "1-6741a3f0-1f2e3d4c5b6a798877665544"
LAMBDA_SEGMENT = "53995c3f42cd8ad8"
SRC = Path(__file__).resolve().parents[2] / "src"


class Daemon:
    """A UDP socket standing where Lambda's X-Ray daemon listens."""

    def __init__(self) -> None:
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # room for a burst of 64 KB
        self.socket.bind(("127.0.0.1", 0))
        self.socket.settimeout(0.3)
        self.address = "{}:{}".format(*self.socket.getsockname())

    def datagrams(self) -> list[bytes]:
        received = []
        while True:
            try:
                received.append(self.socket.recv(70_000))
            except TimeoutError:
                return received

    def spans(self) -> list[dict[str, object]]:
        documents = []
        for datagram in self.datagrams():
            header, _, body = datagram.partition(b"\n")
            assert header == b'{"format":"json","version":1}'
            assert body.startswith(b"T1S")
            documents += otlp_documents(body[3:])
        return documents


@pytest.fixture
def daemon() -> Iterator[Daemon]:
    listening = Daemon()
    yield listening
    listening.socket.close()


RESOURCE = otlp.Resource({"service.name": "orders", "cloud.platform": "aws_lambda"}, "orders", "test")


def tracer_for(address: str) -> LambdaTracer:
    return LambdaTracer(UdpSpanExporter(address, RESOURCE))


def invocation(monkeypatch: pytest.MonkeyPatch, root: str = ROOT, sampled: int = 1) -> None:
    """What Lambda does before each invocation: a new trace header in the environment."""
    monkeypatch.setenv("_X_AMZN_TRACE_ID", f"Root={root};Parent={LAMBDA_SEGMENT};Sampled={sampled}")


def test_spans_round_trip_through_the_official_otlp_classes(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN an invocation's trace header and our tracer
    invocation(monkeypatch)
    tracer = tracer_for(daemon.address)

    # WHEN the handler span wraps a child with attributes, an event and an error that escapes both
    def handle() -> None:
        with (
            tracer.start_as_current_span("## handler", attributes={"ColdStart": True}),
            tracer.start_as_current_span("MySQL", kind=SpanKind.CLIENT) as child,
        ):
            child.set_attribute("db.system", "mysql")
            child.set_attribute("rows", 3)
            child.set_attribute("ratio", 0.5)
            child.set_attribute("tags", ["a", "b"])
            child.add_event("retry", {"attempt": 1})
            raise ValueError("boom")

    with pytest.raises(ValueError, match="boom"):
        handle()

    # THEN one datagram carries both, decoded exactly
    handler, mysql = sorted(daemon.spans(), key=lambda s: s["start_time"])  # type: ignore[arg-type, return-value]
    assert handler["trace_id"] == mysql["trace_id"] == ROOT
    assert handler["parent_id"] == LAMBDA_SEGMENT  # under Lambda's own segment
    assert mysql["parent_id"] == handler["id"]
    assert handler["name"] == "## handler"
    assert handler["attributes"] == {"ColdStart": True}
    assert mysql["attributes"] == {"db.system": "mysql", "rows": 3, "ratio": 0.5, "tags": ["a", "b"]}
    assert mysql["events"] == ["retry", "exception"]
    assert mysql["fault"] is True
    assert handler["fault"] is True  # the exception escaped the handler too
    assert handler["start_time"] <= mysql["start_time"] <= mysql["end_time"] <= handler["end_time"]


def test_each_invocation_takes_the_root_of_its_own_header(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN two invocations with their own trace headers, WHEN each makes spans, THEN each trace is its header's
    tracer = tracer_for(daemon.address)
    second_root = "1-6741a3f1-aaaaaaaaaaaaaaaaaaaaaaaa"

    invocation(monkeypatch, ROOT)
    with tracer.start_as_current_span("## handler"), tracer.start_as_current_span("child"):
        pass
    first = {span["trace_id"] for span in daemon.spans()}
    invocation(monkeypatch, second_root)
    with tracer.start_as_current_span("## handler"):
        pass

    assert first == {ROOT}
    assert {span["trace_id"] for span in daemon.spans()} == {second_root}


def test_an_unsampled_invocation_records_and_sends_nothing(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN an invocation Lambda did not sample, WHEN it makes spans, THEN they record nothing and nothing is sent
    invocation(monkeypatch, sampled=0)
    tracer = tracer_for(daemon.address)
    with tracer.start_as_current_span("## handler") as handler, tracer.start_as_current_span("child") as child:
        assert not handler.is_recording()
        assert not child.is_recording()
        assert child.get_span_context().trace_id == int(ROOT.replace("1-", "").replace("-", ""), 16)
    assert daemon.datagrams() == []


def test_spans_are_sent_only_when_the_invocation_ends(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN an invocation's spans, WHEN a child ends, THEN nothing is sent until the outermost span ends
    invocation(monkeypatch)
    tracer = tracer_for(daemon.address)
    with tracer.start_as_current_span("## handler"):
        with tracer.start_as_current_span("child"):
            pass
        assert daemon.datagrams() == []  # the child ended, the invocation did not
    assert len(daemon.spans()) == 2


def test_a_flush_over_64_kb_is_split_into_datagrams_that_fit(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN spans that encode to more than one datagram holds, THEN they are split into datagrams that fit
    invocation(monkeypatch)
    tracer = tracer_for(daemon.address)
    with tracer.start_as_current_span("## handler"):
        for n in range(150):
            with tracer.start_as_current_span(f"span-{n}") as span:
                span.set_attribute("payload", "x" * 5000)  # capped at 1,024 characters

    datagrams = daemon.datagrams()
    assert len(datagrams) > 1
    assert all(len(d) <= otlp.MAX_DATAGRAM_BYTES for d in datagrams)
    names = [s["name"] for d in datagrams for s in otlp_documents(d.partition(b"\n")[2][3:])]
    assert sorted(names) == sorted(["## handler", *(f"span-{n}" for n in range(150))])  # each exactly once


@pytest.mark.parametrize("address", ["no-such-host.invalid:2000", "127.0.0.1:1"])
def test_an_unreachable_daemon_never_fails_the_invocation(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture, address: str
):
    # GIVEN a daemon address nobody answers (or no host), WHEN spans are sent
    # THEN the invocation goes on, and a warning says why
    invocation(monkeypatch)
    tracer = tracer_for(address)
    with caplog.at_level(logging.WARNING), tracer.start_as_current_span("## handler"):
        pass  # the send happens here, at the end of the span, and must not raise
    if address.startswith("no-such-host"):
        assert "could not send 1 spans" in caplog.text


def test_powertools_decorators_make_the_spans(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN Powertools' Tracer on our provider, WHEN decorated methods run, THEN they make the spans
    from aws_lambda_powertools import Tracer

    invocation(monkeypatch)
    provider = OpenTelemetryProvider(tracer_for(daemon.address))
    powertools = Tracer(service="orders", provider=provider, auto_patch=False, disabled=False)

    @powertools.capture_method
    def fetch() -> str:
        return "a response that must not be sent"

    @powertools.capture_lambda_handler
    def handler(event: dict[str, object], context: object) -> str:
        return fetch()

    handler({}, None)

    spans = {s["name"]: s for s in daemon.spans()}
    assert set(spans) == {"## handler", f"## {__name__}.test_powertools_decorators_make_the_spans.locals.fetch"}
    handler_attributes = spans["## handler"]["attributes"]
    assert isinstance(handler_attributes, dict)
    assert handler_attributes["Service"] == "orders"
    assert isinstance(handler_attributes["ColdStart"], bool)  # True only for the process's first handler call
    assert "a response that must not be sent" not in str(spans)  # metadata is never exported
    Tracer._reset_config()


def test_each_aws_call_is_a_client_span_from_botocores_events(monkeypatch: pytest.MonkeyPatch, daemon: Daemon):
    # GIVEN an instrumented client, WHEN it calls AWS (one call fails), THEN each call is a CLIENT span with its status
    invocation(monkeypatch)
    tracer = tracer_for(daemon.address)
    client = boto3.client("dynamodb", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    instrument(client, tracer)
    with Stubber(client) as stub, tracer.start_as_current_span("## handler"):
        stub.add_response("get_item", {"ResponseMetadata": {"RequestId": "r-1", "RetryAttempts": 2}})
        stub.add_client_error("put_item", service_error_code="ProvisionedThroughputExceededException")
        client.get_item(TableName="t", Key={"id": {"S": "1"}})
        with pytest.raises(client.exceptions.ProvisionedThroughputExceededException):
            client.put_item(TableName="t", Item={"id": {"S": "1"}})

    spans = {s["name"]: s for s in daemon.spans()}
    assert spans["DynamoDB.GetItem"]["attributes"] == {
        "rpc.system": "aws-api",
        "rpc.service": "DynamoDB",
        "rpc.method": "GetItem",
        "cloud.region": "us-east-1",
        "http.response.status_code": 200,
        "aws.request_id": "r-1",
        "aws.retries": 2,
    }
    assert spans["DynamoDB.GetItem"]["fault"] is False
    assert spans["DynamoDB.PutItem"]["fault"] is True
    assert spans["DynamoDB.PutItem"]["attributes"]["aws.error.code"] == "ProvisionedThroughputExceededException"  # type: ignore[index]
    assert spans["DynamoDB.PutItem"]["parent_id"] == spans["## handler"]["id"]


IMPORT_HANDLERS = (
    "import sys; import orders.handlers.api, orders.handlers.consumer, orders.handlers.rollup, "
    "orders.handlers.migrate; "
    "print(sorted({m.split('.')[0] for m in sys.modules if m.startswith(('aws_xray_sdk', 'opentelemetry'))}), "
    "'opentelemetry.sdk' in sys.modules)"
)


@pytest.mark.parametrize(
    ("environment", "expected"),
    [
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000"}, "['opentelemetry'] False"),  # on: the API, never the SDK
        ({"AWS_XRAY_DAEMON_ADDRESS": "127.0.0.1:2000", "POWERTOOLS_TRACE_DISABLED": "true"}, "[] False"),
        ({}, "[] False"),  # no daemon address: not on Lambda with Tracing: Active
    ],
)
def test_the_handlers_never_import_the_xray_sdk(environment: dict[str, str], expected: str):
    # GIVEN each handler imported with tracing on or off, THEN the X-Ray SDK is never imported
    base = {k: v for k, v in os.environ.items() if k not in {"AWS_XRAY_DAEMON_ADDRESS", "POWERTOOLS_TRACE_DISABLED"}}
    result = subprocess.run(  # noqa: S603 - our own interpreter importing our own handlers
        [sys.executable, "-c", IMPORT_HANDLERS],
        env={**base, **environment, "PYTHONPATH": str(SRC)},
        capture_output=True,
        text=True,
        check=True,
    )
    assert result.stdout.strip() == expected


def test_status_codes_match_otlp():
    # GIVEN our hand-written status codes, THEN they are OTLP's (and OpenTelemetry's API's)
    assert (otlp.STATUS_UNSET, otlp.STATUS_OK, otlp.STATUS_ERROR) == (0, 1, 2)
    assert StatusCode.ERROR.value == 2  # the API's own numbering agrees


def test_the_package_glue_installs_one_tracer_for_spans_events_and_clients(
    monkeypatch: pytest.MonkeyPatch, daemon: Daemon
):
    # GIVEN Lambda's environment with Tracing: Active (a daemon address) and an invocation header
    from orders import tracing

    monkeypatch.setenv("AWS_XRAY_DAEMON_ADDRESS", daemon.address)
    monkeypatch.delenv("POWERTOOLS_TRACE_DISABLED", raising=False)
    reset_execution_environment()  # a cold start: the tracer is installed from this environment
    invocation(monkeypatch)

    # WHEN the provider is built and the adapters' helpers are used under the handler's span
    provider = tracing.powertools_provider()
    client = tracing.instrument_client(
        boto3.client("sqs", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    )
    with Stubber(client) as stub, provider.in_subsegment("## handler") as handler:
        handler.put_annotation("ColdStart", True)
        stub.add_response("send_message", {"MessageId": "m-1", "MD5OfMessageBody": "0" * 32})
        with tracing.span("MySQL", **{"db.system": "mysql"}):
            tracing.add_event("retry", attempt=1)
        client.send_message(QueueUrl="https://sqs.us-east-1.amazonaws.com/123456789012/q", MessageBody="{}")
    reset_execution_environment()  # other tests run untraced

    # THEN one trace carries all of it, under Lambda's segment
    spans = {s["name"]: s for s in daemon.spans()}
    assert set(spans) == {"## handler", "MySQL", "SQS.SendMessage"}
    assert spans["MySQL"]["events"] == ["retry"]
    assert spans["## handler"]["parent_id"] == LAMBDA_SEGMENT
    assert {spans["MySQL"]["parent_id"], spans["SQS.SendMessage"]["parent_id"]} == {spans["## handler"]["id"]}


def test_with_tracing_off_the_helpers_do_nothing(monkeypatch: pytest.MonkeyPatch):
    # GIVEN tracing off, WHEN the helpers are used, THEN they record nothing and import nothing of OpenTelemetry
    from orders import tracing

    monkeypatch.setenv("POWERTOOLS_TRACE_DISABLED", "true")
    reset_execution_environment()
    provider = tracing.powertools_provider()
    client = object()
    assert tracing.instrument_client(client) is client
    with provider.in_subsegment("## handler") as segment, tracing.span("MySQL"):
        segment.put_annotation("ColdStart", True)
        segment.put_metadata("response", "anything")
        tracing.add_event("retry")
    assert type(provider).__name__ == "_NoTracing"
