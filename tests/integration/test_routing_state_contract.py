"""One contract for every RoutingState: the in-process default and the Redis one.

Each test runs against ``memory``, ``redis`` (a client decoding replies) and
``redis-bytes`` (one that does not), on the real Redis at 127.0.0.1:6379 under a
prefix of its own, removed afterwards (never a FLUSHDB of the shared database).
Without a Redis the Redis cases skip, unless CI=true, where they fail.

``views(n)`` stands for ``n`` server processes: for Redis, ``n`` states on their
own clients sharing one prefix; for memory, one state seen ``n`` times (all one
process can do). The concurrency tests run many steps at once through them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from redis.asyncio import Redis

from handoff.errors import StateUnavailable
from handoff.protocol.common import HandoffPacket
from handoff.routing.memory_state import MemoryState
from handoff.routing.model import AgentStatus, Presence, QueueEntry
from handoff.routing.redis_state import RedisRoutingState
from handoff.routing.shared_state import WATCHES, Beat, RoutingState
from handoff.storage.redis_keys import ANNOUNCEMENT_TTL_SECONDS
from tests.conftest import REDIS_URL, drop_prefix, redis_or_skip, unique_prefix

Views = Callable[[int], Awaitable[list[RoutingState]]]


@pytest.fixture(params=["memory", "redis", "redis-bytes"])
async def views(request: pytest.FixtureRequest) -> AsyncIterator[Views]:
    if request.param == "memory":
        memory = MemoryState()

        async def same(n: int) -> list[RoutingState]:
            return [memory] * n

        yield same
        return
    decode = request.param == "redis"
    prefix = unique_prefix()
    admin = await redis_or_skip(decode=decode)
    made: list[RedisRoutingState] = []

    async def processes(n: int) -> list[RoutingState]:
        new = [
            RedisRoutingState(
                Redis.from_url(REDIS_URL, decode_responses=decode), prefix=prefix, owns_client=True
            )
            for _ in range(n)
        ]
        made.extend(new)
        return list(new)

    try:
        yield processes
    finally:
        for state in made:
            await state.close()
        await drop_prefix(admin, prefix)
        await admin.aclose()


@pytest.fixture
async def state(views: Views) -> RoutingState:
    """One process's state, found empty and rebuilt (as a starting server does)."""
    state = (await views(1))[0]
    await started(state)
    return state


async def started(state: RoutingState) -> None:
    """Rebuilt, as by the first process to start (a missing state refuses messages)."""
    if await state.initialize():
        await state.rebuilt()


def agent(aid: str, *, capacity: int = 1, bots: tuple[str, ...] = ("b1",)) -> Presence:
    return Presence(aid, aid.upper(), AgentStatus.ONLINE, capacity, bots)


def entry(cid: str, bot: str = "b1", priority: int = 1) -> QueueEntry:
    return QueueEntry(cid, bot, 0.0, priority=priority)


async def ids(state: RoutingState, bot: str = "b1") -> list[str]:
    return [e.conversation_id for e in await state.queue(bot)]


async def next_seq(state: RoutingState, cid: str, generation: int | None = None) -> int | None:
    """The sequence number alone (``next_seq`` also tells the watch count)."""
    numbered = await state.next_seq(cid, generation=generation)
    return None if numbered is None else numbered.seq


# initialize ------------------------------------------------------------------
async def test_only_the_first_initialize_finds_the_state_empty(views: Views) -> None:
    first, second = await views(2)
    assert await first.initialize()
    assert not await first.initialize()
    assert not await second.initialize()  # another process: it must not rebuild again


# presence --------------------------------------------------------------------
async def test_an_agent_round_trips_and_is_a_copy(state: RoutingState) -> None:
    assert await state.get_agent("a1") is None
    stored = Presence(
        "a1", "Ann Ö", AgentStatus.AWAY, 3, ("b1", "b2"), {"b1": ["sales", "vip"]}, False, 12.5
    )
    returned = await state.put_agent(stored)
    assert returned == stored and returned is not stored
    got = await state.get_agent("a1")
    assert got == stored
    assert got is not None
    got.status = AgentStatus.ONLINE  # the caller's copy, not the state
    again = await state.get_agent("a1")
    assert again is not None and again.status is AgentStatus.AWAY


async def test_put_agent_keeps_the_load_and_the_last_assignment_time(state: RoutingState) -> None:
    await state.put_agent(agent("a1", capacity=2))
    await state.enqueue(entry("c1"))
    assert await state.claim("b1", "c1", "a1")
    claimed = await state.get_agent("a1")
    assert claimed is not None and claimed.load == 1 and claimed.last_assigned_at > 0
    # A fresh record (as on reconnect) says load 0 and never assigned: the state knows better.
    fresh = agent("a1", capacity=5)
    returned = await state.put_agent(fresh)
    assert returned.load == 1 and returned.capacity == 5
    assert returned.last_assigned_at == claimed.last_assigned_at
    assert fresh.load == 1  # as the memory state does, the caller's record is updated too


