"""API Gateway's Lambda authorizers: the template's authorizer function decides before the route's runs.

Read from SAM's translation (the API's OpenAPI body: `x-amazon-apigateway-authorizer`), so defaults are
SAM's and API Gateway's own. Per request, as API Gateway does ("Use API Gateway Lambda authorizers", and
"Control access to HTTP APIs with AWS Lambda authorizers", API Gateway Developer Guide):

- the identity sources are read first: one missing (or a TOKEN failing its validation expression) is
  401 `Unauthorized` without invoking the authorizer — for a REST REQUEST authorizer only when it caches;
- the authorizer is invoked with its payload: REST `TOKEN` (`authorizationToken`, `methodArn`) or `REQUEST`
  (the request, `methodArn`); HTTP APIs' `REQUEST` in payload 2.0 (`routeArn`, `identitySource`) or 1.0;
- its answer: a simple response (`isAuthorized`, HTTP APIs with `enableSimpleResponses`) or an IAM policy
  (`principalId`, `policyDocument`, `context`), evaluated against this request's ARN — explicit Deny, or no
  Allow, is 403; an authorizer that fails, or answers what API Gateway cannot read, is 500 (REST: 401 when
  it fails with the message `Unauthorized`, as its docs' examples do to refuse);
- the result is cached for `authorizerResultTtlInSeconds` by the identity sources' values (REST's default
  300 s; a cached policy is evaluated again against each new ARN, as on AWS);
- what it vouched for reaches the function: `requestContext.authorizer` (REST and payload 1.0: the
  context and `principalId`; payload 2.0: `{"lambda": context}`).
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qsl

from workbench.emulator.cloud import ACCOUNT_ID
from workbench.emulator.environment import Invocation, RequestTooLargeError, ThrottledError
from workbench.emulator.iam import Check, Statement, evaluate
from workbench.emulator.payloads import GatewayRequest, to_event
from workbench.emulator.routes import Route, Selected
from workbench.emulator.template import SamApplication

REST_DEFAULT_TTL_S = 300  # a REST authorizer without authorizerResultTtlInSeconds caches for 5 minutes
_SOURCE = re.compile(r"^\$?(?:method\.)?request\.(header|querystring)\.(.+)$")
_FUNCTION_IN_URI = re.compile(r"\$\{(\w+)\.Arn\}")


@dataclass(frozen=True)
class LambdaAuthorizer:
    api: str  # the API's logical id: names are the API's own
    name: str
    function: str | None  # the template function it invokes; None: one the template does not declare
    kind: str  # token or request
    rest: bool
    identity_sources: tuple[str, ...]  # as declared: method.request.header.X, $request.querystring.q, …
    ttl_s: int
    validation: str | None = None  # TOKEN: identityValidationExpression
    payload_version: str = "1.0"
    simple_responses: bool = False


@dataclass(frozen=True)
class AuthorizerRefusal:
    status: HTTPStatus
    body: dict[str, Any]  # API Gateway's own JSON, in the words of the kind of API
    reason: str

    @property
    def error_type(self) -> str:
        return {401: "UnauthorizedException", 403: "AccessDeniedException"}.get(
            int(self.status), "AuthorizerConfigurationException"
        )


@dataclass
class _Cached:
    response: Any
    expires: float


@dataclass
class LocalLambdaAuthorizers:
    """The template's Lambda authorizers, invoking their functions through `invoke` (the service's pools)."""

    by_key: dict[tuple[str, str], LambdaAuthorizer]
    invoke: Callable[[str, Any], Invocation]
    region: str = "us-east-1"
    clock: Callable[[], float] = time.monotonic
    invocations: int = 0  # how often an authorizer function ran (a cached answer runs none)
    _cache: dict[tuple[str, str, tuple[str, ...]], _Cached] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def of(self, route: Route) -> LambdaAuthorizer | None:
        """The route's Lambda authorizer, if it has one whose function the template declares."""
        authorizer = self.by_key.get((route.api.logical_id, route.authorizer or ""))
        return authorizer if authorizer is not None and authorizer.function is not None else None

    def authorize(
        self, authorizer: LambdaAuthorizer, selected: Selected, request: GatewayRequest
    ) -> dict[str, Any] | AuthorizerRefusal:
        """What the route's function is told the authorizer vouched for, or API Gateway's refusal."""
        route = selected.route
        function = str(authorizer.function)
        values = _identity(authorizer, request)
        caches = authorizer.ttl_s > 0 and bool(authorizer.identity_sources)
        needs_identity = authorizer.kind == "token" or not authorizer.rest or caches
        if needs_identity and (not values or any(v is None for v in values)):
            return _unauthorized(authorizer, "an identity source is missing")
        identity = tuple(v for v in values if v is not None)
        if authorizer.validation and not re.fullmatch(authorizer.validation, identity[0]):
            return _unauthorized(authorizer, "the token fails the validation expression")
        arn = _request_arn(self.region, route, request.method, request.url.path)
        key = (authorizer.api, authorizer.name, identity)
        with self._lock:
            cached = self._cache.get(key) if caches else None
            if cached is not None and cached.expires <= self.clock():
                cached = None
        if cached is None:
            event = _event(authorizer, selected, request, arn, identity)
            try:
                invocation = self.invoke(function, event)
            except (ThrottledError, RequestTooLargeError) as error:  # Lambda refused it: the authorizer failed
                return _failed(authorizer, str(error))
            with self._lock:
                self.invocations += 1
            if invocation.error is not None:
                if authorizer.rest and invocation.error.get("errorMessage") == "Unauthorized":
                    return _unauthorized(authorizer, "the authorizer answered Unauthorized")
                return _failed(authorizer, f"the authorizer failed: {invocation.error.get('errorType')}")
            if caches:
                with self._lock:
                    self._cache[key] = _Cached(invocation.payload, self.clock() + authorizer.ttl_s)
            response = invocation.payload
        else:
            response = cached.response
        return _verdict(authorizer, route, response, arn)


