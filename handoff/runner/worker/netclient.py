"""Outbound TCP for bot code, through the server's egress proxy.

The sandbox has its own network namespace: its only interface is its own
loopback, so nothing can reach the host's Redis or database directly. This
module patches the ``socket`` module so that ordinary clients (requests,
urllib3, http.client, redis, httplib2) still work: names are resolved by the
proxy, and a TCP ``connect`` becomes a request to the proxy over a Unix socket
bind-mounted into the sandbox, which checks the destination against the
server's blocklist and then relays bytes.

The patch is a convenience, not the wall. Code that goes around it (``_socket``
directly, a C library) finds no network at all. UDP has no route out.
"""

from __future__ import annotations

import _socket
import errno
import json
import os
import socket
import weakref
from typing import Any

_HANDSHAKE_TIMEOUT = 30.0
_MAX_REPLY = 65536

# Peer addresses of tunnelled sockets, for getpeername(): the fd is really a
# Unix socket now, and clients log or compare the TCP peer.
_peers: weakref.WeakKeyDictionary[socket.socket, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def _ask(
    path: str, request: dict[str, Any], timeout: float
) -> tuple[_socket.socket, dict[str, Any]]:
    """Send one request line to the proxy; return the socket and the reply line."""
    conn = _socket.socket(_socket.AF_UNIX, _socket.SOCK_STREAM)
    try:
        conn.settimeout(timeout)
        conn.connect(path)
        conn.sendall(json.dumps(request).encode() + b"\n")
        # Peek, then take exactly the reply line: bytes after it already
        # belong to the relayed stream (a server banner, say).
        while True:
            peeked = conn.recv(_MAX_REPLY, _socket.MSG_PEEK)
            if not peeked:
                raise ConnectionResetError(errno.ECONNRESET, "sandbox egress proxy closed")
            end = peeked.find(b"\n")
            if end >= 0:
                line = conn.recv(end + 1)
                return conn, json.loads(line)
            if len(peeked) >= _MAX_REPLY:
                raise ConnectionError("sandbox egress proxy sent an oversized reply")
    except BaseException:
        conn.close()
        raise


def _raise_for(reply: dict[str, Any]) -> None:
    code = int(reply.get("errno") or errno.EIO)
    message = str(reply.get("error") or os.strerror(code))
    if code == errno.EACCES:
        raise PermissionError(code, message)
    if code == errno.ECONNREFUSED:
        raise ConnectionRefusedError(code, message)
    if code == errno.ETIMEDOUT:
        raise TimeoutError(code, message)
    raise OSError(code, message)


def install(path: str) -> None:
    """Patch ``socket`` so TCP connections and name lookups go through ``path``."""
    real_getaddrinfo = socket.getaddrinfo
    real_connect = socket.socket.connect
    real_getpeername = socket.socket.getpeername
    real_setsockopt = socket.socket.setsockopt

    def getaddrinfo(
        host: bytes | str | None,
        port: bytes | str | int | None,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[tuple[Any, ...]]:
        try:
            # Numeric hosts need no resolver, so no round trip.
            return real_getaddrinfo(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)
        except socket.gaierror:
            pass
        if isinstance(host, bytes):
            host = host.decode("idna")
        if isinstance(port, bytes):
            port = port.decode()
        request = {
            "op": "resolve",
            "host": host,
            "port": port,
            "family": family,
            "type": type,
            "proto": proto,
            "flags": flags,
        }
        conn, reply = _ask(path, request, _HANDSHAKE_TIMEOUT)
        conn.close()
        if not reply.get("ok"):
            raise socket.gaierror(int(reply.get("errno") or socket.EAI_FAIL), str(reply["error"]))
        return [
            (socket.AddressFamily(f), socket.SocketKind(t), p, c, tuple(a))
            for f, t, p, c, a in reply["addresses"]
        ]

    def gethostbyname(host: str) -> str:
        return str(getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)[0][4][0])

    def gethostbyname_ex(host: str) -> tuple[str, list[str], list[str]]:
        infos = getaddrinfo(host, None, socket.AF_INET, socket.SOCK_STREAM)
        return host, [], sorted({str(info[4][0]) for info in infos})

    def connect(self: socket.socket, address: Any) -> None:
        if self.family not in (socket.AF_INET, socket.AF_INET6) or self.type != socket.SOCK_STREAM:
            real_connect(self, address)
            return
        host, port = address[0], address[1]
        timeout = self.gettimeout()
        wait = timeout if timeout else _HANDSHAKE_TIMEOUT
        conn, reply = _ask(path, {"op": "connect", "host": host, "port": port}, wait)
        try:
            if not reply.get("ok"):
                _raise_for(reply)
            # The caller's socket object now owns the proxied stream.
            os.dup2(conn.fileno(), self.fileno(), inheritable=False)
        finally:
            conn.close()
        self.settimeout(timeout)  # re-apply blocking mode to the new fd
        _peers[self] = tuple(reply.get("peer") or (host, port))

    def connect_ex(self: socket.socket, address: Any) -> int:
        try:
            connect(self, address)
        except OSError as exc:
            return exc.errno or errno.EIO
        return 0

    def getpeername(self: socket.socket) -> Any:
        peer = _peers.get(self)
        return peer if peer is not None else real_getpeername(self)

    def setsockopt(self: socket.socket, *args: Any) -> None:
        try:
            real_setsockopt(self, *args)
        except OSError:
            # TCP options (TCP_NODELAY, keepalive tuning) mean nothing on the
            # Unix stream a tunnelled socket really is; the proxy side is TCP.
            if self not in _peers:
                raise

    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex
    socket.socket.connect = connect  # type: ignore[method-assign,assignment]
    socket.socket.connect_ex = connect_ex  # type: ignore[method-assign,assignment]
    socket.socket.getpeername = getpeername  # type: ignore[method-assign,assignment]
    socket.socket.setsockopt = setsockopt  # type: ignore[method-assign,assignment]
