"""The egress proxy: the only way out of a worker's network namespace.

Each worker gets its own Unix socket, bind-mounted into its sandbox. On it the
worker asks to ``resolve`` a name or to ``connect`` to ``host:port``; the proxy
resolves names itself, so the address it checks against the blocklist is the
address it connects to (no DNS-rebinding gap), and then relays bytes both ways.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import ipaddress
import json
import os
import socket
from typing import Any

from .netpolicy import NetworkPolicy

__all__ = ["EgressListener", "EgressProxy"]

_HANDSHAKE_TIMEOUT = 10.0
_CHUNK = 65536


def _fail(code: int, message: str) -> dict[str, Any]:
    return {"ok": False, "errno": code, "error": message}


async def _pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
    try:
        while data := await src.read(_CHUNK):
            dst.write(data)
            await dst.drain()
        if dst.can_write_eof():
            dst.write_eof()
    except (ConnectionError, OSError):
        dst.close()


class EgressListener:
    """One worker's socket: its open tunnels are counted and closed with it."""

    def __init__(self, proxy: EgressProxy, path: str) -> None:
        self.proxy = proxy
        self.path = path
        self.server: asyncio.Server | None = None
        self.writers: set[asyncio.StreamWriter] = set()
        self.tunnels = 0

    async def start(self) -> None:
        self.server = await asyncio.start_unix_server(self._serve, self.path)

    async def close(self) -> None:
        """Stop listening and cut every tunnel this worker had open."""
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None
        for writer in list(self.writers):
            writer.close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    def _track(self, writer: asyncio.StreamWriter) -> None:
        self.writers.add(writer)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._track(writer)
        upstream: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
        try:
            line = await asyncio.wait_for(reader.readline(), _HANDSHAKE_TIMEOUT)
            request = json.loads(line)
            if request.get("op") == "resolve":
                reply = await self.proxy.resolve(request)
            elif self.tunnels >= self.proxy.max_connections:
                reply = _fail(
                    errno.EMFILE,
                    f"sandbox: at most {self.proxy.max_connections} "
                    "connections may be open at once",
                )
            else:
                upstream, reply = await self.proxy.connect(
                    str(request["host"]), int(request["port"])
                )
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
            if upstream is not None:
                self.tunnels += 1
                self._track(upstream[1])
                try:
                    await asyncio.gather(_pipe(reader, upstream[1]), _pipe(upstream[0], writer))
                finally:
                    self.tunnels -= 1
        except (ValueError, KeyError, TypeError, TimeoutError, ConnectionError, OSError):
            pass
        finally:
            for w in (writer, upstream[1] if upstream else None):
                if w is not None:
                    w.close()
                    self.writers.discard(w)


class EgressProxy:
    """Resolves and connects on behalf of workers, refusing what the policy refuses."""

    def __init__(
        self, policy: NetworkPolicy, *, connect_timeout: float, max_connections: int
    ) -> None:
        self.policy = policy
        self.connect_timeout = connect_timeout
        self.max_connections = max_connections

    async def listen(self, path: str) -> EgressListener:
        """Start a listener at ``path`` for one worker."""
        listener = EgressListener(self, path)
        await listener.start()
        return listener

    async def resolve(self, request: dict[str, Any]) -> dict[str, Any]:
        """Answer a getaddrinfo() for the worker, whose namespace has no resolver."""
        loop = asyncio.get_running_loop()
        try:
            infos = await loop.getaddrinfo(
                request["host"],
                request["port"],
                family=int(request["family"]),
                type=int(request["type"]),
                proto=int(request["proto"]),
                flags=int(request["flags"]),
            )
        except socket.gaierror as exc:
            return _fail(exc.errno or socket.EAI_FAIL, str(exc.strerror))
        return {
            "ok": True,
            "addresses": [[int(f), int(t), p, c, list(a)] for f, t, p, c, a in infos],
        }

    async def connect(
        self, host: str, port: int
    ) -> tuple[tuple[asyncio.StreamReader, asyncio.StreamWriter] | None, dict[str, Any]]:
        """Open ``host:port`` at the first of its addresses the policy lets through."""
        try:
            ipaddress.ip_address(host.split("%")[0])
            candidates = [host]
        except ValueError:
            loop = asyncio.get_running_loop()
            try:
                infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            except socket.gaierror as exc:
                return None, _fail(errno.EHOSTUNREACH, f"cannot resolve {host}: {exc.strerror}")
            candidates = list(dict.fromkeys(str(info[4][0]) for info in infos))
        refusals = {ip: self.policy.refusal(ip, port) for ip in candidates}
        # Only checked addresses are connected to, and each by its number.
        allowed = [ip for ip, why in refusals.items() if why is None]
        if not allowed:
            why = next(iter(refusals.values()))
            return None, _fail(
                errno.EACCES, f"sandbox: connections to {host}:{port} are blocked ({why})"
            )
        reply = _fail(errno.EHOSTUNREACH, f"cannot connect to {host}:{port}")
        for ip in allowed:
            try:
                streams = await asyncio.wait_for(
                    asyncio.open_connection(ip, port), self.connect_timeout
                )
            except TimeoutError:
                reply = _fail(errno.ETIMEDOUT, f"connecting to {host}:{port} timed out")
            except OSError as exc:
                code = exc.errno or errno.EHOSTUNREACH
                reply = _fail(code, f"cannot connect to {host}:{port}: {os.strerror(code)}")
            else:
                return streams, {"ok": True, "peer": [ip, port]}
        return None, reply