async def test_update_agent_changes_only_the_fields_given(state: RoutingState) -> None:
    assert await state.update_agent("a1", status=AgentStatus.AWAY) is None  # unknown, no fresh
    assert await state.get_agent("a1") is None
    assert await state.agents_for_bot("b1") == []
    await state.assign_recovered("c1", "a1")
    fresh = Presence("a1", "Ann", AgentStatus.OFFLINE, 2, ("b1",), {"b1": ["t"]}, False, 4.5)
    started = await state.update_agent("a1", fresh=fresh, connected=True)
    assert started == Presence(
        "a1", "Ann", AgentStatus.OFFLINE, 2, ("b1",), {"b1": ["t"]}, True, 4.5, load=1
    )
    assert fresh.connected is False  # the caller's record is left alone
    # Known now: fresh is ignored, only what is given changes; load and time are kept.
    changed = await state.update_agent(
        "a1", fresh=agent("a1", capacity=9), status=AgentStatus.ONLINE, capacity=3
    )
    assert changed == Presence(
        "a1", "Ann", AgentStatus.ONLINE, 3, ("b1",), {"b1": ["t"]}, True, 4.5, load=1
    )
    renamed = await state.update_agent("a1", name="Anna", bots=("b2",), teams={}, connected=False)
    assert renamed is not None
    assert (renamed.name, renamed.bots, renamed.teams, renamed.connected) == (
        "Anna",
        ("b2",),
        {},
        False,
    )
    assert await state.get_agent("a1") == renamed
    assert [a.agent_id for a in await state.agents_for_bot("b2")] == ["a1"]
    with pytest.raises(ValueError, match="a2"):
        await state.update_agent("a1", fresh=agent("a2"))


async def test_agents_for_a_bot_in_the_order_they_first_appeared(state: RoutingState) -> None:
    await state.put_agent(agent("a2", bots=("b1", "b2")))
    await state.put_agent(agent("a1", bots=("b2",)))
    await state.put_agent(agent("a3", bots=("b1",)))
    await state.put_agent(agent("a2", bots=("b2",)))  # changed bots, same place
    assert [a.agent_id for a in await state.agents_for_bot("b1")] == ["a3"]
    assert [a.agent_id for a in await state.agents_for_bot("b2")] == ["a2", "a1"]
    assert await state.agents_for_bot("nobody's") == []


async def test_connection_counts_never_go_below_zero(state: RoutingState) -> None:
    assert await state.touch_connection("widget", "c1", 0) == 0
    assert await state.touch_connection("widget", "c1", +1) == 1
    assert await state.touch_connection("widget", "c1", +1) == 2
    assert await state.touch_connection("agent", "c1", 0) == 0  # per kind
    assert await state.touch_connection("widget", "c1", -1) == 1
    assert await state.touch_connection("widget", "c1", -5) == 0
    assert await state.touch_connection("widget", "c1", 0) == 0
    assert await state.touch_connection("widget", "c1", +1) == 1


# queue -------------------------------------------------------------------------
async def test_enqueue_at_head_and_positions(state: RoutingState) -> None:
    assert await state.enqueue(entry("c1")) == 1
    assert await state.enqueue(entry("c2")) == 2
    assert await state.enqueue(entry("c3"), at_head=True) == 1
    assert await state.enqueue(entry("c2")) == 3  # already queued: unchanged
    assert await state.enqueue(entry("c2"), at_head=True) == 3
    assert await ids(state) == ["c3", "c1", "c2"]
    assert await state.position("b1", "c2") == 3
    assert await state.position("b1", "nope") is None
    assert await state.position("b2", "c2") is None  # per bot


async def test_higher_priority_goes_ahead_first_come_first_served_within_one(
    state: RoutingState,
) -> None:
    assert await state.enqueue(entry("n1", priority=1)) == 1
    assert await state.enqueue(entry("n2", priority=1)) == 2
    assert await state.enqueue(entry("u1", priority=3)) == 1
    assert await state.enqueue(entry("low", priority=0)) == 4
    assert await state.enqueue(entry("h1", priority=2)) == 2
    assert await state.enqueue(entry("u2", priority=3)) == 2
    assert await state.enqueue(entry("n0", priority=1), at_head=True) == 4
    assert await state.enqueue(entry("z", priority=0), at_head=True) == 7
    assert await ids(state) == ["u1", "u2", "h1", "n0", "n1", "n2", "z", "low"]


async def test_dequeue_takes_one_conversation_out_of_its_bots_queue(state: RoutingState) -> None:
    for cid in ("c1", "c2", "c3"):
        await state.enqueue(entry(cid))
    await state.enqueue(entry("c1", bot="b2"))  # the same id in another bot's queue
    assert await state.dequeue("b1", "c2")
    assert not await state.dequeue("b1", "c2")
    assert not await state.dequeue("b3", "c1")
    assert await ids(state) == ["c1", "c3"]
    assert await state.position("b1", "c3") == 2
    assert await ids(state, "b2") == ["c1"]
    assert await state.enqueue(entry("c2")) == 3  # queued again: at the back


async def test_a_queue_entry_round_trips_whole(state: RoutingState) -> None:
    packet = HandoffPacket(
        user={"name": "Zoë", "id": 7, "tags": ["a", "b"]},
        reason="billing",
        entities={"order": {"id": "A-1", "total": 12.75}},
        team="sales",
        agent_id="a1",
        priority="urgent",
        transcript=3,
        error={"kind": "timeout"},
    )
    original = QueueEntry(
        "c1", "b1", 1_764_640_000.123456, "sales", {"name": "Zoë", "id": 7}, "billing", 3, packet
    )
    await state.enqueue(original)
    assert await state.queue("b1") == [original]
    await state.put_agent(agent("a1"))
    taken = await state.claim("b1", "c1", "a1")
    assert taken == original and taken.target_agent == "a1"


