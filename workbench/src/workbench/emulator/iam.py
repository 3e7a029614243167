"""IAM in the local cloud: every call an execution role makes is authorised as AWS would, or refused.

WSGI middleware in front of moto (emulator/aws_server.py). A request signed with an assumed
role's session is checked against the role's identity policies as moto holds them (created from
the translated template by emulator/cloud.py): resource-level for the services the app uses —
queue ARNs, table ARNs and `table/…/index/…`, secret ARNs —, batch actions mapped as AWS maps
them (sqs:SendMessageBatch is authorised as sqs:SendMessage), explicit Deny before Allow, and a
denial in the protocol's own error shape. Requests signed with the runner's own key are the
administrator's (provisioning, inspection) and pass unchecked.

Not moto's own access control: moto 5.2 checks DynamoDB and Secrets Manager against "*", takes
batch actions literally and answers JSON protocols with an XML 403 — each would make a correct
policy fail or a wrong one pass. Not evaluated here (README, "What is emulated"): Condition blocks
(a statement with one applies as if it held; listed in the report), request signatures, session
expiry, resource-based policies (queue and secret policies), permission boundaries, SCPs.
"""

from __future__ import annotations

import fnmatch
import functools
import io
import json
import re
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, unquote, urlparse

from moto.iam.models import ManagedPolicy, iam_backends
from moto.secretsmanager.models import secretsmanager_backends
from moto.sts.models import sts_backends

ADMIN_ACCESS_KEY = "local"  # the runner's own key (emulator/cloud.py): provisioning, tests' inspection
REPORT_PATH = "/_local/iam"
_PARTITION = "aws"
_DENIALS_KEPT = 50  # per role: enough to name what failed, bounded under load
# X-Amz-Target's prefix → the service's name, for the JSON protocols the functions use (counts use it too)
TARGET_PREFIXES = {
    "DynamoDB_20120810": "dynamodb",
    "AmazonSQS": "sqs",
    "secretsmanager": "secretsmanager",
    "AmazonSSM": "ssm",
}
LOCAL_REST_SERVICES = {"s3", "sns"}  # served and judged too, without an X-Amz-Target (REST-XML, query)
# AWS authorises these as the single action (SQS API reference, "Batch actions").
_SQS_BATCH_ACTIONS = {
    "SendMessageBatch": "SendMessage",
    "DeleteMessageBatch": "DeleteMessage",
    "ChangeMessageVisibilityBatch": "ChangeMessageVisibility",
}
# TransactWriteItems and TransactGetItems need the item-level action per item, on each item's table.
_TRANSACT_ITEM_ACTIONS = {
    "Put": "PutItem",
    "Update": "UpdateItem",
    "Delete": "DeleteItem",
    "ConditionCheck": "ConditionCheckItem",
    "Get": "GetItem",
}


LAMBDA_INVOKE = re.compile(r"/2015-03-31/functions/(?P<name>[^/]+)/invocations")  # the Lambda API's Invoke


@dataclass(frozen=True)
class Check:
    """One authorisation AWS makes for a request: an action on a resource."""

    action: str
    resource: str


@dataclass(frozen=True)
class Caller:
    account: str
    role_name: str
    session_name: str

    @property
    def arn(self) -> str:
        return f"arn:{_PARTITION}:sts::{self.account}:assumed-role/{self.role_name}/{self.session_name}"


