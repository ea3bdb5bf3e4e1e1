"""The supervisor's Dashboard in Chromium: the numbers of a day of conversations the
test drove through the server, in the totals, the charts (Chart.js's own data) and
their tables, each equal to GET /api/v1/stats; the live panel; an empty period said
in words; a bad period's message beside its control; axe; screenshots."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.async_api import expect

from handoff.app import ENGINE
from handoff.storage.agents import AgentRepo
from tests.browser.conftest import PASSWORD, ConsolePage, OpenConsole
from tests.conftest import Server
from tests.integration.test_stats import _drive_a_day

pytestmark = pytest.mark.asyncio(loop_scope="module")

# What a browser does when its tab is hidden or shown again.
_SET_VISIBILITY = """(state) => {
    Object.defineProperty(document, "visibilityState", {value: state, configurable: true});
    document.dispatchEvent(new Event("visibilitychange"));
}"""


async def _api(server: Server, token: str, query: str) -> Any:
    async with server.http.get(
        f"{server.url}/api/v1/stats?{query}", headers={"Authorization": f"Bearer {token}"}
    ) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _chart_data(c: ConsolePage, chart: str) -> list[list[Any]]:
    return list(
        await c.page.evaluate(
            """(id) => Chart.getChart(document.querySelector(`[data-chart="${id}"] canvas`))
                 .data.datasets.map((d) => d.data)""",
            chart,
        )
    )


async def _table(c: ConsolePage, chart: str) -> list[list[str]]:
    card = c.page.locator(f'[data-chart="{chart}"]')
    await card.get_by_role("button", name="Show as table").click()
    rows = card.locator("tbody tr")
    out: list[list[str]] = []
    for i in range(await rows.count()):
        cells = rows.nth(i).locator("td")
        out.append(
            [
                await cells.nth(j).get_attribute("data-value") or ""
                for j in range(await cells.count())
            ]
        )
    return out


async def test_a_supervisor_sees_the_days_numbers(server: Server, console: OpenConsole) -> None:
    day = await _drive_a_day(server)
    supervisor = await AgentRepo(server.app[ENGINE]).create(
        f"sup-{time.monotonic_ns()}@example.com", PASSWORD, bots=[day.bot.id], role="supervisor"
    )
    token = await server.login(supervisor.email)
    c = await console()
    await c.signed_in(supervisor.email, online=False)
    await c.page.get_by_role("link", name="Dashboard").click()
    page = c.page
    async with page.expect_response(lambda r: "/api/v1/stats?" in r.url) as answer:
        await page.get_by_label("Bot").select_option(day.bot.id)
    query = urlsplit((await answer.value).url).query
    await expect(page.locator('[data-kpi="conversations"]')).to_have_text("7")

    stats = await _api(server, token, query)
    # What the test did: 7 handoffs (one a second handoff of the first conversation),
    # 4 taken, 3 closed by agents, one each abandoned, no agent, timed out; 1 transfer.
    assert stats["totals"] == {
        "conversations": 7,
        "assigned": 4,
        "resolved": 3,
        "abandoned": 1,
        "no_agent": 1,
        "timeout": 1,
        "transfers": 1,
        "open": 1,
    }
    for key in ("assigned", "resolved", "abandoned", "no_agent", "timeout", "transfers"):
        await expect(page.locator(f'[data-kpi="{key}"]')).to_have_text(str(stats["totals"][key]))

    series = stats["series"]
    conversations, assigned = await _chart_data(c, "conversations")
    assert conversations == [p["conversations"] for p in series]
    assert assigned == [p["assigned"] for p in series]
    p50, p90 = await _chart_data(c, "wait")
    assert p50 == [p["wait_p50"] for p in series] and p90 == [p["wait_p90"] for p in series]
    (transfers,) = await _chart_data(c, "transfers")
    assert transfers == [p["transfers"] for p in series] and sum(transfers) == 1
    (ended,) = await _chart_data(c, "outcomes")
    assert ended == [3, 1, 1, 1, 1, 1, 1, 0]

    await c.shot("dashboard-overview")
    table = await _table(c, "conversations")
    assert [[int(a), int(b)] for a, b in table] == [
        [p["conversations"], p["assigned"]] for p in series
    ]
    wait_table = await _table(c, "wait")
    assert [[float(a) if a else None, float(b) if b else None] for a, b in wait_table] == [
        [p["wait_p50"], p["wait_p90"]] for p in series
    ]

    # Live: the open conversation is in progress with Anna online, Ben away.
    live = page.locator(f'[data-bot="{day.bot.id}"]')
    await expect(live.locator('[data-kpi="in_progress"]')).to_have_text("1")
    await expect(live.locator('[data-kpi="agents_online"]')).to_have_text("1")
    await expect(live.locator('[data-kpi="agents_away"]')).to_have_text("1")
    await expect(live.get_by_text("Anna")).to_be_visible()
    assert await c.axe() == [], "dashboard"
    await c.shot("dashboard")

    # The CSV download is the API's CSV for the same query.
    async with page.expect_download() as download:
        await page.get_by_role("button", name="Download CSV").click()
    saved = await (await download.value).path()
    async with server.http.get(
        f"{server.url}/api/v1/stats?{query}&format=csv",
        headers={"Authorization": f"Bearer {token}"},
    ) as resp:
        assert saved.read_bytes() == await resp.read()
    assert (await download.value).suggested_filename.endswith(".csv")

    # One agent: Ben took part in the transferred conversation only.
    async with page.expect_response(lambda r: "agent_id=" in r.url):
        await page.get_by_label("Agent", exact=True).select_option(day.ben_id)
    await expect(page.locator('[data-kpi="conversations"]')).to_have_text("1")
    await expect(page.locator('[data-kpi="transfers"]')).to_have_text("1")
    await page.get_by_label("Agent", exact=True).select_option("")
    await expect(page.locator('[data-kpi="conversations"]')).to_have_text("7")
    await page.locator('[data-chart="rates"]').scroll_into_view_if_needed()
    await c.shot("dashboard-charts")

    # Seven days, by day: today's bucket holds them all.
    async with page.expect_response(lambda r: "bucket=day" in r.url) as weekly:
        await page.get_by_role("button", name="7 days").click()
    week = await _api(server, token, urlsplit((await weekly.value).url).query)
    assert len(week["series"]) == 7 and week["series"][-1]["conversations"] == 7
    await expect(page.locator('[data-chart="conversations"] h2')).to_have_text(
        "Conversations per day"
    )
    conversations, _ = await _chart_data(c, "conversations")
    assert conversations == [p["conversations"] for p in week["series"]]

    # A period long before: said in words, no chart.
    await page.get_by_role("button", name="Custom").click()
    await page.get_by_label("From", exact=True).fill("2020-01-01T00:00")
    await page.get_by_label("To", exact=True).fill("2020-01-02T00:00")
    await expect(page.get_by_text("No conversations in this period")).to_be_visible()
    await expect(page.locator("[data-chart]")).to_have_count(0)
    await expect(page.locator('[data-kpi="conversations"]')).to_have_text("0")
    assert await c.axe() == [], "empty period"
    await c.shot("dashboard-empty")

    # From after to: the API's message beside From.
    await page.get_by_label("From", exact=True).fill("2020-01-03T00:00")
    error = page.locator("#err-from")
    await expect(error).to_have_text("from is after to")
    start = page.get_by_label("From", exact=True)
    await expect(start).to_have_attribute("aria-describedby", "err-from")
    await c.shot("dashboard-bad-period")


async def test_an_agent_is_refused_the_dashboard(server: Server, console: OpenConsole) -> None:
    bot = await server.bot()
    plain = await AgentRepo(server.app[ENGINE]).create(
        f"a-{time.monotonic_ns()}@example.com", PASSWORD, bots=[bot.id]
    )
    c = await console()
    await c.signed_in(plain.email, online=False)
    await c.page.goto(f"{server.url}/console/#/dashboard")
    await expect(c.page.get_by_text("This page needs the supervisor role")).to_be_visible()


async def test_the_live_panel_pauses_while_the_tab_is_hidden(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    supervisor = await AgentRepo(server.app[ENGINE]).create(
        f"sup-{time.monotonic_ns()}@example.com", PASSWORD, bots=[bot.id], role="supervisor"
    )
    c = await console()
    page = c.page
    # The page's timers run on a clock the test moves: no waiting on the wall clock.
    await page.clock.install()
    await c.signed_in(supervisor.email, online=False)
    asked: list[str] = []
    page.on("request", lambda r: asked.append(r.url) if "/api/v1/stats/live" in r.url else None)
    async with page.expect_response(lambda r: "/api/v1/stats/live" in r.url):
        await page.get_by_role("link", name="Dashboard").click()
    async with page.expect_response(lambda r: "/api/v1/stats/live" in r.url):
        await page.clock.run_for(5_500)  # one refresh while visible
    assert len(asked) == 2

    await page.evaluate(
        _SET_VISIBILITY,
        "hidden",
    )
    await page.clock.run_for(16_000)  # three refreshes' worth: none while hidden
    assert len(asked) == 2
    async with page.expect_response(lambda r: "/api/v1/stats/live" in r.url):
        await page.evaluate(
            _SET_VISIBILITY,
            "visible",
        )
    assert len(asked) == 3  # shown again: at once
