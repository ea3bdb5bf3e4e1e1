"""The regexes of a flow file, run on what people type, with a time limit.

A bot's regex runs in the server's process on untrusted text, so a pattern
with catastrophic backtracking (``^(a|aa)+$``) and a crafted message could
stall every conversation. The ``regex`` module (``re``-compatible syntax) takes
a timeout; a search that runs out of time is no match, and logged.
"""

from __future__ import annotations

import functools
import logging

import regex

__all__ = ["SEARCH_TIMEOUT_SECONDS", "check_pattern", "search"]

log = logging.getLogger(__name__)

SEARCH_TIMEOUT_SECONDS = 0.05


@functools.lru_cache(maxsize=4096)
def _compiled(pattern: str) -> regex.Pattern[str]:
    return regex.compile(pattern)


def check_pattern(pattern: str) -> str:
    """``pattern`` if it compiles; ``ValueError`` saying why otherwise."""
    try:
        _compiled(pattern)
    except (regex.error, ValueError, OverflowError) as exc:
        raise ValueError(f"the regex does not compile: {exc}") from None
    return pattern


def search(pattern: str, text: str) -> bool:
    """Whether ``pattern`` is found in ``text`` within :data:`SEARCH_TIMEOUT_SECONDS`."""
    try:
        return _compiled(pattern).search(text, timeout=SEARCH_TIMEOUT_SECONDS) is not None
    except TimeoutError:
        log.warning("regex %r ran out of time on %d characters: no match", pattern, len(text))
        return False
