"""The Actions Dashboard in a real browser, as a bot builder (an admin agent) uses it:
save with a syntax error and see it on its line, fix, run on the seeds' sample input,
publish ("Train Bot") and call production over REST, roll back; the refusals (code over
the limit, sample input that is not JSON, an env value over the limit) said in the page;
the logs filter; axe; screenshots."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.async_api import Page, expect

from tests.browser.conftest import ConsolePage, OpenConsole, agent
from tests.conftest import Bot, Server

pytestmark = pytest.mark.asyncio(loop_scope="module")

BROKEN = """import json

def main(event, context):
    body = json.loads(event['body'
    return {'statusCode': 200, 'body': '{}'}
"""

FIXED = """import json
import logging

logger = logging.getLogger()
logger.setLevel(logging.INFO)

def main(event, context):
    body = json.loads(event['body'])
    user = body.get('user') or {}
    logger.info("greeting %s", user.get('full_name'))
    final_response = {'status': True, 'greeting': 'Hello ' + str(user.get('full_name')),
                      'order': body['entities']['order_id_demotrain'][0]['entity_value']['value']}
    return {'statusCode': 200, 'body': json.dumps(final_response), 'headers': {}}
"""

SECOND = FIXED.replace("'Hello '", "'Welcome back '")

RAISES = """def main(event, context):
    data = {}
    return data['missing']
"""


async def rest(server: Server, bot: Bot, method: str, path: str, body: Any = None,
               token: str | None = None) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token or bot.api_key}"}
    url = f"{server.url}/api/v1/bots/{bot.id}{path}"
    async with server.http.request(method, url, json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def replace_code(page: Page, code: str, label: str = "Python code of greet") -> None:
    box = page.get_by_label(label)
    await box.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.press("Delete")
    await page.keyboard.insert_text(code)


async def marker_lines(page: Page) -> list[int]:
    """The line numbers beside which the lint gutter shows an error marker (by position)."""
    return list(await page.evaluate(
        """() => {
          const root = document.querySelector('.code-main').shadowRoot;
          const numbers = [...root.querySelectorAll('.cm-lineNumbers .cm-gutterElement')]
            .filter((el) => /^\\d+$/.test(el.textContent));
          return [...root.querySelectorAll('.cm-lint-marker-error')].map((m) => {
            const top = m.closest('.cm-gutterElement').getBoundingClientRect().top;
            const row = numbers.find((n) => Math.abs(n.getBoundingClientRect().top - top) < 2);
            return row ? Number(row.textContent) : -1;
          });
        }"""
    ))


def live(page: Page, version: int) -> Any:
    """The page's notice that a version now answers production calls."""
    return page.get_by_role("status").filter(has_text=f"version {version} now answers")


async def open_actions(c: ConsolePage, email: str, bot: Bot, name: str | None = None) -> None:
    await c.signed_in(email, online=False)
    await c.page.get_by_role("link", name="Actions").click()
    await expect(c.page.get_by_role("heading", name="Actions Dashboard")).to_be_visible()
    if name:
        await c.page.get_by_label("New action").fill(name)
        await c.page.get_by_role("button", name="Create").click()
        await expect(c.page.get_by_role("heading", name=name)).to_be_visible()


async def test_write_fix_run_publish_and_roll_back(server: Server, console: OpenConsole) -> None:
    bot = await server.bot()
    boss = await agent(server, bot, name="Builder", role="admin")
    c = await console()
    # CodeMirror's styles go into a constructed stylesheet of the editor's shadow root;
    # the page's strict policy must refuse nothing (an init script is the driver's, so the
    # page's policy is not loosened by it).
    await c.page.add_init_script(
        "window.__csp = []; document.addEventListener('securitypolicyviolation',"
        " (e) => window.__csp.push(e.violatedDirective + ' ' + e.blockedURI), true);"
    )
    await c.page.reload()
    await open_actions(c, boss.email, bot)
    await expect(c.page.get_by_text("No actions yet")).to_be_visible()
    assert await c.axe() == [], "empty Actions Dashboard"
    await c.page.get_by_label("New action").fill("bad name!")
    await c.page.get_by_role("button", name="Create").click()
    await expect(c.page.locator(".new-action .inline-error")).to_contain_text("1-100 letters")
    await c.page.get_by_label("New action").fill("greet")
    await c.page.get_by_role("button", name="Create").click()
    page = c.page
    await expect(page).to_have_url(f"{server.url}/console/#/actions/{bot.id}/greet")
    code = page.get_by_label("Python code of greet")
    await expect(code).to_contain_text("def main(event, context):")  # the seeds' template
    await expect(page.get_by_text("new action: not saved yet")).to_be_visible()

    # A syntax error: marked on line 4 in the gutter and underlined, listed below.
    await replace_code(page, BROKEN)
    await page.keyboard.press("Control+s")
    problem = page.get_by_role("region", name="Problems").locator(".problem")
    await expect(problem).to_have_count(1)
    await expect(problem).to_contain_text("Line 4, column")
    await expect(problem).to_contain_text("never closed")
    assert await marker_lines(page) == [4]
    marker = page.locator(".code-main .cm-lint-marker-error")
    assert await marker.evaluate("(m) => getComputedStyle(m).backgroundColor") == "rgb(198, 40, 40)"
    await expect(page.locator(".code-main .cm-lintRange-error")).to_have_count(1)
    await page.locator(".code-main .cm-lintRange-error").hover()
    await expect(page.locator(".code-main .cm-tooltip-lint")).to_contain_text("never closed")
    await expect(page.get_by_role("alert").filter(has_text="Saved as version 1 with 1 problem")
                 ).to_be_visible()
    assert await c.axe() == [], "editor with an error"
    await c.shot("actions-editor-errors")
    # The list's entry puts the cursor on the line.
    await problem.click()
    await expect(page.locator(".code-main .cm-activeLine")).to_contain_text("json.loads(event")

    # Fixed and run on the seeds' sample input (Ctrl+Enter saves the change first).
    await replace_code(page, FIXED)
    await page.keyboard.press("Control+Enter")
    output = page.get_by_label("Output")
    await expect(output).to_contain_text('"greeting": "Hello Ada Lovelace"')
    await expect(output).to_contain_text('"order": "abc123"')
    await expect(page.get_by_label("Logs", exact=True)).to_contain_text(
        "[INFO] greeting Ada Lovelace")
    await expect(page.locator(".run-summary")).to_contain_text("version 2")
    await expect(problem).to_have_count(0)
    assert await marker_lines(page) == []
    await c.shot("actions-run-output")

    # Train Bot, then a production call over REST with the bot's key.
    await page.get_by_role("button", name="Train Bot").click()
    await expect(live(page, 2)).to_be_visible()
    await expect(page.locator(".action-item", has_text="greet")).to_contain_text("production v2")
    status, called = await rest(server, bot, "POST", "/actions/greet/invoke",
                                {"user": {"full_name": "Grace"},
                                 "entities": {"order_id_demotrain": [
                                     {"entity_value": {"value": "z9"}}]}})
    assert status == 200 and called["ok"] is True, called
    assert called["output"]["greeting"] == "Hello Grace" and called["version"] == 2

    # A third version goes live, then a rollback to version 2 behind a confirmation.
    await replace_code(page, SECOND)
    await page.get_by_role("button", name="Train Bot").click()
    await expect(live(page, 3)).to_be_visible()
    _, called = await rest(server, bot, "POST", "/actions/greet/invoke",
                           {"user": {"full_name": "Grace"}, "entities": {
                               "order_id_demotrain": [{"entity_value": {"value": "z9"}}]}})
    assert called["output"]["greeting"] == "Welcome back Grace"
    versions = page.get_by_role("region", name="Versions")
    await versions.get_by_role("button", name="Publish version 2").click()
    dialog = page.get_by_role("dialog", name="Publish version 2?")
    await expect(dialog).to_contain_text("instead of version 3")
    await dialog.get_by_role("button", name="Publish version 2").click()
    await expect(live(page, 2)).to_be_visible()
    await expect(versions.locator("tr.is-production")).to_contain_text("v2")
    assert await c.axe() == [], "versions after a rollback"
    await versions.scroll_into_view_if_needed()
    await c.shot("actions-versions")
    _, called = await rest(server, bot, "POST", "/actions/greet/invoke",
                           {"user": {"full_name": "Grace"}, "entities": {
                               "order_id_demotrain": [{"entity_value": {"value": "z9"}}]}})
    assert called["output"]["greeting"] == "Hello Grace" and called["version"] == 2
    _, listed = await rest(server, bot, "GET", "/actions")
    assert listed["actions"] == [
        {"name": "greet", "latest_version": 3, "production_version": 2}]
    # Unsaved code survives a visit to another action.
    await replace_code(page, SECOND + "# draft\n")
    await page.get_by_label("New action").fill("other")
    await page.get_by_role("button", name="Create").click()
    await expect(page.get_by_label("Python code of other")).to_contain_text("def main(event")
    await page.locator(".action-item", has_text="greet").click()
    await expect(page.get_by_label("Python code of greet")).to_contain_text("# draft")
    await expect(page.get_by_role("status").filter(has_text="unsaved changes are back")
                 ).to_be_visible()
    assert await page.evaluate("window.__csp") == []
    # A narrow window: one column.
    await page.set_viewport_size({"width": 820, "height": 900})
    await page.get_by_role("heading", name="Actions Dashboard").scroll_into_view_if_needed()
    assert await c.axe() == [], "narrow window"
    await c.shot("actions-narrow")


async def test_refusals_bot_break_env_and_logs(server: Server, console: OpenConsole) -> None:
    bot = await server.bot()
    boss = await agent(server, bot, name="Builder", role="admin")
    c = await console()
    page = c.page
    sent: list[str] = []
    page.on("request", lambda r: sent.append(f"{r.method} {r.url}") if "/actions/" in r.url
            and r.method != "GET" else None)
    await open_actions(c, boss.email, bot, "check")

    # Sample input that is not JSON: refused beside the field, nothing sent.
    sample = page.get_by_label("Sample input JSON")
    await sample.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text('{"entities": {}, "user_data": }')
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_role("alert").filter(has_text="Sample input is not JSON")
                 ).to_contain_text("(line 1, column 31)")
    await expect(page.locator(".code-sample .cm-lintRange-error")).to_have_count(1)
    assert sent == []
    await sample.click()
    await page.keyboard.press("Control+A")
    await page.keyboard.insert_text('{"entities": {}, "user_data": {"full_name": "Ada"}}')
    await expect(page.get_by_role("alert").filter(has_text="Sample input is not JSON")
                 ).to_have_count(0)

    # Code over the size limit: said before sending.
    await replace_code(page, "x = 1\n" + "#" * 200_000, "Python code of check")
    await expect(page.locator(".editor-foot .warn-text")).to_contain_text("/ 200,000 characters")
    await page.get_by_role("button", name="Save").click()
    await expect(page.get_by_role("alert").filter(has_text="the limit is 200,000")
                 ).to_contain_text("Nothing was sent")
    assert sent == []

    # A bot break: its line highlighted, the error shown.
    await replace_code(page, RAISES, "Python code of check")
    await page.get_by_role("button", name="Run").click()
    await expect(page.locator(".run-error")).to_contain_text("on line 3")
    await expect(page.locator(".run-error")).to_contain_text("missing")
    await expect(page.locator(".code-main .cm-break-line")).to_have_count(1)
    await expect(page.locator(".code-main .cm-break-line")).to_contain_text("data['missing']")
    await replace_code(page, FIXED.replace("body['entities']['order_id_demotrain'][0]"
                                           "['entity_value']['value']", "'none'"),
                       "Python code of check")
    await page.get_by_role("button", name="Run").click()
    await expect(page.get_by_label("Output")).to_contain_text('"greeting": "Hello Ada"')
    await expect(page.locator(".code-main .cm-break-line")).to_have_count(0)

    # Env variables: a value over the limit refused with the server's message.
    env = page.get_by_role("region", name="Env variables")
    await expect(env).to_contain_text("At most 50 characters")
    await env.get_by_role("button", name="New variable").click()
    await env.get_by_label("Variable name").fill("API_KEY")
    await env.get_by_label("Staging value").fill("s" * 51)
    await expect(env.get_by_label("Staging value")).to_have_attribute("type", "password")
    await expect(env.locator(".warn-text")).to_contain_text("51 / 50 characters")
    await env.get_by_role("button", name="Save variable").click()
    await expect(env.get_by_role("alert")).to_contain_text(
        "staging is 51 characters; the limit is 50")
    await env.scroll_into_view_if_needed()
    await c.shot("actions-env-refused")
    await env.get_by_label("Show values").check()
    await expect(env.get_by_label("Staging value")).to_have_attribute("type", "text")
    await env.get_by_label("Staging value").fill("staging-secret")
    await env.get_by_label("Production value").fill("prod-secret")
    await env.get_by_role("button", name="Save variable").click()
    row = env.locator(".env-row", has_text="API_KEY")
    await expect(row).to_contain_text("staging set")
    await expect(row).to_contain_text("production set")
    await expect(env).not_to_contain_text("staging-secret")
    _, stored = await rest(server, bot, "GET", "/env")
    assert stored["variables"][0]["staging"] == "********"
    # A second variable, changed on one stage only, then deleted after a confirmation.
    await env.get_by_role("button", name="New variable").click()
    await env.get_by_label("Variable name").fill("REGION")
    await env.get_by_label("Staging value").fill("eu")
    await env.get_by_role("button", name="Save variable").click()
    region = env.locator(".env-row", has_text="REGION")
    await expect(region).to_contain_text("production unset")
    await region.get_by_role("button", name="Change REGION").click()
    await region.get_by_label("Production value").fill("us")
    await region.get_by_role("button", name="Save variable").click()
    await expect(region).to_contain_text("production set")
    await expect(region).to_contain_text("staging set")
    await region.get_by_role("button", name="Delete REGION").click()
    await page.get_by_role("dialog", name="Delete REGION?").get_by_role(
        "button", name="Delete REGION").click()
    await expect(env.locator(".env-row")).to_have_count(1)
    _, stored = await rest(server, bot, "GET", "/env")
    assert [v["name"] for v in stored["variables"]] == ["API_KEY"]
    assert await c.axe() == [], "env variables"
    await env.scroll_into_view_if_needed()
    await c.shot("actions-env")

    # Execution logs: one bot break and one success, filtered by outcome and stage.
    logs = page.get_by_role("region", name="Execution logs")
    await logs.get_by_role("button", name="Refresh").click()
    rows = logs.locator("tbody tr")
    await expect(rows).to_have_count(2)
    await logs.get_by_label("Outcome").select_option("false")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("error")
    await expect(rows).to_contain_text("line 3")
    await logs.get_by_label("Outcome").select_option("true")
    await expect(rows).to_have_count(1)
    await expect(rows).to_contain_text("[INFO] greeting Ada")
    await logs.get_by_label("Stage").select_option("production")
    await expect(logs.get_by_text("No executions match in the last 24 hours.")).to_be_visible()
    await logs.get_by_label("Stage").select_option("staging")
    await expect(rows).to_have_count(1)
    assert await c.axe() == [], "execution logs"
    await logs.scroll_into_view_if_needed()
    await c.shot("actions-logs")


async def test_an_agent_without_the_role_is_refused(server: Server, console: OpenConsole) -> None:
    bot = await server.bot()
    plain = await agent(server, bot, name="Plain")
    c = await console()
    await c.signed_in(plain.email, online=False)
    await c.page.evaluate(f"location.hash = '#/actions/{bot.id}'")
    await expect(c.page.get_by_text("This page needs the admin role")).to_be_visible()
    token = await server.login(plain.email)
    status, body = await rest(server, bot, "GET", "/actions", token=token)
    assert status == 403
    assert body["error"]["code"] == "forbidden" and body["error"]["field"] == "role"
