"""Texts with templates (``Your order {{ output.status }}``), on jinja2's sandbox.

A bot's flow file is untrusted input: the sandbox refuses attribute tricks
(``__class__`` and friends), and ``StrictUndefined`` turns a misspelt name into an
error instead of an empty string the person would see. Syntax is checked when a
flow is loaded; a name that is missing at run time is a :class:`TemplateFailed`,
which the runtime turns into the bot's fallback message.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

from jinja2 import StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

__all__ = [
    "MAX_RENDERED_CHARS",
    "TemplateFailed",
    "check_expression",
    "check_template",
    "evaluate",
    "render",
]

MAX_RENDERED_CHARS = 4000
"""A rendered text longer than this is cut: one template cannot flood the widget."""

_ENV = SandboxedEnvironment(
    undefined=StrictUndefined, autoescape=False, keep_trailing_newline=False
)


class TemplateFailed(Exception):
    """A template or expression that could not be rendered with the data at hand."""


def check_template(source: str) -> None:
    """Raise ``ValueError`` naming the line when ``source`` is not a valid template."""
    try:
        _compiled(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"template syntax error on line {exc.lineno}: {exc.message}") from None


def check_expression(source: str) -> None:
    """Raise ``ValueError`` when ``source`` is not a valid jinja2 expression."""
    try:
        _expression(source)
    except TemplateSyntaxError as exc:
        raise ValueError(f"expression syntax error: {exc.message}") from None


@functools.lru_cache(maxsize=2048)
def _compiled(source: str) -> Any:
    return _ENV.from_string(source)


@functools.lru_cache(maxsize=2048)
def _expression(source: str) -> Any:
    return _ENV.compile_expression(source, undefined_to_none=False)


def render(source: str, context: Mapping[str, Any]) -> str:
    """``source`` rendered with ``context``; plain text (no ``{``) is returned as is."""
    if "{" not in source:
        return source
    try:
        text = str(_compiled(source).render(**context))
    except TemplateError as exc:  # UndefinedError, SecurityError, a syntax error
        raise TemplateFailed(f"{exc.__class__.__name__}: {exc}") from None
    except Exception as exc:  # a filter or operator failing on the data: 1 / 0, "a" + 1
        raise TemplateFailed(f"{exc.__class__.__name__}: {exc}") from None
    return text[:MAX_RENDERED_CHARS]


def evaluate(source: str, context: Mapping[str, Any]) -> Any:
    """The value of the jinja2 expression ``source`` in ``context``."""
    try:
        return _expression(source)(**context)
    except Exception as exc:
        raise TemplateFailed(f"{exc.__class__.__name__}: {exc}") from None