# assignment --------------------------------------------------------------------
async def test_claim_is_exclusive_and_respects_capacity(state: RoutingState) -> None:
    await state.put_agent(agent("a1"))
    await state.put_agent(agent("a2"))
    await state.enqueue(entry("c1"))
    await state.enqueue(entry("c2"))
    assert await state.claim("b1", "c1", "a1") == entry("c1")
    assert await state.claim("b1", "c1", "a2") is None  # already taken
    assert await state.claim("b1", "c2", "a1") is None  # a1 is full
    assert await state.claim("b1", "c2", "a2") is not None
    assert await state.queue("b1") == []
    assert await state.assigned_agent("c1") == "a1"
    assert await state.agent_conversations("a2") == ["c2"]
    assert await state.release("c1") == "a1"
    freed = await state.get_agent("a1")
    assert freed is not None and freed.load == 0


async def test_claim_refuses_agents_who_cannot_take_it(state: RoutingState) -> None:
    await state.enqueue(entry("c1"))
    away = agent("away")
    away.status = AgentStatus.AWAY
    gone = agent("gone")
    gone.connected = False
    for presence in (away, gone, agent("other", bots=("b2",)), agent("full", capacity=0)):
        await state.put_agent(presence)
        assert await state.claim("b1", "c1", presence.agent_id) is None
    assert await state.claim("b1", "c1", "unknown") is None
    await state.put_agent(agent("a1"))
    assert await state.claim("b2", "c1", "a1") is None  # not in that bot's queue
    assert await state.claim("b1", "missing", "a1") is None
    assert await ids(state) == ["c1"]  # nothing was taken off the queue
    agents = await state.agents_for_bot("b1")
    assert all(a.load == 0 for a in agents)


async def test_a_conversation_already_assigned_is_not_claimed_again(state: RoutingState) -> None:
    await state.put_agent(agent("a1"))
    await state.assign_recovered("c1", "a9")
    await state.enqueue(entry("c1"))
    assert await state.claim("b1", "c1", "a1") is None
    assert await ids(state) == ["c1"]


async def test_move_hands_a_conversation_to_an_available_agent(state: RoutingState) -> None:
    for aid in ("a1", "a2", "a3"):
        await state.put_agent(agent(aid))
    for cid in ("c1", "c3"):
        await state.enqueue(entry(cid))
    assert await state.claim("b1", "c1", "a1")
    assert await state.claim("b1", "c3", "a3")
    assert not await state.move("c1", "a2", "a3", "b1")  # a2 does not hold it
    assert not await state.move("c1", "a1", "a1", "b1")  # to themselves
    assert not await state.move("c1", "a1", "a3", "b1")  # a3 is full
    assert not await state.move("c1", "a1", "nobody", "b1")
    assert not await state.move("nothing", "a1", "a2", "b1")
    before = await state.get_agent("a2")
    assert before is not None and before.last_assigned_at == 0.0
    assert await state.move("c1", "a1", "a2", "b1")
    assert await state.assigned_agent("c1") == "a2"
    assert await state.agent_conversations("a1") == []
    assert await state.agent_conversations("a2") == ["c1"]
    a1, a2 = await state.get_agent("a1"), await state.get_agent("a2")
    assert a1 is not None and a1.load == 0
    assert a2 is not None and a2.load == 1 and a2.last_assigned_at > 0
    assert not await state.move("c1", "a2", "a1", "b2")  # a1 does not serve b2


async def test_a_supervisor_steps_in_past_status_and_capacity(state: RoutingState) -> None:
    """``step_in``: connected and serving the bot is enough; away and full do not stop it."""
    await state.put_agent(agent("a1"))
    sup = agent("sup")
    sup.status = AgentStatus.AWAY
    await state.put_agent(sup)
    for cid in ("c1", "c2", "c3"):
        await state.enqueue(entry(cid))
    assert await state.claim("b1", "c1", "a1")
    assert await state.claim("b1", "c2", "sup") is None  # away: not without step_in
    assert await state.claim("b1", "c2", "sup", step_in=True) == entry("c2")
    assert not await state.move("c1", "a1", "sup", "b1")  # full now
    assert await state.move("c1", "a1", "sup", "b1", step_in=True)
    assert await state.agent_conversations("sup") == ["c1", "c2"]
    taken = await state.get_agent("sup")
    assert taken is not None and taken.load == 2
    assert not await state.move("c1", "sup", "a1", "b2", step_in=True)  # a1 serves b1 only
    await state.update_agent("sup", connected=False)
    assert await state.claim("b1", "c3", "sup", step_in=True) is None  # not connected
    assert await state.claim("b1", "c3", "nobody", step_in=True) is None


async def test_release_ends_an_assignment_once(state: RoutingState) -> None:
    assert await state.release("c1") is None
    await state.put_agent(agent("a1"))
    await state.enqueue(entry("c1"))
    await state.claim("b1", "c1", "a1")
    assert await state.release("c1") == "a1"
    assert await state.release("c1") is None
    assert await state.assigned_agent("c1") is None
    assert await state.agent_conversations("a1") == []


