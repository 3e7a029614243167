"""tools/smoke.py, the pipeline's last step, against stubbed AWS answers: it passes what it should, names what fails."""

from __future__ import annotations

import base64
import io
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.response import StreamingBody
from botocore.stub import ANY, Stubber
from tools import smoke

STACK = "orders-service-dev"


class _Quiet(BaseHTTPRequestHandler):
    """A stand-in endpoint: answers a status and a JSON body, logs nothing."""

    def _answer(self, status: int, body: dict[str, Any]) -> None:
        self.send_response(status)
        self.end_headers()
        self.wfile.write(json.dumps(body).encode())

    def log_message(self, *_: Any) -> None:
        pass


def _serving(handler: type[BaseHTTPRequestHandler]) -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def _api(status: int) -> Iterator[str]:
    class Gateway(_Quiet):
        def do_GET(self) -> None:
            self._answer(status, {"message": "Unauthorized"})

    yield from _serving(Gateway)


@pytest.fixture
def guarded_api() -> Iterator[str]:
    yield from _api(401)


@pytest.fixture
def open_api() -> Iterator[str]:
    yield from _api(200)


def _payload(document: dict[str, Any]) -> StreamingBody:
    raw = json.dumps(document).encode()
    return StreamingBody(io.BytesIO(raw), len(raw))


MACHINE = {"client_id": "machine-client", "client_secret": "s3cr3t"}


@pytest.fixture
def cognito_and_api() -> Iterator[str]:
    """Cognito's token endpoint (client credentials) and the API, whose authorizer knows that token only."""

    class Both(_Quiet):
        def do_POST(self) -> None:
            form = parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
            basic = base64.b64encode(f"{MACHINE['client_id']}:{MACHINE['client_secret']}".encode()).decode()
            granted = (
                self.headers.get("Authorization") == f"Basic {basic}"
                and form == {"grant_type": ["client_credentials"], "scope": ["orders/read"]}
                and self.path == "/oauth2/token"
            )
            self._answer(200 if granted else 400, {"access_token": "real-token"} if granted else {})

        def do_GET(self) -> None:
            authorization = self.headers.get("Authorization")
            self._answer(404 if authorization == "Bearer real-token" else 401, {})

    yield from _serving(Both)


def _stubbed(
    monkeypatch: pytest.MonkeyPatch, api_url: str, get_status: int, post_status: int, *, machine: str | None = None
) -> None:
    cloudformation = boto3.client("cloudformation", region_name="us-east-1")
    lambda_client = boto3.client("lambda", region_name="us-east-1")
    secrets = boto3.client("secretsmanager", region_name="us-east-1")
    outputs = [
        {"OutputKey": "ApiUrl", "OutputValue": api_url},
        {"OutputKey": "SchemaMigrationFunctionName", "OutputValue": "migrate-fn"},
    ]
    with_secrets = Stubber(secrets)
    if machine is not None:  # the stack has the machine client: its secret's name and Cognito's token URL
        outputs += [
            {"OutputKey": "MachineClientSecretName", "OutputValue": f"{STACK}/machine-client"},
            {"OutputKey": "TokenUrl", "OutputValue": f"{api_url}/oauth2/token"},
        ]
        answer = {"SecretString": json.dumps(MACHINE | {"client_secret": machine})}
        with_secrets.add_response("get_secret_value", answer, {"SecretId": f"{STACK}/machine-client"})
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
    with_secrets.activate()
    clients = {"cloudformation": cloudformation, "lambda": lambda_client, "secretsmanager": secrets}
    monkeypatch.setattr(smoke.boto3, "client", lambda service: clients[service])


@pytest.mark.parametrize("post_status", [202, 422])
def test_a_live_guarded_stack_passes(monkeypatch: pytest.MonkeyPatch, guarded_api: str, post_status: int):
    # GIVEN an API refusing unsigned requests and a function reaching its stores, THEN the smoke test passes
    _stubbed(monkeypatch, guarded_api, get_status=404, post_status=post_status)
    assert smoke.smoke(STACK) == []


def test_an_api_without_its_authorizer_fails_the_smoke_test(monkeypatch: pytest.MonkeyPatch, open_api: str):
    # GIVEN an API that lets an unsigned request through, THEN the smoke test fails, saying why
    _stubbed(monkeypatch, open_api, get_status=404, post_status=202)
    (problem,) = smoke.smoke(STACK)
    assert "is the authorizer on?" in problem


def test_a_function_that_cannot_reach_its_stores_fails_the_smoke_test(
    monkeypatch: pytest.MonkeyPatch, guarded_api: str
):
    # GIVEN a function that answers 500 (its stores unreachable), THEN both checks fail
    _stubbed(monkeypatch, guarded_api, get_status=500, post_status=500)
    assert len(smoke.smoke(STACK)) == 2


def test_with_the_machine_client_a_real_token_gets_past_the_authorizer(
    monkeypatch: pytest.MonkeyPatch, cognito_and_api: str
):
    # GIVEN a stack with the machine client, whose secret holds the credentials Cognito knows
    _stubbed(monkeypatch, cognito_and_api, get_status=404, post_status=202, machine=MACHINE["client_secret"])

    # WHEN the smoke test runs, THEN it got a token by client credentials and the GET reached the function
    assert smoke.smoke(STACK) == []


def test_credentials_cognito_refuses_fail_the_smoke_test(monkeypatch: pytest.MonkeyPatch, cognito_and_api: str):
    # GIVEN the machine client's secret is stale: Cognito refuses it (400)
    _stubbed(monkeypatch, cognito_and_api, get_status=404, post_status=202, machine="rotated-away")

    # WHEN / THEN the smoke test names it rather than skip the real-token check
    (problem,) = smoke.smoke(STACK)
    assert problem.startswith("Cognito's token endpoint refused the machine client: 400")


def test_no_stack_name_is_exit_2():
    # GIVEN no stack name, THEN the tool exits 2
    assert smoke.main(["smoke.py"]) == 2
