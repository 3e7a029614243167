"""CORS as API Gateway applies an API's configuration — which differs between the two kinds of API.

HTTP APIs (`CorsConfiguration`): the gateway answers every preflight itself, before routes and
authorizers, and sets the CORS headers of every answer to a request with an Origin, ignoring the
ones the function returns ("Configuring CORS for an HTTP API", API Gateway Developer Guide).

REST APIs (SAM's `Cors`): SAM adds an OPTIONS method with a mock integration to each path, which
answers with the configured headers (read from SAM's translation: emulator/routes.py, `MockAnswer`);
the other methods' answers are the function's own, so a Lambda proxy function that sets no
`Access-Control-Allow-Origin` fails in the browser here as on AWS (SAM's `Cors` documentation says
the function must return the headers).
"""

from __future__ import annotations

from workbench.emulator.routes import Cors

Headers = list[tuple[str, str]]


def is_preflight(method: str, headers: dict[str, str]) -> bool:
    return method == "OPTIONS" and "origin" in headers and "access-control-request-method" in headers


def _allowed_origin(cors: Cors, origin: str | None) -> str | None:
    if origin is None:
        return None
    if "*" in cors.allow_origins:
        return origin if cors.allow_credentials else "*"  # a credentialed answer names the origin
    return origin if origin in cors.allow_origins else None


def http_api_preflight(cors: Cors, headers: dict[str, str]) -> tuple[int, Headers]:
    """The gateway's own answer to a preflight: 204, with the CORS headers only for an allowed origin."""
    origin = _allowed_origin(cors, headers.get("origin"))
    if origin is None:
        return 204, []
    fields = [("access-control-allow-origin", origin)]
    if cors.allow_methods:
        fields.append(("access-control-allow-methods", ",".join(cors.allow_methods)))
    if cors.allow_headers:
        fields.append(("access-control-allow-headers", ",".join(cors.allow_headers)))
    if cors.max_age is not None:
        fields.append(("access-control-max-age", str(cors.max_age)))
    if cors.allow_credentials:
        fields.append(("access-control-allow-credentials", "true"))
    return 204, fields


def http_api_response_headers(cors: Cors, request: dict[str, str], response: Headers) -> Headers:
    """The function's headers without its own CORS headers, and the API's for a request with an Origin."""
    kept = [(k, v) for k, v in response if not k.lower().startswith("access-control-")]
    origin = _allowed_origin(cors, request.get("origin"))
    if origin is None:
        return kept
    kept.append(("access-control-allow-origin", origin))
    if cors.expose_headers:
        kept.append(("access-control-expose-headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        kept.append(("access-control-allow-credentials", "true"))
    return kept
