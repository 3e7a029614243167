"""`sam local start-api` without Docker: the template's HttpApi routes behind an emulated API Gateway.

HTTP itself is waitress's, a maintained WSGI server: request framing, keep-alive, HEAD, chunked
bodies, a bad Content-Length (400, connection closed), idle and slow clients (`channel_timeout`).
This module is API Gateway's part: routes, the payload v2 event, the reading of the function's
response, and API Gateway's own errors in HTTP APIs' shapes — `{"message":"Not Found"}` (404, no
route), `Request Header Fields Too Large` (431, request line and headers over 10,240 bytes), `Request
Entity Too Large` (413, over 10 MB), `Internal Server Error` (500, the function failed, or Lambda
refused an event or a response over its 6 MB), `Service Unavailable` (503, over the 30 s integration
timeout) — and its JWT authorizers' `Unauthorized` (401) and `Forbidden` (403) before the function
runs (emulator/authorizer.py).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from waitress.server import BaseWSGIServer, create_server

from workbench.emulator.authorizer import LocalAuthorizers, Refusal
from workbench.emulator.cloud import ACCOUNT_ID
from workbench.emulator.cors import Headers, http_api_preflight, http_api_response_headers, is_preflight
from workbench.emulator.environment import RequestTooLargeError, ThrottledError, say_once
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.routes import DEFAULT_ROUTE, NoRoute, Route, Selected, api_routes, rest_mock, select
from workbench.emulator.service import LocalService

# HTTP APIs infer isBase64Encoded from the Content-Type: text types pass as text, the rest as base64
# (AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs", R. Potucek).
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")
MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP APIs accept request bodies up to 10 MB
# API Gateway quotas for HTTP APIs: 10,240 bytes for the request line and header values. What API Gateway
# answers over it is not documented; here HTTP's own 431 (RFC 6585), in API Gateway's JSON shape.
MAX_REQUEST_LINE_AND_HEADERS_BYTES = 10_240
INTEGRATION_TIMEOUT_S = 30  # HTTP APIs' integration timeout (its maximum)
SERVER_THREADS = 64  # one per request in flight: an invocation blocks its thread, as a client waits
IDLE_TIMEOUT_S = 30  # a client that sends nothing (headers or body) for this long is dropped


class TokenBucket:
    """API Gateway's throttle of one route: `burst` requests at once, refilled at `rate` a second."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self._clock = rate, burst, clock
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()
        self.throttled = 0

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            self.throttled += 1
            return False


