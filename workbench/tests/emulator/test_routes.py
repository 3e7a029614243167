"""API Gateway's routing, payloads and CORS for any template: each rule against AWS's documented behaviour.

Templates are written to a temporary folder and only read (SAM's transform, no build, no cloud).
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from workbench.emulator.api_server import admit
from workbench.emulator.authorizer import LocalAuthorizers
from workbench.emulator.payloads import GatewayRequest, from_result, to_event
from workbench.emulator.routes import NoRoute, Route, Selected, api_routes, select
from workbench.emulator.template import SamApplication


def application(
    tmp_path: Path, events: dict[str, dict[str, object]], head: str = "", resources: str = ""
) -> SamApplication:
    """One function with these events, under optional Globals (`head`) and extra resources."""
    lines = "\n".join(
        f"        {name}:\n          Type: {event['Type']}\n          Properties: {json.dumps(event['Properties'])}"
        for name, event in events.items()
    )
    template = (
        "Transform: AWS::Serverless-2016-10-31\n"
        + textwrap.dedent(head)
        + "Resources:\n"
        + "  Fn:\n    Type: AWS::Serverless::Function\n    Properties:\n"
        + "      CodeUri: .\n      Handler: app.handler\n      Runtime: python3.13\n      Events:\n"
        + lines
        + "\n"
        + textwrap.indent(textwrap.dedent(resources), "  ")
    )
    (tmp_path / "template.yaml").write_text(template)
    return SamApplication(tmp_path / "template.yaml")


def http_routes(tmp_path: Path, *keys: str, version: str = "2.0") -> list[Route]:
    events = {}
    for index, key in enumerate(keys):
        method, _, path = key.partition(" ")
        properties = {"PayloadFormatVersion": version} if key == "$default" else {"Path": path, "Method": method}
        properties.setdefault("PayloadFormatVersion", version)
        events[f"E{index}"] = {"Type": "HttpApi", "Properties": properties}
    return api_routes(application(tmp_path, events))


def rest_routes(tmp_path: Path, *keys: str, head: str = "") -> list[Route]:
    events = {}
    for index, key in enumerate(keys):
        method, _, path = key.partition(" ")
        events[f"E{index}"] = {"Type": "Api", "Properties": {"Path": path, "Method": method.lower()}}
    return api_routes(application(tmp_path, events, head))


def chosen(routes: list[Route], method: str, path: str) -> str:
    selected = select(routes, method, path)
    if isinstance(selected, NoRoute):
        return "403 Missing Authentication Token" if selected.rest else "404 Not Found"
    return selected.route.route_key


# ---------------------------------------------------------------- HTTP APIs: "Routing API requests"
def test_an_http_api_chooses_the_most_specific_route_as_the_developer_guides_example(tmp_path: Path):
    # GIVEN the Developer Guide's example routes for HTTP APIs
    routes = http_routes(
        tmp_path, "GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default"
    )

    # THEN its requests reach the routes it names: a full match, a path variable, a greedy GET, ANY for other methods
    assert chosen(routes, "GET", "/pets/dog/1") == "GET /pets/dog/1"
    assert chosen(routes, "GET", "/pets/dog/2") == "GET /pets/dog/{id}"
    assert chosen(routes, "GET", "/pets/cat/1") == "GET /pets/{proxy+}"
    assert chosen(routes, "POST", "/pets/cat/1") == "ANY /{proxy+}"
    # … and what no greedy route takes (the root: a greedy variable needs one segment) reaches $default
    assert chosen(routes, "GET", "/") == "$default"


def test_template_order_does_not_decide(tmp_path: Path):
    # GIVEN the same routes declared least specific first
    routes = http_routes(
        tmp_path, "$default", "ANY /{proxy+}", "GET /pets/{proxy+}", "GET /pets/dog/{id}", "GET /pets/dog/1"
    )

    # THEN the choices are the same
    assert [chosen(routes, "GET", p) for p in ("/pets/dog/1", "/pets/dog/2", "/pets/cat/1")] == [
        "GET /pets/dog/1",
        "GET /pets/dog/{id}",
        "GET /pets/{proxy+}",
    ]


def test_a_greedy_variable_takes_every_segment_after_it(tmp_path: Path):
    routes = http_routes(tmp_path, "GET /files/{proxy+}")
    selected = select(routes, "GET", "/files/a/b/c.txt")
    assert isinstance(selected, Selected)
    assert selected.path_parameters == {"proxy": "a/b/c.txt"}
    assert chosen(routes, "GET", "/files") == "404 Not Found"  # one segment at least


def test_an_exact_method_wins_over_any_on_the_same_path(tmp_path: Path):
    routes = http_routes(tmp_path, "ANY /orders", "GET /orders")
    assert chosen(routes, "GET", "/orders") == "GET /orders"
    assert chosen(routes, "DELETE", "/orders") == "ANY /orders"


def test_without_a_match_an_http_api_answers_its_404(tmp_path: Path):
    routes = http_routes(tmp_path, "GET /hello")
    assert chosen(routes, "POST", "/hello") == "404 Not Found"
    assert chosen(routes, "GET", "/hello/") == "404 Not Found"  # another path on an HTTP API
    assert chosen(routes, "GET", "//hello") == "404 Not Found"


# ---------------------------------------------------------------- REST APIs: the resource, then its method
def test_a_rest_api_chooses_the_resource_then_its_method(tmp_path: Path):
    # GIVEN a REST API with a static resource, a variable one and a greedy one at the root
    routes = rest_routes(tmp_path, "GET /pets", "GET /pets/{petId}", "ANY /{proxy+}")

    # THEN the most specific resource is chosen, whatever the order
    assert chosen(routes, "GET", "/pets") == "GET /pets"
    assert chosen(routes, "GET", "/pets/7") == "GET /pets/{petId}"
    assert chosen(routes, "GET", "/toys/1") == "ANY /{proxy+}"
    assert chosen(routes, "GET", "/pets/") == "GET /pets"  # a trailing slash names the same resource
    # … and a method the chosen resource lacks is not passed to a less specific one: API Gateway's 403
    assert chosen(routes, "POST", "/pets") == "403 Missing Authentication Token"
    assert chosen(routes, "GET", "/") == "403 Missing Authentication Token"  # no method on the root


def test_sam_starters_implicit_rest_api_is_stage_prod_payload_one(tmp_path: Path):
    (route,) = rest_routes(tmp_path, "GET /hello")
    assert (route.api.logical_id, route.api.kind, route.api.stage, route.payload_version) == (
        "ServerlessRestApi",
        "Api",
        "Prod",
        "1.0",
    )


# ---------------------------------------------------------------- the payloads
def test_a_rest_event_has_the_resource_the_stage_and_multi_value_parameters(tmp_path: Path):
    # GIVEN a REST route with a path variable
    routes = rest_routes(tmp_path, "GET /pets/{petId}")
    selected = select(routes, "GET", "/pets/a%20b")
    assert isinstance(selected, Selected)

    # WHEN a request with a repeated query parameter becomes its event
    request = GatewayRequest("GET", "/pets/a%20b?tag=x&tag=y", {"host": "local", "accept": "*/*"}, client_ip="10.0.0.1")
    event = to_event(selected, request)

    # THEN it is payload 1.0 as a REST API sends it
    assert (event["resource"], event["path"], event["httpMethod"]) == ("/pets/{petId}", "/pets/a%20b", "GET")
    assert event["pathParameters"] == {"petId": "a b"}  # decoded
    assert event["queryStringParameters"] == {"tag": "y"}  # the last value
    assert event["multiValueQueryStringParameters"] == {"tag": ["x", "y"]}
    assert event["multiValueHeaders"]["accept"] == ["*/*"]
    assert (event["body"], event["isBase64Encoded"]) == (None, False)
    context = event["requestContext"]
    assert (context["stage"], context["path"], context["resourcePath"]) == ("Prod", "/Prod/pets/a%20b", "/pets/{petId}")
    assert context["identity"]["sourceIp"] == "10.0.0.1"
    assert "version" not in event


def test_an_http_api_can_ask_for_payload_one(tmp_path: Path):
    routes = http_routes(tmp_path, "POST /items", version="1.0")
    selected = select(routes, "POST", "/items")
    assert isinstance(selected, Selected)
    event = to_event(selected, GatewayRequest("POST", "/items", {"content-type": "application/json"}, b'{"a":1}'))
    assert (event["version"], event["resource"], event["body"], event["isBase64Encoded"]) == (
        "1.0",
        "/items",
        '{"a":1}',
        False,
    )
    assert event["requestContext"]["path"] == "/items"  # no stage in the path of the $default stage


def test_a_rest_api_base64_encodes_only_its_binary_media_types(tmp_path: Path):
    head = """
    Globals:
      Api:
        BinaryMediaTypes: ["image~1png"]
    """
    routes = rest_routes(tmp_path, "POST /upload", head=head)
    selected = select(routes, "POST", "/upload")
    assert isinstance(selected, Selected)
    image = to_event(selected, GatewayRequest("POST", "/upload", {"content-type": "image/png"}, b"\x89PNG"))
    octets = to_event(selected, GatewayRequest("POST", "/upload", {"content-type": "application/octet-stream"}, b"abc"))
    assert (image["isBase64Encoded"], image["body"]) == (True, "iVBORw==")
    assert (octets["isBase64Encoded"], octets["body"]) == (False, "abc")  # not declared binary: passed as text


def test_a_payload_one_response_needs_a_status_code_and_adds_multi_value_headers(tmp_path: Path):
    (route,) = rest_routes(tmp_path, "GET /hello")
    status, headers, body = from_result(
        route,
        {"statusCode": 201, "headers": {"x-a": "1"}, "multiValueHeaders": {"set-cookie": ["a=1", "b=2"]}, "body": "ok"},
    )
    assert (status, body) == (201, b"ok")
    assert headers == [("x-a", "1"), ("set-cookie", "a=1"), ("set-cookie", "b=2"), ("content-type", "application/json")]
    with pytest.raises(ValueError, match="statusCode"):
        from_result(route, {"message": "hello"})  # API Gateway's 502 for a REST API


def test_a_payload_two_response_may_be_any_json_and_sets_its_cookies(tmp_path: Path):
    (route,) = http_routes(tmp_path, "GET /hello")
    assert from_result(route, {"message": "hello"}) == (
        200,
        [("content-type", "application/json")],
        b'{"message": "hello"}',
    )
    _, headers, _ = from_result(route, {"statusCode": 200, "cookies": ["a=1", "b=2"]})
    assert headers == [("set-cookie", "a=1"), ("set-cookie", "b=2")]


# ---------------------------------------------------------------- the gateway's own answers
SAM_APP = Path(__file__).parent / "templates" / "sam-app"  # SAM CLI's python3.13 hello-world starter
NO_AUTHORIZERS = LocalAuthorizers.of_template(SamApplication(SAM_APP / "template.yaml"))  # it declares none


def answer(
    routes: list[Route], method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    admitted = admit(routes, NO_AUTHORIZERS, GatewayRequest(method, path, headers or {}))
    assert isinstance(admitted, tuple), f"{method} {path} reached {admitted}"
    status, fields, body = admitted
    return status, dict(fields), body


def test_a_rest_api_without_a_resource_answers_missing_authentication_token(tmp_path: Path):
    status, headers, body = answer(rest_routes(tmp_path, "GET /hello"), "GET", "/nope")
    assert (status, json.loads(body)) == (403, {"message": "Missing Authentication Token"})
    assert "x-amzn-requestid" in headers


# ---------------------------------------------------------------- CORS
CORS_HTTP_API = """
  Api:
    Type: AWS::Serverless::HttpApi
    Properties:
      CorsConfiguration:
        AllowOrigins: [https://shop.example]
        AllowMethods: [GET, POST]
        AllowHeaders: [authorization, content-type]
        ExposeHeaders: [x-request-id]
        MaxAge: 600
"""


def cors_http_routes(tmp_path: Path) -> list[Route]:
    event = {"Type": "HttpApi", "Properties": {"Path": "/orders", "Method": "post", "ApiId": {"Ref": "Api"}}}
    return api_routes(application(tmp_path, {"Post": event}, resources=CORS_HTTP_API))


def test_an_http_api_answers_a_preflight_itself_with_its_configuration(tmp_path: Path):
    # GIVEN an HTTP API with a CORS configuration and no OPTIONS route
    routes = cors_http_routes(tmp_path)
    preflight = {"origin": "https://shop.example", "access-control-request-method": "POST"}

    # WHEN a browser's preflight arrives from an allowed origin, THEN the gateway answers 204 with the configuration
    status, headers, body = answer(routes, "OPTIONS", "/orders", preflight)
    assert (status, body) == (204, b"")
    assert headers == {
        "access-control-allow-origin": "https://shop.example",
        "access-control-allow-methods": "GET,POST",
        "access-control-allow-headers": "authorization,content-type",
        "access-control-max-age": "600",
    }
    # … and from another origin, the same 204 without them: the browser refuses
    assert answer(routes, "OPTIONS", "/orders", preflight | {"origin": "https://evil.example"})[1] == {}


def test_an_http_api_replaces_the_functions_cors_headers_with_its_own(tmp_path: Path):
    from workbench.emulator.cors import http_api_response_headers

    (route,) = cors_http_routes(tmp_path)
    assert route.api.cors is not None
    function_said = [("content-type", "application/json"), ("Access-Control-Allow-Origin", "*")]
    headers = http_api_response_headers(route.api.cors, {"origin": "https://shop.example"}, function_said)
    assert headers == [
        ("content-type", "application/json"),
        ("access-control-allow-origin", "https://shop.example"),
        ("access-control-expose-headers", "x-request-id"),
    ]


def test_sam_cors_true_allows_every_origin_and_nothing_more(tmp_path: Path):
    head = """
    Globals:
      HttpApi:
        CorsConfiguration: true
    """
    event = {"Type": "HttpApi", "Properties": {"Path": "/hello", "Method": "get"}}
    routes = api_routes(application(tmp_path, {"Get": event}, head))
    preflight = {"origin": "https://any.example", "access-control-request-method": "GET"}
    assert answer(routes, "OPTIONS", "/hello", preflight)[:2] == (204, {"access-control-allow-origin": "*"})


def test_a_rest_apis_cors_is_the_mock_options_method_sam_adds(tmp_path: Path):
    # GIVEN a REST API with SAM's Cors
    head = """
    Globals:
      Api:
        Cors:
          AllowOrigin: "'https://shop.example'"
          MaxAge: "'600'"
    """
    routes = rest_routes(tmp_path, "GET /hello", head=head)

    # WHEN OPTIONS reaches a path, THEN SAM's mock method answers, no function runs
    status, headers, _ = answer(routes, "OPTIONS", "/hello", {"origin": "https://shop.example"})
    assert status == 200
    assert headers == {
        "Access-Control-Allow-Origin": "https://shop.example",
        "Access-Control-Max-Age": "600",
        "Access-Control-Allow-Methods": "GET,OPTIONS",
    }
    # … while a GET gets the function's own headers only (selected, not answered by the gateway)
    get = GatewayRequest("GET", "/hello", {"origin": "https://shop.example"})
    assert not isinstance(admit(routes, NO_AUTHORIZERS, get), tuple)
