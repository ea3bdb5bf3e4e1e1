"""A loopback TCP proxy that can make a connection go silent, as a dead mobile link does.

Frozen, it swallows whatever either side sends (the server's writes succeed, nothing
arrives); cut, it closes the connections, and the server notices only then.
"""

from __future__ import annotations

import asyncio
import contextlib

from tests.conftest import free_port

__all__ = ["FreezingProxy"]


class FreezingProxy:
    """Relays TCP from a free loopback port to the server, until frozen or cut."""

    def __init__(self, target_port: int) -> None:
        self.port = free_port()
        self._target = target_port
        self._links: list[tuple[asyncio.StreamWriter, asyncio.StreamWriter, set[str]]] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self._target)
        state: set[str] = set()
        self._links.append((writer, up_writer, state))
        for source, sink in ((reader, up_writer), (up_reader, writer)):
            task = asyncio.create_task(self._pump(source, sink, state))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _pump(
        self, source: asyncio.StreamReader, sink: asyncio.StreamWriter, state: set[str]
    ) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await source.read(65536):
                if "frozen" in state:
                    continue  # swallowed: sent, never delivered
                sink.write(data)
                await sink.drain()
        sink.close()

    def freeze(self) -> None:
        """Every connection open now goes silent both ways (later ones are not affected)."""
        for _, _, state in self._links:
            state.add("frozen")

    def cut(self) -> None:
        """Close every connection open now, on both sides."""
        links, self._links = self._links, []
        for writer, up_writer, _ in links:
            writer.transport.abort()
            up_writer.transport.abort()

    async def close(self) -> None:
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