async def test_recovered_assignments_count_towards_the_load(state: RoutingState) -> None:
    await state.assign_recovered("c2", "a1")
    await state.assign_recovered("c1", "a1")
    assert await state.assigned_agent("c1") == "a1"
    assert await state.agent_conversations("a1") == ["c1", "c2"]  # sorted
    returned = await state.put_agent(agent("a1", capacity=2))
    assert returned.load == 2
    await state.enqueue(entry("c3"))
    assert await state.claim("b1", "c3", "a1") is None  # full with what was recovered
    assert await state.release("c1") == "a1"
    assert await state.claim("b1", "c3", "a1") is not None


async def test_an_agent_present_before_recovery_gets_its_load(state: RoutingState) -> None:
    await state.put_agent(agent("a1", capacity=2))
    await state.assign_recovered("c1", "a1")
    got = await state.get_agent("a1")
    assert got is not None and got.load == 1


# deadlines ---------------------------------------------------------------------
async def test_deadlines_pop_once_and_can_be_cleared_or_moved(state: RoutingState) -> None:
    await state.set_deadline("widget", "c1", 10.0)
    await state.set_deadline("widget", "c2", 10.0)
    await state.set_deadline("widget", "c3", 10.0)
    assert await state.clear_deadline("widget", "c2")
    assert not await state.clear_deadline("widget", "c2")
    assert not await state.clear_deadline("agent", "c1")  # per kind
    await state.set_deadline("widget", "c3", 50.0)
    assert await state.pop_due("widget", 5.0) == []
    assert await state.pop_due("widget", 20.0) == ["c1"]
    assert await state.pop_due("widget", 20.0) == []
    assert await state.pop_due("agent", 100.0) == []
    assert await state.pop_due("widget", 60.0) == ["c3"]


async def test_due_deadlines_come_earliest_first_and_exactly(state: RoutingState) -> None:
    at = 1_764_640_000.123456
    await state.set_deadline("wait", "late", at + 1e-6)
    await state.set_deadline("wait", "b", at)
    await state.set_deadline("wait", "a", at)
    await state.set_deadline("wait", "early", at - 30)
    await state.set_deadline("wait", "moved", at - 60)
    await state.set_deadline("wait", "moved", at + 60)  # moved later
    assert await state.pop_due("wait", at - 1e-6) == ["early"]
    assert await state.pop_due("wait", at) == ["a", "b"]  # the boundary is due
    assert await state.pop_due("wait", at + 59) == ["late"]
    assert await state.pop_due("wait", at + 60) == ["moved"]


async def test_a_deadline_set_again_may_keep_a_newer_one(state: RoutingState) -> None:
    await state.set_deadline("wait", "c1", 10.0)
    assert await state.pop_due("wait", 10.0) == ["c1"]
    await state.set_deadline("wait", "c1", 20.0)  # set anew meanwhile
    await state.set_deadline("wait", "c1", 10.0, keep_newer=True)
    assert await state.pop_due("wait", 15.0) == []
    assert await state.pop_due("wait", 20.0) == ["c1"]
    await state.set_deadline("wait", "c1", 10.0, keep_newer=True)  # none set: it is set
    assert await state.pop_due("wait", 10.0) == ["c1"]


# sequence numbers ----------------------------------------------------------------
async def test_sequence_numbers_only_for_open_conversations(state: RoutingState) -> None:
    assert await next_seq(state, "c1") is None
    await state.seed_seq("c1", 0)
    assert await next_seq(state, "c1") == 1
    await state.seed_seq("c1", 10)
    assert await next_seq(state, "c1") == 11
    await state.seed_seq("c1", 3)  # never goes back
    assert await next_seq(state, "c1") == 12
    await state.forget("c1")
    assert await next_seq(state, "c1") is None


async def test_a_number_for_the_assigned_agent_only(state: RoutingState) -> None:
    await state.seed_seq("c1", 0)
    assert await state.next_seq("c1", assigned_to="a1") is None  # nobody's yet
    await state.assign_recovered("c1", "a1")
    assert await state.next_seq("c1", assigned_to="a2") is None  # another agent's
    numbered = await state.next_seq("c1", assigned_to="a1")
    assert numbered is not None and numbered.seq == 1  # the refusals used no number
    generation = await state.generation("c1")
    assert generation is not None
    assert await state.next_seq("c1", generation=generation + 1, assigned_to="a1") is None
    assert await next_seq(state, "c1") == 2  # without the condition, whoever it is
    assert await state.release("c1") == "a1"
    assert await state.next_seq("c1", assigned_to="a1") is None  # released
    await state.forget("c1")
    assert await state.next_seq("c1", assigned_to="a1") is None  # closed


async def test_each_handoff_of_a_conversation_has_its_own_generation(
    state: RoutingState,
) -> None:
    assert await state.generation("c1") is None
    assert await next_seq(state, "c1", generation=1) is None
    await state.seed_seq("c1", 0)
    first = await state.generation("c1")
    assert first is not None
    await state.seed_seq("c1", 5)  # the same handoff, counter moved on
    assert await state.generation("c1") == first
    assert await next_seq(state, "c1", generation=first) == 6
    assert await next_seq(state, "c1", generation=first + 1000) is None
    await state.forget("c1")  # closed
    assert await state.generation("c1") is None
    await state.seed_seq("c1", 6)  # reopened: a new handoff
    second = await state.generation("c1")
    assert second is not None and second != first
    assert await next_seq(state, "c1", generation=first) is None  # the old one is over
    assert await next_seq(state, "c1", generation=second) == 7
    assert await next_seq(state, "c1") == 8
    await state.seed_seq("c2", 0)
    assert await state.generation("c2") not in (first, second)


