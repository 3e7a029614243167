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
import json
import re
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
from workbench.emulator.cloud import ACCOUNT_ID, STACK_NAME, local_names, resolve_intrinsics
from workbench.emulator.environment import RequestTooLargeError, say_once
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication

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


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    path: str  # as declared: /orders/{order_id}
    pattern: re.Pattern[str]
    authorizer: str | None = None  # the route's (or its API's default) authorizer, as the template names it
    scopes: tuple[str, ...] = ()  # the route's AuthorizationScopes: a token needs one of them
    throttle: tuple[float, int] | None = None  # (rate/s, burst) from its API's DefaultRouteSettings

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def http_api_routes(app: SamApplication) -> list[Route]:
    routes = []
    resources = app.sam_template["Resources"]
    names = local_names(app)  # what its settings' intrinsics resolve against, before anything runs
    for spec in app.functions.values():
        for properties in spec.events_of_type("HttpApi").values():
            api = resources.get(properties.get("ApiId", {}).get("Ref", ""), {}).get("Properties", {})
            authorizer = properties.get("Auth", {}).get("Authorizer") or api.get("Auth", {}).get("DefaultAuthorizer")
            path = properties.get("Path", "$default")
            regex = (
                "^"
                + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
                + "$"
            )
            method = properties.get("Method", "ANY").upper()
            scopes = tuple(properties.get("Auth", {}).get("AuthorizationScopes", []))
            guard = None if authorizer == "NONE" else authorizer
            settings = resolve_intrinsics(app, names, STACK_NAME, api.get("DefaultRouteSettings", {}))
            rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
            throttle = (float(rate), int(burst)) if rate is not None and burst is not None else None
            routes.append(Route(spec.logical_id, method, path, re.compile(regex), guard, scopes, throttle))
    return routes


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


def route_scopes(app: SamApplication) -> list[str]:
    """Every scope the HTTP API's routes ask for: what a token needs to call them all."""
    return sorted({scope for route in http_api_routes(app) for scope in route.scopes})


