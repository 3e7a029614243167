"""The HTTP side of the local endpoints: a WSGI request read as API Gateway and Lambda receive it, their
answer written back. Each endpoint (the API gateway, a function URL) says only what it answers."""

from __future__ import annotations

import sys
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any, BinaryIO

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
