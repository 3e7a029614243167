"""The HTTP API's JWT authorizer as the local runner emulates it: what API Gateway refuses never runs the function."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import json
import math
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from http import HTTPStatus
from pathlib import Path
from typing import Any

import pytest
from joserfc import jwt
from tests.fixtures import TEMPLATE

from workbench.emulator.authorizer import JwtAuthorizer, LocalAuthorizers, LocalIssuer, Refusal
from workbench.emulator.event_sources import SqsEventSource
from workbench.emulator.service import LocalService
from workbench.emulator.template import SamApplication
from workbench.emulator.testing import serving
from workbench.scenarios.traffic import bearer

COGNITO = JwtAuthorizer(
    "OrdersJwt", "https://cognito-idp.us-east-1.amazonaws.com/pool", ("app-client",), "authorization"
)
OIDC = JwtAuthorizer("OrdersJwt", "https://idp.example.com/", ("api://orders",), "authorization")
ORDER = {"items": [{"sku": "SCALE-01G", "quantity": 1}]}


def _segment(value: dict[str, Any] | bytes) -> str:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def _claims(authorizer: JwtAuthorizer = COGNITO, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    claims = {"sub": "c-1", "iss": authorizer.issuer, "client_id": authorizer.audiences[0], "exp": now + 60}
    return claims | {"scope": "orders/write"} | changes


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load(tmp_path_factory.mktemp("issuer") / "key.json")


@pytest.fixture(scope="module")
def other_issuer(tmp_path_factory: pytest.TempPathFactory) -> LocalIssuer:
    return LocalIssuer.load(tmp_path_factory.mktemp("other") / "key.json")


def _unsigned(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{_segment(header)}.{_segment(claims)}."


def _forged_tokens(issuer: LocalIssuer, other_issuer: LocalIssuer) -> dict[str, str]:
    """Tokens API Gateway refuses for their signature, each built the way an attacker would."""
    claims = _claims()
    unsigned = f"{_segment({'alg': 'none', 'typ': 'JWT'})}.{_segment(claims)}."
    # RS256 → HS256 confusion: the public key, which anyone can fetch, used as an HMAC secret
    signing_input = f"{_segment({'alg': 'HS256', 'kid': issuer.key.kid})}.{_segment(claims)}"
    public_pem = issuer.key.as_pem(private=False)
    confused = f"{signing_input}.{_segment(hmac.new(public_pem, signing_input.encode(), hashlib.sha256).digest())}"
    no_kid = jwt.encode({"alg": "RS256"}, claims, issuer.key)
    tampered_head, _, tampered_signature = issuer.token(COGNITO, "c-1", ["orders/write"]).rpartition(".")
    head = tampered_head.split(".")[0]
    tampered = f"{head}.{_segment(_claims(sub='c-2'))}.{tampered_signature}"  # c-1's signature on c-2's claims
    return {
        "other key": other_issuer.token(COGNITO, "c-1", ["orders/write"]),
        "alg none": unsigned,
        # the library quotes these in its error: a header must never carry them (a 500 if it did)
        "CR/LF in kid": _unsigned({"alg": "none", "kid": "k\r\nX-Injected: 1"}, claims),
        "not Latin-1 in alg": _unsigned({"alg": "RS256✓", "kid": issuer.key.kid}, claims),
        "CR/LF in crit": _unsigned({"alg": "RS256", "kid": issuer.key.kid, "crit": ["x\r\ny"]}, claims),
        "HS256 with the public key": confused,
        "no kid": no_kid,
        "claims changed after signing": tampered,
        "not a JWT": "not-a-token",
    }


# ---------------------------------------------------------------- the authorizer's rules, no server


FORGED = [
    "other key",
    "alg none",
    "CR/LF in kid",
    "not Latin-1 in alg",
    "CR/LF in crit",
    "HS256 with the public key",
    "no kid",
    "claims changed after signing",
    "not a JWT",
]


@pytest.mark.parametrize("name", FORGED)
def test_a_token_the_issuer_did_not_sign_is_401(issuer: LocalIssuer, other_issuer: LocalIssuer, name: str):
    # GIVEN a token forged one way or another, WHEN the authorizer checks it, THEN a 401, its header printable
    verdict = COGNITO.authorize({"authorization": _forged_tokens(issuer, other_issuer)[name]}, [], issuer.keys)
    assert isinstance(verdict, Refusal)
    assert verdict.status == HTTPStatus.UNAUTHORIZED
    assert verdict.reason.startswith("the token is not signed by the issuer")
    assert all(" " <= c <= "~" for c in verdict.www_authenticate)  # a header: printable ASCII only


@pytest.mark.parametrize(
    ("claims_at", "reason"),  # claims made from the time the test runs, not the time pytest collected it
    [
        (
            lambda _: {"iss": "https://cognito-idp.us-east-1.amazonaws.com/another-pool"},
            "the token does not have a valid issuer",
        ),
        (lambda _: {"client_id": "another-client"}, "the token does not have a valid audience"),
        (
            lambda _: {"aud": "another-api"},
            "the token does not have a valid audience",
        ),  # aud wins over a good client_id
        (lambda now: {"exp": now - 1}, "the token has expired"),
        (lambda _: {"exp": None}, "the token has expired"),
        (lambda _: {"exp": "tomorrow"}, "the token has expired"),
        (lambda now: {"nbf": now + 300}, "the token is not valid yet"),
        (lambda now: {"iat": now + 300}, "the token was issued in the future"),
        (lambda _: {"client_id": {"id": "app-client"}}, "the token does not have a valid audience"),  # an object
        (lambda _: {"aud": [{"id": "app-client"}, 7]}, "the token does not have a valid audience"),
        (lambda _: {"exp": math.nan}, "the token has expired"),  # NaN compares false: it must not pass
        (lambda _: {"exp": math.inf}, "the token has expired"),
        (lambda _: {"nbf": math.nan}, "the token is not valid yet"),
    ],
)
def test_claims_api_gateway_checks_are_each_a_401(
    issuer: LocalIssuer, claims_at: Callable[[int], dict[str, Any]], reason: str
):
    # GIVEN a signed token with one claim API Gateway checks wrong, THEN a 401 saying which
    token = issuer.token(COGNITO, "c-1", ["orders/write"], claims=claims_at(int(time.time())))
    assert COGNITO.authorize({"authorization": token}, ["orders/write"], issuer.keys) == Refusal(
        HTTPStatus.UNAUTHORIZED, reason
    )


def test_a_token_without_one_of_the_routes_scopes_is_403(issuer: LocalIssuer):
    # GIVEN a valid token without the route's scope, THEN a 403 with insufficient_scope
    token = issuer.token(COGNITO, "c-1", ["orders/read"])
    verdict = COGNITO.authorize({"authorization": token}, ["orders/write"], issuer.keys)
    assert isinstance(verdict, Refusal)
    assert verdict.status == HTTPStatus.FORBIDDEN
    assert 'error="insufficient_scope"' in verdict.www_authenticate


@pytest.mark.parametrize(
    ("header", "claims"),
    [
        ("Bearer {token}", {}),
        ("{token}", {}),  # the identity source may hold the bare token
        ("bearer {token}", {"scope": None, "scp": ["profile", "orders/write"]}),  # scp, as a list
        ("Bearer {token}", {"aud": ["other-api", "app-client"]}),  # one of several audiences
    ],
)
def test_a_valid_token_passes_its_claims_flattened_to_strings(issuer: LocalIssuer, header: str, claims: dict):
    # GIVEN a valid token, bare or as Bearer, THEN the function gets its claims as strings and its scopes
    token = issuer.token(COGNITO, "c-1", ["orders/write"], claims=claims)
    verdict = COGNITO.authorize({"authorization": header.format(token=token)}, ["orders/write"], issuer.keys)
    assert not isinstance(verdict, Refusal), verdict
    passed = verdict["jwt"]["claims"]
    assert passed["sub"] == "c-1"
    assert all(isinstance(value, str) for value in passed.values())
    assert "orders/write" in verdict["jwt"]["scopes"]
    if "aud" in claims:
        assert passed["aud"] == "[other-api app-client]"  # a list claim, as API Gateway renders it


def test_an_oidc_issuers_token_carries_aud_and_a_user_pools_client_id(issuer: LocalIssuer):
    # GIVEN the two kinds of issuer, THEN an OIDC token carries aud, a user pool's access token client_id
    oidc = jwt.decode(issuer.token(OIDC, "c-1", []), issuer.key).claims
    cognito = jwt.decode(issuer.token(COGNITO, "c-1", []), issuer.key).claims
    assert (oidc["aud"], "client_id" in oidc) == ("api://orders", False)
    assert (cognito["client_id"], cognito["token_use"], "aud" in cognito) == ("app-client", "access", False)


def test_processes_loading_the_issuer_at_once_share_one_private_key(tmp_path: Path):
    # GIVEN eight loaders at once and no key yet, THEN one key is made, private to its owner, no draft left
    path = tmp_path / "local-issuer" / "key.json"
    with ThreadPoolExecutor(8) as pool:
        kids = set(pool.map(lambda _: LocalIssuer.load(path).key.kid, range(8)))
    assert len(kids) == 1
    assert path.stat().st_mode & 0o777 == 0o600
    assert os.listdir(path.parent) == ["key.json"]  # no drafts left behind


def test_the_template_authorizer_follows_jwt_issuer_and_audience_parameters():
    # GIVEN JwtIssuer and JwtAudience, THEN the emulated authorizer trusts that issuer and those audiences
    app = SamApplication(parameter_overrides={"JwtIssuer": "https://idp.example.com/", "JwtAudience": "api://a,b"})
    (authorizer,) = LocalAuthorizers.of_template(app).by_name.values()
    assert (authorizer.issuer, authorizer.audiences, authorizer.header) == (
        "https://idp.example.com/",
        ("api://a", "b"),
        "authorization",
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [(["--sub", ""], "--sub: must not be empty"), (["--sub", "c-1", "--expires-in", "soon"], "invalid int value")],
)
def test_the_token_command_refuses_bad_arguments_in_one_line_with_exit_2(args: list[str], message: str):
    # GIVEN bad arguments to `workbench token`, THEN one line says why, and exit 2
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "workbench", "token", *args], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert message in result.stderr.splitlines()[-1]


# ---------------------------------------------------------------- through the local HTTP API


@pytest.fixture(scope="module")
def call(service: LocalService) -> Iterator[Callable[..., tuple[int, dict[str, str], dict[str, Any]]]]:
    def request(method: str, path: str, token: str | None, body: Any = None) -> tuple[int, dict[str, str], Any]:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"content-type": "application/json"} | bearer(token)
        connection.request(method, path, None if body is None else json.dumps(body), headers)
        response = connection.getresponse()
        answer = json.loads(response.read())
        connection.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer

    with serving(service) as port:
        yield request


def _bad_tokens(service: LocalService, issuer_for_forgery: LocalIssuer) -> dict[str, tuple[str | None, int]]:
    authorizers = service.authorizers
    now = int(time.time())
    forged = _forged_tokens(authorizers.issuer, issuer_for_forgery)
    return {
        "no token": (None, 401),
        "signed by another key": (forged["other key"], 401),
        "alg none": (forged["alg none"], 401),
        "CR/LF in kid": (forged["CR/LF in kid"], 401),
        "not Latin-1 in alg": (forged["not Latin-1 in alg"], 401),
        "HS256 with the public key": (forged["HS256 with the public key"], 401),
        "wrong issuer": (authorizers.token("c-1", ["orders/write"], claims={"iss": "https://evil.example"}), 401),
        "wrong audience": (authorizers.token("c-1", ["orders/write"], claims={"client_id": "another-client"}), 401),
        "expired": (authorizers.token("c-1", ["orders/write"], expires_in=-1), 401),
        "not yet valid": (authorizers.token("c-1", ["orders/write"], claims={"nbf": now + 300}), 401),
        "missing scope": (authorizers.token("c-1", ["orders/read"]), 403),
    }


BAD_TOKENS = [
    "no token",
    "signed by another key",
    "alg none",
    "CR/LF in kid",
    "not Latin-1 in alg",
    "HS256 with the public key",
    "wrong issuer",
    "wrong audience",
    "expired",
    "not yet valid",
    "missing scope",
]


@pytest.mark.integration
@pytest.mark.parametrize("name", BAD_TOKENS)
def test_api_gateway_refuses_the_token_and_the_function_never_runs(
    service: LocalService, other_issuer: LocalIssuer, call: Callable[..., Any], name: str
):
    # GIVEN a token API Gateway would refuse
    token, expected = _bad_tokens(service, other_issuer)[name]
    invocations = len(service.pool("ApiFunction").invocations)
    refused = service.authorizers.refused_total

    # WHEN it comes with an order
    status, headers, body = call("POST", "/orders", token, ORDER)

    # THEN API Gateway's own answer, why in www-authenticate, counted; the function was not invoked
    assert (status, body) == (expected, {"message": "Unauthorized" if expected == 401 else "Forbidden"})
    assert headers["www-authenticate"].startswith("Bearer")
    assert service.authorizers.refused_total == refused + 1
    assert len(service.pool("ApiFunction").invocations) == invocations


@pytest.mark.integration
def test_customer_a_can_neither_read_nor_order_as_customer_b(service: LocalService, call: Callable[..., Any]):
    scopes = ["orders/read", "orders/write"]
    c1, c2 = service.authorizers.token("c-1", scopes), service.authorizers.token("c-2", scopes)
    # GIVEN c-1's stored order
    status, _, accepted = call("POST", "/orders", c1, ORDER)
    assert status == 202
    SqsEventSource(service, "OrdersConsumer").drain()

    # WHEN c-2 reads it, THEN 404; c-1 reads it as c-1's
    assert call("GET", f"/orders/{accepted['order_id']}", c2)[0] == 404
    status, _, order = call("GET", f"/orders/{accepted['order_id']}", c1)
    assert (status, order["customer_id"]) == (200, "c-1")

    # WHEN c-2 names c-1 in the body, THEN 400 on that field: the token says who orders
    status, _, refused = call("POST", "/orders", c2, {"customer_id": "c-1"} | ORDER)
    assert (status, [e["field"] for e in refused["errors"]]) == (400, ["body.customer_id"])


# ---------------------------------------------------------------- what the template's pool can issue

TEMPLATE_TEXT = TEMPLATE.read_text()
_DOMAIN_AT = TEMPLATE_TEXT.index("  OrdersUserPoolDomain:")
POOL_DOMAIN = TEMPLATE_TEXT[_DOMAIN_AT : TEMPLATE_TEXT.index("  # ---", _DOMAIN_AT)]  # the domain and its branding
APP_CLIENT_SCOPES = "      AllowedOAuthScopes: [openid, email, orders/read, orders/write]\n"


def test_the_stacks_pool_can_issue_the_routes_scopes_and_the_local_issuer_signs_them():
    # GIVEN the template's user pool, THEN it can grant the routes' scopes and the local issuer signs them
    authorizers = LocalAuthorizers.of_template(SamApplication())
    (grant,) = authorizers.grants.values()
    assert grant is not None
    assert {"orders/read", "orders/write"} <= grant.scopes
    assert authorizers.token("c-1", ["orders/read", "orders/write"])


def test_without_a_pool_domain_the_local_issuer_refuses_custom_scopes_as_cognito_would(template_with):
    # GIVEN the template without its user pool's domain (no OAuth endpoints: InitiateAuth tokens only)
    app = SamApplication(template_with(POOL_DOMAIN, ""))
    authorizers = LocalAuthorizers.of_template(app)

    # WHEN / THEN a token with a route's scope cannot be had, and the reason names the missing domain
    with pytest.raises(ValueError, match=r"cannot issue orders/write to OrdersAppClient: .*UserPoolDomain"):
        authorizers.token("c-1", ["orders/write"])
    assert authorizers.token("c-1", ["aws.cognito.signin.user.admin"])  # what the deployed pool would give


def test_a_scope_the_app_client_does_not_allow_is_refused(template_with):
    # GIVEN an app client that does not allow orders/write, WHEN a token with it is asked for, THEN refused
    app = SamApplication(template_with(APP_CLIENT_SCOPES, APP_CLIENT_SCOPES.replace(", orders/write", "")))
    with pytest.raises(ValueError, match="AllowedOAuthScopes"):
        LocalAuthorizers.of_template(app).token("c-1", ["orders/write"])


def test_an_issuer_of_your_own_is_not_second_guessed():
    # GIVEN an issuer of your own, THEN the local issuer signs what is asked (it cannot know what yours grants)
    app = SamApplication(parameter_overrides={"JwtIssuer": "https://id.example", "JwtAudience": "orders-api"})
    authorizers = LocalAuthorizers.of_template(app)
    assert authorizers.grants == {"OrdersJwt": None}
    assert authorizers.token("c-1", ["orders/write"])


def test_the_token_command_says_why_in_one_line_and_exits_2(template_with):
    # GIVEN a pool without a domain, WHEN a token with custom scopes is asked for, THEN one line says why, exit 2
    template = template_with(POOL_DOMAIN, "")
    result = subprocess.run(  # noqa: S603 - our own CLI
        [sys.executable, "-m", "workbench", "token", "--sub", "c-1", "-t", str(template)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: the template's user pool cannot issue")
    assert len(result.stderr.strip().splitlines()) == 1
