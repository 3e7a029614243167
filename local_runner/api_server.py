"""`sam local start-api` without Docker: the template's HttpApi routes as payload-v2 events."""

from __future__ import annotations

import base64
import json
import re
import signal
import sys
import time
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from local_runner.service import LocalService

_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class Route:
    function: str
    method: str
    path: str  # as declared: /orders/{order_id}
    pattern: re.Pattern[str]

    @property
    def route_key(self) -> str:
        return f"{self.method} {self.path}"


def http_api_routes(service: LocalService) -> list[Route]:
    routes = []
    for spec in service.app.functions.values():
        for properties in spec.events_of_type("HttpApi").values():
            path = properties.get("Path", "$default")
            regex = (
                "^"
                + re.sub(r"\{(\w+)\+?\}", r"(?P<\1>[^/]+)", re.escape(path).replace(r"\{", "{").replace(r"\}", "}"))
                + "$"
            )
            routes.append(Route(spec.logical_id, properties.get("Method", "ANY").upper(), path, re.compile(regex)))
    return routes


def to_event(
    route: Route, method: str, target: str, headers: dict[str, str], body: bytes, client_ip: str
) -> dict[str, Any]:
    """An HTTP API payload v2 event, as API Gateway builds it."""
    url = urlsplit(target)
    match = route.pattern.match(url.path)
    assert match is not None
    now = time.time()
    content_type = headers.get("content-type", "")
    is_text = not body or any(content_type.startswith(t) for t in _TEXT_TYPES)
    query = parse_qsl(url.query, keep_blank_values=True)
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route.route_key,
        "rawPath": url.path,
        "rawQueryString": url.query,
        "headers": headers,
        "requestContext": {
            "accountId": "123456789012",
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
    if query:
        values: dict[str, list[str]] = {}
        for key, value in query:
            values.setdefault(key, []).append(value)
        event["queryStringParameters"] = {key: ",".join(v) for key, v in values.items()}
    if match.groupdict():
        event["pathParameters"] = match.groupdict()
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


def make_server(service: LocalService, host: str, port: int, *, quiet: bool = False) -> ThreadingHTTPServer:
    routes = http_api_routes(service)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _handle(self) -> None:
            path = urlsplit(self.path).path
            candidates = [r for r in routes if r.pattern.match(path)]
            route = next((r for r in candidates if r.method in (self.command, "ANY")), None)
            if route is None:
                self._send(HTTPStatus.NOT_FOUND, {"content-type": "application/json"}, b'{"message":"Not Found"}')
                return
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else b""
            headers: dict[str, str] = {}
            for key, value in self.headers.items():
                headers[key.lower()] = f"{headers[key.lower()]},{value}" if key.lower() in headers else value
            event = to_event(route, self.command, self.path, headers, body, self.client_address[0])
            invocation = service.pool(route.function).invoke(event)
            if invocation.error is not None:
                print(f"{route.function} failed: {invocation.error.get('errorMessage')}", file=sys.stderr)
                self._send(500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}')
                return
            self._send(*from_result(invocation.payload))

        def _send(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def __getattr__(self, name: str) -> Any:
            """Every method reaches the router, as on API Gateway (undeclared ones get its 404)."""
            if name.startswith("do_"):
                return self._handle
            raise AttributeError(name)

        def log_message(self, format: str, *args: Any) -> None:
            if not quiet:
                print(f"{self.address_string()} {format % args}", file=sys.stderr)

    class Server(ThreadingHTTPServer):
        daemon_threads = True
        request_queue_size = 256  # the default backlog of 5 refuses bursts of concurrent clients

    return Server((host, port), Handler)


def serve_forever(service: LocalService, host: str, port: int) -> None:
    server = make_server(service, host, port)
    for route in http_api_routes(service):
        print(
            f"Mounting {route.function} at http://{host}:{server.server_port}{route.path} [{route.method}]",
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
        server.server_close()