@dataclass(frozen=True)
class Statement:
    """One statement of an identity policy, normalised to lists."""

    policy: str
    index: int
    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[str, ...]
    not_resources: tuple[str, ...]
    condition: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @classmethod
    def all_in(cls, policy: str, document: dict[str, Any]) -> list[Statement]:
        raw = document.get("Statement", [])
        return [
            cls(
                policy=policy,
                index=index,
                effect=str(statement.get("Effect", "")),
                actions=_as_tuple(statement.get("Action")),
                not_actions=_as_tuple(statement.get("NotAction")),
                resources=_as_tuple(statement.get("Resource")),
                not_resources=_as_tuple(statement.get("NotResource")),
                condition=dict(statement.get("Condition") or {}),
            )
            for index, statement in enumerate(raw if isinstance(raw, list) else [raw])
        ]

    def action_pattern(self, action: str) -> str | None:
        """The pattern of this statement that matches `action` (actions are case-insensitive), if any."""
        if self.not_actions:
            return None if any(_matches(p, action, True) for p in self.not_actions) else "NotAction"
        return next((p for p in self.actions if _matches(p, action, True)), None)

    def covers(self, resource: str) -> bool:
        if self.not_resources:
            return not any(_matches(p, resource, False) for p in self.not_resources)
        return any(_matches(p, resource, False) for p in self.resources)


@functools.lru_cache(maxsize=4096)
def _pattern(pattern: str, ignore_case: bool) -> re.Pattern[str]:
    # IAM's wildcards are * and ? (fnmatch's [] classes do not exist in IAM: escape them).
    regex = fnmatch.translate(pattern.replace("[", "\0").replace("]", "\1"))
    regex = regex.replace("\0", r"\[").replace("\1", r"\]")
    return re.compile(regex, re.IGNORECASE if ignore_case else 0)


def _matches(pattern: str, value: str, ignore_case: bool) -> bool:
    return pattern == "*" or _pattern(pattern, ignore_case).match(value) is not None


def _as_tuple(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    return tuple(str(v) for v in value) if isinstance(value, list) else (str(value),)


@dataclass
class Decision:
    allowed: bool
    granted_by: list[tuple[Statement, str]]  # (statement, matching action pattern)
    denied_by: Statement | None = None


def evaluate(statements: Iterable[Statement], check: Check) -> Decision:
    """AWS's order for identity policies: an explicit Deny wins, then any Allow, else the implicit deny."""
    granted: list[tuple[Statement, str]] = []
    for statement in statements:
        pattern = statement.action_pattern(check.action)
        if pattern is None or not statement.covers(check.resource):
            continue
        if statement.effect == "Deny":
            return Decision(False, [], statement)
        if statement.effect == "Allow":
            granted.append((statement, pattern))
    return Decision(bool(granted), granted)


# ---------------------------------------------------------------- what a request asks for
@dataclass(frozen=True)
class ParsedRequest:
    service: str  # the signing name: dynamodb, sqs, secretsmanager, sts, iam, …
    operation: str
    region: str
    access_key: str
    session_token: str
    json_protocol: bool
    parameters: dict[str, Any]
    method: str = "GET"
    path: str = "/"


def parse(environ: dict[str, Any], body: bytes) -> ParsedRequest | None:
    """None for a request without SigV4 credentials (the runner's own endpoints)."""
    authorization = environ.get("HTTP_AUTHORIZATION", "")
    match = re.search(r"Credential=([^/]+)/\d{8}/([^/]+)/([^/]+)/", authorization)
    if match is None:
        return None
    access_key, region, service = match.groups()
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    if target:
        prefix, _, operation = target.partition(".")
        service = TARGET_PREFIXES.get(prefix, service)
        try:
            parameters = json.loads(body or b"{}")
        except ValueError:
            parameters = {}
        json_protocol = True
    else:
        form = {k: v[0] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).items()}
        parameters = query | form
        operation = str(parameters.get("Action", ""))
        json_protocol = False
    return ParsedRequest(
        service=service,
        operation=operation,
        region=region,
        access_key=access_key,
        session_token=environ.get("HTTP_X_AMZ_SECURITY_TOKEN", ""),
        json_protocol=json_protocol,
        parameters=parameters if isinstance(parameters, dict) else {},
        method=str(environ.get("REQUEST_METHOD", "GET")),
        path=str(environ.get("PATH_INFO", "/")),
    )


