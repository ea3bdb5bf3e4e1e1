"""The admin API: bots, agents and teams, every route with its role refusals and bad input."""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from handoff.api.keys import RECHECK_AGENTS
from handoff.app import ENGINE
from handoff.storage.agents import AgentRecord, AgentRepo
from handoff.storage.db import make_engine
from handoff.storage.migrate import downgrade, upgrade
from tests.conftest import Bot, Server
from tests.integration.test_cli import run
from tests.integration.test_console_api import PASSWORD, call, error


async def someone(
    server: Server, bots: list[Bot], name: str, role: str = "agent", teams: list[str] | None = None
) -> AgentRecord:
    return await AgentRepo(server.app[ENGINE]).create(
        f"{name.lower()}@example.com",
        PASSWORD,
        name=name,
        bots=[b.id for b in bots],
        role=role,
        teams=teams,
    )


async def signed_in(server: Server, bots: list[Bot], name: str, role: str = "agent") -> str:
    return await server.login((await someone(server, bots, name, role)).email)


# every admin route refuses an agent and a supervisor, naming the role -------------------

ADMIN_ROUTES: list[tuple[str, str, Any]] = [
    ("POST", "/api/v1/bots", {"name": "New"}),
    ("POST", "/api/v1/bots/{bot}/api-key", None),
    ("GET", "/api/v1/agents", None),
    ("POST", "/api/v1/agents", {"email": "x@example.com", "password": "long-enough"}),
    ("GET", "/api/v1/agents/{agent}", None),
    ("PATCH", "/api/v1/agents/{agent}", {"name": "X"}),
    ("DELETE", "/api/v1/agents/{agent}", None),
    ("POST", "/api/v1/agents/{agent}/password", {}),
    ("GET", "/api/v1/bots/{bot}/teams", None),
    ("PUT", "/api/v1/bots/{bot}/teams/billing", {"members": []}),
    ("PATCH", "/api/v1/bots/{bot}/teams/billing", {"name": "sales"}),
    ("DELETE", "/api/v1/bots/{bot}/teams/billing", None),
    ("GET", "/api/v1/bots/{bot}", None),
    ("PATCH", "/api/v1/bots/{bot}", {"name": "Renamed"}),
]


@pytest.mark.parametrize("role", ["agent", "supervisor"])
async def test_every_admin_route_refuses_agents_and_supervisors(server: Server, role: str) -> None:
    bot = await server.bot()
    target = await someone(server, [bot], "Target")
    token = await signed_in(server, [bot], "Caller", role)
    for method, path, body in ADMIN_ROUTES:
        url = path.format(bot=bot.id, agent=target.id)
        status, answer = await call(server, method, url, token, body)
        assert (status, error(answer)) == (403, ("forbidden", "role")), (method, url, answer)
        assert "needs the admin role" in answer["error"]["message"], answer
    # Nothing changed: the target is still there, with their name.
    assert (await server.service.find_agent(target.id)) is not None
    assert (await server.service.find_agent(target.id)).name == "Target"  # type: ignore[union-attr]
    status, answer = await call(server, "GET", "/api/v1/agents", None)
    assert (status, error(answer)) == (401, ("unauthorized", "Authorization"))


async def test_a_supervisor_sees_their_role_in_me_and_only_their_bots(server: Server) -> None:
    mine, other = await server.bot(), await server.bot()
    token = await signed_in(server, [mine], "Sue", "supervisor")
    status, me = await call(server, "GET", "/api/v1/agents/me", token)
    assert status == 200 and me["role"] == "supervisor"
    status, bots = await call(server, "GET", "/api/v1/bots", token)
    assert status == 200 and [b["id"] for b in bots["bots"]] == [mine.id]
    assert other.id not in {b["id"] for b in bots["bots"]}


# bots -----------------------------------------------------------------------------------


