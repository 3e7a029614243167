"""A stand-in X-Ray daemon: receive what the functions send over UDP and draw it as a tree.

Two formats arrive at AWS_XRAY_DAEMON_ADDRESS, each after the line `{"format":"json","version":1}`:
X-Ray segment documents (JSON, what the X-Ray SDK streams) and OTLP spans (`T1S`/`T1U` + base64 of
an ExportTraceServiceRequest, what src/orders/tracing sends). Both become the same documents here,
decoded with OpenTelemetry's own generated protobuf classes. On Lambda both hang under the segment
Lambda itself records; here that segment is the function's invocation.
"""

from __future__ import annotations

import binascii
import json
import socket
import threading
import time
from collections import defaultdict
from typing import Any

from google.protobuf.message import DecodeError

from sam_testkit.otlp import otlp_documents

OTLP_PREFIXES = (b"T1S", b"T1U")


class TraceCollector:
    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 * 1024 * 1024)  # bursts of 64 KB datagrams
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._documents: list[dict[str, Any]] = []
        self.datagrams = 0
        self._lock = threading.Lock()
        self._running = True
        self._thread = threading.Thread(target=self._receive, daemon=True, name="xray-daemon")
        self._thread.start()

    @property
    def address(self) -> str:
        host, port = self._socket.getsockname()
        return f"{host}:{port}"

    def _receive(self) -> None:
        while self._running:
            try:
                data = self._socket.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            _, _, body = data.partition(b"\n")
            try:
                if body[:3] in OTLP_PREFIXES:
                    documents = otlp_documents(body[3:])
                else:
                    documents = [json.loads(body.decode("utf-8", "replace"))]
            except (json.JSONDecodeError, binascii.Error, DecodeError):
                continue
            with self._lock:
                self._documents.extend(documents)
                self.datagrams += 1

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=1)
        self._socket.close()

    def documents(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [d for d in self._documents if trace_id is None or d.get("trace_id") == trace_id]

    def span_names(self, trace_id: str) -> set[str]:
        return {d["name"] for d in _flatten(self.documents(trace_id))}

    def wait_for(self, trace_id: str, names: set[str], timeout_s: float = 30) -> set[str]:
        """The trace's span names once `names` have all arrived (or the timeout passed): UDP lands when
        the collector's thread gets the CPU, which on a busy machine is not at once."""
        deadline = time.monotonic() + timeout_s
        while not names <= (seen := self.span_names(trace_id)) and time.monotonic() < deadline:
            time.sleep(0.02)
        return seen

    def settle(self, quiet_s: float = 0.2, timeout_s: float = 30) -> None:
        """Return once no datagram arrived for `quiet_s`: the spans sent so far have landed."""
        deadline = time.monotonic() + timeout_s
        last = -1
        while self.datagrams != last and time.monotonic() < deadline:
            last = self.datagrams
            time.sleep(quiet_s)

    def tree(self, trace_id: str, title: str) -> str:
        """The trace as indented lines: name and duration, children under their parents."""
        documents = _flatten(self.documents(trace_id))
        by_id = {d["id"]: d for d in documents}
        children: defaultdict[str | None, list[dict[str, Any]]] = defaultdict(list)
        for document in documents:
            parent = document.get("parent_id")
            children[parent if parent in by_id else None].append(document)
        lines = [title]

        def walk(parent: str | None, depth: int) -> None:
            for document in sorted(children[parent], key=lambda d: d.get("start_time", 0)):
                duration = (document.get("end_time", document["start_time"]) - document["start_time"]) * 1000
                flag = " (fault)" if document.get("fault") or document.get("error") else ""
                lines.append(f"{'  ' * depth}└─ {document['name']}  {duration:.1f} ms{flag}")
                walk(document["id"], depth + 1)

        walk(None, 1)
        return "\n".join(lines)


def _flatten(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Streamed subsegments arrive alone; a segment sent whole nests its subsegments inside."""
    flat: list[dict[str, Any]] = []
    for document in documents:
        nested = document.get("subsegments", [])
        flat.append({k: v for k, v in document.items() if k != "subsegments"})
        for child in nested:
            child.setdefault("parent_id", document["id"])
        flat.extend(_flatten(nested))
    return flat
