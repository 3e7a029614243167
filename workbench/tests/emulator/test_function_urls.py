"""Function URLs of any template, as Lambda serves them (templates/function-urls/: a public URL with CORS, a private
one (AWS_IAM), one whose function reserves no concurrency); each answers on a port of its own."""

from __future__ import annotations

import http.client
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from workbench.emulator.function_urls import FunctionUrlEndpoint, function_urls
from workbench.emulator.service import LocalService
from workbench.emulator.testing import running_start_api, serving

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "function-urls"
ORIGIN = "https://shop.example.com"


@pytest.fixture(scope="module")
def ports(service: LocalService) -> Iterator[dict[str, int]]:
    """Each function URL served in this process: function -> port."""
    urls = {url.function: url for url in function_urls(service.app)}
    with (
        serving(service, application=FunctionUrlEndpoint(service, urls["Public"], quiet=True)) as public,
        serving(service, application=FunctionUrlEndpoint(service, urls["Private"], quiet=True)) as private,
        serving(service, application=FunctionUrlEndpoint(service, urls["Closed"], quiet=True)) as closed,
    ):
        yield {"Public": public, "Private": private, "Closed": closed}


def request(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> tuple[int, http.client.HTTPResponse, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request(method, target, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response, response.read()


def test_any_method_and_path_reach_the_function_as_payload_2_0(ports: dict[str, int]):
    # WHEN a request with a query, a repeated parameter and cookies reaches the public URL
    status, response, body = request(
        ports["Public"], "DELETE", "/any/deep/path?kind=a&kind=b&q=x%20y", {"cookie": "a=1; b=2"}
    )

    # THEN the function got payload 2.0 with the $default route and stage, and no path parameters
    assert status == 201, body
    event: dict[str, Any] = json.loads(body)
    assert (event["version"], event["routeKey"], event["rawPath"]) == ("2.0", "$default", "/any/deep/path")
    assert event["rawQueryString"] == "kind=a&kind=b&q=x%20y"
    assert event["queryStringParameters"] == {"kind": "a,b", "q": "x y"}
    assert event["cookies"] == ["a=1", "b=2"]
    assert "pathParameters" not in event
    assert "cookie" not in event["headers"]
    context = event["requestContext"]
    assert (context["stage"], context["routeKey"], context["http"]["method"]) == ("$default", "$default", "DELETE")
    assert re.fullmatch(r"[0-9a-f]{32}", context["apiId"])
    assert context["domainPrefix"] == context["apiId"]

    # … and its response is read as payload 2.0: its cookies are Set-Cookie headers
    assert response.getheader("set-cookie") == "seen=1; Path=/"


def test_a_response_without_status_code_is_inferred_as_json(ports: dict[str, int]):
    status, response, body = request(ports["Public"], "GET", "/plain")
    assert (status, json.loads(body)) == (200, {"hello": "world"})
    assert response.getheader("content-type") == "application/json"


def test_the_urls_cors_answers_preflights_and_sets_the_answers_headers(ports: dict[str, int]):
    # WHEN a browser asks before a POST from the allowed origin, THEN the URL answers it: no invocation
    asked = {"origin": ORIGIN, "access-control-request-method": "POST"}
    status, response, _ = request(ports["Public"], "OPTIONS", "/orders", asked)
    assert status == 204
    assert response.getheader("access-control-allow-origin") == ORIGIN
    assert response.getheader("access-control-allow-methods") == "GET,POST"
    assert response.getheader("access-control-max-age") == "300"

    # … from another origin, no CORS headers
    status, response, _ = request(ports["Public"], "OPTIONS", "/orders", asked | {"origin": "https://evil.example"})
    assert (status, response.getheader("access-control-allow-origin")) == (204, None)

    # WHEN the request itself comes, THEN the URL's CORS headers replace the function's own
    status, response, _ = request(ports["Public"], "GET", "/echo", {"origin": ORIGIN})
    assert (status, response.getheader("access-control-allow-origin")) == (201, ORIGIN)
    assert response.getheader("access-control-expose-headers") == "x-request-kind"


def test_a_failing_function_is_a_502(ports: dict[str, int]):
    status, _, body = request(ports["Public"], "GET", "/fail")
    assert (status, json.loads(body)) == (502, {"Message": "Internal Server Error"})


def test_a_function_that_reserves_no_concurrency_is_throttled(ports: dict[str, int]):
    status, _, body = request(ports["Closed"], "GET", "/")
    assert (status, json.loads(body)) == (429, {"Message": "Rate Exceeded."})


def test_an_aws_iam_url_refuses_unsigned_requests_and_names_the_signers_key(ports: dict[str, int]):
    # WHEN an unsigned request reaches the private URL, THEN 403, the function never runs
    status, _, body = request(ports["Private"], "GET", "/echo")
    assert (status, json.loads(body)) == (403, {"Message": "Forbidden"})

    # WHEN it is SigV4-signed, THEN it runs, and the function sees the signer's access key
    url = f"http://127.0.0.1:{ports['Private']}/echo"
    signed = AWSRequest(method="GET", url=url)
    SigV4Auth(Credentials("AKIALOCALEXAMPLE", "secret"), "lambda", "us-east-1").add_auth(signed)
    status, _, body = request(ports["Private"], "GET", "/echo", dict(signed.headers.items()))
    assert status == 201, body
    assert json.loads(body)["requestContext"]["authorizer"]["iam"]["accessKey"] == "AKIALOCALEXAMPLE"


def test_a_request_over_6_mb_is_refused_before_the_function_runs(ports: dict[str, int]):
    status, _, body = request(ports["Public"], "POST", "/big", {"content-type": "text/plain"}, b"x" * (6 * 2**20 + 1))
    assert status == 413
    assert "smaller than 6291456" in json.loads(body)["Message"]


def test_start_api_serves_each_function_url_on_its_own_port(folder: Path):
    # GIVEN start-api with the URLs on ports of the system's choosing
    said: list[str] = []
    with running_start_api(folder, database_expected=False, args=["--url-port", "0"], said=said):
        # THEN it names each URL, and the public one answers
        served = dict(re.findall(r"Function URL of (\w+) at http://127\.0\.0\.1:(\d+)/ \(AuthType", "".join(said)))
        assert sorted(served) == ["Closed", "Private", "Public"]
        status, _, body = request(int(served["Public"]), "GET", "/plain")
        assert (status, json.loads(body)) == (200, {"hello": "world"})
