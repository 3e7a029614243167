"""The Lambda API's Invoke, as boto3 and the functions themselves call it (templates/lambda-api/: Echo with an alias
and an on-failure destination, ContextOf answering its client context, Caller allowed to invoke Echo, Uninvited
not, Closed reserving no concurrency)."""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config

from workbench.emulator.lambda_api import LocalLambdaApi
from workbench.emulator.service import LocalService
from workbench.emulator.testing import running_start_api

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "lambda-api"


@pytest.fixture(scope="module")
def lambda_client(service: LocalService) -> Iterator[Any]:
    with LocalLambdaApi(service, quiet=True) as api:
        yield lambda_client_of(api.endpoint_url)


def lambda_client_of(endpoint_url: str) -> Any:
    return boto3.client(
        "lambda",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"max_attempts": 1}),  # a 429 is to be seen, not retried
    )


def answer(response: dict[str, Any]) -> Any:
    return json.loads(response["Payload"].read())


def test_a_request_response_invoke_answers_the_payload_with_the_log_tail(lambda_client: Any):
    # WHEN Echo is invoked by its logical id, asking for the log's tail
    response = lambda_client.invoke(FunctionName="Echo", Payload=b'{"n": 1}', LogType="Tail")

    # THEN the payload, the version, and the last 4 KB of its log: the platform's lines around the function's
    assert (response["StatusCode"], answer(response), response["ExecutedVersion"]) == (200, {"n": 1}, "$LATEST")
    assert "FunctionError" not in response
    log = base64.b64decode(response["LogResult"]).decode()
    assert re.match(r"START RequestId: \S+ Version: \$LATEST\n", log)
    assert 'echo got {"n": 1}\n' in log
    assert "\nREPORT RequestId: " in log


def test_a_failed_run_is_a_200_with_the_function_error(lambda_client: Any):
    response = lambda_client.invoke(FunctionName="Echo", Payload=b'{"fail": true}')
    assert (response["StatusCode"], response["FunctionError"]) == (200, "Unhandled")
    assert answer(response)["errorMessage"] == "asked to fail"


def test_names_arns_and_aliases_reach_the_function_and_others_are_not_found(lambda_client: Any):
    arn = "arn:aws:lambda:us-east-1:123456789012:function:sam-local-Echo"
    for name, qualifier in [("sam-local-Echo", None), (arn, None), (f"{arn}:live", None), ("Echo", "live")]:
        extra = {"Qualifier": qualifier} if qualifier else {}
        assert answer(lambda_client.invoke(FunctionName=name, Payload=b"[1]", **extra)) == [1]
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match="function:Nope"):
        lambda_client.invoke(FunctionName="Nope")
    with pytest.raises(lambda_client.exceptions.ResourceNotFoundException, match="function:Echo:beta"):
        lambda_client.invoke(FunctionName="Echo", Qualifier="beta")


def test_refusals_are_the_apis_own_exceptions(lambda_client: Any):
    with pytest.raises(lambda_client.exceptions.TooManyRequestsException, match="Rate Exceeded"):
        lambda_client.invoke(FunctionName="Closed")
    with pytest.raises(lambda_client.exceptions.InvalidRequestContentException, match="Could not parse"):
        lambda_client.invoke(FunctionName="Echo", Payload=b"{not json")
    with pytest.raises(lambda_client.exceptions.RequestTooLargeException, match="smaller than 1048576"):
        lambda_client.invoke(FunctionName="Echo", InvocationType="Event", Payload=b'"' + b"x" * 2**20 + b'"')


def test_the_callers_client_context_is_the_handlers_context_client_context(lambda_client: Any):
    sent = {"client": {"app_title": "shop"}, "custom": {"cart": "3"}, "env": {"locale": "fr"}}
    encoded = base64.b64encode(json.dumps(sent).encode()).decode()
    seen = answer(lambda_client.invoke(FunctionName="ContextOf", ClientContext=encoded))
    assert seen == {"app_title": "shop", "custom": {"cart": "3"}, "env": {"locale": "fr"}}
    assert answer(lambda_client.invoke(FunctionName="ContextOf")) is None
    with pytest.raises(lambda_client.exceptions.InvalidParameterValueException, match="Base64-encoded JSON object"):
        lambda_client.invoke(FunctionName="ContextOf", ClientContext="not base64!")


def test_dry_run_and_event_invokes_and_the_failed_events_destination(service: LocalService, lambda_client: Any):
    assert lambda_client.invoke(FunctionName="Echo", InvocationType="DryRun")["StatusCode"] == 204

    # WHEN an event that fails is queued, THEN 202 at once; its retry fails too, and the record reaches the queue
    assert (
        lambda_client.invoke(FunctionName="Echo", InvocationType="Event", Payload=b'{"fail": 1}')["StatusCode"] == 202
    )
    sqs, url = service.cloud.client("sqs"), service.queue_url("FailedEvents")
    deadline, messages = time.monotonic() + 120, []
    while not messages and time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", [])
    (message,) = messages
    record = json.loads(message["Body"])
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestPayload"] == {"fail": 1}


def test_a_function_invokes_another_through_the_sdk_as_its_role_allows(lambda_client: Any):
    # GIVEN Caller, whose role may invoke Echo, and Uninvited, whose role may not
    # WHEN each invokes Echo through boto3 inside its environment, THEN one gets Echo's answer, the other is denied
    called = answer(lambda_client.invoke(FunctionName="Caller", Payload=b'{"hop": 1}'))
    assert called == {"status": 200, "answer": {"hop": 1}}
    refused = answer(lambda_client.invoke(FunctionName="Uninvited", Payload=b'{"hop": 1}'))
    assert refused == {"refused": "AccessDeniedException"}


def test_start_api_serves_the_lambda_api_beside_the_routes(folder: Path):
    said: list[str] = []
    with running_start_api(folder, database_expected=False, said=said):
        (port,) = re.findall(r"Lambda API at http://127\.0\.0\.1:(\d+)", "".join(said))
        response = lambda_client_of(f"http://127.0.0.1:{port}").invoke(FunctionName="Echo", Payload=b'"hi"')
        assert answer(response) == "hi"
