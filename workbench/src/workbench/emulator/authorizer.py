"""API Gateway's JWT authorizer for the local HTTP API, and a local issuer standing in for the user pool.

What API Gateway does before an HTTP API route with a JWT authorizer runs its function (API Gateway
Developer Guide, "Control access to HTTP APIs with JWT authorizers"): take the token from the
identity source, bare or after `Bearer `; check its RSA signature against the issuer's keys by
`kid`; then `iss`, `aud` — or `client_id` when there is no `aud` — against the authorizer's
audience, `exp`, `nbf`, `iat`; then that the token's `scope`/`scp` holds one of the route's
scopes. A failure is 401 `{"message":"Unauthorized"}` (a missing scope: 403 `Forbidden`) with a
`www-authenticate` header saying why, and the function never runs. What passes reaches the
function as `requestContext.authorizer.jwt`: the claims, values flattened to strings, and scopes.

The issuer's keys are never fetched (no network at run time): a local key pair, kept in
`.aws-sam/local-issuer/`, signs the tokens `workbench token` prints and stands in for
the template's user pool — or for the OIDC issuer given as `JwtIssuer`, which the runner says.
Signatures and claims are checked with joserfc, a maintained JOSE library: no crypto of our own.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from pathlib import Path
from typing import Any

from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import GuestProtocol, Key, KeySet, RSAKey

from workbench.emulator.cloud import STACK_NAME, local_names, resolve_intrinsics
from workbench.emulator.template import PROJECT_ROOT, SamApplication

ISSUER_KEY_FILE = PROJECT_ROOT / ".aws-sam" / "local-issuer" / "signing-key.json"
RSA_ALGORITHMS = ("RS256", "RS384", "RS512")  # HTTP APIs' JWT authorizers accept RSA signatures only
DEFAULT_TOKEN_LIFETIME_S = 3600  # a Cognito access token's default validity


class LocalIssuer:
    """An RSA key pair made once per checkout and shared by every local process that signs or checks."""

    def __init__(self, key: RSAKey) -> None:
        self.key = key
        self.keys = KeySet([RSAKey.import_key(key.as_dict(private=False))])  # what a JWKS endpoint publishes

    @classmethod
    def load(cls, path: Path = ISSUER_KEY_FILE) -> LocalIssuer:
        """The key pair at `path`, created there (mode 0600) when absent; concurrent creators agree on one."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            key = RSAKey.generate_key(2048, private=True, auto_kid=True)
            with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as draft:
                draft.write(json.dumps(key.as_dict(private=True)))
            os.chmod(draft.name, 0o600)
            try:
                os.link(draft.name, path)  # atomic and refuses to replace: the first writer's key wins
            except FileExistsError:
                pass
            finally:
                os.unlink(draft.name)
        return cls(RSAKey.import_key(json.loads(path.read_text())))

    def token(
        self,
        authorizer: JwtAuthorizer,
        subject: str,
        scopes: Iterable[str],
        *,
        expires_in: int = DEFAULT_TOKEN_LIFETIME_S,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """An access token for `authorizer` as its issuer would mint it; `claims` replace or add any (None drops)."""
        now = int(time.time())
        minted: dict[str, Any] = {
            "sub": subject,
            "iss": authorizer.issuer,
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + expires_in,
            "jti": str(uuid.uuid4()),
        }
        if authorizer.is_cognito:  # a user pool's access token names its app client, and has no aud
            minted |= {"client_id": authorizer.audiences[0], "token_use": "access", "username": subject}
        else:
            minted["aud"] = authorizer.audiences[0]
        minted.update(claims or {})
        return jwt.encode(
            {"alg": "RS256", "kid": self.key.kid, "typ": "JWT"},
            {k: v for k, v in minted.items() if v is not None},
            self.key,
        )


@dataclass(frozen=True)
class Refusal:
    """API Gateway's answer instead of the function's, and why (its www-authenticate header says it)."""

    status: HTTPStatus
    reason: str  # what the books count refusals by
    detail: str = ""  # the library's or the route's particulars, for the header only

    @property
    def www_authenticate(self) -> str:
        error = "insufficient_scope" if self.status == HTTPStatus.FORBIDDEN else "invalid_token"
        description = f"{self.reason}: {self.detail}" if self.detail else self.reason
        return f'Bearer scope="" error="{error}" error_description="{description}"'


@dataclass(frozen=True)
class JwtAuthorizer:
    """One `Auth.Authorizers` entry with a JwtConfiguration, its intrinsics resolved."""

    name: str
    issuer: str
    audiences: tuple[str, ...]
    header: str  # the identity source's header, lower-case

    @property
    def is_cognito(self) -> bool:
        return self.issuer.startswith("https://cognito-idp.")

    def authorize(self, headers: Mapping[str, str], scopes: Iterable[str], keys: KeySet) -> dict[str, Any] | Refusal:
        """The event's `requestContext.authorizer`, or the Refusal API Gateway would answer."""
        value = headers.get(self.header, "").strip()
        if value[:7].lower() == "bearer ":
            value = value[7:].strip()
        if not value:
            return Refusal(HTTPStatus.UNAUTHORIZED, "no token in the identity source")
        try:
            token = jwt.decode(value, _signing_key(keys), algorithms=RSA_ALGORITHMS)
        except (JoseError, ValueError) as error:  # malformed, alg none/HS256, unknown kid, bad signature
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token is not signed by the issuer", _said(error))
        claims = token.claims
        refusal = self._claims_refusal(claims, time.time())
        if refusal is not None:
            return refusal
        granted = _scopes(claims)
        required = set(scopes)
        if required and not required & set(granted):
            return Refusal(HTTPStatus.FORBIDDEN, "the token has none of the route's scopes", " ".join(sorted(required)))
        return {"jwt": {"claims": {k: _flattened(v) for k, v in claims.items()}, "scopes": granted or None}}

    def _claims_refusal(self, claims: Mapping[str, Any], now: float) -> Refusal | None:
        if claims.get("iss") != self.issuer:
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token does not have a valid issuer")
        audience = claims.get("aud", claims.get("client_id"))  # client_id only when there is no aud
        offered = {a for a in (audience if isinstance(audience, list) else [audience]) if isinstance(a, str)}
        if not set(self.audiences) & offered:  # an object or a number is no audience
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token does not have a valid audience")
        if not _is_time(claims.get("exp")) or claims["exp"] <= now:
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token has expired")
        if "nbf" in claims and (not _is_time(claims["nbf"]) or claims["nbf"] > now):
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token is not valid yet")
        if "iat" in claims and (not _is_time(claims["iat"]) or claims["iat"] > now):
            return Refusal(HTTPStatus.UNAUTHORIZED, "the token was issued in the future")
        return None


def _signing_key(keys: KeySet) -> Callable[[GuestProtocol], Key]:
    """The issuer's key the token's `kid` names: a token without one is refused, even with one key."""

    def key_for(token: GuestProtocol) -> Key:
        kid = token.headers().get("kid")
        if not kid:
            raise InvalidKeyIdError("the token has no kid")
        return keys.get_by_kid(str(kid))

    return key_for


def _said(error: Exception) -> str:
    """The library's words, fit for a header: they may quote the token's own (kid, alg, crit), CR/LF
    and all, and a header carries printable ASCII only (RFC 9110 §5.5) — anything else would be a 500."""
    said = str(error) or type(error).__name__
    return "".join(c if " " <= c <= "~" and c not in '"\\' else "?" for c in said)


def _is_time(value: Any) -> bool:
    """A NumericDate (RFC 7519 §2): a finite number; NaN compares false with everything, so it would pass."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _scopes(claims: Mapping[str, Any]) -> list[str]:
    """`scope` (RFC 8693: space-separated) or `scp` (a list, or the same string)."""
    value = claims.get("scope", claims.get("scp", ""))
    return [str(s) for s in value] if isinstance(value, list) else str(value).split()


def _flattened(value: Any) -> str:
    """Claim values as API Gateway passes them: strings; a list as `[a b]`."""
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, list):
        return "[" + " ".join(_flattened(v) for v in value) + "]"
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


def jwt_authorizers(app: SamApplication, resolve: Callable[[Any], Any]) -> dict[str, JwtAuthorizer]:
    """Every HttpApi's JWT authorizers by name, as the template declares them (intrinsics resolved)."""
    authorizers: dict[str, JwtAuthorizer] = {}
    for resource in app.sam_template["Resources"].values():
        if resource.get("Type") != "AWS::Serverless::HttpApi":
            continue
        for name, spec in resource.get("Properties", {}).get("Auth", {}).get("Authorizers", {}).items():
            if "JwtConfiguration" not in spec:
                continue
            configuration = resolve(spec["JwtConfiguration"])
            audience = configuration.get("audience") or []
            source = str(spec.get("IdentitySource", "$request.header.Authorization"))
            authorizers[name] = JwtAuthorizer(
                name=name,
                issuer=str(configuration["issuer"]),
                audiences=tuple(str(a) for a in (audience if isinstance(audience, list) else [audience])),
                header=source.removeprefix("$request.header.").lower(),
            )
    return authorizers


COGNITO_SIGN_IN_SCOPE = "aws.cognito.signin.user.admin"  # what InitiateAuth's access tokens carry, alone


@dataclass(frozen=True)
class PoolGrant:
    """What the template's own user pool can put in an app client's access tokens, and why not more."""

    client: str  # the app client's logical id
    scopes: frozenset[str]
    limit: str  # why a scope outside `scopes` cannot be had


def pool_grant(app: SamApplication, resolve: Callable[[Any], Any], authorizer: JwtAuthorizer) -> PoolGrant | None:
    """The grant of the template's user pool client the authorizer trusts; None when the issuer is not
    the template's pool (an issuer of your own: the runner cannot know what it issues)."""
    resources = app.sam_template["Resources"]
    for logical_id, client in resources.items():
        if (
            client.get("Type") != "AWS::Cognito::UserPoolClient"
            or resolve({"Ref": logical_id}) not in authorizer.audiences
        ):
            continue
        properties = client.get("Properties", {})
        pool = properties.get("UserPoolId", {}).get("Ref")
        has_domain = any(
            r.get("Type") == "AWS::Cognito::UserPoolDomain"
            and r.get("Properties", {}).get("UserPoolId") == {"Ref": pool}
            for r in resources.values()
        )
        oauth = bool(properties.get("AllowedOAuthFlowsUserPoolClient")) and bool(properties.get("AllowedOAuthFlows"))
        if not has_domain:
            limit = f"{pool} has no AWS::Cognito::UserPoolDomain (custom scopes come only from its OAuth endpoints)"
            return PoolGrant(logical_id, frozenset({COGNITO_SIGN_IN_SCOPE}), limit)
        if not oauth:
            limit = f"{logical_id} allows no OAuth flow (AllowedOAuthFlowsUserPoolClient, AllowedOAuthFlows)"
            return PoolGrant(logical_id, frozenset({COGNITO_SIGN_IN_SCOPE}), limit)
        scopes = frozenset(str(scope) for scope in properties.get("AllowedOAuthScopes", []))
        return PoolGrant(logical_id, scopes | {COGNITO_SIGN_IN_SCOPE}, f"{logical_id}'s AllowedOAuthScopes")
    return None


class LocalAuthorizers:
    """The template's JWT authorizers, the local issuer's keys they check against, and what they refused."""

    def __init__(self, app: SamApplication, resolve: Callable[[Any], Any], issuer: LocalIssuer | None = None) -> None:
        self.by_name = jwt_authorizers(app, resolve)
        self.grants = {name: pool_grant(app, resolve, authorizer) for name, authorizer in self.by_name.items()}
        self.issuer = issuer or LocalIssuer.load()
        self.refused: Counter[tuple[str, int, str]] = Counter()  # (route, status, reason): the function never ran
        self._lock = threading.Lock()

    @classmethod
    def of_template(cls, app: SamApplication) -> LocalAuthorizers:
        """Without a running local cloud: the authorizers' issuer and audience are names, nothing provisioned."""
        names = local_names(app)
        return cls(app, lambda value: resolve_intrinsics(app, names, STACK_NAME, value))

    def token(self, subject: str, scopes: Iterable[str], **options: Any) -> str:
        """A token the template's (only) JWT authorizer accepts, scopes permitting; options: LocalIssuer.token's."""
        if len(self.by_name) != 1:
            raise ValueError(f"the template has {len(self.by_name)} JWT authorizers; name one: {sorted(self.by_name)}")
        ((name, authorizer),) = self.by_name.items()
        scopes = list(scopes)
        grant = self.grants[name]
        if grant is not None and (missing := sorted(set(scopes) - grant.scopes)):
            # the local issuer must not sign what the deployed pool could never give a user: that 403 would hide here
            raise ValueError(
                f"the template's user pool cannot issue {' '.join(missing)} to {grant.client}: {grant.limit}"
            )
        return self.issuer.token(authorizer, subject, scopes, **options)

    def authorize(
        self, name: str, route_key: str, headers: Mapping[str, str], scopes: Iterable[str]
    ) -> dict[str, Any] | Refusal:
        verdict = self.by_name[name].authorize(headers, scopes, self.issuer.keys)
        if isinstance(verdict, Refusal):
            with self._lock:
                self.refused[(route_key, int(verdict.status), verdict.reason)] += 1
        return verdict

    @property
    def refused_total(self) -> int:
        return sum(self.refused.values())
