"""The Lambda API's Invoke, served locally: what `sam local start-lambda` is for, without Docker.

`POST /2015-03-31/functions/{FunctionName}/invocations`, as boto3's Lambda client, the AWS CLI with
`--endpoint-url` and the functions themselves (through the local cloud, which checks their role's
`lambda:InvokeFunction` first: emulator/aws_server.py) call it. The function named by its logical id,
its name or its ARN, with a qualifier of `$LATEST` or one of its aliases; `RequestResponse` (the
payload, `X-Amz-Function-Error` when it failed, `X-Amz-Log-Result` for `LogType: Tail`), `Event`
(202, then Lambda's asynchronous handling: emulator/async_invoke.py) and `DryRun` (204);
`X-Amz-Client-Context` becomes the handler's `context.client_context`. Refusals in the API's own
shapes: `ResourceNotFoundException` (404), `InvalidRequestContentException` and
`InvalidParameterValueException` (400), `RequestTooLargeException` (413: 6 MB synchronous, 1 MB
asynchronous), `TooManyRequestsException` (429) ("Invoke", Lambda API Reference). Versions are not
emulated: an alias runs the template's code, reported as `$LATEST`.
"""

from __future__ import annotations

import base64
import contextlib
import json
import re
import signal
import sys
import threading
import uuid
from http import HTTPStatus
from typing import Any, BinaryIO
from urllib.parse import parse_qs, unquote

from workbench.emulator.async_invoke import AsyncInvoker
from workbench.emulator.cloud import ACCOUNT_ID
from workbench.emulator.cors import Headers
from workbench.emulator.environment import REQUEST_LIMIT_BYTES, RequestTooLargeError, ThrottledError
from workbench.emulator.iam import LAMBDA_INVOKE
from workbench.emulator.payloads import GatewayRequest
from workbench.emulator.reload import Reloader
from workbench.emulator.service import LocalService
from workbench.emulator.wsgi import Endpoint, LocalServer

ASYNC_LIMIT_BYTES = 1024 * 1024  # asynchronous invocations take payloads up to 1 MB (AWS Compute Blog, 2026-01-29)
_NAMED = re.compile(  # a name, a partial ARN or an ARN, each with an optional :qualifier
    r"(?:arn:aws[a-z-]*:lambda:[a-z0-9-]+:)?(?:\d{12}:)?(?:function:)?(?P<name>[A-Za-z0-9_-]+)(?::(?P<q>.+))?"
)