async def test_an_admin_creates_lists_and_changes_bots_and_rotates_a_key(server: Server) -> None:
    existing = await server.bot()
    token = await signed_in(server, [], "Ada", "admin")
    status, made = await call(
        server,
        "POST",
        "/api/v1/bots",
        token,
        {
            "name": "Support",
            "assignment_mode": "manual",
            "wait_limit_seconds": 120,
            "escalate_on_break": True,
            "business_hours": {
                "time_zone": "Europe/Berlin",
                "weekly": {"mon": [["09:00", "17:00"]]},
                "holidays": ["2026-12-25"],
            },
        },
    )
    assert status == 201, made
    bot_id, key = made["bot"]["id"], made["api_key"]
    assert key.startswith("hk_")
    assert made["bot"]["assignment_mode"] == "manual"
    assert made["bot"]["business_hours"]["holidays"] == ["2026-12-25"]
    # The key works on the bot's own routes; the admin sees every bot (serving none).
    status, own = await call(server, "GET", f"/api/v1/bots/{bot_id}", key)
    assert status == 200 and own["name"] == "Support" and own["escalate_on_break"] is True
    status, listed = await call(server, "GET", "/api/v1/bots", token)
    assert status == 200 and {existing.id, bot_id} <= {b["id"] for b in listed["bots"]}
    assert all("api_key" not in b for b in listed["bots"])
    # An admin token changes another bot's settings; a plain agent of that bot may not.
    status, changed = await call(
        server, "PATCH", f"/api/v1/bots/{existing.id}", token, {"fallback_message": "Later!"}
    )
    assert status == 200 and changed["fallback_message"] == "Later!"
    agent = await signed_in(server, [existing], "Anna")
    status, refused = await call(
        server, "PATCH", f"/api/v1/bots/{existing.id}", agent, {"name": "Mine"}
    )
    assert (status, error(refused)) == (403, ("forbidden", "role"))
    # The bot key still works beside the admin's token.
    status, _ = await call(server, "GET", f"/api/v1/bots/{existing.id}", existing.api_key)
    assert status == 200

    status, rotated = await call(server, "POST", f"/api/v1/bots/{bot_id}/api-key", token)
    assert status == 200 and rotated["bot_id"] == bot_id and rotated["api_key"] != key
    status, gone = await call(server, "GET", f"/api/v1/bots/{bot_id}", key)
    assert (status, error(gone)) == (401, ("unauthorized", "Authorization"))
    status, _ = await call(server, "GET", f"/api/v1/bots/{bot_id}", rotated["api_key"])
    assert status == 200


async def test_bad_bot_input_is_refused_with_the_field(server: Server) -> None:
    token = await signed_in(server, [], "Ada", "admin")
    for body, field in [
        ({}, "name"),
        ({"name": ""}, "name"),
        ({"name": "X", "assignment_mode": "random"}, "assignment_mode"),
        ({"name": "X", "wait_limit_seconds": 0}, "wait_limit_seconds"),
        ({"name": "X", "webhook_url": "ftp://example.com"}, "webhook_url"),
        (
            {"name": "X", "business_hours": {"time_zone": "Mars/Base", "weekly": {}}},
            "business_hours.time_zone",
        ),
        (
            {"name": "X", "business_hours": {"time_zone": "UTC", "weekly": {"mon": [["9", "5"]]}}},
            "business_hours.weekly.mon.0.0",
        ),
        (
            {
                "name": "X",
                "business_hours": {"time_zone": "UTC", "weekly": {}, "holidays": ["xmas"]},
            },
            "business_hours.holidays.0",
        ),
    ]:
        status, answer = await call(server, "POST", "/api/v1/bots", token, body)
        assert (status, error(answer)) == (400, ("invalid_payload", field)), (body, answer)
    status, answer = await call(server, "POST", "/api/v1/bots/bot_nope/api-key", token)
    assert (status, error(answer)) == (404, ("unknown_bot", "bot_id"))
    status, answer = await call(server, "PATCH", "/api/v1/bots/bot_nope", token, {"name": "N"})
    assert (status, error(answer)) == (404, ("unknown_bot", "bot_id"))


# agents ---------------------------------------------------------------------------------


