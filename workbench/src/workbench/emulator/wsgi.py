"""The HTTP side of the local endpoints: a WSGI request read as API Gateway and Lambda receive it, their
answer written back. Each endpoint (the API gateway, a function URL) says only what it answers."""

from __future__ import annotations

import sys
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, BinaryIO

from waitress.server import BaseWSGIServer, create_server

from workbench.emulator.cors import Headers
from workbench.emulator.payloads import GatewayRequest


def wsgi_headers(environ: dict[str, Any]) -> dict[str, str]:
    """Lower-case names, repeated headers joined with commas (WSGI has done that), as payload v2 has them."""
    headers = {key[5:].replace("_", "-").lower(): str(v) for key, v in environ.items() if key.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            headers[key.replace("_", "-").lower()] = str(environ[key])
    return headers


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:  # a function may answer any code; the endpoint passes it on
        return "Unknown"


class Endpoint(ABC):
    """A WSGI app that answers a GatewayRequest; the body is read by the endpoint, within its own limit."""

    quiet: bool = False
    label: str = ""  # what the request log names the endpoint by

    @abstractmethod
    def answer(self, request: GatewayRequest, body: BinaryIO) -> tuple[int, Headers, bytes]: ...

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ["REQUEST_METHOD"]
        target = environ.get("REQUEST_URI") or environ.get("PATH_INFO", "/")  # the path as sent, still encoded
        client = environ.get("REMOTE_ADDR", "")
        status, headers, body = self.answer(
            GatewayRequest(method, target, wsgi_headers(environ), client_ip=client), environ["wsgi.input"]
        )
        if not self.quiet:
            print(f"{client or '-'} {method} {target} {status}{self.label}", file=sys.stderr)
        fields = [(k, v) for k, v in headers if k.lower() != "content-length"]
        start_response(f"{status} {_phrase(status)}", [*fields, ("Content-Length", str(len(body)))])
        return [] if method == "HEAD" else [body]  # HEAD: the headers a GET would get, no body


SERVER_THREADS = 64  # one per request in flight: an invocation blocks its thread, as a client waits
IDLE_TIMEOUT_S = 30  # a client that sends nothing (headers or body) for this long is dropped


class ServeError(RuntimeError):
    """A port a local endpoint cannot listen on: one line, exit 2."""


class LocalServer:
    """An endpoint on waitress, started and stopped the way the demo, the tests and the CLI need."""

    def __init__(
        self, application: Endpoint, host: str, port: int, *, idle_timeout_s: int = IDLE_TIMEOUT_S, max_body_bytes: int
    ) -> None:
        self._connections: dict[int, Any] = {}  # waitress's socket map, ours so shutdown can close them all
        self.application = application
        try:
            server = create_server(
                self.application,
                map=self._connections,
                host=host,
                port=port,
                threads=SERVER_THREADS,
                channel_timeout=idle_timeout_s,
                cleanup_interval=min(idle_timeout_s, 30),  # how often idle connections are looked for
                max_request_body_size=max_body_bytes + 1024 * 1024,  # beyond the endpoint's JSON 413: waitress's own
                connection_limit=1000,
                backlog=1024,  # bursts of concurrent clients are queued, not refused
                ident="local-http-api",
            )
        except OSError as error:
            raise ServeError(f"cannot listen on {host}:{port}{self.application.label}: {error.strerror}") from None
        assert isinstance(server, BaseWSGIServer)  # one host and port: one listening server
        self._server = server
        self._stopped = threading.Event()

    @property
    def server_port(self) -> int:
        return int(self._server.getsockname()[1])

    def serve_forever(self) -> None:
        try:
            self._server.run()
        except OSError:  # shutdown() closed a socket under the loop's select(): the loop ends, as asked
            if not self._stopped.is_set():
                raise

    def shutdown(self) -> None:
        """Stop accepting, close every connection, end serve_forever."""
        if self._stopped.is_set():
            return
        self._stopped.set()
        self._server.task_dispatcher.shutdown(cancel_pending=True, timeout=5)
        for dispatcher in list(self._connections.values()):  # the listener, the trigger, open connections
            dispatcher.close()
