"""ApiFunction's handler as a WSGI app, in-process: what API Gateway would hand it, and its answer.

Serves /openapi.json from the Powertools resolver, so schemathesis can read the schema and call
the API without a server; in front, the runner's own route matching and JWT authorizer
(emulator/api_server.py, `admit`), so requests carry a token as they would on AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any

from tests.factories import FakeLambdaContext
from tools import openapi

from orders.handlers import api
from workbench.emulator.api_server import Admitted, admit
from workbench.emulator.authorizer import LocalAuthorizers
from workbench.emulator.payloads import GatewayRequest, from_result, to_event
from workbench.emulator.routes import api_routes
from workbench.emulator.template import SamApplication
from workbench.emulator.testing import signed_in_token
from workbench.emulator.wsgi import wsgi_headers

_TEMPLATE = SamApplication()
_ROUTES = api_routes(_TEMPLATE)
_AUTHORIZERS = LocalAuthorizers.of_template(_TEMPLATE)  # the runner's emulated JWT authorizer, in front
FUZZER_TOKEN = signed_in_token("c-fuzz")  # what Schemathesis authenticates with


def lambda_wsgi_app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    path, method = environ.get("PATH_INFO", "/"), environ["REQUEST_METHOD"]
    if path == "/openapi.json":
        status, headers, body = (
            200,
            [("content-type", "application/json")],
            json.dumps(openapi.openapi_document()).encode(),
        )
    else:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        raw = environ["wsgi.input"].read(length) if length else b""
        request_headers = wsgi_headers(environ)
        # the path as sent, still percent-encoded (PATH_INFO is decoded: %3F would become a query)
        target = environ.get("REQUEST_URI") or path + (
            f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""
        )
        request = GatewayRequest(method, target, request_headers, raw, "127.0.0.1")
        admitted = admit(_ROUTES, _AUTHORIZERS, request)
        if isinstance(admitted, Admitted):
            event = to_event(admitted.selected, request, admitted.authorizer)
            try:
                status, headers, body = from_result(admitted.route, api.handler(event, FakeLambdaContext()))
            except Exception:  # an unhandled error: API Gateway answers 500
                status, headers, body = (
                    500,
                    [("content-type", "application/json")],
                    b'{"message":"Internal Server Error"}',
                )
        else:
            status, headers, body = admitted  # API Gateway's own answer: no route, or the authorizer refused
    start_response(f"{status} {HTTPStatus(status).phrase}", headers)
    return [body]
