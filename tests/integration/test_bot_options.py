"""provide_handoff_options, business hours and the queue limit, against the real server."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from handoff.api.keys import PRESETS
from handoff.app import ENGINE
from handoff.storage.tables import conversations
from tests.conftest import Bot, Server, make_settings, start_server, stop_server

ZONE = ZoneInfo("Africa/Johannesburg")
DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_DAY = {d: [["00:00", "24:00"]] for d in DAY_KEYS}


async def call(
    server: Server,
    bot: Bot,
    method: str,
    path: str,
    body: Any = None,
    *,
    raw: bytes | None = None,
    key: str | None = None,
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {key or bot.api_key}"}
    kwargs: dict[str, Any] = {"data": raw} if raw is not None else {"json": body}
    async with server.http.request(
        method, f"{server.url}/api/v1/bots/{bot.id}{path}", headers=headers, **kwargs
    ) as resp:
        return resp.status, await resp.json()


async def options(server: Server, bot: Bot, **body: Any) -> dict[str, Any]:
    status, answer = await call(server, bot, "POST", "/handoff/options", body)
    assert status == 200, answer
    return dict(answer)


def payloads(answer: dict[str, Any]) -> list[str]:
    buttons = [m for m in answer["messages"] if m["type"] == "BUTTON"]
    return [i["payload"]["message"] for i in buttons[0]["data"]["items"]] if buttons else []


async def test_nobody_online_offers_only_what_works(server: Server) -> None:
    bot = await server.bot()
    answer = await options(server, bot)
    assert answer["available"] is False and answer["reason"] == "no_agent_online"
    assert answer["agents_online"] == 0 and answer["agents_with_capacity"] == 0
    assert answer["queue_length"] == 0 and answer["queue_position_if_joined"] == 1
    assert answer["estimated_wait_seconds"] is None
    assert answer["within_business_hours"] is True and answer["next_open_at"] is None
    assert answer["language"] == "en" and answer["language_fallback"] is False
    assert answer["messages"][0]["type"] == "TEXT"
    assert "No agent is online" in answer["messages"][0]["text"]
    assert payloads(answer) == ["/leave_message", "/back_to_bot"]


async def test_available_then_all_busy(server: Server) -> None:
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot, capacity=1))
    answer = await options(server, bot, language_code="af")
    assert answer["available"] is True and answer["reason"] == "agents_available"
    assert answer["agents_online"] == 1 and answer["agents_with_capacity"] == 1
    assert answer["language"] == "af" and answer["messages"][0]["text"].startswith("'n Agent")
    assert payloads(answer) == ["/handoff", "/back_to_bot"]
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    await sock.rec.wait("conversation_assigned")
    answer = await options(server, bot, ConversationID=cid)
    # Busy, but joining the queue still works: the person waits for the first free slot.
    assert answer["available"] is True and answer["reason"] == "all_agents_busy"
    assert answer["agents_online"] == 1 and answer["agents_with_capacity"] == 0
    assert payloads(answer) == ["/handoff", "/leave_message", "/back_to_bot"]


async def test_team_filter_counts_only_that_teams_agents(server: Server) -> None:
    bot = await server.bot()
    await server.agent_socket(await server.agent(bot, teams=["sales"]))
    await server.agent(bot, teams=["support"])  # exists, never signs in
    assert (await options(server, bot, team="sales"))["reason"] == "agents_available"
    support = await options(server, bot, team="support")
    assert support["reason"] == "no_agent_online" and support["agents_online"] == 0
    anyone = await options(server, bot)
    assert anyone["agents_online"] == 1 and anyone["agents_with_capacity"] == 1


async def test_language_fallback_is_said_in_the_answer(server: Server) -> None:
    bot = await server.bot()
    answer = await options(server, bot, language_code="xh-ZA")
    assert answer["language"] == "en" and answer["language_fallback"] is True
    zulu = await options(server, bot, language_code="zu-ZA")
    assert zulu["language"] == "zu" and zulu["language_fallback"] is False
    assert zulu["messages"][0]["text"].startswith("Akekho umenzeli")
    labels = [i["actionable_text"] for i in zulu["messages"][1]["data"]["items"]]
    assert labels == ["Shiya umlayezo", "Buyela kubhothi"]


async def test_a_holiday_is_outside_business_hours_and_refuses_a_handoff(server: Server) -> None:
    bot = await server.bot()
    await server.agent_socket(await server.agent(bot))
    today = datetime.now(ZONE).date()
    hours = {"time_zone": "Africa/Johannesburg", "weekly": ALL_DAY, "holidays": [today.isoformat()]}
    status, settings = await call(server, bot, "PATCH", "", {"business_hours": hours})
    assert status == 200 and settings["business_hours"]["holidays"] == [today.isoformat()]
    answer = await options(server, bot)
    assert answer["available"] is False and answer["reason"] == "outside_business_hours"
    assert answer["within_business_hours"] is False
    tomorrow = today + timedelta(days=1)
    assert answer["next_open_at"] == f"{tomorrow.isoformat()}T00:00:00+02:00"
    assert "We open again tomorrow at 00:00." in answer["messages"][0]["text"]
    assert payloads(answer) == ["/leave_message", "/back_to_bot"]
    status, refused = await call(server, bot, "POST", "/handoff", {})
    assert status == 409 and refused["error"]["code"] == "outside_business_hours"
    # null: always open again.
    status, _ = await call(server, bot, "PATCH", "", {"business_hours": None})
    assert status == 200
    assert (await options(server, bot))["reason"] == "agents_available"


async def test_a_closed_weekday_names_the_next_opening_in_the_bots_zone(server: Server) -> None:
    bot = await server.bot()
    later = datetime.now(ZONE).date() + timedelta(days=2)
    day = DAY_KEYS[later.weekday()]
    hours = {"time_zone": "Africa/Johannesburg", "weekly": {day: [["08:00", "17:00"]]}}
    assert (await call(server, bot, "PATCH", "", {"business_hours": hours}))[0] == 200
    answer = await options(server, bot, language_code="af")
    assert answer["reason"] == "outside_business_hours"
    assert answer["next_open_at"] == f"{later.isoformat()}T08:00:00+02:00"
    afrikaans = ("Maandag", "Dinsdag", "Woensdag", "Donderdag", "Vrydag", "Saterdag", "Sondag")
    assert f"op {afrikaans[later.weekday()]} om 08:00" in answer["messages"][0]["text"]


async def test_queue_full_refuses_new_handoffs_but_not_repeats(server: Server) -> None:
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot, capacity=1))
    assert (await call(server, bot, "PATCH", "", {"max_queue_length": 1}))[0] == 200
    first = (await server.handoff(bot))["ConversationID"]
    await server.widget(first, bot)
    await sock.rec.wait("conversation_assigned")
    second = (await server.handoff(bot, ConversationID="second-in-line"))["ConversationID"]
    await server.widget(second, bot)
    answer = await options(server, bot)
    assert answer["available"] is False and answer["reason"] == "queue_full"
    assert answer["queue_length"] == 1 and answer["queue_position_if_joined"] == 2
    assert payloads(answer) == ["/leave_message", "/back_to_bot"]
    status, refused = await call(server, bot, "POST", "/handoff", {})
    assert status == 409 and refused["error"]["code"] == "queue_full"
    assert refused["error"]["field"] == "max_queue_length"
    # The one already queued asks again: the same handoff, not a refusal.
    again = await server.handoff(bot, ConversationID="second-in-line")
    assert again["ConversationID"] == second and again["queue_position"] == 1
    assert (await call(server, bot, "PATCH", "", {"max_queue_length": None}))[0] == 200
    assert (await options(server, bot))["reason"] == "all_agents_busy"


async def _queue_with_waits(
    server: Server, bot: Bot, waits: list[int], team: str | None = None
) -> list[str]:
    """Conversations queued ``waits`` seconds ago (set in the database), not yet assigned."""
    cids = []
    for i, _ in enumerate(waits):
        body: dict[str, Any] = {"ConversationID": f"waited-{i}-{secrets.token_hex(6)}"}
        if team is not None:
            body["team"] = team
        cid = (await server.handoff(bot, **body))["ConversationID"]
        await server.widget(cid, bot)
        cids.append(cid)
    now = datetime.now(UTC)
    async with server.app[ENGINE].begin() as conn:
        for cid, seconds in zip(cids, waits, strict=True):
            await conn.execute(
                sa.update(conversations)
                .where(conversations.c.id == cid)
                .values(queued_at=now - timedelta(seconds=seconds))
            )
    return cids


async def test_the_estimate_comes_from_recorded_waits_and_survives_a_restart(
    tmp_path: Path,
) -> None:
    runner, server = await start_server(make_settings(tmp_path))
    try:
        bot = await server.bot()
        agent = await server.agent(bot, capacity=10)
        sock = await server.agent_socket(agent)
        # An agent is online but nothing was ever waited for: no estimate, no made-up one.
        first = await options(server, bot)
        assert first["reason"] == "agents_available" and first["estimated_wait_seconds"] is None
        assert "min" not in first["messages"][0]["text"]
        await sock.call("set_status", {"status": "away"})
        await _queue_with_waits(server, bot, [60, 150, 400])
        await sock.call("set_status", {"status": "online"})
        for _ in range(3):
            await sock.rec.wait("conversation_assigned")
        answer = await options(server, bot)
        # The median of 60, 150 and 400 s, for the first place with one free agent.
        assert 149 <= answer["estimated_wait_seconds"] <= 155, answer
        assert answer["messages"][0]["text"] == "An agent can help you (about 3 min)."
        items = answer["messages"][1]["data"]["items"]
        assert items[0]["actionable_text"] == "Chat with an agent (about 3 min)"
        status, handed = await call(server, bot, "POST", "/handoff", {"language_code": "zu"})
        assert status == 201 and handed["queue_position"] == 1
        assert 149 <= handed["estimated_wait_seconds"] <= 155
        assert handed["messages"][0]["text"] == (
            "Nguwe olandelayo emgqeni. Umenzeli uzoba nawe emizuzwini engaba ngu-3."
        )
    finally:
        await stop_server(runner, server)
    # Another process (here: the next one) reads the same history from the database.
    runner, server = await start_server(make_settings(tmp_path))
    try:
        await server.agent_socket(agent)
        again = await options(server, bot)
        assert 149 <= again["estimated_wait_seconds"] <= 155, again
    finally:
        await stop_server(runner, server)


async def test_queued_people_are_told_the_estimate_from_recorded_waits(server: Server) -> None:
    bot = await server.bot()
    agent = await server.agent(bot, capacity=3)
    sock = await server.agent_socket(agent)
    await sock.call("set_status", {"status": "away"})
    await _queue_with_waits(server, bot, [240, 270, 360])
    await sock.call("set_status", {"status": "online"})
    for _ in range(3):
        await sock.rec.wait("conversation_assigned")
    # The agent is now full: the next person queues, and is told the wait in words.
    cid = (await server.handoff(bot))["ConversationID"]
    widget = await server.widget(cid, bot, features=["queue"])
    notice = await widget.rec.wait("to_user", lambda d: "line" in d["message"])
    assert notice["message"] == "You're next in line. Estimated wait: about 5 minutes."
    rich = await widget.rec.wait("queue_position")
    assert 269 <= rich["estimated_wait_seconds"] <= 275


async def test_bad_settings_are_refused_naming_the_field_and_change_nothing(
    server: Server,
) -> None:
    bot = await server.bot()
    good = {"time_zone": "Africa/Johannesburg", "weekly": {"mon": [["08:00", "17:00"]]}}
    assert (await call(server, bot, "PATCH", "", {"business_hours": good, "max_queue_length": 5}))[
        0
    ] == 200

    def hours(**change: Any) -> dict[str, Any]:
        return {"business_hours": {**good, **change}}

    cases: list[tuple[Any, str]] = [
        (hours(time_zone="Mars/Olympus_Mons"), "business_hours.time_zone"),
        (hours(time_zone=""), "business_hours.time_zone"),
        (hours(weekly={"mon": [["8am", "17:00"]]}), "business_hours.weekly.mon.0.0"),
        (hours(weekly={"mon": [["08:00", "17:60"]]}), "business_hours.weekly.mon.0.1"),
        (hours(weekly={"mon": [["08:00", "17:00", "18:00"]]}), "business_hours.weekly.mon.0"),
        (hours(weekly={"mon": [["08:00", 17]]}), "business_hours.weekly.mon.0.1"),
        (hours(weekly={"mon": "08:00-17:00"}), "business_hours.weekly.mon"),
        (hours(weekly={"funday": [["08:00", "17:00"]]}), "business_hours.weekly.funday"),
        (hours(holidays=["2026-13-01"]), "business_hours.holidays.0"),
        (hours(holidays=["tomorrow"]), "business_hours.holidays.0"),
        (hours(holidays="2026-12-25"), "business_hours.holidays"),
        (hours(surprise=True), "business_hours.surprise"),
        ({"business_hours": "always"}, "business_hours"),
        ({"max_queue_length": 0}, "max_queue_length"),
        ({"max_queue_length": -1}, "max_queue_length"),
        ({"max_queue_length": "3"}, "max_queue_length"),
        ({"max_queue_length": 2.5}, "max_queue_length"),
        ({"max_queue_length": True}, "max_queue_length"),
    ]
    for body, field in cases:
        status, answer = await call(server, bot, "PATCH", "", body)
        assert status == 400, (body, answer)
        assert answer["error"]["field"] == field, (body, answer)
        assert answer["error"]["code"] == "invalid_payload"
    status, settings = await call(server, bot, "GET", "")
    assert status == 200
    assert settings["business_hours"] == {**good, "holidays": []}
    assert settings["max_queue_length"] == 5


async def test_bad_options_requests(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    path = "/handoff/options"
    cases = [
        (
            await call(server, bot, "POST", path, {}, key="hk_wrong"),
            401,
            "unauthorized",
            "Authorization",
        ),
        (await call(server, bot, "POST", path, {}, key=other.api_key), 403, "forbidden", "bot_id"),
        (await call(server, bot, "POST", path, raw=b"{nope"), 400, "invalid_json", "body"),
        (
            await call(server, bot, "POST", path, {"colour": "red"}),
            400,
            "invalid_payload",
            "colour",
        ),
        (
            await call(server, bot, "POST", path, {"language_code": 7}),
            400,
            "invalid_payload",
            "language_code",
        ),
        (
            await call(server, bot, "POST", path, {"language_code": "x"}),
            400,
            "invalid_payload",
            "language_code",
        ),
        (await call(server, bot, "POST", path, {"team": ""}), 400, "invalid_payload", "team"),
        (
            await call(server, bot, "POST", path, {"user": {"bio": "x" * 5000}}),
            413,
            "field_too_large",
            "user",
        ),
        (
            await call(server, bot, "POST", path, {"ConversationID": "no spaces please"}),
            400,
            "invalid_payload",
            "ConversationID",
        ),
    ]
    for (status, body), want, code, field in cases:
        assert status == want, body
        assert body["error"]["code"] == code and body["error"]["field"] == field, body
    async with server.http.post(
        f"{server.url}/api/v1/bots/bot_unknown/handoff/options",
        json={},
        headers={"Authorization": f"Bearer {bot.api_key}"},
    ) as resp:
        assert resp.status == 403 and (await resp.json())["error"]["field"] == "bot_id"
    # Refusals disturbed nothing: the bot still answers.
    assert (await options(server, bot))["reason"] == "no_agent_online"


async def test_the_estimate_on_postgresql(pg_server: Server) -> None:
    server = pg_server
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot, capacity=10))
    await sock.call("set_status", {"status": "away"})
    await _queue_with_waits(server, bot, [30, 90, 100, 500])
    await sock.call("set_status", {"status": "online"})
    for _ in range(4):
        await sock.rec.wait("conversation_assigned")
    answer = await options(server, bot, team=None)
    # The median of four: (90 + 100) / 2.
    assert 94 <= answer["estimated_wait_seconds"] <= 100, answer
    assert answer["messages"][0]["text"] == "An agent can help you (about 2 min)."


async def test_a_team_with_history_gets_its_own_estimate(server: Server) -> None:
    bot = await server.bot()
    sock = await server.agent_socket(await server.agent(bot, capacity=20, teams=["vip"]))
    await sock.call("set_status", {"status": "away"})
    await _queue_with_waits(server, bot, [600, 610, 620], team=None)
    await _queue_with_waits(server, bot, [20, 30], team="vip")
    await sock.call("set_status", {"status": "online"})
    for _ in range(5):
        await sock.rec.wait("conversation_assigned")
    # Two vip waits are too few of their own: the bot's five (median 600) answer.
    vip = await options(server, bot, team="vip")
    assert 599 <= vip["estimated_wait_seconds"] <= 605, vip
    await sock.call("set_status", {"status": "away"})
    await _queue_with_waits(server, bot, [40], team="vip")
    await sock.call("set_status", {"status": "online"})
    await sock.rec.wait("conversation_assigned")
    vip = await options(server, bot, team="vip")
    assert 29 <= vip["estimated_wait_seconds"] <= 35, vip  # the median of 20, 30, 40
    anyone = await options(server, bot)
    # The bot's six (20, 30, 40, 600, 610, 620): their median is (40 + 600) / 2.
    assert 319 <= anyone["estimated_wait_seconds"] <= 325, anyone


async def test_a_full_queue_refuses_even_with_nobody_online(server: Server) -> None:
    bot = await server.bot()
    assert (await call(server, bot, "PATCH", "", {"max_queue_length": 1}))[0] == 200
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    answer = await options(server, bot)
    assert answer["reason"] == "no_agent_online" and answer["queue_length"] == 1
    status, refused = await call(server, bot, "POST", "/handoff", {})
    assert status == 409 and refused["error"]["code"] == "queue_full"


async def test_a_bots_own_presets_are_used_for_its_messages(server: Server) -> None:
    bot = await server.bot()
    other = await server.bot()
    shipped = server.app[PRESETS]
    own = shipped.merged(
        {
            "provide_handoff_options": {
                "texts": {"en": {"say": {"no_agent_online": "Hi {{ user.name }}, we're all out."}}}
            }
        },
        source="shop.yaml",
    )
    server.service.use_presets(bot.id, own)
    answer = await options(server, bot, user={"name": "Thandi"})
    assert answer["messages"][0]["text"] == "Hi Thandi, we're all out."
    # Another bot keeps the shipped texts; and so does this one once they are dropped.
    assert (await options(server, other))["messages"][0]["text"].startswith("No agent is online")
    server.service.use_presets(bot.id, None)
    assert (await options(server, bot))["messages"][0]["text"].startswith("No agent is online")


async def test_a_flows_presets_section_overrides_the_options_messages(server: Server) -> None:
    bot = await server.bot()
    flow: dict[str, Any] = {
        "start": "hello",
        "nodes": [{"id": "hello", "type": "say", "messages": ["Hi"], "next": None}],
        "presets": {
            "provide_handoff_options": {
                "texts": {"zu": {"say": {"no_agent_online": "Sawubona {{ user.name }}!"}}}
            }
        },
    }
    status, saved = await call(server, bot, "PUT", "/dialogue", flow)
    assert status == 200, saved
    answer = await options(server, bot, language_code="zu", user={"name": "Sipho"})
    assert answer["messages"][0]["text"] == "Sawubona Sipho!"
    # A bad override is the flow's error, naming where in presets; the good one stays.
    flow["presets"]["provide_handoff_options"]["options"] = {
        "handoff": {"payload": "/handoff", "show_when": ["never"]}
    }
    status, refused = await call(server, bot, "PUT", "/dialogue", flow)
    assert status == 400 and refused["error"]["code"] == "invalid_dialogue", refused
    assert refused["error"]["field"] == "presets.options.handoff.show_when.0"
    answer = await options(server, bot, language_code="zu", user={"name": "Sipho"})
    assert answer["messages"][0]["text"] == "Sawubona Sipho!"
