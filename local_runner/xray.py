"""A stand-in X-Ray daemon: receive what the X-Ray SDK emits over UDP and draw it as a tree.

On Lambda the SDK streams each finished subsegment to AWS_XRAY_DAEMON_ADDRESS under the facade
segment Lambda itself records; here the facade is the function's invocation.
"""

from __future__ import annotations

import json
import socket
import threading
from collections import defaultdict
from typing import Any


class TraceCollector:
    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.settimeout(0.2)
        self._documents: list[dict[str, Any]] = []
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
            _, _, body = data.decode("utf-8", "replace").partition("\n")
            try:
                document = json.loads(body)
            except json.JSONDecodeError:
                continue
            with self._lock:
                self._documents.append(document)

    def close(self) -> None:
        self._running = False
        self._thread.join(timeout=1)
        self._socket.close()

    def documents(self, trace_id: str | None = None) -> list[dict[str, Any]]:
        with self._lock:
            return [d for d in self._documents if trace_id is None or d.get("trace_id") == trace_id]

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
        nested = document.pop("subsegments", [])
        flat.append(document)
        for child in nested:
            child.setdefault("parent_id", document["id"])
        flat.extend(_flatten(nested))
    return flat
