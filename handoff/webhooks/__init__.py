"""Webhooks to bots: signing, and the background sender that empties the outbox."""

from handoff.webhooks.sender import WebhookSender
from handoff.webhooks.signing import sign

__all__ = ["WebhookSender", "sign"]