def to_event(
    route: Route,
    method: str,
    target: str,
    headers: dict[str, str],
    body: bytes,
    client_ip: str,
    authorizer: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An HTTP API payload v2 event, as API Gateway builds it."""
    url = urlsplit(target)
    match = route.pattern.match(url.path)
    assert match is not None
    now = time.time()
    content_type = headers.get("content-type", "").lower()  # media types are case-insensitive (RFC 9110)
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    query = parse_qsl(url.query, keep_blank_values=True)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
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
            "stage": "$default",
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
    if match.groupdict():  # decoded, as API Gateway does; rawPath keeps the encoded form
        event["pathParameters"] = {name: unquote(value) for name, value in match.groupdict().items()}
    if "cookie" in headers:  # payload v2 moves cookies out of the headers into their own list
        event["cookies"] = [c.strip() for c in headers.pop("cookie").replace(",", ";").split(";") if c.strip()]
    if body:
        event["body"] = body.decode("utf-8", "replace") if is_text else base64.b64encode(body).decode()
    return event


def from_result(result: Any) -> tuple[int, dict[str, str], bytes]:
    """API Gateway's reading of a v2 response: a dict with statusCode, or any JSON as a 200 body."""
    if isinstance(result, dict) and "statusCode" in result:
        body = result.get("body") or ""
        raw = base64.b64decode(body) if result.get("isBase64Encoded") else str(body).encode()
        headers = {k: str(v) for k, v in (result.get("headers") or {}).items()}
        return int(result["statusCode"]), headers, raw
    return 200, {"content-type": "application/json"}, json.dumps(result).encode()


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


@dataclass(frozen=True)
class Admitted:
    route: Route
    authorizer: dict[str, Any] | None  # what the route's authorizer vouched for; None: the route has none


def admit(
    routes: list[Route],
    authorizers: LocalAuthorizers,
    method: str,
    target: str,
    headers: dict[str, str],
    throttles: dict[str, TokenBucket] | None = None,
) -> Admitted | tuple[int, dict[str, str], bytes]:
    """API Gateway before the integration: its request quota, the route, its throttle, then its authorizer —
    or its own answer."""
    request_line = f"{method} {target} HTTP/1.1"  # HTTP/1.0 is as long
    if len(request_line.encode()) + sum(len(v.encode()) for v in headers.values()) > MAX_REQUEST_LINE_AND_HEADERS_BYTES:
        return _gateway_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
    path = urlsplit(target).path
    route = next((r for r in routes if r.method in (method, "ANY") and r.pattern.match(path)), None)
    if route is None:
        return _gateway_error(HTTPStatus.NOT_FOUND)
    bucket = (throttles or {}).get(route.route_key)
    if bucket is not None and not bucket.take():
        return _gateway_error(HTTPStatus.TOO_MANY_REQUESTS)
    if route.authorizer not in authorizers.by_name:
        return Admitted(route, None)
    verdict = authorizers.authorize(route.authorizer, route.route_key, headers, route.scopes)
    if isinstance(verdict, Refusal):  # the function never runs
        return _gateway_error(verdict.status, {"www-authenticate": verdict.www_authenticate})
    return Admitted(route, verdict)


class HttpApiGateway:
    """The WSGI app: one request → route → payload v2 event → the function's pool → its response."""

    def __init__(self, service: LocalService, *, quiet: bool = False) -> None:
        self.service = service
        self.routes = http_api_routes(service.app)
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
        fields = [(k, v) for k, v in headers.items() if k.lower() != "content-length"]
        start_response(f"{status} {phrase}", [*fields, ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]  # HEAD: the headers a GET would get, no body

    def _answer(self, environ: dict[str, Any], method: str, target: str) -> tuple[int, dict[str, str], bytes]:
        headers = wsgi_headers(environ)
        admitted = admit(self.routes, self.authorizers, method, target, headers, self.throttles)
        if not isinstance(admitted, Admitted):
            return admitted
        route = admitted.route
        body = environ["wsgi.input"].read(MAX_PAYLOAD_BYTES + 1)  # waitress has framed it: whole, or refused
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE)
        event = to_event(route, method, target, headers, body, environ.get("REMOTE_ADDR", ""), admitted.authorizer)
        try:
            invocation = self.service.pool(route.function).invoke(event)
        except RequestTooLargeError as error:  # Lambda refused the event: the integration failed
            print(f"{route.function} not invoked: {error}", file=sys.stderr)
            return _gateway_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        if invocation.duration_ms > INTEGRATION_TIMEOUT_S * 1000:
            return _gateway_error(HTTPStatus.SERVICE_UNAVAILABLE)
        if invocation.error is not None:
            print(f"{route.function} failed: {invocation.error.get('errorMessage')}", file=sys.stderr)
            return _gateway_error(HTTPStatus.INTERNAL_SERVER_ERROR)
        try:
            return from_result(invocation.payload)
        except (TypeError, ValueError) as error:  # a response API Gateway cannot read is its 500
            print(f"{route.function} returned an unreadable response: {error}", file=sys.stderr)
            return _gateway_error(HTTPStatus.INTERNAL_SERVER_ERROR)


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


def _gateway_error(status: HTTPStatus, headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    body = json.dumps({"message": _GATEWAY_ERRORS[status]}).encode()
    fields = {"content-type": "application/json", "apigw-requestid": uuid.uuid4().hex[:16]} | (headers or {})
    return int(status), fields, body


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
    for route in http_api_routes(service.app):
        print(
            f"Mounting {route.function} at http://{host}:{server.server_port}{route.path} [{route.method}]",
            file=sys.stderr,
        )
    mappings = [SqsEventSource(service, name) for name, fn in service.app.functions.items() if fn.events_of_type("SQS")]
    stop = threading.Event()
    pollers = [poller for mapping in mappings for poller in mapping.start_polling(stop)]
    for mapping in mappings:
        print(f"Polling {mapping.queue_url} for {mapping.pool.spec.logical_id} (its SQS event)", file=sys.stderr)
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