def to_event(
    selected: Selected,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    client_ip: str,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The event the route's integration sends the function: payload 2.0, or 1.0 (REST APIs, and HTTP APIs
    that ask for it)."""
    if selected.route.payload_version == "2.0":
        return _event_v2(selected, method, target, headers, body, client_ip, authorizer)
    return _event_v1(selected, method, target, headers, body, client_ip, authorizer)


def _is_text(route: Route, headers: dict[str, str], body: bytes) -> bool:
    """HTTP APIs infer it from the Content-Type; REST APIs pass text unless it is one of their binary types."""
    content_type = headers.get("content-type", "").lower()  # media types are case-insensitive (RFC 9110)
    if not body:
        return True
    if route.api.is_rest:
        return not any(fnmatch.fnmatch(content_type.split(";")[0].strip(), t) for t in route.api.binary_media_types)
    return any(content_type.startswith(t) for t in _TEXT_TYPES)


def _event_v2(
    selected: Selected,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    client_ip: str,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    route = selected.route
    url = urlsplit(target)
    now = time.time()
    is_text = _is_text(route, headers, body)
    query = parse_qsl(url.query, keep_blank_values=True)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": dict(headers),
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local",
            "domainName": headers.get("host", "localhost"),
            "domainPrefix": "local",
            "http": {
                "method": method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": client_ip,
                "userAgent": headers.get("user-agent", ""),
            },
            "requestId": uuid.uuid4().hex[:16],
            "routeKey": route.route_key,
            "stage": route.api.stage,
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": not is_text,
    }
    if authorizer is not None:  # what the route's authorizer vouched for: the token's claims and scopes
        event["requestContext"]["authorizer"] = authorizer
    if query:
        values: dict[str, list[str]] = {}
        for key, value in query:
            values.setdefault(key, []).append(value)
        event["queryStringParameters"] = {key: ",".join(v) for key, v in values.items()}
    if selected.path_parameters:  # decoded, as API Gateway does; rawPath keeps the encoded form
        event["pathParameters"] = {name: unquote(value) for name, value in selected.path_parameters.items()}
    if "cookie" in headers:  # payload v2 moves cookies out of the headers into their own list
        cookies = event["headers"].pop("cookie")
        event["cookies"] = [c.strip() for c in cookies.replace(",", ";").split(";") if c.strip()]
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
    return event


def _event_v1(
    selected: Selected,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    client_ip: str,
    authorizer: dict[str, Any] | None,
) -> dict[str, Any]:
    """Payload 1.0: single- and multi-value headers and query parameters, the resource as declared, the stage."""
    route = selected.route
    url = urlsplit(target)
    now = time.time()
    is_text = _is_text(route, headers, body)
    query: dict[str, list[str]] = {}
    for key, value in parse_qsl(url.query, keep_blank_values=True):
        query.setdefault(key, []).append(value)
    resource = "/" if route.path == DEFAULT_ROUTE else route.path
    context: dict[str, Any] = {
        "accountId": ACCOUNT_ID,
        "apiId": "local",
        "domainName": headers.get("host", "localhost"),
        "domainPrefix": "local",
        "extendedRequestId": uuid.uuid4().hex[:16],
        "httpMethod": method,
        "identity": {"sourceIp": client_ip, "userAgent": headers.get("user-agent", "")},
        "path": f"/{route.api.stage}{url.path}" if route.api.is_rest else url.path,
        "protocol": "HTTP/1.1",
        "requestId": str(uuid.uuid4()),
        "requestTime": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
        "requestTimeEpoch": int(now * 1000),
        "resourceId": "local",
        "resourcePath": resource,
        "stage": route.api.stage,
    }
    if authorizer is not None:
        context["authorizer"] = authorizer
    event: dict[str, Any] = {
        "resource": resource,
        "path": url.path,
        "httpMethod": method,
        "headers": dict(headers) or None,
        # the server has joined a repeated header's values with commas: one value each (README)
        "multiValueHeaders": {name: [value] for name, value in headers.items()} or None,
        "queryStringParameters": {key: values[-1] for key, values in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": {n: unquote(v) for n, v in selected.path_parameters.items()} or None,
        "stageVariables": None,
        "requestContext": context,
        "body": (body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": not is_text,
    }
    if not route.api.is_rest:
        event["version"] = "1.0"
    return event


def from_result(route: Route, result: Any) -> tuple[int, Headers, bytes]:
    """The gateway's reading of the function's response, by payload version; ValueError if it cannot read it."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        fields = [(str(k), str(v)) for k, v in (result.get("headers") or {}).items()]
        if route.payload_version == "1.0":  # a multi-value header adds its values to the single one
            for name, values in (result.get("multiValueHeaders") or {}).items():
                fields.extend((str(name), str(v)) for v in values if (str(name), str(v)) not in fields)
        else:
            fields.extend(("set-cookie", str(cookie)) for cookie in result.get("cookies") or [])
        if route.api.is_rest and not any(name.lower() == "content-type" for name, _ in fields):
            fields.append(("content-type", "application/json"))  # a REST API's default for a proxy response
        return int(result["statusCode"]), fields, raw
    if route.payload_version == "1.0":  # payload 1.0 must be a response object
        raise ValueError("a payload 1.0 response needs a statusCode")
    return 200, [("content-type", "application/json")], json.dumps(result).encode()


