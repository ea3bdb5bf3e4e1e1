"""The agent console's page and files as the server hands them out: where, with which
policy, and vendored with their licenses."""

from __future__ import annotations

import re
from pathlib import Path

from handoff.api.security_headers import OTHER_POLICY, PAGE_POLICY
from tests.conftest import Server

CONSOLE = Path(__file__).resolve().parents[2] / "handoff" / "console"
BUNDLES = {"/console/vendor/codemirror.js"}
"""Vendored files bundled by esbuild (scripts/vendor.sh): no imports of their own."""


async def test_the_page_is_at_console_with_the_page_policy(server: Server) -> None:
    async with server.http.get(f"{server.url}/console", allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "/console/"
    async with server.http.get(f"{server.url}/console/") as resp:
        assert resp.status == 200
        assert resp.content_type == "text/html"
        assert resp.headers["Content-Security-Policy"] == PAGE_POLICY
        assert resp.headers["Cache-Control"] == "no-cache"
        etag = resp.headers["ETag"]
        html = await resp.text()
    # A reload revalidates: the 304 carries the page's policy, not the no-script one.
    async with server.http.get(f"{server.url}/console/", headers={"If-None-Match": etag}) as resp:
        assert resp.status == 304
        assert resp.headers["Content-Security-Policy"] == PAGE_POLICY
    # Nothing inline, nothing from elsewhere: only files of this server.
    assert "<script>" not in html and " style=" not in html and " on" not in html.lower()
    sources = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert sources and all(s.startswith("/console/") for s in sources), sources
    for path in sources:
        async with server.http.get(server.url + path) as resp:
            assert resp.status == 200, path
            assert resp.headers["Content-Security-Policy"] == OTHER_POLICY


async def test_every_module_the_page_imports_is_served(server: Server) -> None:
    """Relative imports only (no bare specifiers: the page has no import map)."""
    seen: set[str] = set()
    todo = ["/console/js/main.js"]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        async with server.http.get(server.url + path) as resp:
            assert resp.status == 200, path
            assert "javascript" in resp.content_type
            text = await resp.text()
        if path in BUNDLES:
            # One self-contained module by construction; its minified text has strings
            # that look like imports to the pattern below.
            assert "\nimport " not in text and not text.startswith("import ")
            continue
        # The keyword starts a word: `for="f-from"` or `field="from"` in a template is no import.
        for spec in re.findall(r"""(?:^|[\s}])(?:from|import)\s*["']([^"']+)["']""", text, re.M):
            assert spec.startswith("."), f"{path} imports {spec!r}"
            base = path.rsplit("/", 1)[0]
            parts = [*base.split("/"), *spec.split("/")]
            resolved: list[str] = []
            for part in parts:
                if part == "..":
                    resolved.pop()
                elif part not in (".", ""):
                    resolved.append(part)
            todo.append("/" + "/".join(resolved))
    assert "/console/vendor/preact.module.js" in seen
    assert "/console/vendor/htm.module.js" in seen


def test_vendored_libraries_carry_their_versions_and_licenses() -> None:
    vendor = CONSOLE / "vendor"
    readme = (vendor / "README.md").read_text(encoding="utf-8")
    script = (CONSOLE.parents[1] / "scripts" / "vendor.sh").read_text(encoding="utf-8")
    for name, var in (("preact", "PREACT"), ("htm", "HTM"), ("socket.io-client", "SOCKETIO")):
        version = re.search(rf"^{var}=(\S+)$", script, re.M)
        assert version, var
        assert f"| {name} | {version.group(1)} |" in readme
        assert (vendor / "licenses" / f"{name}.LICENSE").is_file()
    # The CodeMirror bundle: every package of its lock file that it holds, with a license.
    lock = (CONSOLE.parents[1] / "scripts" / "codemirror" / "package.json").read_text()
    for name in ("codemirror", "@codemirror/view", "@codemirror/lint", "@codemirror/lang-python"):
        version = re.search(rf'"{re.escape(name)}": "([^"]+)"', lock)
        assert version, name
        safe = name.removeprefix("@").replace("/", "-")
        assert f"| {name} | {version.group(1)} | MIT (licenses/{safe}.LICENSE) |" in readme
        assert (vendor / "licenses" / f"{safe}.LICENSE").is_file()
    # No code in the console sets HTML from strings.
    for js in (CONSOLE / "js").rglob("*.js"):
        text = js.read_text(encoding="utf-8")
        for sink in ("innerHTML", "outerHTML", "dangerouslySetInnerHTML", "insertAdjacentHTML",
                     "document.write", "eval(", "new Function"):
            assert sink not in text, f"{js.name} uses {sink}"