def lambda_authorizers(app: SamApplication) -> dict[tuple[str, str], LambdaAuthorizer]:
    """Every API's Lambda authorizers, from SAM's translation of the template."""
    found: dict[tuple[str, str], LambdaAuthorizer] = {}
    for logical_id, resource in app.cloudformation["Resources"].items():
        rest = resource["Type"] == "AWS::ApiGateway::RestApi"
        if not rest and resource["Type"] != "AWS::ApiGatewayV2::Api":
            continue
        body = resource["Properties"].get("Body", {})
        schemes = body.get("securityDefinitions", {}) if rest else body.get("components", {}).get("securitySchemes", {})
        for name, scheme in schemes.items():
            declared = scheme.get("x-amazon-apigateway-authorizer")
            if not declared or declared.get("type") not in ("token", "request"):
                continue  # JWT authorizers: emulator/authorizer.py
            sources = declared.get("identitySource", [])
            if declared["type"] == "token":
                sources = [f"method.request.header.{scheme.get('name', 'Authorization')}"]
            elif isinstance(sources, str):
                sources = [part.strip() for part in sources.split(",") if part.strip()]
            function = next((f for f in _functions_named(declared.get("authorizerUri")) if f in app.functions), None)
            found[(logical_id, name)] = LambdaAuthorizer(
                api=logical_id,
                name=name,
                function=function,
                kind=declared["type"],
                rest=rest,
                identity_sources=tuple(sources),
                ttl_s=int(declared.get("authorizerResultTtlInSeconds", REST_DEFAULT_TTL_S if rest else 0)),
                validation=declared.get("identityValidationExpression"),
                payload_version=str(declared.get("authorizerPayloadFormatVersion", "1.0")),
                simple_responses=bool(declared.get("enableSimpleResponses", False)),
            )
    return found


def _functions_named(value: Any) -> list[str]:
    """The logical ids an authorizer's URI takes an ARN of: `Fn::GetAtt [X, Arn]` or `${X.Arn}`."""
    if isinstance(value, dict):
        attribute = value.get("Fn::GetAtt")
        named = [str(attribute[0])] if isinstance(attribute, list) and attribute[1:] == ["Arn"] else []
        return named + [f for v in value.values() for f in _functions_named(v)]
    if isinstance(value, list):
        return [f for v in value for f in _functions_named(v)]
    return _FUNCTION_IN_URI.findall(value) if isinstance(value, str) else []