async def test_an_admin_creates_an_agent_who_signs_in_then_changes_and_deletes_them(
    server: Server,
) -> None:
    shop, other = await server.bot(), await server.bot()
    token = await signed_in(server, [shop], "Ada", "admin")
    status, made = await call(
        server,
        "POST",
        "/api/v1/agents",
        token,
        {
            "email": " New.Person@Example.com ",
            "password": "long-enough-1",
            "name": "Nia",
            "role": "supervisor",
            "capacity": 5,
            "bots": {shop.id: ["billing"], other.id: []},
        },
    )
    assert status == 201, made
    agent_id = made["id"]
    assert made["email"] == "new.person@example.com"
    assert (made["role"], made["capacity"], made["disabled"]) == ("supervisor", 5, False)
    assert sorted(made["bots"]) == sorted([shop.id, other.id])
    assert made["teams"] == {shop.id: ["billing"], other.id: []}
    nia = await server.login("new.person@example.com", "long-enough-1")
    status, me = await call(server, "GET", "/api/v1/agents/me", nia)
    assert status == 200 and me["role"] == "supervisor" and me["name"] == "Nia"

    status, listed = await call(server, "GET", "/api/v1/agents", token)
    assert status == 200
    assert {a["name"] for a in listed["agents"]} == {"Ada", "Nia"}
    status, one = await call(server, "GET", f"/api/v1/agents/{agent_id}", token)
    assert status == 200 and one == made

    status, changed = await call(
        server,
        "PATCH",
        f"/api/v1/agents/{agent_id}",
        token,
        {"name": "Nia K", "role": "agent", "capacity": 2, "bots": {other.id: ["vip"]}},
    )
    assert status == 200, changed
    assert (changed["name"], changed["role"], changed["capacity"]) == ("Nia K", "agent", 2)
    assert changed["bots"] == [other.id] and changed["teams"] == {other.id: ["vip"]}

    # A password reset: the old one stops, the new one works; left out, one is made.
    status, reset = await call(
        server, "POST", f"/api/v1/agents/{agent_id}/password", token, {"password": "brand-new-2"}
    )
    assert status == 200 and reset == {"agent_id": agent_id, "password": None}
    status, _ = await call(
        server,
        "POST",
        "/api/v1/auth/login",
        None,
        {"email": "new.person@example.com", "password": "long-enough-1"},
    )
    assert status == 401
    await server.login("new.person@example.com", "brand-new-2")
    status, made_pw = await call(server, "POST", f"/api/v1/agents/{agent_id}/password", token, {})
    assert status == 200 and len(made_pw["password"]) >= 12
    fresh = await server.login("new.person@example.com", made_pw["password"])

    # Disabled: their socket is ended at once and they cannot sign in; enabled again: they can.
    sock = await server._connect("/agent", auth={"token": fresh})
    status, off = await call(
        server, "PATCH", f"/api/v1/agents/{agent_id}", token, {"disabled": True}
    )
    assert status == 200 and off["disabled"] is True
    assert (await sock.rec.wait("unauthorized"))["code"] == "unauthorized"
    status, refused = await call(
        server,
        "POST",
        "/api/v1/auth/login",
        None,
        {"email": "new.person@example.com", "password": made_pw["password"]},
    )
    assert status == 403, refused
    status, on = await call(
        server, "PATCH", f"/api/v1/agents/{agent_id}", token, {"disabled": False}
    )
    assert status == 200 and on["disabled"] is False
    later = await server.login("new.person@example.com", made_pw["password"])

    status, _ = await call(server, "DELETE", f"/api/v1/agents/{agent_id}", token)
    assert status == 204
    status, gone = await call(server, "GET", "/api/v1/agents/me", later)
    assert status == 401, gone
    status, gone = await call(server, "GET", f"/api/v1/agents/{agent_id}", token)
    assert (status, error(gone)) == (404, ("unknown_agent", "agent_id"))
    # The email is free again.
    status, again = await call(
        server,
        "POST",
        "/api/v1/agents",
        token,
        {"email": "new.person@example.com", "password": "long-enough-1"},
    )
    assert status == 201 and again["id"] != agent_id and again["name"] == "new.person"