def checks_for(request: ParsedRequest, account: str) -> list[Check]:
    """The authorisations AWS makes for this request (Service Authorization Reference, per service)."""
    service, operation, p = request.service, request.operation, request.parameters

    def arn(resource: str) -> str:
        return f"arn:{_PARTITION}:{service}:{request.region}:{account}:{resource}"

    if service == "sqs":
        action = f"sqs:{_SQS_BATCH_ACTIONS.get(operation, operation)}"
        if "QueueUrl" in p:
            owner, name = urlparse(str(p["QueueUrl"])).path.strip("/").split("/")[-2:]
            return [Check(action, f"arn:{_PARTITION}:sqs:{request.region}:{owner}:{name}")]
        if "QueueName" in p:
            return [Check(action, arn(str(p["QueueName"])))]
        return [Check(action, "*")]
    if service == "dynamodb":

        def table(name: str, index: str | None = None) -> str:
            base = name if name.startswith("arn:") else arn(f"table/{name}")
            return f"{base}/index/{index}" if index else base

        if operation in {"BatchWriteItem", "BatchGetItem"}:
            return [Check(f"dynamodb:{operation}", table(str(name))) for name in p.get("RequestItems", {})]
        if operation in {"TransactWriteItems", "TransactGetItems"}:
            return [
                Check(f"dynamodb:{_TRANSACT_ITEM_ACTIONS[kind]}", table(str(item[kind]["TableName"])))
                for item in p.get("TransactItems", [])
                for kind in item
                if kind in _TRANSACT_ITEM_ACTIONS
            ]
        if "TableName" in p:
            return [Check(f"dynamodb:{operation}", table(str(p["TableName"]), p.get("IndexName")))]
        return [Check(f"dynamodb:{operation}", "*")]
    if service == "secretsmanager" and "SecretId" in p:
        return [Check(f"secretsmanager:{operation}", _secret_arn(account, request.region, str(p["SecretId"])))]
    if service == "s3":
        return [_s3_check(request)]
    if service == "sns" and ("TopicArn" in p or "TargetArn" in p):
        return [Check(f"sns:{operation}", str(p.get("TopicArn") or p["TargetArn"]))]
    if service == "ssm" and ("Name" in p or "Names" in p):
        names = p["Names"] if isinstance(p.get("Names"), list) else [p["Name"]]
        return [Check(f"ssm:{operation}", arn(f"parameter/{str(name).lstrip('/')}")) for name in names]
    if service == "lambda" and (invoke := LAMBDA_INVOKE.fullmatch(request.path)) is not None:
        return [_invoke_check(unquote(invoke["name"]), p.get("Qualifier"), arn)]
    return [Check(f"{service}:{operation}", "*")]


def _invoke_check(name: str, qualifier: Any, arn: Callable[[str], str]) -> Check:
    """Invoke is authorised on the function's ARN, qualified when the call names a version or an alias."""
    function = name if name.startswith("arn:") else arn(f"function:{name}")
    if qualifier and function.count(":") == 6:
        function = f"{function}:{qualifier}"
    return Check("lambda:InvokeFunction", function)


def _s3_check(request: ParsedRequest) -> Check:
    """S3's REST API names its action by method, path and sub-resource (path-style: /bucket/key)."""
    bucket, _, key = request.path.lstrip("/").partition("/")
    if not bucket:
        return Check("s3:ListAllMyBuckets", "*")
    if key:
        action = {"GET": "GetObject", "HEAD": "GetObject", "PUT": "PutObject", "DELETE": "DeleteObject"}.get(
            request.method,
            "PutObject",  # POST: a multipart upload's start or end
        )
        return Check(f"s3:{action}", f"arn:{_PARTITION}:s3:::{bucket}/{key}")
    if request.method == "POST" and "delete" in request.parameters:  # DeleteObjects: each key's DeleteObject
        return Check("s3:DeleteObject", f"arn:{_PARTITION}:s3:::{bucket}/*")
    action = {"PUT": "CreateBucket", "DELETE": "DeleteBucket"}.get(request.method, "ListBucket")
    return Check(f"s3:{action}", f"arn:{_PARTITION}:s3:::{bucket}")


