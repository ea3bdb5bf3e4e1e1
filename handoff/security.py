"""Signed tokens: agent tokens, and the known-device tokens of the sign-in throttle.

Both are signed and timestamped with the secret key, so they are valid on every
process that shares it; each kind has its own salt, so one never passes for the other.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from handoff.errors import Unauthorized

__all__ = ["DeviceTokens", "Grant", "TokenSigner"]


@dataclass(frozen=True, slots=True)
class Grant:
    """What a valid agent token says: who, and until when."""

    agent_id: str
    expires_at: float
    """Epoch seconds: the first moment :meth:`TokenSigner.verify` refuses the token."""
    signed_at: float = 0.0
    """Epoch seconds (whole) when the token was issued: a later password change revokes it."""

    def expired(self, now: float) -> bool:
        return now >= self.expires_at


class TokenSigner:
    def __init__(self, secret_key: str, *, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="handoff.agent-token")
        self._max_age = max_age_seconds

    def issue(self, agent_id: str) -> str:
        return self._serializer.dumps({"agent_id": agent_id})

    def verify(self, token: object) -> str:
        """The agent id in ``token``; raises :class:`Unauthorized` for anything else."""
        return self.grant(token).agent_id

    def grant(self, token: object) -> Grant:
        """The agent and the token's expiry; raises :class:`Unauthorized` for a bad token."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a token is required", field="token")
        try:
            data, signed_at = self._serializer.loads(
                token, max_age=self._max_age, return_timestamp=True
            )
        except SignatureExpired:
            raise Unauthorized("the token has expired; sign in again", field="token") from None
        except BadSignature:
            raise Unauthorized("the token is not valid", field="token") from None
        agent_id = data.get("agent_id") if isinstance(data, dict) else None
        if not isinstance(agent_id, str):
            raise Unauthorized("the token is not valid", field="token")
        # itsdangerous counts whole seconds and refuses an age over max_age.
        issued = int(signed_at.timestamp())
        return Grant(agent_id, issued + self._max_age + 1, float(issued))


class DeviceTokens:
    """Known-device tokens: handed out at a successful sign-in, bound to that email.

    A token proves only that this device once signed in to this account; it
    never signs anyone in. The throttle counts such a device's failures on its
    own, so nobody else's failures can lock it out.
    """

    def __init__(self, secret_key: str, *, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="handoff.known-device")
        self._max_age = max_age_seconds

    def issue(self, account: str, device: str | None = None) -> str:
        """A token for ``account`` on ``device`` (a new device id when None)."""
        return self._serializer.dumps({"account": account, "device": device or _new_device()})

    def device_of(self, token: object, account: str) -> str | None:
        """The device id of a valid token of ``account``; None for anything else."""
        if not isinstance(token, str) or not token or len(token) > 1024:
            return None
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except BadSignature:  # SignatureExpired included
            return None
        if not isinstance(data, dict) or data.get("account") != account:
            return None
        device = data.get("device")
        return device if isinstance(device, str) and device else None


def _new_device() -> str:
    return "dev_" + secrets.token_hex(8)