async def test_bad_agent_input_is_refused_with_the_field(server: Server) -> None:
    bot = await server.bot()
    token = await signed_in(server, [bot], "Ada", "admin")
    taken = await someone(server, [bot], "Taken")
    ok = {"email": "fine@example.com", "password": "long-enough"}
    cases: list[tuple[dict[str, Any], int, str, str]] = [
        ({**ok, "email": "not-an-email"}, 400, "invalid_payload", "email"),
        ({**ok, "password": "short"}, 400, "invalid_payload", "password"),
        ({**ok, "role": "owner"}, 400, "invalid_payload", "role"),
        ({**ok, "capacity": 0}, 400, "invalid_payload", "capacity"),
        ({**ok, "capacity": 10**9}, 400, "invalid_payload", "capacity"),
        ({**ok, "capacity": "3"}, 400, "invalid_payload", "capacity"),
        ({**ok, "bots": {"bot_nope": []}}, 404, "unknown_bot", "bots.bot_nope"),
        ({**ok, "bots": {bot.id: ["no/slash"]}}, 400, "invalid_payload", f"bots.{bot.id}.0"),
        ({**ok, "email": taken.email.upper()}, 409, "email_taken", "email"),
        ({**ok, "extra": 1}, 400, "invalid_payload", "extra"),
    ]
    for body, status_wanted, code, field in cases:
        status, answer = await call(server, "POST", "/api/v1/agents", token, body)
        assert (status, error(answer)) == (status_wanted, (code, field)), (body, answer)
    path = f"/api/v1/agents/{taken.id}"
    for patch, field in [
        ({"role": "root"}, "role"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 10**9}, "capacity"),
        ({"name": None}, "name"),
        ({"disabled": "yes"}, "disabled"),
    ]:
        status, answer = await call(server, "PATCH", path, token, patch)
        assert (status, error(answer)) == (400, ("invalid_payload", field)), (patch, answer)
    status, answer = await call(server, "PATCH", path, token, {"bots": {"bot_nope": []}})
    assert (status, error(answer)) == (404, ("unknown_bot", "bots.bot_nope"))
    status, answer = await call(server, "POST", path + "/password", token, {"password": "short"})
    assert (status, error(answer)) == (400, ("invalid_payload", "password"))
    for method in ("GET", "PATCH", "DELETE"):
        status, answer = await call(
            server, method, "/api/v1/agents/agt_nope", token, {} if method == "PATCH" else None
        )
        assert (status, error(answer)) == (404, ("unknown_agent", "agent_id")), method
    status, answer = await call(server, "POST", "/api/v1/agents/agt_nope/password", token, {})
    assert (status, error(answer)) == (404, ("unknown_agent", "agent_id"))
    # Nothing of it touched the agent.
    status, still = await call(server, "GET", path, token)
    assert status == 200 and (still["name"], still["role"], still["capacity"]) == (
        "Taken",
        "agent",
        3,
    )


async def test_the_last_active_admin_cannot_be_removed_even_by_themselves(server: Server) -> None:
    bot = await server.bot()
    ada = await someone(server, [bot], "Ada", "admin")
    token = await server.login(ada.email)
    me = f"/api/v1/agents/{ada.id}"
    for method, body, field in [
        ("PATCH", {"role": "supervisor"}, "role"),
        ("PATCH", {"disabled": True}, "disabled"),
        ("DELETE", None, "agent_id"),
    ]:
        status, answer = await call(server, method, me, token, body)
        assert (status, error(answer)) == (409, ("last_admin", field)), (method, body, answer)
    # With a second admin, one may go; then the other is the last one.
    status, bea = await call(
        server,
        "POST",
        "/api/v1/agents",
        token,
        {"email": "bea@example.com", "password": "long-enough", "role": "admin"},
    )
    assert status == 201
    bea_token = await server.login("bea@example.com", "long-enough")
    status, demoted = await call(server, "PATCH", me, bea_token, {"role": "agent"})
    assert status == 200 and demoted["role"] == "agent"
    status, answer = await call(server, "DELETE", f"/api/v1/agents/{bea['id']}", bea_token)
    assert (status, error(answer)) == (409, ("last_admin", "agent_id"))
    # A disabled admin does not count as one.
    status, _ = await call(server, "PATCH", me, bea_token, {"role": "admin", "disabled": True})
    assert status == 200
    status, answer = await call(
        server, "PATCH", f"/api/v1/agents/{bea['id']}", bea_token, {"disabled": True}
    )
    assert (status, error(answer)) == (409, ("last_admin", "disabled"))


# teams ----------------------------------------------------------------------------------


