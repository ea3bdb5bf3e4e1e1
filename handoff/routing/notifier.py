"""How routing reaches sockets without importing them."""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["Notifier"]


class Notifier(Protocol):
    async def widget(
        self,
        conversation_id: str,
        event: str,
        data: dict[str, Any] | None,
        *,
        rich: bool = False,
        elsewhere: bool = True,
    ) -> None:
        """Emit to every widget socket bound to the conversation (``rich``: only opted-in ones).

        ``elsewhere=False``: the routing state counts none on other processes, so the
        emit stays in this one (no round trip through Redis for every process to read).
        """

    async def agent(
        self, agent_id: str, event: str, data: dict[str, Any], *, elsewhere: bool = True
    ) -> None:
        """Emit to every socket of one agent (``elsewhere``: as for :meth:`widget`)."""

    async def bot_agents(self, bot_id: str, event: str, data: dict[str, Any]) -> None:
        """Emit to every connected agent who serves the bot."""

    async def end_widget(self, conversation_id: str) -> None:
        """Send ``disconnect_socket`` and unbind every widget socket of the conversation."""

    async def watchers(self, conversation_id: str, event: str, data: dict[str, Any]) -> None:
        """Emit to every agent socket watching the conversation (read-only)."""

    async def end_watchers(self, conversation_id: str) -> None:
        """The handoff ended: nobody watches the conversation any more."""

    async def reconnect_all(self) -> int:
        """Close every socket of this process so that its client reconnects; how many."""

    def missed(self) -> bool:
        """Whether emits of other processes may have failed to reach this process's
        sockets since the last call (it could not hear them for a while, and hears again)."""

    @property
    def hearing(self) -> bool:
        """Whether this process hears other processes' emits now."""
