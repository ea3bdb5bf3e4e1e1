from handoff.routing.assignment import choose_agent, eligible
from handoff.routing.model import AgentStatus, Presence


def agent(
    agent_id: str,
    *,
    load: int = 0,
    capacity: int = 3,
    idle_since: float = 0.0,
    status: AgentStatus = AgentStatus.ONLINE,
    connected: bool = True,
    bots: tuple[str, ...] = ("b1",),
    teams: dict[str, list[str]] | None = None,
) -> Presence:
    return Presence(
        agent_id, agent_id, status, capacity, bots, teams or {}, connected, idle_since, load
    )


def test_least_loaded_wins() -> None:
    chosen = choose_agent([agent("a", load=2), agent("b", load=1), agent("c", load=2)], "b1", None)
    assert chosen is not None and chosen.agent_id == "b"


def test_ties_go_to_longest_idle() -> None:
    chosen = choose_agent(
        [agent("a", load=1, idle_since=300.0), agent("b", load=1, idle_since=100.0)], "b1", None
    )
    assert chosen is not None and chosen.agent_id == "b"


def test_full_away_offline_disconnected_and_other_bots_are_skipped() -> None:
    agents = [
        agent("full", load=3, capacity=3),
        agent("away", status=AgentStatus.AWAY),
        agent("off", status=AgentStatus.OFFLINE),
        agent("gone", connected=False),
        agent("other", bots=("b2",)),
        agent("zero", capacity=0),
    ]
    assert eligible(agents, "b1", None) == []
    assert choose_agent(agents, "b1", None) is None


def test_team_restricts_choice() -> None:
    sales = agent("s", load=2, teams={"b1": ["sales"]})
    support = agent("t", load=0, teams={"b1": ["support"]})
    chosen = choose_agent([sales, support], "b1", "sales")
    assert chosen is not None and chosen.agent_id == "s"
    assert choose_agent([sales, support], "b1", "billing") is None


def test_deterministic_on_full_tie() -> None:
    chosen = choose_agent([agent("b"), agent("a")], "b1", None)
    assert chosen is not None and chosen.agent_id == "a"
