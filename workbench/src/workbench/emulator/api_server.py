"""`sam local start-api` without Docker: the template's HttpApi and Api routes behind an emulated API Gateway.

HTTP itself is waitress's, a maintained WSGI server: request framing, keep-alive, HEAD, chunked
bodies, a bad Content-Length (400, connection closed), idle and slow clients (`channel_timeout`).
This module is API Gateway's flow, in its order: its request quota, CORS (emulator/cors.py), the route
(emulator/routes.py), its throttle, its authorizer — JWT (emulator/authorizer.py) or Lambda
(emulator/lambda_authorizer.py) — then the integration (the events and responses: emulator/payloads.py).
Its own answers are in the words of each kind of API. HTTP APIs: `{"message":"Not Found"}` (404, no
route), `Request Header Fields Too Large` (431, request line and headers over 10,240 bytes), `Request
Entity Too Large` (413, over 10 MB), `Internal Server Error` (500, the function failed or was throttled,
or Lambda refused an event or a response over its 6 MB), `Service Unavailable` (503, over the 30 s
integration timeout). REST APIs: `Missing Authentication Token` (403, no resource or method), `Internal
server error` (502 for a failed or unreadable integration, 500 for one Lambda refused), `Endpoint request
timed out` (504, over 29 s).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import signal
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, BinaryIO

from workbench.emulator.access_log import AccessRecord, access_line
from workbench.emulator.authorizer import LocalAuthorizers, Refusal
from workbench.emulator.cors import Headers, http_api_preflight, http_api_response_headers, is_preflight
from workbench.emulator.environment import RequestTooLargeError, ThrottledError, say_once
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.function_urls import FunctionUrlEndpoint, function_urls
from workbench.emulator.lambda_api import LocalLambdaApi
from workbench.emulator.lambda_authorizer import AuthorizerRefusal, LocalLambdaAuthorizers, lambda_authorizers
from workbench.emulator.payloads import GatewayRequest, from_result, to_event
from workbench.emulator.reload import Reloader
from workbench.emulator.routes import NoRoute, Route, Selected, api_routes, rest_mock, select
from workbench.emulator.schedules import Schedule, ScheduleClock, schedule_events
from workbench.emulator.service import LocalService
from workbench.emulator.wsgi import IDLE_TIMEOUT_S, Endpoint, LocalServer

MAX_PAYLOAD_BYTES = 10 * 1024 * 1024  # HTTP APIs accept request bodies up to 10 MB
# API Gateway quotas for HTTP APIs: 10,240 bytes for the request line and header values. What API Gateway
# answers over it is not documented; here HTTP's own 431 (RFC 6585), in API Gateway's JSON shape.
MAX_REQUEST_LINE_AND_HEADERS_BYTES = 10_240
INTEGRATION_TIMEOUT_S = 30  # HTTP APIs' integration timeout (its maximum)


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
    request: GatewayRequest,
    throttles: dict[str, TokenBucket] | None = None,
    lambda_authorizers: LocalLambdaAuthorizers | None = None,
) -> Admitted | tuple[int, Headers, bytes]:
    """API Gateway before the integration: its request quota, CORS, the route, its throttle, then its
    authorizer — or its own answer."""
    method, headers, path = request.method, request.headers, request.url.path
    request_line = f"{method} {request.target} HTTP/1.1"  # HTTP/1.0 is as long
    if len(request_line.encode()) + sum(len(v.encode()) for v in headers.values()) > MAX_REQUEST_LINE_AND_HEADERS_BYTES:
        return _gateway_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
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
    lambda_authorizer = lambda_authorizers.of(route) if lambda_authorizers is not None else None
    if lambda_authorizer is not None and lambda_authorizers is not None:
        decided = lambda_authorizers.authorize(lambda_authorizer, selected, request)
        if isinstance(decided, AuthorizerRefusal):  # the function never runs
            request_id = (
                ("x-amzn-requestid", str(uuid.uuid4()))
                if route.api.is_rest
                else ("apigw-requestid", uuid.uuid4().hex[:16])
            )
            fields = [("content-type", "application/json"), request_id, ("x-amzn-errortype", decided.error_type)]
            return int(decided.status), fields, json.dumps(decided.body).encode()
        return Admitted(selected, decided)
    if route.authorizer not in authorizers.by_name:
        return Admitted(selected, None)
    verdict = authorizers.authorize(route.authorizer, route.route_key, headers, route.scopes)
    if isinstance(verdict, Refusal):  # the function never runs
        return _gateway_error(verdict.status, [("www-authenticate", verdict.www_authenticate)])
    return Admitted(selected, verdict)


class HttpApiGateway(Endpoint):
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
        self.lambda_authorizers = LocalLambdaAuthorizers(
            lambda_authorizers(service.app),
            lambda function, event: service.pool(function).invoke(event),
            service.app.region,
        )
        for deciding in self.lambda_authorizers.by_key.values():
            if deciding.function is not None:
                say_once(
                    f"{deciding.name}: Lambda authorizer emulated: {deciding.function} decides "
                    f"({deciding.kind.upper()}, results cached {deciding.ttl_s} s)"
                )
        with_function = {k[1] for k, a in self.lambda_authorizers.by_key.items() if a.function is not None}
        emulated = {None, *self.authorizers.by_name, *with_function}
        unknown = sorted({f"{r.authorizer} ({r.route_key})" for r in self.routes if r.authorizer not in emulated})
        if unknown:  # IAM, or a function outside the template: say so rather than pass requests silently
            say_once(
                f"authorizers not emulated: {', '.join(unknown)}; requests reach the functions without a check "
                "here, while API Gateway answers 401/403 before the function runs"
            )

    def answer(self, request: GatewayRequest, body: BinaryIO) -> tuple[int, Headers, bytes]:
        received, started = dt.datetime.now(dt.UTC), time.monotonic()
        admitted = admit(self.routes, self.authorizers, request, self.throttles, self.lambda_authorizers)
        if not isinstance(admitted, Admitted):
            self._log_access(request, None, admitted, received, started, None)
            return admitted
        route = admitted.route
        integrating = time.monotonic()
        status, fields, payload = self._integrate(body, admitted, request)
        integration_ms = round((time.monotonic() - integrating) * 1000)
        if route.api.cors is not None:  # an HTTP API's CORS headers replace the function's own
            fields = http_api_response_headers(route.api.cors, request.headers, fields)
        self._log_access(request, route, (status, fields, payload), received, started, integration_ms)
        return status, fields, payload

    def _log_access(
        self,
        request: GatewayRequest,
        route: Route | None,
        answer: tuple[int, Headers, bytes],
        received: dt.datetime,
        started: float,
        integration_ms: int | None,
    ) -> None:
        """The request's line in its API's access log; a refused one's too, under the route it was refused on (no
        route: in every API's log)."""
        if self.service.log_dir is None:  # no log group is kept: nothing to write, no route to look up again
            return
        if route is None and isinstance(selected := select(self.routes, request.method, request.url.path), Selected):
            route = selected.route
        apis = {r.api.logical_id: r.api for r in ([route] if route is not None else self.routes)}
        for api in (api for api in apis.values() if api.access_log is not None and not api.is_rest):
            assert api.access_log is not None
            log = self.service.log_file(api.access_log.destination)
            if log is None:
                continue
            status, fields, payload = answer
            record = AccessRecord(
                request_id=dict(fields).get("apigw-requestid", uuid.uuid4().hex[:16]),
                source_ip=request.client_ip or "127.0.0.1",
                received=received,
                method=request.method,
                path=request.url.path,
                route_key=route.route_key if route is not None else "-",
                stage=api.stage,
                status=status,
                response_length=len(payload),
                response_latency_ms=round((time.monotonic() - started) * 1000),
                integration_latency_ms=integration_ms,
                integration_error="" if status < 500 else HTTPStatus(status).phrase,
            )
            log.write(access_line(api.access_log.format, record) + "\n")

    def _integrate(self, stream: BinaryIO, admitted: Admitted, request: GatewayRequest) -> tuple[int, Headers, bytes]:
        """The Lambda proxy integration: the event, the invocation, the reading of its response."""
        route = admitted.route
        rest = route.api.is_rest
        failed = HTTPStatus.BAD_GATEWAY if rest else HTTPStatus.INTERNAL_SERVER_ERROR
        body = stream.read(MAX_PAYLOAD_BYTES + 1)  # waitress has framed it: whole, or refused
        if len(body) > MAX_PAYLOAD_BYTES:
            return _gateway_error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, rest=rest)
        event = to_event(admitted.selected, dataclasses.replace(request, body=body), admitted.authorizer)
        try:
            invocation = self.service.pool(route.function).invoke(event)
        # The Lambda API refused the invocation: a 500 (not a 429); a run that failed is a 502 on a REST API
        # ("Handling Lambda errors with an API Gateway API", Lambda Developer Guide).
        except (RequestTooLargeError, ThrottledError) as error:
            print(f"{route.function} not invoked: {error}", file=sys.stderr)
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


