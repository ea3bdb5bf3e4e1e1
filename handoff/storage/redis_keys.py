"""Every Redis key the server uses, built in one place (as arq's ``constants.py`` does).

All keys start with a prefix (``handoff:`` by default; tests use a unique one each),
so one Redis can hold several deployments and a test never touches another's keys.
The layout, for ``p = "handoff:"``:

- ``p initialized``: set once the state was rebuilt from the database (see
  ``RedisRoutingState.initialize``).
- ``p agents`` (sorted set: agent id, by first appearance), ``p agent_order`` (the
  counter behind it), ``p agent:<id>`` (hash: the agent's presence),
  ``p agent_conversations:<id>`` (set: what the agent holds; their load is its size).
- ``p assigned`` (hash: conversation id → agent id).
- ``p queue:<bot>`` (list: conversation ids in queue order), ``p queue_entries:<bot>``
  (hash: id → the entry as JSON), ``p queue_priorities:<bot>`` (hash: id → rank).
- ``p deadlines:<kind>`` (sorted set: key scored by its deadline, Unix seconds).
- ``p seq:<conversation>``, ``p generation:<conversation>``, ``p generations`` (the
  counter handing out generations), ``p widget_seen:<conversation>``,
  ``p widget_lost:<conversation>``.
- ``p connections:<kind>:<key>`` (hash: process id → that process's live sockets of a
  widget conversation, an agent or a watch; the count is the sum).
- ``p processes`` (sorted set: process id, scored by its last heartbeat),
  ``p alive:<process>`` (string, expires: the heartbeat), ``p counted:<process>``
  (set: the ``connections`` keys the process counts in, so a reaper finds them).
- ``p announced:<conversation>``, ``p last_queue:<bot>``.
- ``p socketio``: not a key but the pub/sub channel of python-socketio's Redis manager.
- ``p limits:...``: the sign-in throttle's moving windows (the ``limits`` library's keys,
  each with the TTL of its window).

TTLs: a process's heartbeat ``alive`` expires (three heartbeat intervals), and the
``initialized`` mark while a rebuild runs (:data:`REBUILD_TTL_SECONDS`: a process that
died rebuilding leaves the rebuild to another). Else only the two announcement marks
(``announced``, ``last_queue``) expire, after :data:`ANNOUNCEMENT_TTL_SECONDS`: they
only prevent telling somebody the same thing twice, so a mark that outlived its queue
(a process died before closing) costs at most one repeated notice. Nothing else has a
TTL, on purpose: each of the other keys is ended by the step that ends its use
(``forget`` when a conversation closes, ``release``, ``clear_deadline``, ``pop_due``,
``dequeue``, a connection count reaching zero, the reaping of a dead process), and an
expiry while its conversation is still open would break it (a lost sequence counter
refuses every message; a lost deadline never fires; a lost connection count closes a
chat whose widget is still there).
"""

from __future__ import annotations

__all__ = [
    "ANNOUNCEMENT_TTL_SECONDS",
    "DEFAULT_PREFIX",
    "REBUILD_TTL_SECONDS",
    "RedisKeys",
]

DEFAULT_PREFIX = "handoff:"

ANNOUNCEMENT_TTL_SECONDS = 24 * 3600
"""How long a "told already" mark is kept without being told again."""

REBUILD_TTL_SECONDS = 120
"""How long one process may take to rebuild the state before another may start over."""


class RedisKeys:
    """The key names under one prefix."""

    def __init__(self, prefix: str = DEFAULT_PREFIX) -> None:
        self.prefix = prefix
        self.initialized = f"{prefix}initialized"
        self.agents = f"{prefix}agents"
        self.agent_order = f"{prefix}agent_order"
        self.assigned = f"{prefix}assigned"
        self.generations = f"{prefix}generations"
        self.processes = f"{prefix}processes"
        self.socketio_channel = f"{prefix}socketio"
        """The Socket.IO Redis manager's pub/sub channel (a channel, not a key)."""
        self.limits = f"{prefix}limits"
        """Starts the sign-in throttle's keys, which the ``limits`` library names itself
        (``<prefix>limits:LIMITS:...``), each expiring with its moving window."""
        # A script that learns an agent id from what it reads builds that agent's key
        # itself from a prefix given here: ``release`` from this one, ``agent_reach``
        # from ``connections_prefix_of("agent")``; the only keys not built here.
        self.agent_conversations_prefix = f"{prefix}agent_conversations:"
        # ``REAP`` learns the connection keys a dead process counted from its index
        # (``counted``), which holds the names built by :meth:`connections`.
        self.connections_prefix = f"{prefix}connections:"

    def agent(self, agent_id: str) -> str:
        return f"{self.prefix}agent:{agent_id}"

    def agent_conversations(self, agent_id: str) -> str:
        return f"{self.agent_conversations_prefix}{agent_id}"

    def queue(self, bot_id: str) -> str:
        return f"{self.prefix}queue:{bot_id}"

    def queue_entries(self, bot_id: str) -> str:
        return f"{self.prefix}queue_entries:{bot_id}"

    def queue_priorities(self, bot_id: str) -> str:
        return f"{self.prefix}queue_priorities:{bot_id}"

    def deadlines(self, kind: str) -> str:
        return f"{self.prefix}deadlines:{kind}"

    def seq(self, conversation_id: str) -> str:
        return f"{self.prefix}seq:{conversation_id}"

    def generation(self, conversation_id: str) -> str:
        return f"{self.prefix}generation:{conversation_id}"

    def widget_seen(self, conversation_id: str) -> str:
        return f"{self.prefix}widget_seen:{conversation_id}"

    def widget_lost(self, conversation_id: str) -> str:
        return f"{self.prefix}widget_lost:{conversation_id}"

    def connections(self, kind: str, key: str) -> str:
        return f"{self.connections_prefix_of(kind)}{key}"

    def connections_prefix_of(self, kind: str) -> str:
        """What the name of every ``kind`` connection count starts with."""
        return f"{self.connections_prefix}{kind}:"

    def connection_of(self, name: str) -> tuple[str, str]:
        """The ``(kind, key)`` a name made by :meth:`connections` counts."""
        kind, _, key = name.removeprefix(self.connections_prefix).partition(":")
        return kind, key

    def alive(self, process_id: str) -> str:
        return f"{self.prefix}alive:{process_id}"

    def counted(self, process_id: str) -> str:
        return f"{self.prefix}counted:{process_id}"

    def announced(self, conversation_id: str) -> str:
        return f"{self.prefix}announced:{conversation_id}"

    def last_queue(self, bot_id: str) -> str:
        return f"{self.prefix}last_queue:{bot_id}"