async def test_what_the_widget_saw_only_moves_forward(state: RoutingState) -> None:
    assert await state.widget_seen("c1") == 0
    await state.mark_widget_seen("c1", 5)
    await state.mark_widget_seen("c1", 3)
    assert await state.widget_seen("c1") == 5
    await state.mark_widget_seen("c1", 9)
    assert await state.widget_seen("c1") == 9
    assert await state.widget_seen("c2") == 0
    await state.forget("c1")
    assert await state.widget_seen("c1") == 0


async def test_the_earliest_widget_loss_is_kept_until_taken(state: RoutingState) -> None:
    assert await state.take_widget_lost("c1") is None
    await state.mark_widget_lost("c1", 1_764_640_020.654321)
    await state.mark_widget_lost("c1", 1_764_640_010.123456)
    await state.mark_widget_lost("c1", 1_764_640_030.0)
    assert await state.take_widget_lost("c1") == 1_764_640_010.123456
    assert await state.take_widget_lost("c1") is None
    await state.mark_widget_lost("c1", 40.0)
    await state.forget("c1")
    assert await state.take_widget_lost("c1") is None


async def test_forget_drops_the_conversations_marks_and_nothing_else(state: RoutingState) -> None:
    await state.seed_seq("c1", 4)
    await state.seed_seq("c2", 4)
    await state.mark_widget_seen("c1", 4)
    await state.touch_connection("widget", "c1", +2)
    await state.touch_connection("agent", "c1", +1)
    await state.announce_position("c1", 3)
    await state.forget("c1")
    assert await state.touch_connection("widget", "c1", 0) == 0
    assert await state.touch_connection("agent", "c1", 0) == 1  # an agent's, not this chat's
    assert await state.announce_position("c1", 3)
    assert await next_seq(state, "c2") == 5


# announcements -------------------------------------------------------------------
async def test_a_position_is_announced_once_until_it_changes_or_is_forgotten(
    state: RoutingState,
) -> None:
    assert await state.announce_position("c1", 2)
    assert not await state.announce_position("c1", 2)
    assert await state.announce_position("c1", 1)
    await state.forget_position("c1")
    assert await state.announce_position("c1", 1)
    await state.forget("c1")  # closing forgets it too
    assert await state.announce_position("c1", 1)


async def test_agents_are_told_a_queue_only_when_it_changed(state: RoutingState) -> None:
    assert await state.queue_changed("b1", ("c1", "c2"))
    assert not await state.queue_changed("b1", ("c1", "c2"))
    assert await state.queue_changed("b2", ("c1", "c2"))  # per bot
    assert await state.queue_changed("b1", ("c2",))
    assert await state.queue_changed("b1", ())
    assert not await state.queue_changed("b1", ())
    assert await state.queue_changed("b1", ("c1,c2",))  # not confused with ("c1", "c2")


# awkward ids -----------------------------------------------------------------------
async def test_ids_with_separators_and_any_text_never_collide(state: RoutingState) -> None:
    odd = ["c:1", "c", "c:1:", "", "ü ✓ \"quote\" 'q' \\ ]]--", "*?[x]", "%s {}"]
    for i, cid in enumerate(odd):
        await state.seed_seq(cid, i * 10)
        await state.enqueue(entry(cid, bot="b:1"))
        await state.set_deadline("wait", cid, float(i))
    assert await ids(state, "b:1") == odd
    assert await ids(state, "b") == []
    for i, cid in enumerate(odd):
        assert await next_seq(state, cid) == i * 10 + 1
    assert await state.pop_due("wait", 100.0) == odd  # by time: 0, 1, 2, ...
    await state.put_agent(agent("a:1", capacity=len(odd), bots=("b:1",)))
    for cid in odd:
        assert await state.claim("b:1", cid, "a:1") is not None
    assert await state.agent_conversations("a:1") == sorted(odd)
    assert await state.agent_conversations("a") == []


# under concurrency ------------------------------------------------------------------
async def test_one_conversation_claimed_by_fifty_agents_at_once_goes_to_one(
    views: Views,
) -> None:
    processes = await views(5)
    await processes[0].enqueue(entry("c1"))
    agents = [f"a{i}" for i in range(50)]
    for aid in agents:
        await processes[0].put_agent(agent(aid))
    won = await asyncio.gather(
        *(processes[i % 5].claim("b1", "c1", aid) for i, aid in enumerate(agents))
    )
    winners = [aid for aid, taken in zip(agents, won, strict=True) if taken is not None]
    assert len(winners) == 1
    assert await processes[1].assigned_agent("c1") == winners[0]
    loads = [a.load for a in await processes[2].agents_for_bot("b1")]
    assert sorted(loads) == [0] * 49 + [1]


async def test_one_agent_claiming_many_at_once_never_exceeds_capacity(views: Views) -> None:
    processes = await views(4)
    await processes[0].put_agent(agent("a1", capacity=3))
    for i in range(20):
        await processes[0].enqueue(entry(f"c{i}"))
    won = await asyncio.gather(*(processes[i % 4].claim("b1", f"c{i}", "a1") for i in range(20)))
    taken = sorted(e.conversation_id for e in won if e is not None)
    assert len(taken) == 3
    assert await processes[1].agent_conversations("a1") == taken
    assert len(await processes[2].queue("b1")) == 17
    got = await processes[3].get_agent("a1")
    assert got is not None and got.load == 3


