"""A TCP proxy that can go silent without closing anything, as a network that drops packets does.

`freeze()` turns every open connection into a black hole: bytes are read and dropped, nothing is
forwarded, and no side sees a FIN or a reset. Connections made while frozen are accepted and never
answered. `heal()` makes new connections work again; the frozen ones stay dead, as connections
whose NAT or firewall entry expired do, so a client must notice on its own and connect again.
"""

from __future__ import annotations

import contextlib
import socket
import threading
from types import TracebackType


class _Pair:
    def __init__(self, client: socket.socket, upstream: socket.socket | None) -> None:
        self.client = client
        self.upstream = upstream
        self.dead = upstream is None

    def close(self) -> None:
        for sock in (self.client, self.upstream):
            if sock is not None:
                with contextlib.suppress(OSError):
                    sock.close()


class FreezingProxy:
    """Forwards 127.0.0.1:`port` to 127.0.0.1:`upstream_port` until frozen."""

    def __init__(self, upstream_port: int) -> None:
        self.upstream_port = upstream_port
        self._listener = socket.socket()
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._pairs: list[_Pair] = []
        self._frozen = False
        self._closed = False
        threading.Thread(target=self._accept, name="freezing-proxy", daemon=True).start()

    def freeze(self) -> None:
        with self._lock:
            self._frozen = True
            for pair in self._pairs:
                pair.dead = True

    def heal(self) -> None:
        with self._lock:
            self._frozen = False

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(OSError):
            self._listener.close()
        with self._lock:
            for pair in self._pairs:
                pair.close()

    def __enter__(self) -> FreezingProxy:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                upstream = None
                if not self._frozen:
                    upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
                pair = _Pair(client, upstream)
                self._pairs.append(pair)
            threading.Thread(target=self._pump, args=(pair, True), daemon=True).start()
            if upstream is not None:
                threading.Thread(target=self._pump, args=(pair, False), daemon=True).start()

    def _pump(self, pair: _Pair, from_client: bool) -> None:
        source = pair.client if from_client else pair.upstream
        target = pair.upstream if from_client else pair.client
        assert source is not None
        while True:
            try:
                data = source.recv(65536)
            except OSError:
                data = b""
            if not data:
                # A live pair passes the close on; a dead one stays silent towards the client.
                if from_client or not pair.dead:
                    pair.close()
                return
            if pair.dead or target is None:
                continue  # dropped on the floor
            try:
                target.sendall(data)
            except OSError:
                pair.close()
                return