_GATEWAY_ERRORS = {  # API Gateway's own answers for HTTP APIs, before or instead of the function's
    HTTPStatus.UNAUTHORIZED: "Unauthorized",
    HTTPStatus.FORBIDDEN: "Forbidden",
    HTTPStatus.NOT_FOUND: "Not Found",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Request Entity Too Large",
    HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE: "Request Header Fields Too Large",
    HTTPStatus.TOO_MANY_REQUESTS: "Too Many Requests",
    HTTPStatus.INTERNAL_SERVER_ERROR: "Internal Server Error",
    HTTPStatus.SERVICE_UNAVAILABLE: "Service Unavailable",
}
# REST APIs answer in their own words: no resource or method is 403 Missing Authentication Token, a failed or
# unreadable integration 502, an integration over its 29 s 504 ("API Gateway response types", Developer Guide).
_REST_ERRORS = {
    HTTPStatus.FORBIDDEN: "Missing Authentication Token",
    HTTPStatus.INTERNAL_SERVER_ERROR: "Internal server error",
    HTTPStatus.BAD_GATEWAY: "Internal server error",
    HTTPStatus.GATEWAY_TIMEOUT: "Endpoint request timed out",
    HTTPStatus.TOO_MANY_REQUESTS: "Too Many Requests",
    HTTPStatus.REQUEST_ENTITY_TOO_LARGE: "Request Too Long",
}
REST_INTEGRATION_TIMEOUT_S = 29


@dataclass(frozen=True)
class Admitted:
    selected: Selected
    authorizer: dict[str, Any] | None  # what the route's authorizer vouched for; None: the route has none

    @property
    def route(self) -> Route:
        return self.selected.route


def admit(
    routes: list[Route],
    authorizers: LocalAuthorizers,
    method: str,
    target: str,
    headers: dict[str, str],
    throttles: dict[str, TokenBucket] | None = None,
) -> Admitted | tuple[int, Headers, bytes]:
    """API Gateway before the integration: its request quota, CORS, the route, its throttle, then its
    authorizer — or its own answer."""
    request_line = f"{method} {target} HTTP/1.1"  # HTTP/1.0 is as long
    if len(request_line.encode()) + sum(len(v.encode()) for v in headers.values()) > MAX_REQUEST_LINE_AND_HEADERS_BYTES:
        return _gateway_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
    path = urlsplit(target).path
    http_cors = next((r.api.cors for r in routes if r.api.cors and r.match(path) is not None), None)
    if http_cors is not None and is_preflight(method, headers):  # the HTTP API answers it, no route runs
        status, fields = http_api_preflight(http_cors, headers)
        return status, fields, b""
    mock = rest_mock(routes, method, path)
    if mock is not None:
        return mock.status, list(mock.headers), mock.body
    selected = select(routes, method, path)
    if isinstance(selected, NoRoute):
        return _gateway_error(HTTPStatus.FORBIDDEN if selected.rest else HTTPStatus.NOT_FOUND, rest=selected.rest)
    route = selected.route
    bucket = (throttles or {}).get(route.route_key)
    if bucket is not None and not bucket.take():
        return _gateway_error(HTTPStatus.TOO_MANY_REQUESTS, rest=route.api.is_rest)
    if route.authorizer not in authorizers.by_name:
        return Admitted(selected, None)
    verdict = authorizers.authorize(route.authorizer, route.route_key, headers, route.scopes)
    if isinstance(verdict, Refusal):  # the function never runs
        return _gateway_error(verdict.status, [("www-authenticate", verdict.www_authenticate)])
    return Admitted(selected, verdict)