def _identity(authorizer: LambdaAuthorizer, request: GatewayRequest) -> list[str | None]:
    query, headers = dict(parse_qsl(request.url.query, keep_blank_values=True)), request.headers
    values: list[str | None] = []
    for source in authorizer.identity_sources:
        match = _SOURCE.match(source)
        if match is None:  # $context.…, $stageVariables.…: not emulated, read as absent
            values.append(None)
            continue
        where, name = match.groups()
        value = headers.get(name.lower()) if where == "header" else query.get(name)
        values.append(value if value else None)
    return values


def _request_arn(region: str, route: Route, method: str, path: str) -> str:
    """execute-api's ARN of this request: what the policy's Resource must match (`methodArn`, `routeArn`)."""
    return f"arn:aws:execute-api:{region}:{ACCOUNT_ID}:local/{route.api.stage}/{method}/{path.lstrip('/')}"


def _event(
    authorizer: LambdaAuthorizer, selected: Selected, request: GatewayRequest, arn: str, identity: tuple[str, ...]
) -> dict[str, Any]:
    if authorizer.kind == "token":
        return {"type": "TOKEN", "authorizationToken": identity[0], "methodArn": arn}
    version = "1.0" if authorizer.rest else authorizer.payload_version
    described = to_event(_as_payload(selected, version), dataclasses.replace(request, body=b""))
    described.pop("body", None)  # an authorizer is not sent the body
    described.pop("isBase64Encoded", None)
    if version == "2.0":
        return {"version": "2.0", "type": "REQUEST", "routeArn": arn, "identitySource": list(identity), **described}
    return described | {"type": "REQUEST", "methodArn": arn}


def _as_payload(selected: Selected, version: str) -> Selected:
    """The route as seen by an authorizer of this payload version (it may differ from the integration's)."""
    return Selected(dataclasses.replace(selected.route, payload_version=version), selected.path_parameters)


def _verdict(authorizer: LambdaAuthorizer, route: Route, response: Any, arn: str) -> dict[str, Any] | AuthorizerRefusal:
    if not isinstance(response, dict):
        return _failed(authorizer, "the authorizer's answer is not an object")
    if authorizer.simple_responses and "isAuthorized" in response:
        if not isinstance(response["isAuthorized"], bool):
            return _failed(authorizer, "isAuthorized is not a boolean")
        if not response["isAuthorized"]:
            return _forbidden(authorizer, explicit=False)
        return _passed(route, response.get("context") or {}, None)
    document = response.get("policyDocument")
    if not isinstance(document, dict) or "principalId" not in response:
        return _failed(authorizer, "the authorizer's answer has no principalId and policyDocument")
    decision = evaluate(Statement.all_in("authorizer", document), Check("execute-api:Invoke", arn))
    if not decision.allowed:
        return _forbidden(authorizer, explicit=decision.denied_by is not None)
    context = response.get("context") or {}
    if not isinstance(context, dict) or any(isinstance(v, dict | list) for v in context.values()):
        return _failed(authorizer, "context values must be strings, numbers or booleans")
    return _passed(route, context, str(response["principalId"]))


def _passed(route: Route, context: dict[str, Any], principal: str | None) -> dict[str, Any]:
    """Payload 2.0 keeps the context's JSON types; REST and payload 1.0 pass each value as a string."""
    if route.payload_version == "2.0":
        return {"lambda": context}
    strings = {key: str(value).lower() if isinstance(value, bool) else str(value) for key, value in context.items()}
    return {**strings, **({"principalId": principal} if principal is not None else {})}


def _unauthorized(authorizer: LambdaAuthorizer, reason: str) -> AuthorizerRefusal:
    return AuthorizerRefusal(HTTPStatus.UNAUTHORIZED, {"message": "Unauthorized"}, reason)


def _forbidden(authorizer: LambdaAuthorizer, *, explicit: bool) -> AuthorizerRefusal:
    if not authorizer.rest:
        return AuthorizerRefusal(HTTPStatus.FORBIDDEN, {"message": "Forbidden"}, "the authorizer refused")
    said = "User is not authorized to access this resource" + (" with an explicit deny" if explicit else "")
    return AuthorizerRefusal(HTTPStatus.FORBIDDEN, {"Message": said}, "the authorizer's policy refused")


def _failed(authorizer: LambdaAuthorizer, reason: str) -> AuthorizerRefusal:
    body: dict[str, Any] = {"message": None} if authorizer.rest else {"message": "Internal Server Error"}
    return AuthorizerRefusal(HTTPStatus.INTERNAL_SERVER_ERROR, body, reason)
