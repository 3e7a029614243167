"""Function URLs as Lambda serves them: each function's `FunctionUrlConfig` on a port of its own.

A function URL takes any method and path and sends the function payload 2.0 with `routeKey` and `stage`
`$default`, and reads its response as an HTTP API's payload 2.0 does, a body without `statusCode`
included ("Lambda function URL request and response payloads", Lambda Developer Guide). Its `Cors`
answers preflights and sets the CORS headers of the answers, as emulator/cors.py does for HTTP APIs.
`AuthType: AWS_IAM` refuses a request that is not SigV4-signed; the signature and the caller's
`lambda:InvokeFunctionUrl` permission are not checked here (said at start).

What it answers when the function cannot: 502 (the function failed, or its response is unreadable or over
6 MB), 429 (throttled), 413 (a request over 6 MB), 403 (unsigned, AWS_IAM). AWS documents those outcomes
(the `Url4xxCount` and `Url5xxCount` metrics) but not their bodies: here `{"Message": …}`, the Lambda API's
error shape. `InvokeMode: RESPONSE_STREAM` is served buffered (Python's managed runtimes do not stream).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import sys
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, BinaryIO

from workbench.emulator.cors import Headers, http_api_preflight, http_api_response_headers, is_preflight
from workbench.emulator.environment import REQUEST_LIMIT_BYTES, RequestTooLargeError, ThrottledError, say_once
from workbench.emulator.payloads import GatewayRequest, from_result, to_event
from workbench.emulator.routes import DEFAULT_ROUTE, Api, Cors, Route, Selected
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication
from workbench.emulator.wsgi import Endpoint

SIGV4 = "AWS4-HMAC-SHA256"


@dataclass(frozen=True)
class FunctionUrl:
    function: str
    auth_type: str  # NONE or AWS_IAM
    cors: Cors | None
    invoke_mode: str = "BUFFERED"

    @property
    def url_id(self) -> str:
        """Lambda's 32-character URL id, here derived from the function's name: stable from run to run."""
        return hashlib.sha256(self.function.encode()).hexdigest()[:32]

    @property
    def route(self) -> Route:
        """What the function's payload is made from: one `$default` route of payload 2.0."""
        return Route(self.function, "ANY", DEFAULT_ROUTE, Api(self.function, "HttpApi", DEFAULT_ROUTE, self.cors))


def function_urls(app: SamApplication) -> list[FunctionUrl]:
    """The template's function URLs (SAM's `FunctionUrlConfig` becomes an `AWS::Lambda::Url`), in template order."""
    urls = []
    for config in app.resources_of_type("AWS::Lambda::Url").values():
        properties = config["Properties"]
        target = properties.get("TargetFunctionArn")
        function = _function_named(target)
        if function is None or function not in app.functions:
            say_once(f"a function URL for {target} is not served: it names no function of the template")
            continue
        cors = properties.get("Cors")
        urls.append(
            FunctionUrl(
                function=function,
                auth_type=str(properties.get("AuthType", "AWS_IAM")),
                cors=_cors(cors) if cors else None,
                invoke_mode=str(properties.get("InvokeMode", "BUFFERED")),
            )
        )
    return urls


def _function_named(target: Any) -> str | None:
    """The logical id a TargetFunctionArn names: `!Ref Function` (SAM's) or `!GetAtt Function.Arn`."""
    if not isinstance(target, dict):
        return None
    if "Ref" in target:
        return str(target["Ref"])
    attribute = target.get("Fn::GetAtt")
    parts = attribute.split(".") if isinstance(attribute, str) else attribute
    return str(parts[0]) if isinstance(parts, list) and parts[1:] == ["Arn"] else None


def _cors(config: dict[str, Any]) -> Cors:
    return Cors(
        allow_origins=tuple(config.get("AllowOrigins", ())),
        allow_methods=tuple(config.get("AllowMethods", ())),
        allow_headers=tuple(config.get("AllowHeaders", ())),
        expose_headers=tuple(config.get("ExposeHeaders", ())),
        max_age=int(config["MaxAge"]) if "MaxAge" in config else None,
        allow_credentials=bool(config.get("AllowCredentials", False)),
    )


