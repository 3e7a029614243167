"""RDS Proxy's client side, locally: the functions connect here, and every connection is counted.

The functions' DB_HOST is the proxy's endpoint, so locally it is this relay, which passes bytes
both ways to the real MySQL (TLS, if the server offers it, passes through untouched). What it
counts is what RDS Proxy's ClientConnections metric would: the connections *this run's* functions
opened. The server's own counter (`SHOW GLOBAL STATUS LIKE 'Connections'`) counts every client of
a shared server — another run, a second clone, CI — and was wrong whenever one was busy.
Pooling and multiplexing toward the database are not emulated: one client connection is one
server connection here.
"""

from __future__ import annotations

import contextlib
import socket
import threading

_CHUNK = 65_536


class CountingRelay:
    """A TCP relay on `host`, port chosen by the system, to `target`; counts the connections it relays."""

    def __init__(self, target: tuple[str, int], host: str = "127.0.0.1") -> None:
        self.target = target
        self._listener = socket.create_server((host, 0))
        self.host = host
        self.port = int(self._listener.getsockname()[1])
        self._lock = threading.Lock()
        self._opened = 0  # client connections accepted since the relay started
        self._open: set[socket.socket] = set()  # both ends of each relayed connection, for close()
        threading.Thread(target=self._accept, name="db-proxy", daemon=True).start()

    def connections_opened(self) -> int:
        with self._lock:
            return self._opened

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
            with self._lock:
                self._opened += 1
                self._open |= {client, server}
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(_CHUNK):
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
