"""The template's API routes, and which one a request reaches — as API Gateway chooses.

Both kinds of API SAM declares: `HttpApi` events (HTTP APIs, payload 2.0 or 1.0) and `Api` events
(REST APIs, payload 1.0; the implicit `ServerlessRestApi` of SAM's starters, stage `Prod`). All of
them are served on one port, without the stage in the path, as `sam local start-api` does.

HTTP APIs choose the route with the most specific match among those whose method is the request's
or `ANY`: a full match (static segments before path variables), then a greedy `{name+}` match, then
`$default` ("Routing API requests", API Gateway Developer Guide, HTTP APIs). REST APIs choose the
resource first, its method second: a resource that matches without that method (nor `ANY`) answers
403 `Missing Authentication Token`, as does a path no resource matches; a trailing slash names the
same resource.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from workbench.emulator.cloud import STACK_NAME, local_names, resolve_intrinsics
from workbench.emulator.template import SamApplication

IMPLICIT_APIS = {"HttpApi": "ServerlessHttpApi", "Api": "ServerlessRestApi"}  # SAM's names for them
DEFAULT_STAGES = {"HttpApi": "$default", "Api": "Prod"}  # an implicit API's stage
DEFAULT_ROUTE = "$default"
_STATIC, _VARIABLE, _GREEDY = 0, 1, 2  # a segment's kind, in the order API Gateway prefers them


@dataclass(frozen=True)
class Cors:
    """An HTTP API's CORS configuration, as SAM translates `CorsConfiguration` (`true`: every origin)."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int | None = None
    allow_credentials: bool = False


@dataclass(frozen=True)
class MockAnswer:
    """A mock integration's response: no function runs."""

    status: int
    headers: tuple[tuple[str, str], ...]
    body: bytes


@dataclass(frozen=True)
class AccessLog:
    """An API's `AccessLogSettings`: the format of each request's line, and its log group (a logical id)."""

    format: str
    destination: str


@dataclass(frozen=True)
class Api:
    logical_id: str
    kind: Literal["HttpApi", "Api"]
    stage: str
    cors: Cors | None = None
    binary_media_types: tuple[str, ...] = ()  # REST APIs: what arrives base64-encoded
    throttle: tuple[float, int] | None = None  # (rate/s, burst) from DefaultRouteSettings (HTTP APIs)
    mock_options: dict[str, MockAnswer] = field(default_factory=dict)  # REST: SAM's CORS OPTIONS, by path
    access_log: AccessLog | None = None  # AccessLogSettings: the line format, and the log group it goes to

    @property
    def is_rest(self) -> bool:
        return self.kind == "Api"


@dataclass(frozen=True)
class Route:
    function: str
    method: str  # GET, …, or ANY
    path: str  # as declared, /orders/{order_id}, or $default
    api: Api
    payload_version: str = "2.0"
    authorizer: str | None = None  # the route's (or its API's default) authorizer, as the template names it
    scopes: tuple[str, ...] = ()  # the route's AuthorizationScopes: a token needs one of them

    @property
    def route_key(self) -> str:
        return DEFAULT_ROUTE if self.path == DEFAULT_ROUTE else f"{self.method} {self.path}"

    @property
    def throttle(self) -> tuple[float, int] | None:
        return self.api.throttle

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(part for part in self.path.split("/") if part)

    def specificity(self) -> tuple[int, tuple[int, ...]]:
        """Smaller is more specific: full matches before greedy ones before $default; static segments first."""
        if self.path == DEFAULT_ROUTE:
            return (2, ())
        kinds = tuple(_kind(segment) for segment in self.segments)
        return (1 if _GREEDY in kinds else 0, kinds)

    def match(self, path: str) -> dict[str, str] | None:
        """The path variables if `path` (still percent-encoded) is this route's, else None."""
        if self.path == DEFAULT_ROUTE:
            return {}
        trimmed = path[:-1] if self.api.is_rest and len(path) > 1 and path.endswith("/") else path  # same resource
        requested = trimmed[1:].split("/") if trimmed != "/" else []
        if not trimmed.startswith("/") or "" in requested:
            return None  # an empty segment (//, or a trailing slash on an HTTP API) matches no route
        variables: dict[str, str] = {}
        for index, segment in enumerate(self.segments):
            kind = _kind(segment)
            if kind == _GREEDY:  # one segment or more, to the end
                if index >= len(requested):
                    return None
                variables[segment[1:-2]] = "/".join(requested[index:])
                return variables
            if index >= len(requested):
                return None
            if kind == _VARIABLE:
                variables[segment[1:-1]] = requested[index]
            elif segment != requested[index]:
                return None
        return variables if len(requested) == len(self.segments) else None


