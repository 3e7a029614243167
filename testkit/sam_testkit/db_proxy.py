"""RDS Proxy's client side, locally: the functions connect here, and every connection is counted.

The functions' DB_HOST is the proxy's endpoint, so locally it is this relay, which passes bytes
both ways to the real MySQL (TLS, if the server offers it, passes through untouched). What it
counts is what RDS Proxy's ClientConnections metric would: the connections *this run's* functions
opened. The server's own counter (`SHOW GLOBAL STATUS LIKE 'Connections'`) counts every client of
a shared server — another run, a second clone, CI — and was wrong whenever one was busy.
It counts the queries too, as RDS Proxy's QueryRequests metric does: the COM_QUERY commands its clients
sent, read from the MySQL protocol's packet headers while the connection is in the clear (a connection
that turns to TLS is counted no further, and says so through `queries_unseen`).
Pooling and multiplexing toward the database are not emulated: one client connection is one
server connection here.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_CHUNK = 65_536
_COM_QUERY = 0x03
_SSL_REQUEST_BYTES = 32  # a handshake response this short asks for TLS (MySQL protocol, SSLRequest)


class _QueryCounter:
    """Reads a client's packets (3-byte length, sequence id, payload) without keeping them: a command is a
    packet with sequence id 0; COM_QUERY's payload starts with 0x03."""

    def __init__(self) -> None:
        self.queries = 0
        self.encrypted = False
        self._header = b""
        self._skip = 0  # payload bytes of the current packet still to pass

    def feed(self, data: bytes) -> None:
        view = memoryview(data)
        while view and not self.encrypted:
            if self._skip:
                step = min(self._skip, len(view))
                self._skip -= step
                view = view[step:]
                continue
            needed = 5 - len(self._header)  # the header and the payload's first byte
            self._header += bytes(view[:needed])
            view = view[needed:]
            if len(self._header) < 5:
                return
            length, sequence, first = int.from_bytes(self._header[:3], "little"), self._header[3], self._header[4]
            self._header = b""
            self._skip = length - 1
            if sequence == 0 and first == _COM_QUERY:
                self.queries += 1
            elif sequence == 1 and length == _SSL_REQUEST_BYTES:
                self.encrypted = True


class CountingRelay:
    """A TCP relay on `host`, port chosen by the system, to `target`; counts the connections it relays."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self._listener = socket.create_server((host, 0))
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._opened = 0  # client connections accepted since the relay started
        self._counters: list[_QueryCounter] = []
        self._open: set[socket.socket] = set()  # both ends of each relayed connection, for close()
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    def connections_opened(self) -> int:
        with self._lock:
            return self._opened

    def queries_sent(self) -> int:
        """COM_QUERY commands the clients sent through the relay, on connections in the clear."""
        with self._lock:
            return sum(counter.queries for counter in self._counters)

    def queries_unseen(self) -> bool:
        """True when a connection turned to TLS, so its queries could not be counted."""
        with self._lock:
            return any(counter.encrypted for counter in self._counters)

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            try:
                server = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()  # as a proxy whose database is down: the client sees the connection drop
                continue
            server.settimeout(None)
            for sock in (client, server):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # MySQL's small request/response packets
            counter = _QueryCounter()
            with self._lock:
                self._opened += 1
                self._open |= {client, server}
                self._counters.append(counter)
            threading.Thread(target=self._pipe, args=(client, server, counter), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, counter: _QueryCounter | None = None) -> None:
        try:
            while data := source.recv(_CHUNK):
                if counter is not None:
                    with self._lock:
                        counter.feed(data)
                sink.sendall(data)
        except OSError:
            pass
        finally:  # one side went: close both, as the proxy drops a client whose server connection died
            with self._lock:
                self._open -= {source, sink}
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
                sock.close()

    def close(self) -> None:
        self._listener.close()
        with self._lock:
            open_sockets = list(self._open)
        for sock in open_sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
