"""Any body a client can send becomes checked JSON or a 4xx with a reason — never an exception that escapes."""

from __future__ import annotations

import base64
import json
from http import HTTPStatus
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from orders.logic.request import (
    MAX_BODY_BYTES,
    MAX_DEPTH,
    RequestRefused,
    canonical_json_event,
    decoded_path_event,
    media_type,
)
from tests.factories import load_event, order_request, post_order_event


def refusal(event: dict[str, Any]) -> RequestRefused:
    with pytest.raises(RequestRefused) as raised:
        canonical_json_event(event)
    return raised.value


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ('{"quantity": ' + "9" * 5000 + "}", "json_invalid"),  # over int()'s 4,300-digit limit
        ("[" * 10_000 + "]" * 10_000, "json_depth"),  # past the recursion limit
        ("[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1), "json_depth"),  # parses, but no order nests that deep
        ('{"customer_id": "a", "customer_id": "b"}', "json_duplicate_key"),
        ('{"quantity": NaN}', "json_invalid"),
        ('{"quantity": -Infinity}', "json_invalid"),
        ('{"quantity": 1e999}', "json_number"),
        ("\ufeff{}", "json_invalid"),  # a BOM: RFC 8259 forbids sending one
        ("   ", "json_invalid"),
    ],
)
def test_bodies_json_would_choke_on_are_refused_with_a_400_naming_why(body: str, kind: str):
    # GIVEN a body a JSON parser would choke on or misread, WHEN it is checked, THEN a 400 says which kind
    refused = refusal(post_order_event(body))
    assert (refused.status, refused.type) == (HTTPStatus.BAD_REQUEST, kind)


def test_a_base64_body_must_be_base64_of_utf8():
    # GIVEN base64 bodies: not base64, not UTF-8 once decoded, and a valid one
    # THEN the first two are refused saying where, and the valid one is handed on decoded
    event = post_order_event("{}") | {"isBase64Encoded": True}
    assert refusal(event | {"body": "not base64!"}).type == "body_encoding"
    invalid_utf8 = base64.b64encode(b'{"customer_id": "\xff"}').decode()
    assert "byte 17" in refusal(event | {"body": invalid_utf8}).message
    valid = base64.b64encode(json.dumps(order_request()).encode()).decode()
    checked = canonical_json_event(event | {"body": valid})
    assert json.loads(checked["body"]) == order_request()
    assert checked["isBase64Encoded"] is False


def test_a_body_over_the_limit_is_413_before_it_is_parsed():
    # GIVEN a body over the limit, plain or base64, WHEN it is checked, THEN a 413 before any parsing
    assert refusal(post_order_event("x" * (MAX_BODY_BYTES + 1))).status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE
    encoded = base64.b64encode(b"x" * (MAX_BODY_BYTES + 3)).decode()
    assert refusal(post_order_event("{}") | {"body": encoded, "isBase64Encoded": True}).status == 413


@pytest.mark.parametrize(
    "content_type",
    ["application/json", "APPLICATION/JSON", "Application/Json; charset=UTF-8", 'application/json ; charset="utf-8"'],
)
def test_json_in_any_case_with_parameters_is_accepted_and_handed_on_in_one_spelling(content_type: str):
    # GIVEN JSON's media type in any case and with parameters, THEN it is accepted, handed on in one spelling
    checked = canonical_json_event(post_order_event(order_request(), content_type=content_type))
    assert checked["headers"]["content-type"] == "application/json"


@pytest.mark.parametrize("content_type", ["text/plain", "application/jsonx", "application/json; charset=latin-1"])
def test_other_media_types_are_415(content_type: str):
    # GIVEN another media type (or JSON in another charset), THEN a 415
    refused = refusal(post_order_event(order_request(), content_type=content_type))
    assert refused.status == HTTPStatus.UNSUPPORTED_MEDIA_TYPE


def test_an_empty_body_is_left_for_validation_to_name_the_missing_fields():
    # GIVEN an empty body of any type, THEN it goes on as JSON, for validation to name what is missing
    checked = canonical_json_event(post_order_event("", content_type="text/plain"))
    assert checked["body"] == ""
    assert checked["headers"]["content-type"] == "application/json"  # not Powertools' own 415