def _kind(segment: str) -> int:
    if segment.startswith("{") and segment.endswith("+}"):
        return _GREEDY
    return _VARIABLE if segment.startswith("{") and segment.endswith("}") else _STATIC


@dataclass(frozen=True)
class Selected:
    route: Route
    path_parameters: dict[str, str]  # still percent-encoded


@dataclass(frozen=True)
class NoRoute:
    """No route takes the request: what the gateway answers depends on the kind of API."""

    rest: bool  # a REST API answers 403 Missing Authentication Token; an HTTP API 404 Not Found


def select(routes: list[Route], method: str, path: str) -> Selected | NoRoute:
    """The route API Gateway sends `method path` to (module docstring)."""
    matches = [(route, variables) for route in routes if (variables := route.match(path)) is not None]
    http = [(r, v) for r, v in matches if not r.api.is_rest and r.method in (method, "ANY")]
    rest = [(r, v) for r, v in matches if r.api.is_rest]
    if rest:  # the most specific resource, then its method (exact before ANY)
        resource = min(r.specificity() for r, _ in rest)
        on_resource = [(r, v) for r, v in rest if r.specificity() == resource and r.method in (method, "ANY")]
        rest = sorted(on_resource, key=lambda pair: pair[0].method == "ANY")[:1]
    candidates = sorted([*http, *rest], key=lambda pair: (pair[0].specificity(), pair[0].method == "ANY"))
    if candidates:
        return Selected(*candidates[0])
    return NoRoute(rest=bool(routes) and all(route.api.is_rest for route in routes))


def api_routes(app: SamApplication) -> list[Route]:
    """Every `HttpApi` and `Api` event of the template's functions, with its API's settings."""
    names = local_names(app)  # what settings' intrinsics resolve against, before anything runs
    apis: dict[str, Api] = {}
    routes = []
    for spec in app.functions.values():
        for kind in ("HttpApi", "Api"):
            for properties in spec.events_of_type(kind).values():
                reference = properties.get("ApiId" if kind == "HttpApi" else "RestApiId", {})
                logical_id = reference.get("Ref", IMPLICIT_APIS[kind]) if isinstance(reference, dict) else reference
                declared = api_properties(app, kind, logical_id)
                if logical_id not in apis:
                    apis[logical_id] = _api(app, names, kind, logical_id, declared)
                auth = properties.get("Auth", {})
                authorizer = auth.get("Authorizer") or declared.get("Auth", {}).get("DefaultAuthorizer")
                version = str(properties.get("PayloadFormatVersion", "2.0")) if kind == "HttpApi" else "1.0"
                routes.append(
                    Route(
                        spec.logical_id,
                        str(properties.get("Method", "ANY")).upper(),
                        str(properties.get("Path", DEFAULT_ROUTE)),
                        apis[logical_id],
                        version,
                        None if authorizer in (None, "NONE") else str(authorizer),
                        tuple(auth.get("AuthorizationScopes", [])),
                    )
                )
    return routes