def _secret_arn(account: str, region: str, secret_id: str) -> str:
    """Secrets are authorised by their full ARN (with its random suffix), whatever the caller named them by."""
    secret = secretsmanager_backends[account][region].secrets.get(secret_id)
    if secret is not None:
        return str(secret.arn)
    if secret_id.startswith("arn:"):
        return secret_id
    return f"arn:{_PARTITION}:secretsmanager:{region}:{account}:secret:{secret_id}"


# ---------------------------------------------------------------- the middleware
class Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class Authorizer:
    """Authorises each request of an assumed role before moto sees it, and remembers what was used."""

    def __init__(self, app: Callable[..., Any], account: str) -> None:
        self.app = app
        self.account = account
        self._callers: dict[str, Caller] = {}
        self._lock = threading.Lock()
        self._calls: dict[str, Counter[str]] = {}  # role → action → allowed checks
        self._grants: Counter[tuple[str, str, int, str]] = Counter()  # (role, policy, statement, pattern)
        self._denials: dict[str, list[dict[str, str]]] = {}
        self._denied_count: Counter[str] = Counter()
        self._parsed: dict[tuple[str, str], list[Statement]] = {}

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == REPORT_PATH:
            return _respond(start_response, 200, {"Content-Type": "application/json"}, json.dumps(self.report()))
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        environ["wsgi.input"] = io.BytesIO(body)  # moto reads it again
        request = parse(environ, body)
        if request is None or request.access_key == ADMIN_ACCESS_KEY:
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        try:
            caller = self._caller(request)
            for check in checks_for(request, self.account):
                self._authorise(caller, check)
        except Refusal as refusal:
            return _refuse(start_response, request, refusal)
        return self.app(environ, start_response)  # type: ignore[no-any-return]

    def _caller(self, request: ParsedRequest) -> Caller:
        caller = self._callers.get(request.access_key)
        if caller is None:
            for session in sts_backends[self.account][_PARTITION].assumed_roles:
                if session.access_key_id == request.access_key and session.session_token == request.session_token:
                    caller = Caller(self.account, session.role_arn.split("/")[-1], session.session_name)
                    self._callers[request.access_key] = caller
                    break
        if caller is None:
            raise Refusal(403, "UnrecognizedClientException", "The security token included in the request is invalid.")
        return caller

    def statements(self, role_name: str) -> list[Statement]:
        """The role's policies as moto holds them now (a test may remove one while the cloud runs)."""
        role = iam_backends[self.account][_PARTITION].get_role(role_name)
        documents: list[tuple[str, str]] = list(role.policies.items())
        documents += [(str(p.name), _managed_document(p)) for p in role.managed_policies.values()]
        statements: list[Statement] = []
        for key in documents:  # parsed once per (name, document): a changed policy is parsed again
            if key not in self._parsed:
                self._parsed[key] = Statement.all_in(key[0], json.loads(key[1]))
            statements += self._parsed[key]
        return statements

    def _authorise(self, caller: Caller, check: Check) -> None:
        if check.action.lower() == "sts:getcalleridentity":
            return  # always allowed, whatever the policies say
        decision = evaluate(self.statements(caller.role_name), check)
        with self._lock:
            if decision.allowed:
                self._calls.setdefault(caller.role_name, Counter())[check.action] += 1
                for statement, pattern in decision.granted_by:
                    self._grants[(caller.role_name, statement.policy, statement.index, pattern)] += 1
                return
            reason = (
                "with an explicit deny in an identity-based policy"
                if decision.denied_by is not None
                else f"because no identity-based policy allows the {check.action} action"
            )
            message = (
                f"User: {caller.arn} is not authorized to perform: {check.action} "
                f"on resource: {check.resource} {reason}"
            )
            self._denied_count[caller.role_name] += 1
            kept = self._denials.setdefault(caller.role_name, [])
            if len(kept) < _DENIALS_KEPT:
                kept.append({"session": caller.session_name, "action": check.action, "resource": check.resource})
        raise Refusal(403, "AccessDenied", message)

    def report(self) -> dict[str, Any]:
        """Per role: calls allowed by action, denials, Allow actions never used, conditions not evaluated."""
        roles: dict[str, Any] = {}
        for role in iam_backends[self.account][_PARTITION].get_roles():
            with self._lock:
                calls = dict(self._calls.get(role.name, {}))
                denied = list(self._denials.get(role.name, []))
                denied_count = self._denied_count[role.name]
                grants = {key[1:] for key in self._grants if key[0] == role.name}
            unused: list[dict[str, Any]] = []
            conditions: list[str] = []
            for statement in self.statements(role.name):
                if statement.condition:
                    conditions.append(f"{statement.policy}#{statement.index}")
                if statement.effect != "Allow":
                    continue
                patterns = statement.actions or ("NotAction",)
                never = [p for p in patterns if (statement.policy, statement.index, p) not in grants]
                if never:
                    unused.append(
                        {
                            "policy": statement.policy,
                            "statement": statement.index,
                            "actions": never,
                            "resources": list(statement.resources or statement.not_resources),
                        }
                    )
            roles[role.name] = {
                "calls": calls,
                "denied": denied,
                "denied_count": denied_count,
                "unused": unused,
                "conditions_not_evaluated": conditions,
            }
        return {"roles": roles}


