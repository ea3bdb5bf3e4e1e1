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

Three more changes to the libraries' behaviour, each for what a client can send:

- Every Engine.IO socket remembers when its client last proved alive (see
  :func:`alive_at`), so a widget that died silently can be sent again what it missed.
- A long-polling POST larger than ``max_http_buffer_size`` is answered ``413`` at
  once, and its session closed. python-engineio would close the session first and
  wait for a poll to carry the close, while the client, still sending the body,
  waits for the answer: both wait until the client gives up.
- Traffic that is not Engine.IO or Socket.IO (a frame that does not decode, a
  packet type a client does not send, an event with no name) is logged as one
  line, rate-limited, instead of a traceback each; a connection whose frames do not
  decode is closed.
"""

from __future__ import annotations

import base64
import json
import logging
import time
from typing import TYPE_CHECKING, Any

import engineio
import socketio
from aiohttp import web
from aiohttp.web import Application, WebSocketResponse
from engineio import async_socket
from engineio.async_drivers import aiohttp as eio_aiohttp

from handoff.sockets.guard import EventLog

__all__ = ["ConnectionRefused", "Namespace", "SocketServer", "alive_at", "drop_transports"]

log = logging.getLogger("handoff.sockets.engine")

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
            ignore_queue: bool = False,
        ) -> None:
            """``ignore_queue``: to this process's sockets only, not through Redis."""

        async def close_room(self, room: str, namespace: str | None = None) -> None: ...

        eio: Any
        """The Engine.IO server underneath."""
        manager: Any
        """The client manager (rooms; with Redis, shared between processes)."""

        async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any: ...

        async def _handle_eio_message(self, eio_sid: str, data: Any) -> None: ...

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


_PACKET_TYPES = "0123456"
_UNDECODABLE = (ValueError, IndexError, TypeError)
"""What python-socketio raises for a packet it cannot decode or dispatch."""


class _Socket(async_socket.AsyncSocket):  # type: ignore[misc]
    """An Engine.IO socket that remembers when its client last proved alive.

    ``alive_at`` (Unix seconds) is when the last message from the client arrived
    (set by :class:`SocketServer`), or, for a pong, when the ping it answers was
    sent: packets reach the client in order, so a pong proves that everything sent
    before its ping arrived.
    """

    alive_at: float

    def schedule_ping(self) -> None:
        # Called when a pong arrives (and once at connect), while last_ping still
        # holds when the ping it answers was sent.
        sent = self.last_ping
        if sent and sent > self.alive_at:
            self.alive_at = sent
        super().schedule_ping()

    async def handle_post_request(self, environ: dict[str, Any]) -> None:
        try:
            await super().handle_post_request(environ)
        except engineio.exceptions.ContentTooLongError:
            raise
        except Exception as exc:
            # Not an Engine.IO payload, or a packet type clients do not send. python-
            # engineio logs a traceback for some, and for others would close the
            # session by waiting for a poll that may never come: close it here.
            self.server.malformed.malformed("polling payload", self.sid, exc)
            await self.close(wait=False, reason=self.server.reason.TRANSPORT_ERROR)
            raise engineio.exceptions.UnknownPacketError() from None


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

    async def wait(self) -> str | bytes:
        # python-engineio's own wait(), plus a check: it decodes the frame outside of
        # any error handling, so a frame that is not an Engine.IO packet would end
        # its handler without closing the session (nor telling the namespaces the
        # socket is gone) and reach aiohttp as a traceback. Such a client is cut off
        # instead, as Engine.IO servers do on a parse error.
        msg = await self._sock.receive()
        data: object = msg.data
        if isinstance(data, str):
            if not (data and data[0] in _PACKET_TYPES) and not (
                data[:1] == "b" and _is_base64(data[1:])
            ):
                request = self.environ["aiohttp.request"]
                self.server.malformed.malformed(
                    "WebSocket frame", str(request.remote), f"{data[:32]!r}"
                )
                raise OSError("not an Engine.IO packet")
        elif not isinstance(data, bytes):
            raise OSError()
        return data


def _is_base64(text: str) -> bool:
    try:
        base64.b64decode(text, validate=True)
    except ValueError:
        return False
    return True