async def test_concurrent_enqueues_keep_priority_and_each_producers_order(views: Views) -> None:
    processes = await views(3)

    async def produce(n: int) -> None:
        # One producer's conversations arrive one after another, in this order.
        for i in range(8):
            await processes[n].enqueue(entry(f"p{n}-{i}", priority=i % 3))

    same = entry("twice", priority=1)
    await asyncio.gather(*(produce(n) for n in range(3)), *(p.enqueue(same) for p in processes * 4))
    queue = await processes[0].queue("b1")
    order = [e.conversation_id for e in queue]
    assert len(order) == len(set(order)) == 3 * 8 + 1  # "twice" queued once
    priorities = [e.priority for e in queue]
    assert priorities == sorted(priorities, reverse=True)
    for n in range(3):
        for rank in range(3):
            mine = [c for c, e in zip(order, queue, strict=True) if c.startswith(f"p{n}-")]
            ranked = [c for c in mine if int(c.split("-")[1]) % 3 == rank]
            assert ranked == sorted(ranked, key=lambda c: int(c.split("-")[1]))
    positions = [await processes[1].position("b1", cid) for cid in order]
    assert positions == list(range(1, len(order) + 1))


async def test_each_due_deadline_fires_once_among_many_sweepers(views: Views) -> None:
    processes = await views(4)
    keys = [f"c{i}" for i in range(60)]
    for i, key in enumerate(keys):
        await processes[0].set_deadline("widget", key, float(i % 7))
    popped = await asyncio.gather(*(p.pop_due("widget", 10.0) for p in processes * 3))
    fired = [key for batch in popped for key in batch]
    assert sorted(fired) == sorted(keys)


async def test_concurrent_sequence_numbers_are_distinct_and_dense(views: Views) -> None:
    processes = await views(4)
    await started(processes[0])
    await asyncio.gather(*(p.seed_seq("c1", 0) for p in processes))  # one handoff, not four
    generation = await processes[0].generation("c1")
    assert generation is not None
    numbers = await asyncio.gather(
        *(next_seq(processes[i % 4], "c1", generation=generation) for i in range(100))
    )
    assert sorted(n for n in numbers if n is not None) == list(range(1, 101))


async def test_concurrent_connection_counts_add_up(views: Views) -> None:
    processes = await views(4)
    await asyncio.gather(*(processes[i % 4].touch_connection("agent", "a1", +1) for i in range(40)))
    assert await processes[0].touch_connection("agent", "a1", 0) == 40
    await asyncio.gather(*(processes[i % 4].touch_connection("agent", "a1", -1) for i in range(45)))
    assert await processes[1].touch_connection("agent", "a1", 0) == 0


async def test_a_position_announced_by_many_processes_at_once_is_told_once(
    views: Views,
) -> None:
    processes = await views(4)
    told = await asyncio.gather(*(p.announce_position("c1", 2) for p in processes * 5))
    changed = await asyncio.gather(*(p.queue_changed("b1", ("c1",)) for p in processes * 5))
    assert told.count(True) == 1
    assert changed.count(True) == 1


async def test_concurrent_presence_updates_are_never_lost(views: Views) -> None:
    processes = await views(4)
    fresh = agent("a1", capacity=1)
    fresh.status = AgentStatus.OFFLINE
    # As an agent's socket connecting and their first set_status would, at once.
    await asyncio.gather(
        *(p.update_agent("a1", fresh=fresh, connected=True) for p in processes),
        *(p.update_agent("a1", fresh=fresh, status=AgentStatus.ONLINE) for p in processes),
        *(p.update_agent("a1", fresh=fresh, capacity=4) for p in processes),
        *(p.update_agent("a1", fresh=fresh, name="Ann") for p in processes),
    )
    got = await processes[0].get_agent("a1")
    assert got is not None
    assert (got.connected, got.status, got.capacity, got.name) == (
        True,
        AgentStatus.ONLINE,
        4,
        "Ann",
    )
    assert [a.agent_id for a in await processes[1].agents_for_bot("b1")] == ["a1"]


async def test_concurrent_moves_and_releases_leave_one_owner(views: Views) -> None:
    processes = await views(4)
    for aid in ("a0", "a1", "a2", "a3"):
        await processes[0].put_agent(agent(aid))
    await processes[0].enqueue(entry("c1"))
    assert await processes[0].claim("b1", "c1", "a0")
    moved = await asyncio.gather(
        *(processes[i].move("c1", "a0", f"a{i}", "b1") for i in range(1, 4))
    )
    assert moved.count(True) == 1
    owner = await processes[0].assigned_agent("c1")
    released = await asyncio.gather(*(p.release("c1") for p in processes))
    assert [r for r in released if r is not None] == [owner]
    loads = [a.load for a in await processes[1].agents_for_bot("b1")]
    assert loads == [0, 0, 0, 0]