def api_properties(app: SamApplication, kind: str, logical_id: str) -> dict[str, Any]:
    """The API's properties as SAM applies them: its Globals, then its own (an implicit API has only Globals)."""
    merged = dict(app.sam_template.get("Globals", {}).get(kind, {}))
    merged.update(app.sam_template["Resources"].get(logical_id, {}).get("Properties", {}))
    return merged


def _api(
    app: SamApplication, names: dict[str, Any], kind: Literal["HttpApi", "Api"], logical_id: str, props: dict[str, Any]
) -> Api:
    settings = resolve_intrinsics(app, names, STACK_NAME, props.get("DefaultRouteSettings", {}))
    rate, burst = settings.get("ThrottlingRateLimit"), settings.get("ThrottlingBurstLimit")
    stage = resolve_intrinsics(app, names, STACK_NAME, props.get("StageName", DEFAULT_STAGES[kind]))
    # What SAM made of the API (CORS, binary types, mock methods): its translation's OpenAPI body.
    body = app.cloudformation["Resources"].get(logical_id, {}).get("Properties", {}).get("Body", {})
    cors = body.get("x-amazon-apigateway-cors")
    return Api(
        logical_id,
        kind,
        str(stage),
        _http_cors(cors) if cors else None,
        tuple(str(t) for t in body.get("x-amazon-apigateway-binary-media-types", [])),
        (float(rate), int(burst)) if rate is not None and burst is not None else None,
        _mock_options(body) if kind == "Api" else {},
        _access_log(props.get("AccessLogSettings")),
    )


def _access_log(settings: dict[str, Any] | None) -> AccessLog | None:
    """The log group a `!GetAtt <LogGroup>.Arn` names, and the format (a destination given otherwise: none)."""
    destination = (settings or {}).get("DestinationArn")
    if not (isinstance(destination, dict) and "Fn::GetAtt" in destination and "Format" in (settings or {})):
        return None
    return AccessLog(str(settings["Format"]), str(destination["Fn::GetAtt"][0]))  # type: ignore[index]


def _http_cors(declared: dict[str, Any]) -> Cors:
    return Cors(
        allow_origins=tuple(declared.get("allowOrigins", [])),
        allow_methods=tuple(m.upper() for m in declared.get("allowMethods", [])),
        allow_headers=tuple(h.lower() for h in declared.get("allowHeaders", [])),
        expose_headers=tuple(h.lower() for h in declared.get("exposeHeaders", [])),
        max_age=int(declared["maxAge"]) if "maxAge" in declared else None,
        allow_credentials=declared.get("allowCredentials") in (True, "true"),
    )


def _mock_options(body: dict[str, Any]) -> dict[str, MockAnswer]:
    """The OPTIONS methods SAM adds to a REST API's paths for `Cors`: a mock integration's fixed answer."""
    answers = {}
    for path, methods in body.get("paths", {}).items():
        integration = methods.get("options", {}).get("x-amazon-apigateway-integration", {})
        if integration.get("type") != "mock":
            continue
        response = integration.get("responses", {}).get("default", {})
        headers = tuple(
            (name.removeprefix("method.response.header."), str(value).strip("'"))
            for name, value in response.get("responseParameters", {}).items()
        )
        template = response.get("responseTemplates", {}).get("application/json", "")
        answers[path] = MockAnswer(int(response.get("statusCode", 200)), headers, template.encode())
    return answers


def route_scopes(app: SamApplication) -> list[str]:
    """Every scope the routes ask for: what a token needs to call them all."""
    return sorted({scope for route in api_routes(app) for scope in route.scopes})


def rest_mock(routes: list[Route], method: str, path: str) -> MockAnswer | None:
    """A mock method's answer for this request: SAM's CORS OPTIONS on the REST resource the path selects."""
    if method != "OPTIONS":
        return None
    rest = [route for route in routes if route.api.is_rest and route.match(path) is not None]
    if not rest:
        return None
    resource = min(rest, key=Route.specificity)
    return resource.api.mock_options.get(resource.path)