def test_integral_numbers_are_integers_whatever_their_spelling():
    # GIVEN numbers spelled as floats, THEN the integral ones reach the model as integers
    body = '{"a": 2.0, "b": 1e2, "c": 2.5, "d": -0.0}'
    assert json.loads(canonical_json_event(post_order_event(body))["body"]) == {"a": 2, "b": 100, "c": 2.5, "d": 0}


def test_media_type_parameters_are_case_insensitive_names():
    # GIVEN a media type with spaces, case and quoted parameters, THEN it parses as RFC 9110 says
    parsed = media_type(' Application/JSON ; Charset="UTF-8"; q=1')
    assert parsed == ("application/json", {"charset": "UTF-8", "q": "1"})


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200) | json_values.map(json.dumps) | st.binary(max_size=200).map(lambda b: b.decode("latin-1")))
def test_any_text_becomes_json_or_a_4xx(body: str):
    # GIVEN any text at all, WHEN it is checked, THEN it is JSON text or a 4xx with a message
    outcome: RequestRefused | dict[str, Any]
    try:
        outcome = canonical_json_event(post_order_event(body))
    except RequestRefused as refused:
        outcome = refused
    if isinstance(outcome, RequestRefused):
        assert 400 <= outcome.status < 500
        assert outcome.message
    else:
        json.loads(outcome["body"] or "null")  # what the resolver gets is JSON text


@settings(max_examples=200, deadline=None)
@given(json_values)
def test_valid_json_within_the_limits_survives_unchanged_in_meaning(value: Any):
    # GIVEN valid JSON within the limits, WHEN it is checked, THEN its meaning is unchanged
    assume(_nesting(value) <= MAX_DEPTH)
    checked = canonical_json_event(post_order_event(json.dumps(value)))
    assert json.loads(checked["body"]) == json.loads(json.dumps(value), parse_float=_integral_as_int)


def _integral_as_int(text: str) -> float | int:
    number = float(text)
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _nesting(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max(map(_nesting, value.values()), default=0)
    if isinstance(value, list):
        return 1 + max(map(_nesting, value), default=0)
    return 1


def test_the_path_is_read_decoded_as_api_gateway_decodes_path_parameters():
    # GIVEN a percent-encoded path, THEN the function sees it decoded; an unencoded event is left as it came
    event = load_event("api_get_order.json") | {"rawPath": "/orders/%C3%A9t%C3%A9"}
    assert decoded_path_event(event)["rawPath"] == "/orders/été"
    plain = load_event("api_get_order.json")
    assert decoded_path_event(plain) is plain  # nothing encoded: the event as it came


def test_a_path_that_is_not_utf8_once_decoded_is_a_400_on_the_path():
    # GIVEN a path that is not UTF-8 once decoded, THEN a 400 on the path
    refused = refusal_of(decoded_path_event, load_event("api_get_order.json") | {"rawPath": "/orders/%FF"})
    assert (refused.status, refused.field, refused.type) == (HTTPStatus.BAD_REQUEST, "path", "path_encoding")


@pytest.mark.parametrize("encoded", ["%0A", "%0D%0A", "%00", "%7F", "%C2%85"])  # LF, CRLF, NUL, DEL, NEL (C1)
def test_a_control_character_in_the_path_once_decoded_is_a_400_on_the_path(encoded: str):
    # GIVEN a control character encoded in the path, THEN a 400 on the path
    event = load_event("api_get_order.json")
    order_id = event["pathParameters"]["order_id"]
    refused = refusal_of(decoded_path_event, event | {"rawPath": f"/orders/{order_id}{encoded}"})
    assert (refused.status, refused.field, refused.type) == (HTTPStatus.BAD_REQUEST, "path", "path_encoding")


def test_the_body_limit_counts_bytes_not_characters():
    # GIVEN a body under the limit in characters and over it in UTF-8 bytes (é is two)
    body = '{"items": [], "note": "' + "é" * (MAX_BODY_BYTES // 2) + '"}'
    assert len(body) < MAX_BODY_BYTES < len(body.encode())
    # THEN it is refused for its size
    assert refusal(post_order_event(body)).status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


def refusal_of(check: Any, event: dict[str, Any]) -> RequestRefused:
    with pytest.raises(RequestRefused) as raised:
        check(event)
    return raised.value