# Redis only: what is stored, and for how long -----------------------------------------
async def test_only_announcement_marks_expire_and_a_closed_chat_leaves_nothing() -> None:
    client = await redis_or_skip(decode=True)
    prefix = unique_prefix()
    state = RedisRoutingState(client, prefix=prefix)
    try:
        await started(state)
        # A conversation's whole life, as the routing code runs it.
        await state.seed_seq("c1", 0)
        await state.touch_connection("widget", "c1", +1)
        await state.enqueue(entry("c1"))
        await state.set_deadline("wait", "c1", 10.0)
        await state.announce_position("c1", 1)
        await state.queue_changed("b1", ("c1",))
        await state.put_agent(agent("a1"))
        await state.claim("b1", "c1", "a1")
        await state.clear_deadline("wait", "c1")
        await state.next_seq("c1")
        await state.mark_widget_seen("c1", 1)
        await state.mark_widget_lost("c1", 5.0)
        keys = {key: await client.ttl(key) async for key in client.scan_iter(f"{prefix}*")}
        expiring = {k.removeprefix(prefix) for k, ttl in keys.items() if ttl >= 0}
        assert expiring == {"announced:c1", "last_queue:b1"}
        assert all(0 < keys[prefix + k] <= ANNOUNCEMENT_TTL_SECONDS for k in expiring)
        # Closing: what closing.py does, then forget.
        await state.release("c1")
        await state.dequeue("b1", "c1")
        await state.touch_connection("widget", "c1", -1)
        await state.forget("c1")
        left = sorted([k.removeprefix(prefix) async for k in client.scan_iter(f"{prefix}*")])
        # The agent and the counters that outlive any one conversation, and the
        # queue snapshot agents were last shown (it expires).
        assert left == [
            "agent:a1",
            "agent_order",
            "agents",
            "generations",
            "initialized",
            "last_queue:b1",
        ]
    finally:
        await drop_prefix(client, prefix)
        await client.aclose()


# processes: sockets counted per process, a dead one's let go -------------------------
async def test_a_message_number_comes_with_the_watch_count(state: RoutingState) -> None:
    await state.seed_seq("c1", 0)
    assert await state.next_seq("c1") == (1, 0)
    await state.touch_connection(WATCHES, "c1", +1)
    await state.touch_connection(WATCHES, "c1", +1)
    numbered = await state.next_seq("c1")
    assert numbered is not None and numbered.seq == 2 and numbered.watchers == 2


async def test_a_message_sent_with_a_widget_counted_moves_the_delivery_mark(
    state: RoutingState,
) -> None:
    assert await state.mark_widget_sent("c1", 3, agent_id="a1") == (0, 0, 0)
    assert await state.widget_seen("c1") == 0  # no widget: not delivered
    await state.touch_connection("widget", "c1", +1)
    await state.touch_connection("agent", "a1", +1)
    await state.touch_connection("agent", "a1", +1)
    assert await state.mark_widget_sent("c1", 3, agent_id="a1") == (1, 0, 2)
    assert await state.widget_seen("c1") == 3
    assert await state.mark_widget_sent("c1", 2, agent_id="a1") == (1, 0, 2)
    assert await state.widget_seen("c1") == 3  # only ever forward


async def test_a_delivery_tells_the_widget_sockets_of_other_processes_apart(
    views: Views,
) -> None:
    here, there = await views(2)
    await started(here)
    one_process = here is there  # memory: every socket is this process's
    await there.touch_connection("widget", "c1", +1)
    await there.touch_connection("agent", "a1", +1)
    sent = await here.mark_widget_sent("c1", 4, agent_id="a1")
    assert sent == (1, 0 if one_process else 1, 1)
    assert sent.widgets_elsewhere == sent.widgets - (1 if one_process else 0)
    assert await there.widget_seen("c1") == 4  # a widget on any process moves the mark
    await here.touch_connection("widget", "c1", +1)
    assert await here.mark_widget_sent("c1", 5, agent_id="a1") == (2, 0 if one_process else 1, 1)
    await there.touch_connection("widget", "c1", -1)
    assert await here.mark_widget_sent("c1", 6, agent_id="a1") == (1, 0, 1)


async def test_a_persons_message_reaches_the_assigned_agent_here_or_elsewhere(
    views: Views,
) -> None:
    here, there = await views(2)
    await started(here)
    one_process = here is there
    assert await here.agent_reach("c1") is None  # nobody assigned
    await here.put_agent(agent("a1"))
    await here.enqueue(entry("c1"))
    assert await there.claim("b1", "c1", "a1") is not None
    assert await here.agent_reach("c1") == ("a1", 0)  # assigned, no socket anywhere
    await there.touch_connection("agent", "a1", +1)
    await there.touch_connection("agent", "a1", +1)
    await here.touch_connection("agent", "a1", +1)
    reach = await here.agent_reach("c1")
    assert reach is not None and reach.agent_id == "a1"
    assert reach.elsewhere == (0 if one_process else 2)
    assert await there.agent_reach("c1") == ("a1", 0 if one_process else 1)
    await there.release("c1")
    assert await here.agent_reach("c1") is None


async def test_one_process_alone_beats_and_has_nothing_to_reap(state: RoutingState) -> None:
    assert await state.heartbeat(60) is Beat.OK
    await state.touch_connection("widget", "c1", +1)
    assert await state.heartbeat(60) is Beat.OK
    assert await state.reap() == []
    assert await state.touch_connection("widget", "c1", 0) == 1
    assert state.process_id