class HttpApiGateway:
    """The WSGI app: one request → route → its payload's event → the function's pool → its response."""

    def __init__(self, service: LocalService, *, quiet: bool = False) -> None:
        self.service = service
        self.routes = api_routes(service.app)
        self.throttles = {r.route_key: TokenBucket(*r.throttle) for r in self.routes if r.throttle is not None}
        self.quiet = quiet
        self.authorizers = service.authorizers
        for name, authorizer in self.authorizers.by_name.items():
            grant = self.authorizers.grants[name]
            issues = (
                f"it signs only what the template's pool can give {grant.client}: {' '.join(sorted(grant.scopes))}"
                if grant is not None
                else "what scopes your issuer grants is not known here: it signs the scopes asked for"
            )
            say_once(
                f"{authorizer.name}: JWT authorizer emulated; tokens are checked against the local issuer's key "
                f"(.aws-sam/local-issuer/), standing in for {authorizer.issuer}'s published keys; {issues}; "
                "`workbench token --sub <customer> --scope <scope>` prints one"
            )
        emulated = {None, *self.authorizers.by_name}
        unknown = sorted({f"{r.authorizer} ({r.route_key})" for r in self.routes if r.authorizer not in emulated})
        if unknown:  # a Lambda authorizer: say so rather than pass unauthenticated requests silently
            say_once(
                f"authorizers not emulated: {', '.join(unknown)}; requests reach the functions without a check "
                "here, while API Gateway answers 401/403 before the function runs"
            )

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")  # the path as sent, still encoded
        status, headers, body = self._answer(environ, method, target)
        if not self.quiet:
            print(f"{environ.get('REMOTE_ADDR', '-')} {method} {target} {status}", file=sys.stderr)
        phrase = _phrase(status)
        fields = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(f"{status} {phrase}", [*fields, ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]  # HEAD: the headers a GET would get, no body

    def _answer(self, environ: dict[str, Any], method: str, target: str) -> tuple[int, Headers, bytes]:
        headers = wsgi_headers(environ)
        admitted = admit(self.routes, self.authorizers, method, target, headers, self.throttles)
        if not isinstance(admitted, Admitted):
            return admitted
        route = admitted.route
        status, fields, body = self._integrate(environ, admitted, method, target, headers)
        if route.api.cors is not None:  # an HTTP API's CORS headers replace the function's own
            fields = http_api_response_headers(route.api.cors, headers, fields)
        return status, fields, body

    def _integrate(
        self, environ: dict[str, Any], admitted: Admitted, method: str, target: str, headers: dict[str, str]
    ) -> tuple[int, Headers, bytes]:
        """The Lambda proxy integration: the event, the invocation, the reading of its response."""
        route = admitted.route
        rest = route.api.is_rest
        failed = HTTPStatus.BAD_GATEWAY if rest else HTTPStatus.INTERNAL_SERVER_ERROR
        body = environ["wsgi.input"].read(MAX_PAYLOAD_BYTES + 1)  # waitress has framed it: whole, or refused
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, rest=rest)
        client = environ.get("REMOTE_ADDR", "")
        event = to_event(admitted.selected, method, target, headers, body, client, admitted.authorizer)
        try:
            invocation = self.service.pool(route.function).invoke(event)
        except RequestTooLargeError as error:  # Lambda refused the event: the integration failed
            print(f"{route.function} not invoked: {error}", file=sys.stderr)
            return _gateway_error(failed, rest=rest)
        except ThrottledError as error:  # not passed on as a 429: the integration failed ("Handling Lambda errors
            print(f"{route.function} throttled: {error}", file=sys.stderr)  # with an API Gateway API")
            return _gateway_error(HTTPStatus.INTERNAL_SERVER_ERROR, rest=rest)
        if invocation.duration_ms > (REST_INTEGRATION_TIMEOUT_S if rest else INTEGRATION_TIMEOUT_S) * 1000:
            return _gateway_error(HTTPStatus.GATEWAY_TIMEOUT if rest else HTTPStatus.SERVICE_UNAVAILABLE, rest=rest)
        if invocation.error is not None:
            print(f"{route.function} failed: {invocation.error.get('errorMessage')}", file=sys.stderr)
            return _gateway_error(failed, rest=rest)
        try:
            return from_result(route, invocation.payload)
        except (TypeError, ValueError) as error:  # a response API Gateway cannot read is its own error
            print(f"{route.function} returned an unreadable response: {error}", file=sys.stderr)
            return _gateway_error(failed, rest=rest)


