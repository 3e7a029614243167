"""The events API Gateway sends a Lambda proxy integration, and its reading of the function's response.

Payload 2.0 (HTTP APIs' default) and 1.0 (REST APIs; HTTP APIs that ask for it): single- and multi-value
headers and query parameters, path parameters decoded, the resource as declared, the stage, the body as
text or base64 by the kind of API's rule ("Working with AWS Lambda proxy integrations for HTTP APIs";
"Set up Lambda proxy integrations in API Gateway", API Gateway Developer Guide).
"""

from __future__ import annotations

import base64
import fnmatch
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import SplitResult, parse_qsl, unquote, urlsplit

from workbench.emulator.cloud import ACCOUNT_ID
from workbench.emulator.cors import Headers
from workbench.emulator.routes import DEFAULT_ROUTE, Route, Selected

# HTTP APIs infer isBase64Encoded from the Content-Type: text types pass as text, the rest as base64
# (AWS Compute Blog, "Handling binary data using Amazon API Gateway HTTP APIs", R. Potucek).
_TEXT_TYPES = ("application/json", "text/", "application/xml", "application/x-www-form-urlencoded")


@dataclass(frozen=True)
class GatewayRequest:
    """A request as API Gateway received it: the target as sent (percent-encoded, with its query)."""

    method: str
    target: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""
    client_ip: str = ""

    @property
    def url(self) -> SplitResult:
        return urlsplit(self.target)


def to_event(selected: Selected, request: GatewayRequest, authorizer: dict[str, Any] | None = None) -> dict[str, Any]:
    """The event the route's integration sends the function: payload 2.0, or 1.0 (REST APIs, and HTTP APIs
    that ask for it)."""
    if selected.route.payload_version == "2.0":
        return _event_v2(selected, request, authorizer)
    return _event_v1(selected, request, authorizer)


def _is_text(route: Route, headers: dict[str, str], body: bytes) -> bool:
    """HTTP APIs infer it from the Content-Type; REST APIs pass text unless it is one of their binary types."""
    content_type = headers.get("content-type", "").lower()  # media types are case-insensitive (RFC 9110)
    if not body:
        return True
    if route.api.is_rest:
        return not any(fnmatch.fnmatch(content_type.split(";")[0].strip(), t) for t in route.api.binary_media_types)
    return any(content_type.startswith(t) for t in _TEXT_TYPES)


def _event_v2(selected: Selected, request: GatewayRequest, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    route, url, headers, body, now = selected.route, request.url, request.headers, request.body, time.time()
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
                "method": request.method,
                "path": url.path,
                "protocol": "HTTP/1.1",
                "sourceIp": request.client_ip,
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


def _event_v1(selected: Selected, request: GatewayRequest, authorizer: dict[str, Any] | None) -> dict[str, Any]:
    """Payload 1.0: single- and multi-value headers and query parameters, the resource as declared, the stage."""
    route, url, headers, body, now = selected.route, request.url, request.headers, request.body, time.time()
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
        "httpMethod": request.method,
        "identity": {"sourceIp": request.client_ip, "userAgent": headers.get("user-agent", "")},
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
        "httpMethod": request.method,
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