async def test_an_admin_sets_renames_and_ends_a_bots_teams(server: Server) -> None:
    bot, other = await server.bot(), await server.bot()
    token = await signed_in(server, [bot], "Ada", "admin")
    anna = await someone(server, [bot], "Anna", teams=["billing"])
    ben = await someone(server, [bot, other], "Ben")
    stranger = await someone(server, [other], "Cy")
    teams = f"/api/v1/bots/{bot.id}/teams"
    status, listed = await call(server, "GET", teams, token)
    assert status == 200 and listed == {
        "bot_id": bot.id,
        "teams": [{"name": "billing", "members": [{"id": anna.id, "name": "Anna"}]}],
    }
    status, listed = await call(
        server, "PUT", teams + "/Tier 2", token, {"members": [ben.id, anna.id]}
    )
    assert status == 200, listed
    assert [(t["name"], [m["name"] for m in t["members"]]) for t in listed["teams"]] == [
        ("billing", ["Anna"]),
        ("Tier 2", ["Anna", "Ben"]),
    ]
    # The agents carry it: the transfer dialog's colleagues list shows the team.
    status, colleagues = await call(server, "GET", f"/api/v1/bots/{bot.id}/agents", token)
    assert status == 200 and "Tier 2" in colleagues["teams"]
    status, listed = await call(server, "PATCH", teams + "/billing", token, {"name": "Accounts"})
    assert status == 200
    assert [t["name"] for t in listed["teams"]] == ["Accounts", "Tier 2"]
    status, answer = await call(server, "PATCH", teams + "/Accounts", token, {"name": "Tier 2"})
    assert (status, error(answer)) == (409, ("team_taken", "name"))
    status, _ = await call(server, "DELETE", teams + "/Accounts", token)
    assert status == 204
    status, listed = await call(server, "GET", teams, token)
    assert [t["name"] for t in listed["teams"]] == ["Tier 2"]
    # Ben's other bot kept its own (empty) teams.
    assert (await server.service.find_agent(ben.id)).teams[other.id] == []  # type: ignore[union-attr]

    for method, path, body, wanted in [
        ("PUT", teams + "/x", {"members": [stranger.id]}, (400, ("invalid_payload", "members.0"))),
        ("PUT", teams + "/x", {"members": ["agt_nope"]}, (404, ("unknown_agent", "members.0"))),
        ("PUT", teams + "/x", {"members": "all"}, (400, ("invalid_payload", "members"))),
        ("PUT", teams + "/bad%2Fname", {"members": []}, (400, ("invalid_payload", "team"))),
        ("PATCH", teams + "/nope", {"name": "y"}, (404, ("unknown_team", "team"))),
        ("PATCH", teams + "/Tier 2", {"name": ""}, (400, ("invalid_payload", "name"))),
        ("DELETE", teams + "/nope", None, (404, ("unknown_team", "team"))),
        ("GET", "/api/v1/bots/bot_nope/teams", None, (404, ("unknown_bot", "bot_id"))),
    ]:
        status, answer = await call(server, method, path, token, body)
        assert (status, error(answer)) == wanted, (method, path, body, answer)
    status, listed = await call(server, "GET", teams, token)
    assert [(t["name"], len(t["members"])) for t in listed["teams"]] == [("Tier 2", 2)]


# the CLI --------------------------------------------------------------------------------


def test_the_cli_creates_a_supervisor(tmp_path: Path) -> None:
    assert run(tmp_path, "migrate").returncode == 0
    bot = json.loads(run(tmp_path, "create-bot", "--name", "Shop").stdout)["bot_id"]
    done = run(
        tmp_path,
        "create-agent",
        "--email",
        "sue@example.com",
        "--password",
        "pw-long-1",
        "--bot",
        bot,
        "--role",
        "supervisor",
    )
    assert done.returncode == 0, done.stderr
    assert '"role": "supervisor"' in done.stdout
    bad = run(
        tmp_path,
        "create-agent",
        "--email",
        "x@example.com",
        "--password",
        "p",
        "--bot",
        bot,
        "--role",
        "boss",
    )
    assert bad.returncode != 0 and "--role" in bad.stderr


# a password reset signs the agent out ----------------------------------------------------


async def test_a_password_reset_revokes_the_agents_tokens_and_ends_their_sockets(
    server: Server,
) -> None:
    bot = await server.bot()
    admin_token = await signed_in(server, [bot], "Ada", "admin")
    anna = await someone(server, [bot], "Anna")
    # A token of this agent signed a minute ago (tokens count whole seconds: one of the
    # very second of the change still passes, so the sign-in right after a reset works).
    old = _signed_earlier(server, anna.id)
    sock = await server._connect("/agent", auth={"token": old})
    status, _ = await call(
        server,
        "POST",
        f"/api/v1/agents/{anna.id}/password",
        admin_token,
        {"password": "new-pass-99"},
    )
    assert status == 200
    status, refused = await call(server, "GET", "/api/v1/agents/me", old)
    assert (status, error(refused)) == (401, ("unauthorized", "Authorization"))
    assert "password was changed" in refused["error"]["message"]
    assert await server.app[RECHECK_AGENTS]() == 1
    assert "password was changed" in (await sock.rec.wait("unauthorized"))["message"]
    # The new password signs in at once, and that token works.
    fresh = await server.login(anna.email, "new-pass-99")
    status, me = await call(server, "GET", "/api/v1/agents/me", fresh)
    assert status == 200 and me["id"] == anna.id
    # The admin's own token was not touched.
    status, _ = await call(server, "GET", "/api/v1/agents", admin_token)
    assert status == 200


