"""The :class:`~handoff.routing.notifier.Notifier` over Socket.IO rooms."""

from __future__ import annotations

from typing import Any

from handoff.protocol import events as ev
from handoff.sockets import rooms
from handoff.sockets.engine import SocketServer, drop_transports
from handoff.sockets.pubsub import RedisManager

__all__ = ["SocketNotifier"]


class SocketNotifier:
    def __init__(self, sio: SocketServer) -> None:
        self._sio = sio
        self._deaf_spells = 0

    async def widget(
        self,
        conversation_id: str,
        event: str,
        data: dict[str, Any] | None,
        *,
        rich: bool = False,
        elsewhere: bool = True,
    ) -> None:
        await self._sio.emit(
            event,
            data,
            room=rooms.widget_room(conversation_id, rich=rich),
            namespace=ev.WIDGET_NAMESPACE,
            ignore_queue=not elsewhere,
        )

    async def agent(
        self, agent_id: str, event: str, data: dict[str, Any], *, elsewhere: bool = True
    ) -> None:
        await self._sio.emit(
            event,
            data,
            room=rooms.agent_room(agent_id),
            namespace=ev.AGENT_NAMESPACE,
            ignore_queue=not elsewhere,
        )

    async def bot_agents(self, bot_id: str, event: str, data: dict[str, Any]) -> None:
        await self._sio.emit(event, data, room=rooms.bot_room(bot_id), namespace=ev.AGENT_NAMESPACE)

    async def end_widget(self, conversation_id: str) -> None:
        room = rooms.widget_room(conversation_id)
        await self._sio.emit(
            ev.DISCONNECT_SOCKET,
            {"conversation_id": conversation_id},
            room=room,
            namespace=ev.WIDGET_NAMESPACE,
        )
        # Closing the rooms (on every process, through the manager) means a
        # widget that ignores disconnect_socket hears nothing more of it.
        await self._sio.close_room(room, namespace=ev.WIDGET_NAMESPACE)
        await self._sio.close_room(
            rooms.widget_room(conversation_id, rich=True), namespace=ev.WIDGET_NAMESPACE
        )

    async def watchers(self, conversation_id: str, event: str, data: dict[str, Any]) -> None:
        await self._sio.emit(
            event, data, room=rooms.watch_room(conversation_id), namespace=ev.AGENT_NAMESPACE
        )

    async def end_watchers(self, conversation_id: str) -> None:
        await self._sio.close_room(rooms.watch_room(conversation_id), namespace=ev.AGENT_NAMESPACE)

    async def reconnect_all(self) -> int:
        return await drop_transports(self._sio)

    def missed(self) -> bool:
        manager = self._sio.manager
        if not isinstance(manager, RedisManager):
            return False  # one process: nothing comes from elsewhere
        seen, self._deaf_spells = self._deaf_spells, manager.deaf_spells
        return self._deaf_spells != seen

    @property
    def hearing(self) -> bool:
        manager = self._sio.manager
        return not isinstance(manager, RedisManager) or manager.hearing