class InvokeRefusal(Exception):
    def __init__(self, status: HTTPStatus, error_type: str, message: str, **extra: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message, self.extra = status, error_type, message, extra


class LambdaApi(Endpoint):
    """The WSGI app of the Lambda API's Invoke over the service's functions."""

    def __init__(self, service: LocalService, *, quiet: bool = False) -> None:
        self.service, self.quiet = service, quiet
        self.label = " (Lambda API)"
        self._names = {name: name for name in service.app.functions}
        for name in service.app.functions:  # what a function's Ref resolves to, and its FunctionName if set
            self._names[service.cloud.function_name(name)] = name
        self._aliases = {name: service.app.aliases(name) for name in service.app.functions}
        self._invokers: dict[str, AsyncInvoker] = {}  # each function's EventInvokeConfig, read once
        self._running: list[threading.Thread] = []
        self._lock = threading.Lock()

    def answer(self, request: GatewayRequest, body: BinaryIO) -> tuple[int, Headers, bytes]:
        try:
            return self._invoke(request, body)
        except InvokeRefusal as refusal:
            document = {"Type": "User", "message": refusal.message, **refusal.extra}
            fields = [("content-type", "application/json"), ("x-amzn-errortype", refusal.error_type)]
            return int(refusal.status), [*fields, _request_id()], json.dumps(document).encode()

    def _invoke(self, request: GatewayRequest, body: BinaryIO) -> tuple[int, Headers, bytes]:
        matched = LAMBDA_INVOKE.fullmatch(request.url.path)
        if request.method != "POST" or matched is None:
            raise InvokeRefusal(HTTPStatus.NOT_FOUND, "UnknownOperationException", "Unknown operation")
        query = {k: v[-1] for k, v in parse_qs(request.url.query).items()}
        function = self._function(unquote(matched["name"]), query.get("Qualifier"))
        kind = request.headers.get("x-amz-invocation-type", "RequestResponse")
        raw = body.read(REQUEST_LIMIT_BYTES + 1)
        limit = ASYNC_LIMIT_BYTES if kind == "Event" else REQUEST_LIMIT_BYTES
        if len(raw) > limit:
            operation = "InvokeAsync" if kind == "Event" else "InvokeFunction"
            message = f"Request must be smaller than {limit} bytes for the {operation} operation"
            raise InvokeRefusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", message)
        try:
            event = json.loads(raw) if raw.strip() else {}
        except ValueError as error:
            message = f"Could not parse request body into json: {error}"
            raise InvokeRefusal(HTTPStatus.BAD_REQUEST, "InvalidRequestContentException", message) from None
        if kind == "DryRun":
            return int(HTTPStatus.NO_CONTENT), [_request_id()], b""
        if kind == "Event":
            self._queue(function, event)
            return int(HTTPStatus.ACCEPTED), [_request_id()], b""
        if kind != "RequestResponse":
            message = f"1 validation error detected: Value '{kind}' at 'invocationType' failed to satisfy constraint"
            raise InvokeRefusal(HTTPStatus.BAD_REQUEST, "ValidationException", message)
        tail = request.headers.get("x-amz-log-type") == "Tail"
        client_context = _client_context(request.headers.get("x-amz-client-context"))
        try:
            invocation = self.service.pool(function).invoke(event, tail=tail, client_context=client_context)
        except ThrottledError as error:
            raise InvokeRefusal(
                HTTPStatus.TOO_MANY_REQUESTS, "TooManyRequestsException", "Rate Exceeded.", Reason=error.reason
            ) from None
        except RequestTooLargeError as error:  # the body was within the quota, the event is measured again
            raise InvokeRefusal(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, "RequestTooLargeException", str(error)) from None
        fields = [("content-type", "application/json"), ("x-amz-executed-version", "$LATEST")]
        fields.append(("x-amzn-requestid", invocation.request_id))
        if invocation.error is not None:
            fields.append(("x-amz-function-error", "Unhandled"))
        if invocation.log_tail is not None:
            fields.append(("x-amz-log-result", base64.b64encode(invocation.log_tail.encode()).decode()))
        return int(HTTPStatus.OK), fields, json.dumps(invocation.response).encode()

    def _function(self, named: str, qualifier: str | None) -> str:
        """The template's function a name, partial ARN or ARN names, with a qualifier it has (an alias runs the
        same code here), or ResourceNotFound."""
        parts = _NAMED.fullmatch(named)
        function = self._names.get(parts["name"]) if parts else None
        in_name = parts["q"] if parts else None
        if in_name and qualifier and in_name != qualifier:
            message = "The derived qualifier from the function name does not match the specified qualifier."
            raise InvokeRefusal(HTTPStatus.BAD_REQUEST, "InvalidParameterValueException", message)
        chosen = qualifier or in_name or "$LATEST"
        if function is None or (chosen != "$LATEST" and chosen not in self._aliases[function]):
            arn = f"arn:aws:lambda:{self.service.app.region}:{ACCOUNT_ID}:function:{parts['name'] if parts else named}"
            suffix = f":{chosen}" if chosen != "$LATEST" else ""
            raise InvokeRefusal(HTTPStatus.NOT_FOUND, "ResourceNotFoundException", f"Function not found: {arn}{suffix}")
        return function

    def _queue(self, function: str, event: Any) -> None:
        """Lambda's queue for asynchronous invocations: the caller has its 202; the runs follow."""
        if function not in self._invokers:  # two first calls at once build two: harmless, both read the same
            self._invokers[function] = AsyncInvoker(self.service, function)
        invoker = self._invokers[function]

        def run() -> None:
            outcome = invoker.invoke(event)
            if not self.quiet:
                state = "failed" if outcome.failed else "ok"
                print(f"{function} (Event): {state} after {len(outcome.attempts)} attempts", file=sys.stderr)

        thread = threading.Thread(target=run, name=f"event-{function}")
        with self._lock:
            self._running = [t for t in self._running if t.is_alive()] + [thread]
        thread.start()

    def join(self) -> None:
        """The asynchronous invocations still running, finished."""
        with self._lock:
            running = list(self._running)
        for thread in running:
            thread.join()


def _client_context(header: str | None) -> dict[str, Any] | None:
    """`X-Amz-Client-Context`: base64 of a JSON object, or the API's refusal."""
    if header is None:
        return None
    try:
        document = json.loads(base64.b64decode(header, validate=True))
    except ValueError:
        document = None
    if not isinstance(document, dict):
        message = "Client context must be a valid Base64-encoded JSON object."
        raise InvokeRefusal(HTTPStatus.BAD_REQUEST, "InvalidParameterValueException", message)
    return document


def _request_id() -> tuple[str, str]:
    return ("x-amzn-requestid", str(uuid.uuid4()))


class LocalLambdaApi:
    """The Lambda API on its port, in a thread, with the local cloud told to send the functions' Invoke calls
    to it."""

    def __init__(self, service: LocalService, host: str = "127.0.0.1", port: int = 0, *, quiet: bool = False) -> None:
        self.application = LambdaApi(service, quiet=quiet)
        self.server = LocalServer(self.application, host, port, max_body_bytes=REQUEST_LIMIT_BYTES)
        self.service = service
        self._thread = threading.Thread(target=self.server.serve_forever, name="lambda-api", daemon=True)

    @property
    def endpoint_url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_port}"

    def __enter__(self) -> LocalLambdaApi:
        self._thread.start()
        self.service.cloud.route_lambda(self.endpoint_url)
        return self

    def __exit__(self, *_: Any) -> None:
        with contextlib.suppress(OSError):  # a Ctrl-C reaches the local cloud's process too: it may be gone
            self.service.cloud.route_lambda(None)
        self.server.shutdown()
        self._thread.join(timeout=10)
        self.application.join()


def serve_lambda_forever(service: LocalService, host: str, port: int, *, watch: bool = True) -> str | None:
    """`start-lambda`: the Lambda API alone, until Ctrl-C or SIGTERM, watching the sources unless not asked to.
    Returns why it must restart, if it must."""
    stop, restart = threading.Event(), []

    def restart_for(reason: str) -> None:
        restart.append(reason)
        stop.set()

    reloader = Reloader(service, restart_for)
    signal.signal(signal.SIGTERM, signal.default_int_handler)  # from here on, a stop ends in the finally
    try:
        with LocalLambdaApi(service, host, port) as api:
            print(
                f"Lambda API at http://{host}:{api.server.server_port} (boto3: endpoint_url=…; "
                f"aws lambda invoke --endpoint-url …) for {', '.join(service.app.functions)}",
                file=sys.stderr,
            )
            if watch:
                reloader.start(stop)
            print(f"Execution environments: {service.emulation.describe()}", file=sys.stderr)
            print("Ctrl-C to stop", file=sys.stderr)
            stop.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stop.set()
        reloader.join()
    return restart[0] if restart else None
