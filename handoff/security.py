"""Agent tokens: signed, timestamped, and valid on every process that shares the secret key."""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from handoff.errors import Unauthorized

__all__ = ["TokenSigner"]


class TokenSigner:
    def __init__(self, secret_key: str, *, max_age_seconds: int) -> None:
        self._serializer = URLSafeTimedSerializer(secret_key, salt="handoff.agent-token")
        self._max_age = max_age_seconds

    def issue(self, agent_id: str) -> str:
        return self._serializer.dumps({"agent_id": agent_id})

    def verify(self, token: object) -> str:
        """The agent id in ``token``; raises :class:`Unauthorized` for anything else."""
        if not isinstance(token, str) or not token:
            raise Unauthorized("a token is required", field="token")
        try:
            data = self._serializer.loads(token, max_age=self._max_age)
        except SignatureExpired:
            raise Unauthorized("the token has expired; sign in again", field="token") from None
        except BadSignature:
            raise Unauthorized("the token is not valid", field="token") from None
        agent_id = data.get("agent_id") if isinstance(data, dict) else None
        if not isinstance(agent_id, str):
            raise Unauthorized("the token is not valid", field="token")
        return agent_id
