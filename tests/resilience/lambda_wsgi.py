"""ApiFunction's handler as a WSGI app, in-process: what API Gateway would hand it, and its answer.

Serves /openapi.json from the Powertools resolver, so schemathesis can read the schema and call
the API without a server.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from local_runner.api_server import Route, from_result, to_event, wsgi_headers

from orders.handlers import api
from tests.factories import FakeLambdaContext

_ANY_ROUTE = re.compile(r"^.*$")


def lambda_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    if path == "/openapi.json":
        status, headers, body = 200, {"content-type": "application/json"}, json.dumps(api.openapi_document()).encode()
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request_headers = wsgi_headers(environ)
        target = path + (f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else "")
        event = to_event(
            Route("ApiFunction", method, "$default", _ANY_ROUTE), method, target, request_headers, raw, "127.0.0.1"
        )
        try:
            status, headers, body = from_result(api.handler(event, FakeLambdaContext()))
        except Exception:  # an unhandled error: API Gateway answers 500
            status, headers, body = 500, {"content-type": "application/json"}, b'{"message":"Internal Server Error"}'
    start_response(f"{status} {HTTPStatus(status).phrase}", list(headers.items()))
    return [body]
