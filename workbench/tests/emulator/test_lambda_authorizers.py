"""Lambda authorizers on both kinds of API (templates/lambda-authorizers/): the authorizer function decides
before the route's function runs, as API Gateway asks it and reads its answer."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from workbench.emulator.api_server import LocalHttpApi
from workbench.emulator.service import LocalService
from workbench.emulator.testing import application_copy

pytestmark = pytest.mark.integration
APPLICATION = Path(__file__).parent / "templates" / "lambda-authorizers"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalHttpApi]:
    folder = application_copy(APPLICATION, tmp_path_factory.mktemp("authorizers"))
    with LocalService(template=folder / "template.yaml") as service:
        api = LocalHttpApi(service, "127.0.0.1", 0, quiet=True)
        thread = threading.Thread(target=api.serve_forever, daemon=True)
        thread.start()
        yield api
        api.shutdown()
        thread.join(timeout=10)


def call(gateway: LocalHttpApi, path: str, **headers: str) -> tuple[int, Any, dict[str, str]]:
    connection = http.client.HTTPConnection("127.0.0.1", gateway.server_port, timeout=60)
    connection.request("GET", path, headers={k.replace("_", "-"): v for k, v in headers.items()})
    response = connection.getresponse()
    return response.status, json.loads(response.read()), {k.lower(): v for k, v in response.getheaders()}


def authorizer_runs(gateway: LocalHttpApi) -> int:
    return gateway.application.lambda_authorizers.invocations


# ---------------------------------------------------------------- REST: TOKEN
def test_a_token_authorizers_policy_lets_the_request_through_with_its_context(gateway: LocalHttpApi):
    status, told, _ = call(gateway, "/token", Authorization="Bearer allow")
    assert status == 200
    assert told == {"user": "u-1", "n": "7", "principalId": "u-1"}  # REST passes context values as strings


DENIED = "User is not authorized to access this resource"


@pytest.mark.parametrize(
    ("authorization", "status", "body", "asked"),
    [
        (None, 401, {"message": "Unauthorized"}, 0),  # no identity: the authorizer is not asked
        ("Token allow", 401, {"message": "Unauthorized"}, 0),  # fails ^Bearer .+$: not asked either
        ("Bearer fail", 401, {"message": "Unauthorized"}, 1),  # the function's "Unauthorized" error
        ("Bearer deny", 403, {"Message": f"{DENIED} with an explicit deny"}, 1),
        ("Bearer elsewhere", 403, {"Message": DENIED}, 1),  # its Allow is for another method
        ("Bearer broken", 500, {"message": None}, 1),  # not a policy: AuthorizerConfigurationException
        ("Bearer slow", 500, {"message": None}, 1),  # stopped by its timeout: the authorizer failed
    ],
)
def test_a_token_authorizer_refuses_in_api_gateways_words(
    gateway: LocalHttpApi, authorization: str | None, status: int, body: dict[str, Any], asked: int
):
    before = authorizer_runs(gateway)
    answered, said, headers = call(gateway, "/token", **({"Authorization": authorization} if authorization else {}))
    assert (answered, said) == (status, body)
    assert "x-amzn-errortype" in headers
    assert authorizer_runs(gateway) - before == asked  # each token asked once: these are not cached before


def test_a_token_authorizers_answer_is_cached_for_its_ttl(gateway: LocalHttpApi):
    call(gateway, "/token", Authorization="Bearer allow")
    before = authorizer_runs(gateway)
    for _ in range(3):
        assert call(gateway, "/token", Authorization="Bearer allow")[0] == 200
    assert authorizer_runs(gateway) == before  # 300 s by default: the cached policy decides


# ---------------------------------------------------------------- REST: REQUEST, no cache
def test_a_request_authorizer_without_a_cache_is_asked_every_time(gateway: LocalHttpApi):
    before = authorizer_runs(gateway)
    assert call(gateway, "/key", X_Key="allow")[0] == 200
    assert call(gateway, "/key", X_Key="allow")[0] == 200
    assert authorizer_runs(gateway) == before + 2
    assert call(gateway, "/key", X_Key="deny")[0] == 403


# ---------------------------------------------------------------- HTTP API: simple responses, payload 2.0
def test_an_http_api_simple_response_passes_its_context_as_lambda(gateway: LocalHttpApi):
    assert call(gateway, "/simple", Authorization="allow")[:2] == (200, {"lambda": {"user": "u-2"}})
    assert call(gateway, "/simple", Authorization="no")[:2] == (403, {"message": "Forbidden"})
    assert call(gateway, "/simple")[:2] == (401, {"message": "Unauthorized"})


# ---------------------------------------------------------------- HTTP API: IAM policy, payload 1.0
def test_an_http_api_policy_authorizer_decides_by_its_policy(gateway: LocalHttpApi):
    assert call(gateway, "/policy", Authorization="allow")[:2] == (200, {"user": "u-1", "n": "7", "principalId": "u-1"})
    assert call(gateway, "/policy", Authorization="deny")[:2] == (403, {"message": "Forbidden"})
    assert call(gateway, "/policy", Authorization="broken")[:2] == (500, {"message": "Internal Server Error"})