REDIS_ONLY = pytest.mark.parametrize("views", ["redis", "redis-bytes"], indirect=True)


def prefix_of(state: RoutingState) -> str:
    assert isinstance(state, RedisRoutingState)
    return state.prefix


async def _dies(process: RoutingState) -> None:
    """The process's heartbeat expires at once (as if it had been killed)."""
    await process.heartbeat(0.001)
    await asyncio.sleep(0.01)


@REDIS_ONLY
async def test_a_dead_processs_counts_go_and_what_reached_zero_is_told_once(
    views: Views,
) -> None:
    alive, dead = await views(2)
    assert alive.process_id != dead.process_id
    await alive.heartbeat(60)
    await dead.heartbeat(60)
    await dead.touch_connection("widget", "c1", +1)
    await dead.touch_connection("agent", "a1", +2)
    await dead.touch_connection(WATCHES, "c1", +1)
    await alive.touch_connection("agent", "a1", +1)
    await alive.touch_connection("widget", "c2", +1)
    assert await alive.touch_connection("agent", "a1", 0) == 3
    assert await alive.reap() == []  # nobody is dead yet
    await _dies(dead)
    released = await alive.reap()
    assert sorted((r.kind, r.key) for r in released) == [("watch", "c1"), ("widget", "c1")]
    assert all(0 < r.last_beat <= time.time() for r in released)
    # What the survivor counts stays; the dead one's share is gone.
    assert await alive.touch_connection("agent", "a1", 0) == 1
    assert await alive.touch_connection("widget", "c1", 0) == 0
    assert await alive.touch_connection("widget", "c2", 0) == 1
    assert await alive.reap() == []


@REDIS_ONLY
async def test_two_reapers_at_once_let_each_dead_count_go_once(views: Views) -> None:
    first, second, dead, other_dead = await views(4)
    for process in (first, second, dead, other_dead):
        await process.heartbeat(60)
    for i in range(20):
        await dead.touch_connection("widget", f"c{i}", +1)
        await other_dead.touch_connection("agent", f"a{i}", +1)
    await other_dead.touch_connection("widget", "c0", +1)  # c0 needs both to die
    await _dies(dead)
    await _dies(other_dead)
    batches = await asyncio.gather(*(p.reap() for p in (first, second) * 3))
    released = [(r.kind, r.key) for batch in batches for r in batch]
    expected = [("widget", f"c{i}") for i in range(20)] + [("agent", f"a{i}") for i in range(20)]
    assert sorted(released) == sorted(expected)
    for i in range(20):
        assert await first.touch_connection("widget", f"c{i}", 0) == 0


@REDIS_ONLY
async def test_a_process_taken_for_dead_learns_it_at_its_next_beat(views: Views) -> None:
    alive, stalled = await views(2)
    await started(alive)
    await alive.heartbeat(60)
    await stalled.touch_connection("widget", "c1", +1)
    await _dies(stalled)
    assert [r.key for r in await alive.reap()] == ["c1"]
    assert await stalled.heartbeat(60) is Beat.REAPED
    assert await stalled.heartbeat(60) is Beat.OK
    # Its sockets leaving later never take a count below zero.
    assert await stalled.touch_connection("widget", "c1", -1) == 0


@REDIS_ONLY
async def test_a_process_that_closes_is_reaped_at_once(views: Views) -> None:
    alive, leaving = await views(2)
    await alive.heartbeat(60)
    await leaving.heartbeat(60)
    await leaving.touch_connection("agent", "a1", +1)
    await leaving.close()
    assert [(r.kind, r.key) for r in await alive.reap()] == [("agent", "a1")]


# Redis lost its data ------------------------------------------------------------------
@REDIS_ONLY
async def test_a_lost_state_is_found_refuses_messages_retryably_and_is_rebuilt_once(
    views: Views,
) -> None:
    processes = await views(3)
    assert await processes[0].initialize()
    await processes[0].rebuilt()
    await processes[0].seed_seq("c1", 4)
    before = await processes[0].generation("c1")
    assert before is not None
    for p in processes:
        assert await p.heartbeat(60) is Beat.OK
    client = await redis_or_skip()
    try:
        await drop_prefix(client, prefix_of(processes[0]))  # Redis restarted, empty
    finally:
        await client.aclose()
    assert [await p.heartbeat(60) for p in processes] == [Beat.LOST] * 3
    assert not await processes[1].ready()
    with pytest.raises(StateUnavailable) as refused:
        await processes[1].next_seq("c1")
    assert refused.value.code == "state_unavailable" and refused.value.status == 503
    # Exactly one process rebuilds; until it is done the state is not ready.
    won = await asyncio.gather(*(p.initialize() for p in processes))
    assert won.count(True) == 1
    rebuilder = processes[won.index(True)]
    with pytest.raises(StateUnavailable):
        await processes[2].next_seq("c1")
    await rebuilder.seed_seq("c1", 4)
    await rebuilder.rebuilt()
    assert all([await p.ready() for p in processes])
    assert await next_seq(processes[1], "c1") == 5
    # A generation is never handed out twice, not even across the loss.
    after = await processes[2].generation("c1")
    assert after is not None and after > before
    # Rebuilt: an unknown conversation is closed again, not unavailable.
    assert await processes[1].next_seq("gone") is None
    assert [await p.heartbeat(60) for p in processes] == [Beat.OK] * 3
