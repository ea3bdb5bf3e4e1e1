"""The webhook signature: ``sha256=<hex HMAC-SHA256(secret, f"{timestamp}.{body}")>``."""

from __future__ import annotations

import hashlib
import hmac

__all__ = ["sign"]


def sign(secret: str, timestamp: str, body: str) -> str:
    """The ``X-Handoff-Signature`` value of ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.{body}".encode(), hashlib.sha256)
    return "sha256=" + mac.hexdigest()
