"""The one module that touches python-socketio and python-engineio, which ship no types.

Under ``TYPE_CHECKING`` the names below are declared with the part of the
python-socketio API that handoff uses; at run time they are python-socketio's
own classes. So the rest of the code is checked strictly, and the wrapper costs
nothing per message: an ``emit`` is the library's ``emit``, called directly.
Using more of the library means declaring it here first.

The server's WebSockets do not compress. python-engineio's aiohttp driver
leaves aiohttp's permessage-deflate on, and browsers always offer it: about
90 KB more memory per idle connection and 6-16% more CPU per message, for chat
messages of a few hundred bytes that barely compress. We swap in the same
WebSocket wrapper with compression off.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import engineio
import socketio
from aiohttp.web import Application, WebSocketResponse
from engineio.async_drivers import aiohttp as eio_aiohttp

__all__ = ["ConnectionRefused", "Namespace", "SocketServer"]

if TYPE_CHECKING:

    class Namespace:
        """``socketio.AsyncNamespace``: one namespace's events, and emits into it."""

        namespace: str

        def __init__(self, namespace: str) -> None: ...

        async def trigger_event(self, event: str, *args: Any) -> Any:
            """Dispatch to ``on_<event>``; its return value is the acknowledgement."""

        async def emit(
            self, event: str, data: object = None, *, room: str | None = None
        ) -> None: ...

        async def enter_room(self, sid: str, room: str) -> None: ...

        async def leave_room(self, sid: str, room: str) -> None: ...

        async def disconnect(self, sid: str) -> None:
            """End the socket's connection to this namespace (``on_disconnect`` runs)."""

    class _Server:
        """``socketio.AsyncServer``."""

        def __init__(
            self,
            *,
            async_mode: str | None = None,
            client_manager: object = None,
            cors_allowed_origins: str | list[str] | None = None,
            async_handlers: bool = True,
            max_http_buffer_size: int = 1_000_000,
            http_compression: bool = True,
            logger: bool = False,
            engineio_logger: bool = False,
        ) -> None: ...

        def attach(self, app: Application) -> None: ...

        def register_namespace(self, namespace_handler: Namespace) -> None: ...

        async def emit(
            self,
            event: str,
            data: object = None,
            *,
            room: str | None = None,
            namespace: str | None = None,
        ) -> None: ...

        async def close_room(self, room: str, namespace: str | None = None) -> None: ...

    class _ConnectionRefusedError(Exception):
        """``socketio.exceptions.ConnectionRefusedError``."""

        error_args: dict[str, Any]

else:
    Namespace = socketio.AsyncNamespace
    _Server = socketio.AsyncServer
    _ConnectionRefusedError = socketio.exceptions.ConnectionRefusedError


class ConnectionRefused(_ConnectionRefusedError):
    """Raised by ``on_connect`` to refuse a connection; the packet carries ``error``.

    The error sits both at the top (python-socketio clients see the packet as
    is) and under ``data`` (JavaScript clients read ``err.data``).
    """

    def __init__(self, error: dict[str, Any]) -> None:
        super().__init__(error["message"])
        self.error_args = {**error, "data": error}


class _PlainWebSocket(eio_aiohttp.WebSocket):  # type: ignore[misc]
    async def __call__(self, environ: dict[str, Any]) -> WebSocketResponse:
        request = environ["aiohttp.request"]
        self._sock = WebSocketResponse(
            max_msg_size=self.server.max_http_buffer_size, compress=False
        )
        await self._sock.prepare(request)
        self.environ = environ
        await self.handler(self)
        return self._sock


class _EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._async: dict[str, Any] = {**self._async, "websocket": _PlainWebSocket}


class SocketServer(_Server):
    """The Socket.IO server, on an Engine.IO server whose WebSockets do not compress."""

    def _engineio_server_class(self) -> type[_EngineServer]:
        return _EngineServer