class _EngineServer(engineio.AsyncServer):  # type: ignore[misc]
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._async: dict[str, Any] = {**self._async, "websocket": _PlainWebSocket}
        self.malformed = EventLog(log)
        """Where traffic that is not Engine.IO or Socket.IO is logged, one line each at most."""

    async def handle_request(self, *args: Any, **kwargs: Any) -> Any:
        request = args[0] if args else None
        if isinstance(request, web.Request) and request.method == "POST":
            refusal = await self._refuse_post(request)
            if refusal is not None:
                return refusal
        return await super().handle_request(*args, **kwargs)

    async def _refuse_post(self, request: web.Request) -> web.StreamResponse | None:
        """The answer to a long-polling POST that must not be read, or None to go on."""
        sid = request.query.get("sid")
        socket = self.sockets.get(sid) if sid else None
        length = request.content_length
        if length is not None and length > self.max_http_buffer_size:
            self.malformed.malformed(
                "polling POST", str(sid), f"{length} bytes, over {self.max_http_buffer_size}"
            )
            if socket is not None and not socket.closed:
                # Engine.IO's own disconnect() waits for a poll to take the close
                # packet; the poll may never come, and the answer must not wait.
                await socket.close(wait=False, reason=self.reason.SERVER_DISCONNECT)
            self.sockets.pop(sid, None)
            return await self._plain(
                request,
                413,
                "PAYLOAD TOO LARGE",
                f"the body is over {self.max_http_buffer_size} bytes",
            )
        if socket is not None and socket.closed:
            # python-engineio raises (a traceback and a 500) for a closed session here.
            self.sockets.pop(sid, None)
            return await self._plain(request, 400, "BAD REQUEST", f"Invalid session {sid}")
        return None

    async def _plain(
        self, request: web.Request, status: int, reason: str, message: str
    ) -> web.StreamResponse:
        environ = self._async["translate_request"](request)
        response: web.StreamResponse = await self._make_response(
            {
                "status": f"{status} {reason}",
                "headers": [("Content-Type", "text/plain")],
                "response": json.dumps(message).encode(),
            },
            environ,
        )
        # The client may still be sending the body; this connection takes no more.
        response.force_close()
        return response


class SocketServer(_Server):
    """The Socket.IO server, on an Engine.IO server whose WebSockets do not compress."""

    def _engineio_server_class(self) -> type[_EngineServer]:
        return _EngineServer

    async def _handle_eio_connect(self, eio_sid: str, environ: dict[str, Any]) -> Any:
        # Called once per Engine.IO session, right after python-engineio made the
        # socket and before it reads a packet of it: the moment to make it a _Socket.
        socket = self.eio.sockets.get(eio_sid)
        if type(socket) is async_socket.AsyncSocket:
            socket.__class__ = _Socket
            socket.alive_at = time.time()
        return await super()._handle_eio_connect(eio_sid, environ)

    async def _handle_eio_message(self, eio_sid: str, data: Any) -> None:
        socket = self.eio.sockets.get(eio_sid)
        if socket is not None:
            socket.alive_at = time.time()
        try:
            await super()._handle_eio_message(eio_sid, data)
        except _UNDECODABLE as exc:
            # Not a Socket.IO packet (bad JSON, an unknown type, an event with no
            # name, or one whose name is not a string): python-engineio would log a
            # traceback for each one.
            self.eio.malformed.malformed("Socket.IO packet", eio_sid, exc)
        except Exception:
            self.eio.malformed.failed("Socket.IO packet", eio_sid)


def alive_at(namespace: Namespace, sid: str) -> float | None:
    """When the client of socket ``sid`` last proved alive (Unix seconds), if known.

    Its last Socket.IO packet, or the sending of the ping its last pong answered. Call it
    before the socket is gone (in ``on_disconnect`` it still is there).
    """
    server: Any = getattr(namespace, "server", None)
    if server is None:
        return None
    eio_sid = server.manager.eio_sid_from_sid(sid, namespace.namespace)
    socket = server.eio.sockets.get(eio_sid) if eio_sid is not None else None
    value = getattr(socket, "alive_at", None)
    return value if isinstance(value, float) else None


async def drop_transports(server: SocketServer) -> int:
    """Cut every Engine.IO connection of this process, so that its client reconnects.

    Never a Socket.IO DISCONNECT: clients take it as the server's wish and stay away
    ("io server disconnect"). A WebSocket just ends, as python-engineio ends it (its
    writer is woken with nothing to send: it closes the WebSocket, then the reader closes
    the session): every client reconnects after that ("transport close"; python-socketio's
    client says "transport error"). A long-polling session gets an Engine.IO CLOSE packet
    in answer to its pending poll, which JavaScript clients, the seed's widget on 3.1.3
    included, take as a closed transport and reconnect after (python-socketio's client,
    rarely on long-polling, does not). The namespaces hear each disconnect as usual.
    Returns how many.
    """
    eio = server.eio
    sockets = [s for s in list(eio.sockets.values()) if not (s.closed or s.closing)]
    for socket in sockets:
        if socket.upgraded:
            await socket.queue.put(None)
        else:
            await socket.close(wait=False, reason=eio.reason.TRANSPORT_CLOSE)
    return len(sockets)