def wsgi_headers(environ: dict[str, Any]) -> dict[str, str]:
    """Lower-case names, repeated headers joined with commas (WSGI has done that), as payload v2 has them."""
    headers = {key[5:].replace("_", "-").lower(): str(v) for key, v in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a function may answer any code; API Gateway passes it on
        return "Unknown"


def _gateway_error(
    status: HTTPStatus, headers: Headers | None = None, *, rest: bool = False
) -> tuple[int, Headers, bytes]:
    """API Gateway's own answer, in the words of the kind of API (a REST API names its request id otherwise)."""
    message = _REST_ERRORS.get(status, _GATEWAY_ERRORS.get(status)) if rest else _GATEWAY_ERRORS[status]
    body = json.dumps({"message": message}).encode()
    request_id = ("x-amzn-requestid", str(uuid.uuid4())) if rest else ("apigw-requestid", uuid.uuid4().hex[:16])
    return int(status), [("content-type", "application/json"), request_id, *(headers or [])], body


class LocalHttpApi:
    """The gateway on waitress, started and stopped the way the demo, the tests and the CLI need."""

    def __init__(
        self, service: LocalService, host: str, port: int, *, quiet: bool = False, idle_timeout_s: int = IDLE_TIMEOUT_S
    ) -> None:
        self._connections: dict[int, Any] = {}  # waitress's socket map, ours so shutdown can close them all
        server = create_server(
            HttpApiGateway(service, quiet=quiet),
            map=self._connections,
            host=host,
            port=port,
            threads=SERVER_THREADS,
            channel_timeout=idle_timeout_s,
            cleanup_interval=min(idle_timeout_s, 30),  # how often idle connections are looked for
            max_request_body_size=MAX_PAYLOAD_BYTES + 1024 * 1024,  # beyond our JSON 413: waitress's own
            connection_limit=1000,
            backlog=1024,  # bursts of concurrent clients are queued, not refused
            ident="local-http-api",
        )
        assert isinstance(server, BaseWSGIServer)  # one host and port: one listening server
        self._server = server
        self._stopped = threading.Event()

    @property
    def server_port(self) -> int:
        return int(self._server.getsockname()[1])

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:  # shutdown() closed a socket under the loop's select(): the loop ends, as asked
            if not self._stopped.is_set():
                raise

    def shutdown(self) -> None:
        """Stop accepting, close every connection, end serve_forever."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for dispatcher in list(self._connections.values()):  # the listener, the trigger, open connections
            dispatcher.close()


def make_server(service: LocalService, host: str, port: int, *, quiet: bool = False) -> LocalHttpApi:
    return LocalHttpApi(service, host, port, quiet=quiet)


def serve_forever(service: LocalService, host: str, port: int) -> None:
    """`start-api`: the routes, and behind them the queue's event source mapping, as AWS runs them."""
    server = make_server(service, host, port)
    for route in api_routes(service.app):
        print(
            f"Mounting {route.function} at http://{host}:{server.server_port}{route.path} [{route.method}]",
            file=sys.stderr,
        )
    mappings = [SqsEventSource(service, name) for name, fn in service.app.functions.items() if fn.events_of_type("SQS")]
    stop = threading.Event()
    pollers = [poller for mapping in mappings for poller in mapping.start_polling(stop)]
    for mapping in mappings:
        polling = "Polling" if mapping.enabled else "Not polling (Enabled: false)"
        filters = f", {len(mapping.filters)} filters" if mapping.filters else ""
        print(
            f"{polling} {mapping.queue_url} for {mapping.pool.spec.logical_id} (its SQS event{filters})",
            file=sys.stderr,
        )
    print(f"Execution environments: {service.emulation.describe()}", file=sys.stderr)
    print("Ctrl-C to stop", file=sys.stderr)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # stop cleanly on kill too: the finally runs
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        for poller in pollers:
            poller.join()
