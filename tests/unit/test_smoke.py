"""tools/smoke.py, the pipeline's last step, against stubbed AWS answers: it passes what it should, names what fails."""

from __future__ import annotations

import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from tools import smoke

STACK = "orders-service-dev"


def _api(status: int) -> Iterator[str]:
    class Gateway(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(status)
            self.end_headers()
            self.wfile.write(b'{"message":"Unauthorized"}')

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Gateway)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


@pytest.fixture
def guarded_api() -> Iterator[str]:
    yield from _api(401)


@pytest.fixture
def open_api() -> Iterator[str]:
    yield from _api(200)


def _payload(document: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


def _stubbed(monkeypatch: pytest.MonkeyPatch, api_url: str, get_status: int, post_status: int) -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": api_url},
        {"OutputKey": "SchemaMigrationFunctionName", "OutputValue": "migrate-fn"},
    ]
    stack = {"StackName": STACK, "CreationTime": "2026-11-24T00:00:00Z", "StackStatus": "UPDATE_COMPLETE"}
    with_cfn = Stubber(cloudformation)
    with_cfn.add_response("describe_stacks", {"Stacks": [stack | {"Outputs": outputs}]}, {"StackName": STACK})
    resource = {
        "LogicalResourceId": "ApiFunction",
        "PhysicalResourceId": "api-fn",
        "ResourceType": "AWS::Lambda::Function",
        "LastUpdatedTimestamp": "2026-11-24T00:00:00Z",
        "ResourceStatus": "UPDATE_COMPLETE",
    }
    expected = {"StackName": STACK, "LogicalResourceId": "ApiFunction"}
    with_cfn.add_response("describe_stack_resource", {"StackResourceDetail": resource}, expected)
    with_lambda = Stubber(lambda_client)
    for function, answer in [
        ("migrate-fn", {"tables": "ok"}),
        ("api-fn", {"statusCode": get_status}),
        ("api-fn", {"statusCode": post_status}),
    ]:
        with_lambda.add_response(
            "invoke", {"StatusCode": 200, "Payload": _payload(answer)}, {"FunctionName": function, "Payload": ANY}
        )
    with_cfn.activate()
    with_lambda.activate()
    clients = {"cloudformation": cloudformation, "lambda": lambda_client}
    monkeypatch.setattr(smoke.boto3, "client", lambda service: clients[service])


@pytest.mark.parametrize("post_status", [202, 422])
def test_a_live_guarded_stack_passes(monkeypatch: pytest.MonkeyPatch, guarded_api: str, post_status: int):
    _stubbed(monkeypatch, guarded_api, get_status=404, post_status=post_status)
    assert smoke.smoke(STACK) == []


def test_an_api_without_its_authorizer_fails_the_smoke_test(monkeypatch: pytest.MonkeyPatch, open_api: str):
    _stubbed(monkeypatch, open_api, get_status=404, post_status=202)
    (problem,) = smoke.smoke(STACK)
    assert "is the authorizer on?" in problem


def test_a_function_that_cannot_reach_its_stores_fails_the_smoke_test(
    monkeypatch: pytest.MonkeyPatch, guarded_api: str
):
    _stubbed(monkeypatch, guarded_api, get_status=500, post_status=500)
    assert len(smoke.smoke(STACK)) == 2


def test_no_stack_name_is_exit_2():
    assert smoke.main(["smoke.py"]) == 2