def _gateway_error(
    status: HTTPStatus, headers: Headers | None = None, *, rest: bool = False
) -> tuple[int, Headers, bytes]:
    """API Gateway's own answer, in the words of the kind of API (a REST API names its request id otherwise)."""
    message = _REST_ERRORS.get(status, _GATEWAY_ERRORS.get(status)) if rest else _GATEWAY_ERRORS[status]
    body = json.dumps({"message": message}).encode()
    return int(status), [("content-type", "application/json"), _request_id(rest=rest), *(headers or [])], body


def _request_id(*, rest: bool) -> tuple[str, str]:
    """The header an API Gateway answer names its request by (a REST API's, or an HTTP API's)."""
    return ("x-amzn-requestid", str(uuid.uuid4())) if rest else ("apigw-requestid", uuid.uuid4().hex[:16])


class LocalHttpApi(LocalServer):
    """The gateway on waitress, started and stopped the way the demo, the tests and the CLI need."""

    def __init__(
        self,
        service: LocalService,
        host: str,
        port: int,
        *,
        quiet: bool = False,
        idle_timeout_s: int = IDLE_TIMEOUT_S,
        application: Endpoint | None = None,  # default: the template's API routes
    ) -> None:
        super().__init__(
            application if application is not None else HttpApiGateway(service, quiet=quiet),
            host,
            port,
            idle_timeout_s=idle_timeout_s,
            max_body_bytes=MAX_PAYLOAD_BYTES,
        )


