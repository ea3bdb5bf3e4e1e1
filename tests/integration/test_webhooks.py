"""Webhooks to the bot: signed, from the outbox, retried, in order, across restarts.

A real local HTTP server receives them (``webhook_receiver.Receiver``). Retries
are driven by the sender's ``run_once(now)`` with a clock ahead of the wall, so
nothing waits for a backoff to pass.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest

from handoff.api.keys import WEBHOOKS
from handoff.app import ENGINE
from handoff.protocol.webhooks import DeliveryStatus
from handoff.storage.outbox import OutboxRepo, OutboxSignal
from handoff.webhooks import WebhookSender
from tests.conftest import Bot, Server, make_settings, start_server, stop_server
from tests.integration.webhook_receiver import Receiver, verify

SECRET = "whsec-test-0123456789abcdef"
# The wall clock is ahead of every backoff from here; a retry is driven, never waited for.
AFTER_BACKOFF = 11.0


def auth(bot: Bot) -> dict[str, str]:
    return {"Authorization": f"Bearer {bot.api_key}"}


async def configure(server: Server, bot: Bot, url: str | None, secret: str | None = SECRET) -> Any:
    async with server.http.patch(
        f"{server.url}/api/v1/bots/{bot.id}",
        json={"webhook_url": url, "webhook_secret": secret},
        headers=auth(bot),
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def deliveries(server: Server, bot: Bot, query: str = "") -> list[dict[str, Any]]:
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/webhooks/deliveries{query}", headers=auth(bot)
    ) as resp:
        assert resp.status == 200, await resp.text()
        return list((await resp.json())["deliveries"])


def sender(server: Server) -> WebhookSender:
    return server.app[WEBHOOKS]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    hook = await Receiver().start()
    try:
        yield hook
    finally:
        await hook.stop()


@pytest.fixture
async def hooks(tmp_path: Path) -> AsyncIterator[Server]:
    # The longest allowed first backoff (5-10 s): the background loop never retries
    # on its own while a test runs; the test drives the retry.
    runner, srv = await start_server(make_settings(tmp_path, webhook_retry_base_seconds=10))
    try:
        yield srv
    finally:
        await stop_server(runner, srv)


def types(received: list[Any]) -> list[str]:
    return [r.event["type"] for r in received]


async def test_every_event_is_signed_and_typed_and_the_close_carries_the_outcome(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    bot = await server.bot()
    settings = await configure(server, bot, receiver.url)
    assert settings["webhook_secret_set"] is True and "webhook_secret" not in settings
    anna = await server.agent(bot, name="Anna")
    ben = await server.agent(bot, name="Ben")
    sock_a = await server.agent_socket(anna)
    cid = (await server.handoff(bot))["ConversationID"]
    await server.widget(cid, bot)
    await sock_a.rec.wait("conversation_assigned")
    sock_b = await server.agent_socket(ben)
    ack = await sock_a.call("transfer", {"conversation_id": cid, "to_agent_id": ben.id})
    assert ack["ok"], ack
    await sock_b.rec.wait("conversation_assigned")
    outcome = {
        "status": "back_to_bot",
        "note": "order found",
        "variables": {"order_id": "abc123", "refund": "yes"},
    }
    ack = await sock_b.call("close", {"conversation_id": cid, "outcome": outcome})
    assert ack["ok"], ack
    await receiver.wait_for(lambda r: len(r.ok()) == 4)
    got = receiver.ok()
    assert types(got) == [
        "conversation.queued",
        "conversation.assigned",
        "conversation.transferred",
        "conversation.closed",
    ]
    for r in got:
        assert verify(SECRET, r.headers, r.body), r.headers
        assert not verify("another-secret-of-16", r.headers, r.body)
        assert r.headers["Content-Type"] == "application/json"
        assert r.headers["X-Handoff-Delivery"] == r.event["id"]
        assert set(r.event) == {"id", "type", "created_at", "bot_id", "conversation_id", "data"}
        assert (r.event["bot_id"], r.event["conversation_id"]) == (bot.id, cid)
    assert got[1].event["data"]["agent_id"] == anna.id
    assert got[2].event["data"]["from_agent_id"] == anna.id
    assert got[2].event["data"]["to_agent_id"] == ben.id
    closed = got[3].event["data"]
    assert closed["close_reason"] == "resolved" and closed["agent_id"] == ben.id
    assert closed["outcome"] == outcome
    # A tampered body fails the check.
    assert not verify(SECRET, got[3].headers, got[3].body.replace(b"abc123", b"abc124"))

    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot.id}/conversations/{cid}", headers=auth(bot)
    ) as resp:
        view = await resp.json()
    assert view["close_reason"] == "resolved" and view["outcome"] == outcome
    await sender(server).settle()
    rows = await deliveries(server, bot)
    assert [d["type"] for d in rows] == list(reversed(types(got)))  # newest first
    for d in rows:
        assert d["status"] == "delivered" and d["attempts"] == 1
        assert d["last_status_code"] == 200 and d["delivered_at"] and d["next_attempt_at"] is None


async def test_every_end_is_reported_with_its_reason(hooks: Server, receiver: Receiver) -> None:
    server = hooks
    bot = await server.bot()
    await configure(server, bot, receiver.url)
    # no agent: queued and nobody came; timeout: the widget never bound.
    queued = (await server.handoff(bot))["ConversationID"]
    await server.widget(queued, bot)
    pending = (await server.handoff(bot))["ConversationID"]
    await server.service.sweep(time.time() + 3600)
    # abandoned: the widget left an assigned conversation and did not come back.
    cid, widget, sock = await server.live_pair(bot)
    await widget.close()
    await sock.rec.wait("user_left")
    await server.service.sweep(time.time() + 3600)
    # resolved with a plain-string outcome: the note of a resolved one.
    cid2, _, sock2 = await server.live_pair(bot)
    assert (await sock2.call("close", {"conversation_id": cid2, "outcome": "done"}))["ok"]
    await receiver.wait_for(
        lambda r: sum(x.event["type"] == "conversation.closed" for x in r.ok()) == 4
    )
    ends = {
        r.event["conversation_id"]: r.event["data"]
        for r in receiver.ok()
        if r.event["type"] == "conversation.closed"
    }
    assert ends[queued] == {"close_reason": "no_agent", "outcome": None, "agent_id": None}
    assert ends[pending]["close_reason"] == "timeout"
    assert ends[cid]["close_reason"] == "abandoned" and ends[cid]["outcome"] is None
    assert ends[cid2]["outcome"] == {"status": "resolved", "note": "done", "variables": {}}


async def test_a_500_is_retried_and_a_conversation_keeps_its_order(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    receiver.answer = lambda n: 500 if n == 0 else 200
    bot = await server.bot()
    await configure(server, bot, receiver.url)
    cid, _, sock = await server.live_pair(bot)
    assert (await sock.call("close", {"conversation_id": cid}))["ok"]
    await receiver.wait_for(lambda r: len(r.received) >= 1)
    await sender(server).settle()
    rows = {d["type"]: d for d in await deliveries(server, bot)}
    first = rows["conversation.queued"]
    assert (first["status"], first["attempts"], first["last_status_code"]) == ("pending", 1, 500)
    assert "HTTP 500" in first["last_error"]
    gap = datetime.fromisoformat(first["next_attempt_at"]) - datetime.fromisoformat(
        first["last_attempt_at"]
    )
    assert 0 < gap.total_seconds() <= 10  # the first retry comes within 10 s
    # The later events wait for the earlier one: nothing else was sent.
    assert len(receiver.received) == 1
    assert rows["conversation.assigned"]["attempts"] == 0
    assert rows["conversation.closed"]["attempts"] == 0

    assert await sender(server).run_once(time.time() + AFTER_BACKOFF) == 1
    await receiver.wait_for(lambda r: len(r.ok()) == 3)
    assert types(receiver.ok()) == [
        "conversation.queued",
        "conversation.assigned",
        "conversation.closed",
    ]
    assert receiver.received[0].delivery == receiver.ok()[0].delivery  # the same event again
    await sender(server).settle()
    done = await deliveries(server, bot, "?status=delivered")
    assert len(done) == 3 and {d["attempts"] for d in done} == {1, 2}
    await sender(server).run_once()  # a pass counts the backlog again
    async with server.http.get(f"{server.url}/metrics") as resp:
        metrics = await resp.text()
    assert 'handoff_webhook_deliveries_total{result="retry"}' in metrics
    assert "handoff_webhook_outbox_backlog 0.0" in metrics
    # Kept for HANDOFF_WEBHOOK_RETENTION_SECONDS, then purged; pending ones never are.
    assert await sender(server).purge(time.time()) == 0
    assert await sender(server).purge(time.time() + 8 * 24 * 3600) == 3
    assert await deliveries(server, bot) == []


async def test_retries_last_a_day_then_fail_and_can_be_sent_again(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    receiver.answer = lambda n: 500
    bot = await server.bot()
    await configure(server, bot, receiver.url)
    await server.handoff(bot, ConversationID="retry-window-1")
    await server.widget("retry-window-1", bot)  # conversation.queued
    await receiver.wait_for(lambda r: len(r.received) == 1)
    await sender(server).settle()
    outbox = OutboxRepo(server.app[ENGINE])
    (row,) = await outbox.list(bot.id, status=None, limit=10)
    attempts_at = [row.last_attempt_at]
    while row.status is DeliveryStatus.PENDING:
        assert row.next_attempt_at is not None
        assert await sender(server).run_once(row.next_attempt_at.timestamp()) == 1
        (row,) = await outbox.list(bot.id, status=None, limit=10)
        attempts_at.append(row.last_attempt_at)
    assert row.status is DeliveryStatus.FAILED and row.next_attempt_at is None
    assert len(receiver.received) == row.attempts
    gaps = [(b - a).total_seconds() for a, b in pairwise(attempts_at)]  # type: ignore[operator]
    # Within 10 s first, then growing (the last one is cut to the window's end).
    assert gaps[0] <= 10 and all(b >= a * 0.5 for a, b in pairwise(gaps[:-1]))
    assert (row.last_attempt_at - row.created_at).total_seconds() >= 24 * 3600
    failed = await deliveries(server, bot, "?status=failed")
    assert [d["id"] for d in failed] == [row.event_id]
    assert failed[0]["last_status_code"] == 500

    receiver.answer = lambda n: 200
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/webhooks/deliveries/{row.event_id}/retry",
        headers=auth(bot),
    ) as resp:
        assert resp.status == 200, await resp.text()
        assert (await resp.json())["status"] == "pending"
    await receiver.wait_for(lambda r: len(r.ok()) == 1)  # sent by the woken loop
    assert receiver.ok()[0].delivery == row.event_id
    await sender(server).settle()
    (d,) = await deliveries(server, bot)
    assert d["status"] == "delivered" and d["attempts"] == row.attempts + 1
    # A delivered one is not sent again.
    async with server.http.post(
        f"{server.url}/api/v1/bots/{bot.id}/webhooks/deliveries/{row.event_id}/retry",
        headers=auth(bot),
    ) as resp:
        assert resp.status == 409
        assert (await resp.json())["error"]["code"] == "already_delivered"


async def test_a_restart_mid_retry_delivers_every_event_exactly_once(tmp_path: Path) -> None:
    # The endpoint is dead (connection refused) while the first server runs.
    receiver = Receiver()
    settings = make_settings(tmp_path, webhook_retry_base_seconds=10)
    runner, server = await start_server(settings)
    try:
        bot = await server.bot()
        await configure(server, bot, receiver.url)
        cids = []
        for _ in range(2):
            cid, _, sock = await server.live_pair(bot)
            assert (await sock.call("close", {"conversation_id": cid}))["ok"]
            cids.append(cid)
        await sender(server).run_once(time.time())
        await sender(server).settle()
        rows = await deliveries(server, bot)
        assert len(rows) == 6 and all(d["status"] == "pending" for d in rows)
        tried = [d for d in rows if d["attempts"]]
        assert {d["type"] for d in tried} == {"conversation.queued"}
        assert all(d["last_status_code"] is None for d in tried)
        assert all("Connect" in d["last_error"] for d in tried)
    finally:
        await stop_server(runner, server)

    await receiver.start()
    runner, server = await start_server(settings)
    try:
        await sender(server).run_once(time.time() + AFTER_BACKOFF)
        await receiver.wait_for(lambda r: len(r.ok()) == 6)
        await sender(server).settle()
        got = receiver.ok()
        assert len({r.delivery for r in got}) == 6  # each once
        assert {r.delivery for r in got} == {d["id"] for d in rows}
        for cid in cids:
            mine = [r for r in got if r.event["conversation_id"] == cid]
            assert types(mine) == [
                "conversation.queued",
                "conversation.assigned",
                "conversation.closed",
            ]
        assert all(d["status"] == "delivered" for d in await deliveries(server, bot))
        assert await sender(server).run_once(time.time() + 3 * 24 * 3600) == 0
        assert len(receiver.received) == 6
    finally:
        await stop_server(runner, server)
        await receiver.stop()


async def test_a_hanging_endpoint_blocks_no_socket_event_and_no_other_bot(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    slow = await Receiver(hang=True).start()
    try:
        stuck = await server.bot()
        await configure(server, stuck, slow.url)
        limit = server.settings.webhook_concurrency_per_bot
        for i in range(limit + 2):
            await server.handoff(stuck, ConversationID=f"stuck-{i:04d}")
            await server.widget(f"stuck-{i:04d}", stuck)
        await slow.wait_for(lambda r: len(r.received) == limit)  # its slots are full
        # Another bot's webhooks and every socket event go on meanwhile.
        other = await server.bot()
        await configure(server, other, receiver.url)
        cid, widget, sock = await server.live_pair(other)
        ack = await sock.call("send_message", {"conversation_id": cid, "text": "hello"})
        assert ack["ok"], ack
        await widget.rec.wait("to_user", lambda d: d["message"] == "hello")
        ack = await widget.call(
            "from_user", {"message": "hi", "ConversationID": cid, "BotID": other.id}
        )
        await sock.rec.wait("user_message", lambda d: d["text"] == "hi")
        await receiver.wait_for(lambda r: len(r.ok()) == 2)
        assert types(receiver.ok()) == ["conversation.queued", "conversation.assigned"]
        assert len(slow.received) == limit  # no more than its share in flight
    finally:
        await slow.stop()


async def test_webhooks_only_for_bots_with_a_url_and_unsigned_without_a_secret(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    quiet = await server.bot()
    await server.live_pair(quiet)
    assert await deliveries(server, quiet) == []  # no URL: nothing was written
    bot = await server.bot()
    settings = await configure(server, bot, receiver.url, secret=None)
    assert settings["webhook_secret_set"] is False
    await server.handoff(bot, ConversationID="unsigned-1")
    await server.widget("unsigned-1", bot)
    await receiver.wait_for(lambda r: len(r.ok()) == 1)
    (r,) = receiver.ok()
    assert "X-Handoff-Signature" not in r.headers
    assert r.headers["X-Handoff-Delivery"] and r.headers["X-Handoff-Timestamp"].isdigit()
    # A change made while the bot has no URL is never written, so never sent later.
    await configure(server, bot, None, secret=None)
    sock = await server.agent_socket(await server.agent(bot))
    await sock.rec.wait("conversation_assigned")
    await configure(server, bot, receiver.url, secret=None)
    assert [d["type"] for d in await deliveries(server, bot)] == ["conversation.queued"]


async def test_bad_webhook_settings_and_delivery_requests(
    hooks: Server, receiver: Receiver
) -> None:
    server = hooks
    bot = await server.bot()
    other = await server.bot()
    url = f"{server.url}/api/v1/bots/{bot.id}"

    async def patch(body: dict[str, Any]) -> tuple[int, Any]:
        async with server.http.patch(url, json=body, headers=auth(bot)) as resp:
            return resp.status, await resp.json()

    for body, field in [
        ({"webhook_url": "ftp://example.com/hook"}, "webhook_url"),
        ({"webhook_url": "http://"}, "webhook_url"),
        ({"webhook_url": "javascript:alert(1)"}, "webhook_url"),
        ({"webhook_url": "http://example.com:99999/"}, "webhook_url"),
        ({"webhook_url": 5}, "webhook_url"),
        ({"webhook_secret": "short"}, "webhook_secret"),
        ({"webhook_secret": "x" * 201}, "webhook_secret"),
        ({"webhook_signing": "yes"}, "webhook_signing"),
    ]:
        status, answer = await patch(body)
        assert status == 400, (body, answer)
        assert answer["error"]["field"] == field, answer
    status, answer = await patch({})
    assert status == 200 and answer["webhook_url"] is None and not answer["webhook_secret_set"]
    await configure(server, other, receiver.url)
    await server.handoff(other, ConversationID="others-1")
    await server.widget("others-1", other)
    await receiver.wait_for(lambda r: len(r.ok()) == 1)
    theirs = receiver.ok()[0].delivery

    async def call(method: str, path: str, key: Bot = bot) -> tuple[int, Any]:
        async with server.http.request(method, url + path, headers=auth(key)) as resp:
            return resp.status, await resp.json()

    for method, path, status, field in [
        ("GET", "/webhooks/deliveries?status=lost", 400, "status"),
        ("GET", "/webhooks/deliveries?limit=0", 400, "limit"),
        ("GET", "/webhooks/deliveries?limit=many", 400, "limit"),
        ("GET", "/webhooks/deliveries?limit=501", 400, "limit"),
        ("POST", "/webhooks/deliveries/evt_nope/retry", 404, "delivery_id"),
        ("POST", f"/webhooks/deliveries/{theirs}/retry", 404, "delivery_id"),
    ]:
        got, answer = await call(method, path)
        assert got == status, (path, answer)
        assert answer["error"]["field"] == field
    got, answer = await call("GET", "/webhooks/deliveries", key=other)  # not its bot
    assert got == 403 and answer["error"]["field"] == "bot_id"
    async with server.http.get(url + "/webhooks/deliveries") as resp:
        assert resp.status == 401


async def test_the_lease_lets_one_of_many_senders_send_each_event_on_postgres(
    pg_server: Server, receiver: Receiver
) -> None:
    server = pg_server
    receiver.answer = lambda n: 500 if n < 3 else 200
    bot = await server.bot()
    await configure(server, bot, receiver.url)
    for i in range(3):
        await server.handoff(bot, ConversationID=f"lease-{i:04d}")
        await server.widget(f"lease-{i:04d}", bot)
    await receiver.wait_for(lambda r: len(r.received) == 3)
    await sender(server).settle()
    # Four senders (as four processes would) race for the same due rows.
    engine = server.app[ENGINE]
    others = [WebhookSender(OutboxRepo(engine), OutboxSignal(), server.settings) for _ in range(3)]
    for s in others:
        await s.start(background=False)
    try:
        later = time.time() + 60
        counts = await asyncio.gather(
            sender(server).run_once(later), *(s.run_once(later) for s in others)
        )
        assert sum(counts) == 3  # every row claimed by exactly one
        await receiver.wait_for(lambda r: len(r.ok()) == 3)
        assert len({r.delivery for r in receiver.ok()}) == 3
        assert await asyncio.gather(*(s.run_once(later + 60) for s in others)) == [0, 0, 0]
    finally:
        for s in others:
            await s.aclose()
    assert len(receiver.ok()) == 3
