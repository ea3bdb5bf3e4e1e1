"""Security headers on every response: a strict Content-Security-Policy, no sniffing,
no framing, no referrer.

HTML pages get :data:`PAGE_POLICY`: scripts, styles and connections (REST and
Socket.IO, whose ``ws:``/``wss:`` CSP 3 counts as ``'self'``) only from this
server, nothing inline, no plugins, no ``<base>``, forms only to this server.
Everything else (JSON, scripts, files, the Socket.IO transport) gets
:data:`OTHER_POLICY`: nothing may load or run in it. Both forbid framing.

Two pages may keep inline code: the seed widget demo and the demo chat box
(``/demo/widget.html``), which carry the seed's snippet verbatim
(``tests/integration/test_js_widget.py`` and ``test_demo.py`` compare it byte for
byte). Their inline ``<script>`` and ``<style>`` are allowed by their SHA-256,
computed from the file when the app is made, so that exact text runs and
nothing else inline does.
"""

from __future__ import annotations

import base64
import hashlib
import mimetypes
from collections.abc import Iterable, Mapping
from html.parser import HTMLParser
from pathlib import Path

from aiohttp import hdrs, web

__all__ = [
    "HEADERS",
    "INLINE_PAGES",
    "OTHER_POLICY",
    "PAGE_POLICY",
    "inline_hashes",
    "page_policy",
    "setup_security_headers",
]

PAGE_DIRECTIVES: dict[str, str] = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "connect-src": "'self'",
    "object-src": "'none'",
    "base-uri": "'none'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
OTHER_POLICY = "default-src 'none'; frame-ancestors 'none'"

HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # The widget page's address carries the ConversationID, the conversation's secret.
    "Referrer-Policy": "no-referrer",
}

INLINE_PAGES = ("demo/seed_widget.html",)
"""Pages under the console directory whose inline scripts and styles are allowed by hash."""


def page_policy(scripts: Iterable[str] = (), styles: Iterable[str] = ()) -> str:
    """The HTML pages' policy, with these ``'sha256-...'`` sources added."""
    directives = dict(PAGE_DIRECTIVES)
    for name, extra in (("script-src", scripts), ("style-src", styles)):
        directives[name] = " ".join([directives[name], *extra])
    return "; ".join(f"{name} {value}" for name, value in directives.items())


PAGE_POLICY = page_policy()


class _InlineCode(HTMLParser):
    """Collects the text of inline ``<script>`` (no ``src``) and ``<style>`` elements."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=False)
        self.scripts: list[str] = []
        self.styles: list[str] = []
        self._open: str | None = None
        self._text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "style" or (tag == "script" and all(name != "src" for name, _ in attrs)):
            self._open, self._text = tag, []

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._text.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == self._open:
            (self.scripts if tag == "script" else self.styles).append("".join(self._text))
            self._open = None


def _source(text: str) -> str:
    # Browsers hash the element's text after HTML's newline normalisation, as UTF-8.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    digest = hashlib.sha256(text.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode()}'"


def inline_hashes(html: str) -> tuple[list[str], list[str]]:
    """The CSP sources of a page's inline scripts and of its inline styles."""
    parser = _InlineCode()
    parser.feed(html)
    parser.close()
    return [_source(s) for s in parser.scripts], [_source(s) for s in parser.styles]


def _is_page(request: web.BaseRequest, response: web.StreamResponse) -> bool:
    if response.status == 304:
        # A "not modified" answer has no body and no type, yet a browser stores its headers
        # over the cached page's: the page's own policy must come back, or a reload runs
        # under the no-script one. The path says what was cached.
        guessed, _ = mimetypes.guess_type(request.path)
        return guessed == "text/html" or request.path.endswith("/")
    return response.content_type == "text/html"


def setup_security_headers(
    app: web.Application, static: Path, prefix: str, inline: Mapping[str, Path] | None = None
) -> None:
    """Add the headers to every response ``app`` prepares; ``static`` is served at ``prefix``.

    ``inline``: more pages whose inline code is allowed by hash, URL path → file.
    """
    files = {prefix + name: static / name for name in INLINE_PAGES}
    files.update(inline or {})
    pages: dict[str, str] = {}
    for url_path, path in files.items():
        if path.is_file():
            scripts, styles = inline_hashes(path.read_text(encoding="utf-8"))
            pages[url_path] = page_policy(scripts, styles)

    async def add_headers(request: web.BaseRequest, response: web.StreamResponse) -> None:
        if _is_page(request, response):
            policy = pages.get(request.path, PAGE_POLICY)
        else:
            policy = OTHER_POLICY
        response.headers.setdefault(hdrs.CONTENT_SECURITY_POLICY, policy)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)

    app.on_response_prepare.append(add_headers)