def _managed_document(policy: ManagedPolicy) -> str:
    default = next(v for v in policy.versions if v.is_default)
    document = default.document
    return document if isinstance(document, str) else json.dumps(document)


def _refuse(start_response: Callable[..., Any], request: ParsedRequest, refusal: Refusal) -> Iterable[bytes]:
    """The denial as the service's protocol shapes it, so the SDK raises what it raises on AWS."""
    request_id = str(uuid.uuid4())
    if request.service == "lambda":  # REST-JSON: the error named in a header, 403
        code = "AccessDeniedException" if refusal.code == "AccessDenied" else refusal.code
        headers = {"Content-Type": "application/json", "x-amzn-RequestId": request_id, "x-amzn-ErrorType": code}
        return _respond(start_response, 403, headers, json.dumps({"Message": refusal.message}))
    if not request.json_protocol:  # query protocol (STS, IAM, …): XML
        body = (
            f"<ErrorResponse><Error><Type>Sender</Type><Code>{refusal.code}</Code>"
            f"<Message>{refusal.message}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        )
        return _respond(start_response, refusal.status, {"Content-Type": "text/xml"}, body)
    headers = {"Content-Type": "application/x-amz-json-1.0", "x-amzn-RequestId": request_id}
    if request.service == "sqs":  # SQS speaks JSON but keeps its query-era codes: AccessDenied, 403
        headers["x-amzn-query-error"] = f"{refusal.code};Sender"
        status = refusal.status
    else:  # DynamoDB, Secrets Manager and other JSON services: AccessDeniedException, 400
        status = 400
    code = "AccessDeniedException" if refusal.code == "AccessDenied" else refusal.code
    body = json.dumps({"__type": f"com.amazon.coral.service#{code}", "message": refusal.message})
    return _respond(start_response, status, headers, body)


_REASONS = {200: "OK", 400: "Bad Request", 403: "Forbidden"}


def _respond(start_response: Callable[..., Any], status: int, headers: dict[str, str], body: str) -> Iterable[bytes]:
    data = body.encode()
    start_response(f"{status} {_REASONS[status]}", [*headers.items(), ("Content-Length", str(len(data)))])
    return [data]
