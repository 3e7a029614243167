"""moto in a process of its own, counting every AWS call by operation.

`python -m local_runner.aws_server HOST PORT` prints the port it listens on, then serves until
killed. GET /_local/requests answers the counts as JSON; GET /_local/iam what each role was allowed,
denied and never used (local_runner/iam.py authorises every call of an execution role). Its own
process: under load, moto's request handling must not compete for the runner's interpreter lock.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import threading
from collections.abc import Callable, Iterable
from typing import Any

from moto.core.models import DEFAULT_ACCOUNT_ID
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import make_server

from local_runner import moto_sqs
from local_runner.iam import TARGET_PREFIXES, Authorizer

COUNTS_PATH = "/_local/requests"
MOTO_AS_RELEASED = "LOCAL_RUNNER_MOTO_AS_RELEASED"


class _QuietRequestHandler(MotoRequestHandler):
    def log_request(self, *args: Any, **kwargs: Any) -> None:
        """One line per AWS call would drown the functions' own logs."""


class RequestCounter:
    """WSGI middleware counting AWS API calls as "service.Operation" (JSON protocols name it in a header)."""

    def __init__(self, app: Callable[..., Any]) -> None:
        self.app = app
        self.counts: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == COUNTS_PATH:
            with self._lock:
                body = json.dumps(dict(self.counts)).encode()
            start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
            return [body]
        target = environ.get("HTTP_X_AMZ_TARGET", "")
        if target:
            service, _, operation = target.partition(".")
            with self._lock:
                self.counts[f"{TARGET_PREFIXES.get(service, service)}.{operation}"] += 1
        return self.app(environ, start_response)  # type: ignore[no-any-return]


def main() -> None:
    host, port = sys.argv[1], int(sys.argv[2])
    # SAM attaches AWS managed policies (AWSLambdaSQSQueueExecutionRole, …): moto knows them only on request.
    os.environ["MOTO_IAM_LOAD_MANAGED_POLICIES"] = "true"
    if os.environ.get(MOTO_AS_RELEASED) != "1":  # set only by `python -m lab sqs --unpatched`, for the comparison
        moto_sqs.apply()  # SQS calls that do not slow down as the queue grows
    server = make_server(
        host,
        port,
        RequestCounter(Authorizer(DomainDispatcherApplication(create_backend_app), DEFAULT_ACCOUNT_ID)),
        threaded=True,
        request_handler=_QuietRequestHandler,
    )
    print(server.server_port, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