def make_server(service: LocalService, host: str, port: int, *, quiet: bool = False) -> LocalHttpApi:
    return LocalHttpApi(service, host, port, quiet=quiet)


def serve_forever(
    service: LocalService,
    host: str,
    port: int,
    *,
    lambda_port: int | None = None,
    url_port: int | None = None,
    schedules: bool = False,
    watch: bool = True,
) -> str | None:
    """`start-api`: the routes, the Lambda API (default on the next port) and the function URLs (each on its port,
    from `url_port`, default the ones after), and behind them the queues' event source mappings and (asked for)
    the schedules' clocks, as AWS runs them; watching the sources (hot reload) unless not asked to. Returns why
    it must restart, if it must."""
    server = make_server(service, host, port)
    lambda_api = LocalLambdaApi(service, host, lambda_port if lambda_port is not None else (port + 1 if port else 0))
    first_url_port = url_port if url_port is not None else (port + 2 if port else 0)
    url_servers = [
        LocalHttpApi(
            service, host, first_url_port + n if first_url_port else 0, application=FunctionUrlEndpoint(service, url)
        )
        for n, url in enumerate(function_urls(service.app))
    ]
    mappings = [SqsEventSource(service, name) for name, fn in service.app.functions.items() if fn.events_of_type("SQS")]
    functions = service.app.functions.items()
    clock = ScheduleClock([Schedule(service, name, event) for name, fn in functions for event in schedule_events(fn)])
    restart: list[str] = []

    def restart_for(reason: str) -> None:
        restart.append(reason)
        server.shutdown()  # serve_forever returns; the finally below stops the rest

    reloader = Reloader(service, restart_for)
    stop = threading.Event()
    pollers: list[threading.Thread] = []
    # From here on, a SIGTERM (or Ctrl-C) at any point ends in the finally: every thread started is stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        with lambda_api:
            _start_serving(service, host, server, url_servers, mappings, pollers, stop)
            _start_clocks(clock, stop, fire=schedules)
            if watch:
                reloader.start(stop)
            print(f"Lambda API at {lambda_api.endpoint_url} (boto3: endpoint_url=…)", file=sys.stderr)
            print(f"Execution environments: {service.emulation.describe()}", file=sys.stderr)
            print("Ctrl-C to stop", file=sys.stderr)
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        server.shutdown()
        for url_server in url_servers:
            url_server.shutdown()
        for poller in pollers:
            poller.join()
        clock.join()
        reloader.join()
    return restart[0] if restart else None


def _start_serving(
    service: LocalService,
    host: str,
    server: LocalHttpApi,
    url_servers: list[LocalHttpApi],
    mappings: list[SqsEventSource],
    pollers: list[threading.Thread],
    stop: threading.Event,
) -> None:
    """The routes said, the function URLs served, the queues polled (their pollers added to `pollers`)."""
    for route in api_routes(service.app):
        print(
            f"Mounting {route.function} at http://{host}:{server.server_port}{route.path} [{route.method}]",
            file=sys.stderr,
        )
    for url_server in url_servers:
        endpoint = url_server.application
        assert isinstance(endpoint, FunctionUrlEndpoint)
        print(
            f"Function URL of {endpoint.url.function} at http://{host}:{url_server.server_port}/ "
            f"(AuthType {endpoint.url.auth_type})",
            file=sys.stderr,
        )
        threading.Thread(target=url_server.serve_forever, name=f"url-{endpoint.url.function}", daemon=True).start()
    for mapping in mappings:
        pollers.extend(mapping.start_polling(stop))
        polling = "Polling" if mapping.enabled else "Not polling (Enabled: false)"
        filters = f", {len(mapping.filters)} filters" if mapping.filters else ""
        print(
            f"{polling} {mapping.queue_url} for {mapping.pool.spec.logical_id} (its SQS event{filters})",
            file=sys.stderr,
        )


def _start_clocks(clock: ScheduleClock, stop: threading.Event, *, fire: bool) -> None:
    for schedule in clock.all:
        if not schedule.enabled:
            print(f"Not firing {schedule.describe()}: it is disabled", file=sys.stderr)
        elif not fire:
            print(
                f"Not firing {schedule.describe()} on its clock (--schedules does); "
                f"`workbench fire-schedule {schedule.logical_id} --event {schedule.event_name}` runs it now",
                file=sys.stderr,
            )
    if fire:
        clock.start(stop)
