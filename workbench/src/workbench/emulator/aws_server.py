"""moto in a process of its own, counting every AWS call by operation.

`python -m workbench.emulator.aws_server HOST PORT` prints the port it listens on, then serves until
killed. GET /_local/requests answers the counts as JSON; GET /_local/iam what each role was allowed,
denied and never used (emulator/iam.py authorises every call of an execution role); GET
/_local/server-errors the 5xx it answered, by operation (a 5xx is the emulator's fault, never the
caller's: clients retry them silently, so they are counted here); POST /_local/secret-rotation what
Secrets Manager does to a secret on its own (`secret_rotation`). Its own
process: under load, moto's request handling must not compete for the runner's interpreter lock.
"""

from __future__ import annotations

import collections
import http.client
import json
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote, urlsplit

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from moto.secretsmanager.models import secretsmanager_backends
from werkzeug.serving import make_server

from sam_testkit import moto_secrets
from workbench.emulator import moto_sqs, moto_threads
from workbench.emulator.iam import LAMBDA_INVOKE, TARGET_PREFIXES, Authorizer

COUNTS_PATH = "/_local/requests"
ERRORS_PATH = "/_local/server-errors"
ROTATION_PATH = "/_local/secret-rotation"  # what Secrets Manager does to a secret that has no API of its own
LAMBDA_ROUTE_PATH = "/_local/lambda-endpoint"  # where Lambda Invoke calls go: the runner's Lambda API
_FORWARDED = ("content-type", "x-amz-invocation-type", "x-amz-log-type", "x-amz-client-context")
MOTO_AS_RELEASED = "LOCAL_RUNNER_MOTO_AS_RELEASED"
# The concurrency tests switch threads as often as a very busy machine would, so races show every run.
SWITCH_INTERVAL = "LOCAL_RUNNER_SWITCH_INTERVAL_S"


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """One line per AWS call would drown the functions' own logs."""


class RequestCounter:
    """WSGI middleware counting AWS API calls as "service.Operation" (JSON protocols name it in a header),
    and the 5xx answered, by the same name."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts: collections.Counter[str] = collections.Counter()
        self.server_errors: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path in (COUNTS_PATH, ERRORS_PATH):
            with self._lock:
                body = json.dumps(dict(self.counts if path == COUNTS_PATH else self.server_errors)).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        if path == ROTATION_PATH and environ.get("REQUEST_METHOD") == "POST":
            length = int(environ.get("CONTENT_LENGTH") or 0)
            staged = secret_rotation(json.loads(environ["wsgi.input"].read(length)))
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(staged)))])
            return [staged]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        service, _, operation = target.partition(".")
        name = f"{TARGET_PREFIXES.get(service, service)}.{operation}" if target else "unnamed"
        if target:
            with self._lock:
                self.counts[name] += 1

        def record_status(status: str, headers: Any, exc_info: Any = None) -> Any:
            if status.startswith("5"):
                with self._lock:
                    self.server_errors[name] += 1
            return start_response(status, headers, exc_info)

        return self.app(environ, record_status)  # type: ignore[no-any-return]


class LambdaRouter:
    """WSGI middleware behind the IAM check: a Lambda Invoke call goes to the runner's Lambda API, which runs
    the functions (moto's own Lambda would need Docker). POST /_local/lambda-endpoint {"url": …} sets where."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.endpoint: tuple[str, int] | None = None

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if path == LAMBDA_ROUTE_PATH and environ.get("REQUEST_METHOD") == "POST":
            url = json.loads(environ["wsgi.input"].read(length))["url"]
            self.endpoint = None if url is None else (urlsplit(url).hostname or "", urlsplit(url).port or 80)
            start_response("204 No Content", [("Content-Length", "0")])
            return []
        if self.endpoint is None or not LAMBDA_INVOKE.fullmatch(path):
            return self.app(environ, start_response)  # type: ignore[no-any-return]
        headers = {
            name: environ[key]
            for name in _FORWARDED
            if (key := "CONTENT_TYPE" if name == "content-type" else f"HTTP_{name.upper().replace('-', '_')}")
            in environ
        }
        query = f"?{environ['QUERY_STRING']}" if environ.get("QUERY_STRING") else ""
        connection = http.client.HTTPConnection(*self.endpoint, timeout=960)  # past the longest function timeout
        try:
            target = f"{quote(path, safe='/:$')}{query}"
            connection.request("POST", target, environ["wsgi.input"].read(length), headers)
            response = connection.getresponse()
            body = response.read()
        finally:
            connection.close()
        fields = [(k, v) for k, v in response.getheaders() if k.lower() not in ("content-length", "connection")]
        start_response(f"{response.status} {response.reason}", [*fields, ("Content-Length", str(len(body)))])
        return [body]


def secret_rotation(request: dict[str, Any]) -> bytes:
    """POST /_local/secret-rotation: {"secret": arn, "function": arn} turns rotation on, as creating a
    RotationSchedule does; {"secret": arn, "token": id} stages a new version AWSPENDING with no value, as
    Secrets Manager does before it invokes createSecret (a version left pending before is unstaged)."""
    arn = str(request["secret"])
    secret: Any = secretsmanager_backends[DEFAULT_ACCOUNT_ID][arn.split(":")[3]].secrets[arn]
    if "function" in request:
        secret.rotation_requested = secret.rotation_enabled = True  # moto describes rotation once requested
        secret.rotation_lambda_arn = str(request["function"])
    if "token" in request:
        secret.remove_version_stages_from_old_versions(["AWSPENDING"])
        version = {"createdate": int(time.time()), "version_id": request["token"], "version_stages": ["AWSPENDING"]}
        secret.versions[str(request["token"])] = version
    return json.dumps({"RotationEnabled": secret.rotation_enabled}).encode()


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # SAM attaches AWS managed policies (AWSLambdaSQSQueueExecutionRole, …): moto knows them only on request.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    moto_secrets.apply()  # a read without a stage is a read of AWSCURRENT, after a rotation too
    if os.environ.get(MOTO_AS_RELEASED) != "1":  # set by `workbench sqs --unpatched` and the tests, to compare
        moto_sqs.apply()  # SQS calls that do not slow down as the queue grows
        moto_threads.apply()  # backends safe for this threaded server
    if SWITCH_INTERVAL in os.environ:
        sys.setswitchinterval(float(os.environ[SWITCH_INTERVAL]))
    server = make_server(
        host,
        port,
        RequestCounter(Authorizer(LambdaRouter(DomainDispatcherApplication(create_backend_app)), DEFAULT_ACCOUNT_ID)),
        threaded=True,
        request_handler=_QuietRequestHandler,
    )
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
