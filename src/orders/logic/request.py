"""The request read strictly at the edge: any bytes a client sends become JSON or a 4xx, never a 5xx.

API Gateway passes bodies through as sent (up to 10 MB), so whatever Python's json module would
choke on — a number with more digits than int() converts, nesting deeper than the recursion limit,
NaN, a duplicated key, bytes that are not UTF-8 — is refused here, with the reason, before the
resolver sees it. What passes is handed on re-serialized, so Powertools parses exactly what was
checked.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from aws_lambda_powertools.utilities.data_classes import APIGatewayProxyEventV2
from pydantic import TypeAdapter, ValidationError

from orders.models import CustomerId

MAX_BODY_BYTES = 64 * 1024  # a 50-line order is < 4 KB: refuse anything far bigger before parsing it
MAX_DEPTH = 16  # an order nests 3 deep (object → items → line); nothing legitimate comes near
JSON_MEDIA_TYPE = "application/json"
METHODS_WITH_BODY = {"POST", "PUT", "PATCH"}
CALLER_FIELD = "requestContext.authorizer.jwt.claims.sub"
_CUSTOMER_ID = TypeAdapter(CustomerId)


@dataclass(frozen=True)
class RequestRefused(Exception):
    """The request cannot be read: the status, why, and where (the API's error shape carries all three)."""

    status: HTTPStatus
    message: str
    type: str
    field: str = "body"


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    """`type/subtype` lower-cased and the parameters (RFC 9110 §8.3.1: both names are case-insensitive)."""
    essence, *parameters = content_type.split(";")
    parsed: dict[str, str] = {}
    for parameter in parameters:
        name, _, value = parameter.partition("=")
        parsed[name.strip().lower()] = value.strip().strip('"')
    return essence.strip().lower(), parsed


def canonical_json_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its body checked and re-serialized as plain JSON text, or RequestRefused.

    A missing Content-Type is read as JSON (API clients and `sam local generate-event` omit it).
    Methods without a body here (GET, …) pass as they are: their routes never read one.
    """
    if event.get("requestContext", {}).get("http", {}).get("method", "POST") not in METHODS_WITH_BODY:
        return event
    headers = {key.lower(): value for key, value in (event.get("headers") or {}).items()}
    text = _body_text(event)
    essence, parameters = media_type(headers.get("content-type", JSON_MEDIA_TYPE))
    if text and (essence != JSON_MEDIA_TYPE or parameters.get("charset", "utf-8").lower() != "utf-8"):
        raise RequestRefused(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, f"send the order as {JSON_MEDIA_TYPE}", "media_type")
    canonical = json.dumps(parse_json(text), ensure_ascii=False) if text else text
    # Powertools matches the media type case-sensitively: hand it the one spelling it knows.
    return event | {
        "body": canonical,
        "isBase64Encoded": False,
        "headers": headers | {"content-type": JSON_MEDIA_TYPE},
    }


def authenticated_customer(event: dict[str, Any]) -> str:
    """The caller: the subject of the token API Gateway's JWT authorizer validated, or RequestRefused (401).

    Every route has the authorizer (template.yaml), so an event without claims is a misconfigured
    route or a hand-made event: refused, never served anonymously.
    """
    claims = APIGatewayProxyEventV2(event).request_context.authorizer.jwt_claim
    if "sub" not in claims:
        raise RequestRefused(HTTPStatus.UNAUTHORIZED, "no authenticated caller", "unauthenticated", CALLER_FIELD)
    try:
        return _CUSTOMER_ID.validate_python(claims["sub"])
    except ValidationError:
        message = "the token's subject is not a customer id"
        raise RequestRefused(HTTPStatus.UNAUTHORIZED, message, "unauthenticated", CALLER_FIELD) from None


def decoded_path_event(event: dict[str, Any]) -> dict[str, Any]:
    """The event with its path percent-decoded, as API Gateway decodes pathParameters.

    Powertools takes route parameters from rawPath, which API Gateway leaves encoded: without this,
    `/orders/%41` would look up "%41", and an id of 11 "é" would fail a 64-character limit at 66.
    """
    raw_path = str(event.get("rawPath") or "/")
    try:
        path = unquote(raw_path, errors="strict") if "%" in raw_path else raw_path
    except UnicodeDecodeError:
        message = "the path is not UTF-8 once percent-decoded"
        raise RequestRefused(HTTPStatus.BAD_REQUEST, message, "path_encoding", field="path") from None
    if any(unicodedata.category(c) == "Cc" for c in path):  # `/orders/<id>%0A` must not serve order <id>
        message = "the path has a control character once percent-decoded"
        raise RequestRefused(HTTPStatus.BAD_REQUEST, message, "path_encoding", field="path")
    return event if path == raw_path else event | {"rawPath": path}


def _body_text(event: dict[str, Any]) -> str:
    body = event.get("body") or ""
    if not event.get("isBase64Encoded"):
        text = str(body)
        # Characters ≤ bytes ≤ 4 x characters: count the UTF-8 bytes only where the two could differ.
        if len(text) > MAX_BODY_BYTES or (
            len(text) * 4 > MAX_BODY_BYTES and len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES
        ):
            raise _too_large()
        return text
    if len(body) * 3 // 4 > MAX_BODY_BYTES:
        raise _too_large()
    try:
        raw = base64.b64decode(body, validate=True)
        return raw.decode("utf-8")
    except binascii.Error:
        raise RequestRefused(HTTPStatus.BAD_REQUEST, "the body is not valid base64", "body_encoding") from None
    except UnicodeDecodeError as error:
        message = f"the body is not UTF-8 (byte {error.start})"
        raise RequestRefused(HTTPStatus.BAD_REQUEST, message, "body_encoding") from None


def _too_large() -> RequestRefused:
    return RequestRefused(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, f"the body is over {MAX_BODY_BYTES} bytes", "body_size")


def parse_json(text: str) -> Any:
    """JSON (RFC 8259) with every ambiguity refused: duplicate keys, NaN/Infinity, out-of-range numbers."""
    try:
        value = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_no_constant, parse_float=_number)
    except RecursionError:
        raise _too_deep() from None
    except RequestRefused:
        raise
    except ValueError as error:  # JSONDecodeError, and int()'s 4,300-digit limit
        raise RequestRefused(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {error}", "json_invalid") from None
    if _depth(value) > MAX_DEPTH:
        raise _too_deep()
    return value


def _too_deep() -> RequestRefused:
    return RequestRefused(HTTPStatus.BAD_REQUEST, f"the JSON nests deeper than {MAX_DEPTH} levels", "json_depth")


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """Refused, not last-wins: parsers disagree on which duplicate wins (a proxy and we could read two orders)."""
    seen: set[str] = set()
    for key, _ in pairs:
        if key in seen:
            raise RequestRefused(HTTPStatus.BAD_REQUEST, f"the key {key[:64]!r} appears twice", "json_duplicate_key")
        seen.add(key)
    return dict(pairs)


def _no_constant(name: str) -> Any:
    raise RequestRefused(HTTPStatus.BAD_REQUEST, f"{name} is not a JSON number", "json_invalid")


def _number(text: str) -> float | int:
    """2.0 and 2 are the same JSON number (JSON Schema's integer too); 1e999 is not a number we can hold."""
    value = float(text)
    if not math.isfinite(value):
        raise RequestRefused(HTTPStatus.BAD_REQUEST, f"the number {text[:20]} is out of range", "json_number")
    return int(value) if value.is_integer() and abs(value) < 2**53 else value


def _depth(value: Any) -> int:
    """How deep the parsed value nests, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in _children(current))
    return deepest


def _children(value: Any) -> Iterator[Any]:
    if isinstance(value, dict):
        yield from value.values()
    elif isinstance(value, list):
        yield from value
