"""The console's Admin page in Chromium: an admin creates an agent who then signs in (and
sees no Admin link), creates a bot and rotates its key (the old key gets 401), sets a
team; errors beside the fields; the axe check and a screenshot of each tab."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tests.browser.conftest import ConsolePage, OpenConsole, agent
from tests.conftest import Server

pytestmark = pytest.mark.asyncio(loop_scope="module")


async def open_admin(c: ConsolePage, email: str, tab: str) -> None:
    await c.signed_in(email, online=False)
    await c.page.get_by_role("link", name="Admin", exact=True).click()
    await (
        c.page.get_by_role("navigation", name="Admin sections")
        .get_by_role("link", name=tab)
        .click()
    )


async def test_an_admin_creates_an_agent_who_signs_in_and_sets_a_team(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    ada = await agent(server, bot, name="Ada", role="admin")
    ben = await agent(server, bot, name="Ben", teams=["billing"])
    a = await console()
    await open_admin(a, ada.email, "Agents")
    page = a.page
    await expect(page).to_have_url(f"{server.url}/console/#/admin/agents")
    table = page.locator(".admin-table")
    await expect(table).to_contain_text("Ben")
    await expect(table).to_contain_text("billing")
    assert await a.axe() == [], "agents tab"
    await a.shot("admin-agents")

    await page.get_by_role("button", name="New agent").click()
    form = page.get_by_role("form", name="New agent")
    await form.get_by_label("Email").fill("nia@example.com")
    await form.get_by_label("Password").fill("short")
    await form.get_by_label("Name").fill("Nia")
    await form.get_by_label("Role").select_option("supervisor")
    await form.get_by_label("Test bot").check()
    await form.get_by_label("Teams for Test bot").fill("billing, vip")
    await form.get_by_role("button", name="Create agent").click()
    # The server's refusal, beside the password field (and only there).
    password_error = page.locator("#agent-password-error")
    await expect(password_error).to_contain_text("at least 8 characters")
    await expect(form.get_by_label("Password")).to_have_attribute("aria-invalid", "true")
    assert await a.axe() == [], "agent form with an error"
    await a.shot("admin-agent-form-error")
    await form.get_by_label("Password").fill("long-enough-1")
    await form.get_by_label("Email").fill(ada.email)
    await form.get_by_role("button", name="Create agent").click()
    await expect(page.locator("#agent-email-error")).to_contain_text("already exists")
    await form.get_by_label("Email").fill("nia@example.com")
    await form.get_by_role("button", name="Create agent").click()
    await expect(form).to_have_count(0)
    row = table.locator("tr", has_text="Nia")
    await expect(row).to_contain_text("Supervisor")
    await expect(row).to_contain_text("billing, vip")

    # Nia signs in in her own browser context: the Inbox, a Dashboard, no Admin link.
    n = await console()
    await n.sign_in("nia@example.com", "long-enough-1")
    await expect(n.page.get_by_text("Connected")).to_be_visible()
    nav = n.page.get_by_role("link", name="Inbox")
    await expect(nav).to_be_visible()
    await expect(n.page.get_by_role("link", name="Admin", exact=True)).to_have_count(0)
    # Her address bar may still name the page: it says which role it needs, and the API
    # refuses her token on the admin routes.
    await n.page.goto(f"{server.url}/console/#/admin/agents")
    await expect(n.page.get_by_text("This page needs the admin role")).to_be_visible()
    await expect(n.page.locator(".admin-table")).to_have_count(0)

    # The last admin cannot disable themselves: the refusal is said above the table.
    await page.get_by_role("button", name="Disable Ada").click()
    await expect(page.get_by_role("alert")).to_contain_text("last active admin")

    # Teams: the bot's teams with their members; a new team from two agents.
    await (
        page.get_by_role("navigation", name="Admin sections")
        .get_by_role("link", name="Teams")
        .click()
    )
    await expect(page).to_have_url(f"{server.url}/console/#/admin/teams")
    billing = page.get_by_role("form", name="Team billing")
    await expect(billing.get_by_label("Ben")).to_be_checked()
    await expect(billing.get_by_label("Nia")).to_be_checked()
    new = page.get_by_role("form", name="New team")
    await new.get_by_role("button", name="Create team").click()
    await expect(new.get_by_role("alert")).to_contain_text("Give the team a name")
    await new.get_by_label("Team name").fill("no/slash")
    await new.get_by_label("Ben").check()
    await new.get_by_role("button", name="Create team").click()
    await expect(new.get_by_role("alert")).to_contain_text("team name")
    await new.get_by_label("Team name").fill("Tier 2")
    await new.get_by_role("button", name="Create team").click()
    tier2 = page.get_by_role("form", name="Team Tier 2")
    await expect(tier2.get_by_label("Ben")).to_be_checked()
    await expect(tier2.get_by_label("Nia")).not_to_be_checked()
    stored = await server.service.find_agent(ben.id)
    assert stored is not None and sorted(stored.teams[bot.id]) == ["Tier 2", "billing"]
    assert await a.axe() == [], "teams tab"
    await a.shot("admin-teams")

    # A reload stays on the tab; the canned responses tab reuses the canned editor.
    await page.reload()
    await expect(page.get_by_role("heading", name="Teams")).to_be_visible()
    await (
        page.get_by_role("navigation", name="Admin sections")
        .get_by_role("link", name="Canned responses")
        .click()
    )
    await expect(page.get_by_label("Shortcut")).to_be_visible()
    assert await a.axe() == [], "canned tab"
    await a.shot("admin-canned")


async def test_an_admin_creates_a_bot_edits_its_hours_and_rotates_its_key(
    server: Server, console: OpenConsole
) -> None:
    bot = await server.bot()
    ada = await agent(server, bot, name="Ada", role="admin")
    a = await console()
    await open_admin(a, ada.email, "Bots")
    page = a.page
    await expect(page).to_have_url(f"{server.url}/console/#/admin/bots")
    await expect(page.locator(".admin-table")).to_contain_text("Test bot")

    await page.get_by_role("button", name="New bot").click()
    form = page.get_by_role("form", name="New bot")
    await form.get_by_label("Name").fill("Support")
    await form.get_by_label("Assignment").select_option("manual")
    await form.get_by_label("Wait limit (seconds)").fill("0")
    await form.get_by_role("button", name="Create bot").click()
    await expect(page.locator("#bot-wait-error")).to_have_text("Input should be greater than 0")
    await form.get_by_label("Wait limit (seconds)").fill("90")
    await form.get_by_role("button", name="Create bot").click()
    shown = page.get_by_role("dialog", name="Support is ready")
    key = await shown.get_by_label("API key").input_value()
    assert key.startswith("hk_")
    await expect(shown).to_contain_text("Shown this once")
    assert await a.axe() == [], "a new bot's key"
    await a.shot("admin-bot-key")
    await shown.get_by_role("button", name="I have copied it").click()
    row = page.locator(".admin-table tr", has_text="Support")
    await expect(row).to_contain_text("Manual")
    await expect(row).to_contain_text("90 s")
    bot_id = (await row.locator("code").inner_text()).strip()
    async with server.http.get(
        f"{server.url}/api/v1/bots/{bot_id}", headers={"Authorization": f"Bearer {key}"}
    ) as resp:
        assert resp.status == 200

    # Business hours: a day that does not parse is said beside it; then saved.
    await page.get_by_role("button", name="Edit Support").click()
    form = page.get_by_role("form", name="Settings of Support")
    await form.get_by_label("Always open (no business hours)").uncheck()
    await form.get_by_label("Time zone").select_option("Europe/Berlin")
    await form.get_by_label("Monday").fill("9 to 5")
    await form.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#bh-mon-error")).to_contain_text("09:00-17:00")
    await form.get_by_label("Monday").fill("08:00-12:00, 13:00-17:00")
    await form.get_by_label("Holidays (closed all day)").fill("2026-12-25, christmas")
    await form.get_by_role("button", name="Save settings").click()
    await expect(page.locator("#bh-holidays-error")).to_have_text(
        "'christmas' is not a date YYYY-MM-DD"
    )
    assert await a.axe() == [], "bot settings with business hours"
    await a.shot("admin-bot-settings")
    await form.get_by_label("Holidays (closed all day)").fill("2026-12-25")
    await form.get_by_role("button", name="Save settings").click()
    await expect(form).to_have_count(0)
    await expect(row).to_contain_text("Europe/Berlin")
    stored = await server.service.bot(bot_id, field="bot_id")
    assert stored.business_hours is not None
    assert stored.business_hours["weekly"]["mon"] == [["08:00", "12:00"], ["13:00", "17:00"]]
    assert stored.business_hours["holidays"] == ["2026-12-25"]
    assert await a.axe() == [], "bots tab"
    await a.shot("admin-bots")

    # Rotate: confirm, the new key shown once; the old key is refused at once.
    await page.get_by_role("button", name="Rotate the API key of Support").click()
    confirm = page.get_by_role("dialog", name="Rotate the API key?")
    await confirm.get_by_role("button", name="Rotate key").click()
    shown = page.get_by_role("dialog", name="New API key of Support")
    new_key = await shown.get_by_label("API key").input_value()
    assert new_key.startswith("hk_") and new_key != key
    await shown.get_by_role("button", name="I have copied it").click()
    for used, status in [(key, 401), (new_key, 200)]:
        async with server.http.get(
            f"{server.url}/api/v1/bots/{bot_id}", headers={"Authorization": f"Bearer {used}"}
        ) as resp:
            assert resp.status == status