class _MinuteAgoSigner(TimestampSigner):
    def get_timestamp(self) -> int:
        return int(time.time()) - 60


def _signed_earlier(server: Server, agent_id: str) -> str:
    """A real agent token (the server's secret and salt) as if issued a minute ago."""
    secret = server.settings.secret_key
    assert secret is not None
    serializer = URLSafeTimedSerializer(secret, salt="handoff.agent-token", signer=_MinuteAgoSigner)
    return str(serializer.dumps({"agent_id": agent_id}))


# migration 0008 -------------------------------------------------------------------------


async def _migrate_0008_both_ways(url: str) -> None:
    await upgrade(url)
    engine = make_engine(url)

    def columns(c: Any) -> set[str]:
        return {col["name"] for col in sa.inspect(c).get_columns("agents")}

    try:
        async with engine.connect() as conn:
            assert "password_changed_at" in await conn.run_sync(columns)
        await downgrade(url, "0007")
        async with engine.connect() as conn:
            assert "password_changed_at" not in await conn.run_sync(columns)
            assert await conn.scalar(sa.text("SELECT version_num FROM alembic_version")) == "0007"
        await upgrade(url)
    finally:
        await engine.dispose()


async def test_migration_0008_up_from_empty_and_down_on_sqlite(tmp_path: Path) -> None:
    await _migrate_0008_both_ways(f"sqlite+aiosqlite:///{tmp_path / 'm.sqlite3'}")


async def test_migration_0008_up_from_empty_and_down_on_postgres(postgres_url: str) -> None:
    await _migrate_0008_both_ways(postgres_url)


async def test_a_change_reaches_the_live_routing_state_of_a_connected_agent(
    server: Server,
) -> None:
    bot, other = await server.bot(), await server.bot()
    token = await signed_in(server, [bot], "Ada", "admin")
    anna = await someone(server, [bot], "Anna")
    await server.agent_socket(anna)  # online: routing holds her presence
    status, _ = await call(
        server,
        "PATCH",
        f"/api/v1/agents/{anna.id}",
        token,
        {"bots": {bot.id: [], other.id: ["vip"]}, "capacity": 5, "name": "Anna K"},
    )
    assert status == 200
    live = await server.state.get_agent(anna.id)
    assert live is not None
    assert (set(live.bots), live.teams[other.id], live.capacity, live.name) == (
        {bot.id, other.id},
        ["vip"],
        5,
        "Anna K",
    )
    assert anna.id in {p.agent_id for p in await server.state.agents_for_bot(other.id)}
    status, _ = await call(
        server, "PUT", f"/api/v1/bots/{bot.id}/teams/billing", token, {"members": [anna.id]}
    )
    assert status == 200
    live = await server.state.get_agent(anna.id)
    assert live is not None and live.teams[bot.id] == ["billing"]
    status, _ = await call(server, "DELETE", f"/api/v1/bots/{bot.id}/teams/billing", token)
    assert status == 204
    live = await server.state.get_agent(anna.id)
    assert live is not None and live.teams[bot.id] == []


async def _two_admins_demote_each_other(server: Server) -> None:
    bot = await server.bot()
    ada = await someone(server, [bot], "Ada", "admin")
    bea = await someone(server, [bot], "Bea", "admin")
    ada_token, bea_token = await server.login(ada.email), await server.login(bea.email)
    answers = await asyncio.gather(
        call(server, "PATCH", f"/api/v1/agents/{ada.id}", bea_token, {"role": "agent"}),
        call(server, "PATCH", f"/api/v1/agents/{bea.id}", ada_token, {"role": "agent"}),
    )
    statuses = sorted(status for status, _ in answers)
    # One wins; the other is refused as the last admin (409) or, if it was read after the
    # winner's commit, because its caller is no admin any more (403).
    assert statuses[0] == 200 and statuses[1] in (403, 409), answers
    roles = {r.role for r in (await AgentRepo(server.app[ENGINE]).list_all())}
    assert roles == {"admin", "agent"}


async def test_two_admins_demoting_each_other_at_once_leave_one_on_sqlite(server: Server) -> None:
    await _two_admins_demote_each_other(server)


async def test_two_admins_demoting_each_other_at_once_leave_one_on_postgres(
    pg_server: Server,
) -> None:
    await _two_admins_demote_each_other(pg_server)
