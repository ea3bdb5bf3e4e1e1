from handoff.routing.memory_state import MemoryState
from handoff.routing.model import AgentStatus, Presence, QueueEntry


async def next_seq(state: MemoryState, cid: str, generation: int | None = None) -> int | None:
    """The sequence number alone (``next_seq`` also tells the watch count)."""
    numbered = await state.next_seq(cid, generation=generation)
    return None if numbered is None else numbered.seq


def entry(cid: str, bot: str = "b1") -> QueueEntry:
    return QueueEntry(cid, bot, 0.0)


async def test_claim_is_exclusive_and_respects_capacity() -> None:
    state = MemoryState()
    await state.put_agent(Presence("a1", "A", AgentStatus.ONLINE, 1, ("b1",)))
    await state.put_agent(Presence("a2", "B", AgentStatus.ONLINE, 1, ("b1",)))
    await state.enqueue(entry("c1"))
    await state.enqueue(entry("c2"))
    assert await state.claim("b1", "c1", "a1")
    assert not await state.claim("b1", "c1", "a2")  # already taken
    assert not await state.claim("b1", "c2", "a1")  # a1 is full
    assert await state.claim("b1", "c2", "a2")
    assert await state.queue("b1") == []
    assert await state.release("c1") == "a1"
    agent = await state.get_agent("a1")
    assert agent is not None and agent.load == 0


async def test_enqueue_at_head_and_positions() -> None:
    state = MemoryState()
    assert await state.enqueue(entry("c1")) == 1
    assert await state.enqueue(entry("c2")) == 2
    assert await state.enqueue(entry("c3"), at_head=True) == 1
    assert await state.enqueue(entry("c2")) == 3  # already queued: unchanged
    assert [e.conversation_id for e in await state.queue("b1")] == ["c3", "c1", "c2"]
    assert await state.position("b1", "c2") == 3


async def test_deadlines_pop_once_and_can_be_cleared_or_moved() -> None:
    state = MemoryState()
    await state.set_deadline("widget", "c1", 10.0)
    await state.set_deadline("widget", "c2", 10.0)
    await state.set_deadline("widget", "c3", 10.0)
    await state.clear_deadline("widget", "c2")
    await state.set_deadline("widget", "c3", 50.0)
    assert await state.pop_due("widget", 5.0) == []
    assert await state.pop_due("widget", 20.0) == ["c1"]
    assert await state.pop_due("widget", 20.0) == []
    assert await state.pop_due("widget", 60.0) == ["c3"]


async def test_sequence_numbers_only_for_open_conversations() -> None:
    state = MemoryState()
    assert await next_seq(state, "c1") is None
    await state.seed_seq("c1", 0)
    assert await next_seq(state, "c1") == 1
    await state.seed_seq("c1", 10)
    assert await next_seq(state, "c1") == 11
    await state.seed_seq("c1", 3)  # never goes back
    assert await next_seq(state, "c1") == 12
    await state.forget("c1")
    assert await next_seq(state, "c1") is None


async def test_a_position_is_announced_once_until_it_changes_or_is_forgotten() -> None:
    state = MemoryState()
    assert await state.announce_position("c1", 2)
    assert not await state.announce_position("c1", 2)
    assert await state.announce_position("c1", 1)
    await state.forget_position("c1")
    assert await state.announce_position("c1", 1)
    await state.forget("c1")  # closing forgets it too
    assert await state.announce_position("c1", 1)


async def test_agents_are_told_a_queue_only_when_it_changed() -> None:
    state = MemoryState()
    assert await state.queue_changed("b1", ("c1", "c2"))
    assert not await state.queue_changed("b1", ("c1", "c2"))
    assert await state.queue_changed("b2", ("c1", "c2"))  # per bot
    assert await state.queue_changed("b1", ("c2",))
    assert await state.queue_changed("b1", ())
    assert not await state.queue_changed("b1", ())


async def test_a_deadline_set_again_may_keep_a_newer_one() -> None:
    state = MemoryState()
    await state.set_deadline("wait", "c1", 10.0)
    assert await state.pop_due("wait", 10.0) == ["c1"]
    await state.set_deadline("wait", "c1", 20.0)  # set anew meanwhile
    await state.set_deadline("wait", "c1", 10.0, keep_newer=True)
    assert await state.pop_due("wait", 15.0) == []
    assert await state.pop_due("wait", 20.0) == ["c1"]
    await state.set_deadline("wait", "c1", 10.0, keep_newer=True)  # none set: it is set
    assert await state.pop_due("wait", 10.0) == ["c1"]


async def test_each_handoff_of_a_conversation_has_its_own_generation() -> None:
    state = MemoryState()
    assert await state.generation("c1") is None
    await state.seed_seq("c1", 0)
    first = await state.generation("c1")
    assert first is not None
    await state.seed_seq("c1", 5)  # the same handoff, counter moved on
    assert await state.generation("c1") == first
    assert await next_seq(state, "c1", generation=first) == 6
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


async def test_the_earliest_widget_loss_is_kept_until_taken() -> None:
    state = MemoryState()
    assert await state.take_widget_lost("c1") is None
    await state.mark_widget_lost("c1", 20.0)
    await state.mark_widget_lost("c1", 10.0)
    await state.mark_widget_lost("c1", 30.0)
    assert await state.take_widget_lost("c1") == 10.0
    assert await state.take_widget_lost("c1") is None
    await state.mark_widget_lost("c1", 40.0)
    await state.forget("c1")
    assert await state.take_widget_lost("c1") is None


async def test_higher_priority_goes_ahead_first_come_first_served_within_one() -> None:
    state = MemoryState()

    def ranked(cid: str, priority: int) -> QueueEntry:
        return QueueEntry(cid, "b1", 0.0, priority=priority)

    assert await state.enqueue(ranked("n1", 1)) == 1
    assert await state.enqueue(ranked("n2", 1)) == 2
    assert await state.enqueue(ranked("u1", 3)) == 1
    assert await state.enqueue(ranked("low", 0)) == 4
    assert await state.enqueue(ranked("h1", 2)) == 2
    assert await state.enqueue(ranked("u2", 3)) == 2
    # Back at the head: first of its own priority, still behind higher ones.
    assert await state.enqueue(ranked("n0", 1), at_head=True) == 4
    order = [e.conversation_id for e in await state.queue("b1")]
    assert order == ["u1", "u2", "h1", "n0", "n1", "n2", "low"]
