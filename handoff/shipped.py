"""Where the data folders that ship beside the package are: ``dialogues/`` and the demo page.

In a checkout (``make run``, an editable install) they are the top-level folders next to
``handoff/``. A wheel cannot put files there, so pyproject.toml installs them as data
files under ``<prefix>/share/handoff/`` (the virtualenv's, or ``~/.local`` for a user
install); a wheel's files are found there.
"""

from __future__ import annotations

import os
import sysconfig
from pathlib import Path

__all__ = ["shipped_dir"]

_CHECKOUT = Path(__file__).resolve().parents[1]


def shipped_dir(name: str) -> Path:
    """The folder ``name`` (``dialogues``, ``client_examples``) of this install.

    When no candidate exists the checkout's path is returned, so the error that
    follows names a path a developer recognises.
    """
    checkout = _CHECKOUT / name
    # pyproject.toml beside the package: a source tree, whose folders win (and a
    # site-packages that happens to hold a module called "dialogues" is not one).
    if (_CHECKOUT / "pyproject.toml").is_file() and checkout.is_dir():
        return checkout
    for scheme in (None, f"{os.name}_user"):
        data = sysconfig.get_path("data") if scheme is None else sysconfig.get_path("data", scheme)
        candidate = Path(data) / "share" / "handoff" / name
        if candidate.is_dir():
            return candidate
    return checkout