class FunctionUrlEndpoint(Endpoint):
    """The WSGI app of one function URL: any request → payload 2.0 → the function's pool → its response."""

    def __init__(self, service: LocalService, url: FunctionUrl, *, quiet: bool = False) -> None:
        self.service, self.url, self.quiet = service, url, quiet
        self.label = f" ({url.function} URL)"
        if url.auth_type == "AWS_IAM":
            say_once(
                f"{url.function}: its function URL (AWS_IAM) refuses unsigned requests; the SigV4 signature and "
                "the caller's lambda:InvokeFunctionUrl are not checked here"
            )
        if url.invoke_mode == "RESPONSE_STREAM":
            say_once(f"{url.function}: its function URL streams on AWS (RESPONSE_STREAM); here it answers buffered")

    def answer(self, request: GatewayRequest, body_stream: BinaryIO) -> tuple[int, Headers, bytes]:
        cors = self.url.cors
        if cors is not None and is_preflight(request.method, request.headers):  # Lambda answers it, no invocation
            status, fields = http_api_preflight(cors, request.headers)
            return status, fields, b""
        iam = self._caller(request) if self.url.auth_type == "AWS_IAM" else None
        if self.url.auth_type == "AWS_IAM" and iam is None:
            return _error(HTTPStatus.FORBIDDEN, "Forbidden")
        body = body_stream.read(REQUEST_LIMIT_BYTES + 1)
        if len(body) > REQUEST_LIMIT_BYTES:
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"Request must be smaller than {REQUEST_LIMIT_BYTES}")
        status, fields, payload = self._invoke(dataclasses.replace(request, body=body), iam)
        if cors is not None:
            fields = http_api_response_headers(cors, request.headers, fields)
        return status, fields, payload

    def _invoke(self, request: GatewayRequest, iam: dict[str, Any] | None) -> tuple[int, Headers, bytes]:
        route = self.url.route
        event = to_event(Selected(route, {}), request, {"iam": iam} if iam is not None else None)
        context = event["requestContext"]
        context["apiId"] = context["domainPrefix"] = self.url.url_id
        try:
            invocation = self.service.pool(self.url.function).invoke(event)
        except ThrottledError as error:
            print(f"{self.url.function} not invoked: {error}", file=sys.stderr)
            return _error(HTTPStatus.TOO_MANY_REQUESTS, "Rate Exceeded.")
        except RequestTooLargeError as error:  # the event, with its headers, over the 6 MB
            return _error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, str(error))
        if invocation.error is not None:
            print(f"{self.url.function} failed: {invocation.error.get('errorMessage')}", file=sys.stderr)
            return _error(HTTPStatus.BAD_GATEWAY, "Internal Server Error")
        try:
            return from_result(route, invocation.payload)
        except (TypeError, ValueError) as error:
            print(f"{self.url.function} returned an unreadable response: {error}", file=sys.stderr)
            return _error(HTTPStatus.BAD_GATEWAY, "Internal Server Error")

    def _caller(self, request: GatewayRequest) -> dict[str, Any] | None:
        """The SigV4 credential a signed request names (header or presigned query), None if it is unsigned."""
        authorization = request.headers.get("authorization", "")
        if authorization.startswith(f"{SIGV4} Credential="):
            credential = authorization.removeprefix(f"{SIGV4} Credential=").split(",", 1)[0]
        elif f"X-Amz-Algorithm={SIGV4}" in request.url.query and "X-Amz-Credential=" in request.url.query:
            credential = request.url.query.split("X-Amz-Credential=", 1)[1].split("&", 1)[0].replace("%2F", "/")
        else:
            return None
        access_key = credential.split("/", 1)[0]
        return {  # who signed it is not checked here: the ids IAM would name are left null
            "accessKey": access_key,
            "accountId": None,
            "callerId": None,
            "cognitoIdentity": None,
            "principalOrgId": None,
            "userArn": None,
            "userId": None,
        }


def _error(status: HTTPStatus, message: str) -> tuple[int, Headers, bytes]:
    return int(status), [("content-type", "application/json")], json.dumps({"Message": message}).encode()
