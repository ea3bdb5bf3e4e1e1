"""Settings, read from ``HANDOFF_*`` environment variables."""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import Annotated

import limits
from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

__all__ = ["Settings", "load_secret_key"]


class Settings(BaseSettings):
    """Every knob an operator can turn. Defaults run on one laptop with nothing installed."""

    model_config = SettingsConfigDict(env_prefix="HANDOFF_", extra="ignore")

    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=0, le=65535)
    public_url: str | None = None
    """Base URL widgets use to reach this server; derived from host and port when unset."""

    data_dir: Path = Path("./var")
    database_url: str | None = None
    """SQLAlchemy async URL; defaults to a SQLite file in ``data_dir``."""
    redis_url: str | None = None
    """When set, the routing state and Socket.IO rooms are shared through Redis, so
    several server processes serve one deployment (see docs/deployment.md)."""
    redis_prefix: str = Field(default="handoff:", min_length=1, max_length=100)
    """Starts every Redis key and the Socket.IO channel (``<prefix>socketio``): one Redis
    can hold several deployments, each under its own prefix."""
    heartbeat_seconds: float = Field(default=5.0, gt=0, le=300)
    """With Redis: how often each process says it is alive and looks for dead ones (a
    process silent for three intervals is dead: its sockets no longer count)."""
    secret_key: str | None = None
    """Signs agent tokens. Generated once and kept in ``data_dir`` when unset."""

    token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    agent_recheck_seconds: float = Field(default=30.0, gt=0)
    """How often each open agent socket's agent record and token expiry are checked again."""
    agent_away_seconds: int = Field(default=300, ge=0, le=7 * 24 * 3600)
    """A console sets itself ``away`` after this long without activity (0: never); it is
    told the value in ``GET /api/v1/agents/me`` and does it itself."""

    # sign-in throttle: failed attempts only, each ``COUNT/PERIOD`` (``10/15 minutes``)
    login_failures_per_account_address: str = "10/15 minutes"
    """Failed sign-ins for one email from one address (and from one known device)."""
    login_failures_per_address: str = "100/15 minutes"
    """Failed sign-ins from one address, whatever the email; known devices are not counted."""
    login_failures_per_account: str = "50/1 hour"
    """Failed sign-ins for one email from anywhere; a known device is exempt."""
    login_device_ttl_seconds: int = Field(default=90 * 24 * 3600, gt=0)
    """How long a known-device token from a successful sign-in exempts its device."""
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=lambda: ["*"])
    """Origins allowed for sockets and CORS: comma-separated or a JSON list; ``*`` allows all."""

    max_message_bytes: int = Field(default=4096, gt=0)
    max_packet_bytes: int = Field(default=1024 * 1024, ge=16 * 1024)
    """Largest Socket.IO packet accepted; Engine.IO closes a connection that sends more."""
    max_transcript_messages: int = Field(default=500, gt=0)
    widget_grace_seconds: float = Field(default=60.0, ge=0)
    agent_grace_seconds: float = Field(default=60.0, ge=0)
    default_wait_limit_seconds: float = Field(default=300.0, gt=0)
    sweep_interval_seconds: float = Field(default=1.0, gt=0)
    rate_limit_per_second: float = Field(default=20.0, gt=0)
    rate_limit_burst: int = Field(default=40, gt=0)
    widget_bytes_per_second: int = Field(default=64 * 1024, gt=0)
    """Text a conversation's widgets may send (messages and transcripts), per second on average."""
    widget_bytes_burst: int = Field(default=1024 * 1024, gt=0)
    """Text a conversation's widgets may send at once; the largest transcript must fit."""
    log_level: str = "INFO"

    # the demo: a demo bot and agent on a new database, the demo page and its endpoint
    demo: bool = False
    """Serve the demo page (``/demo/widget.html``) and ``POST /demo/api/converse``, and on a
    database with no bots and no agents create the demo bot and a demo agent. ``make run``
    turns it on; production leaves it off."""
    demo_rate_limit: str = "60/minute"
    """Demo converse calls allowed from one address in a moving window (``COUNT/PERIOD``)."""

    # custom actions (code nodes)
    action_timeout_seconds: float = Field(default=20.0, gt=0, le=900)
    """Wall-clock limit of one custom-action call; a bot may set its own."""
    runner_max_workers_per_bot: int = Field(default=4, ge=1)
    runner_max_workers: int = Field(default=64, ge=1)
    runner_memory_mb: int = Field(default=512, ge=64)
    runner_idle_seconds: float = Field(default=300.0, gt=0)
    runner_allow_unsandboxed: bool = False
    """Run bot code without bubblewrap where it is missing. Unsafe: for development only."""
    runner_blocked: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """More ``host:port`` destinations bot code may not reach (the server's stores always)."""
    runner_allowed_private: Annotated[list[str], NoDecode] = Field(default_factory=list)
    """``host:port`` destinations in private space (this machine, private networks,
    link-local, reserved) bot code may reach; all others there are refused."""
    env_value_max_chars: int = Field(default=50, ge=1)
    user_detail_max_chars: int = Field(default=200, ge=1)
    conversation_details_max_chars: int = Field(default=2500, ge=1)
    conversation_details_ttl_seconds: float = Field(default=3 * 3600, gt=0)
    action_log_retention_seconds: float = Field(default=24 * 3600, gt=0)

    # webhooks to bots
    webhook_timeout_seconds: float = Field(default=10.0, gt=0, le=300)
    """One delivery attempt's limit (connect, send, answer); slower counts as a failure."""
    webhook_max_age_seconds: float = Field(default=24 * 3600, gt=0)
    """How long an event is retried before it is marked failed (from its creation or a retry)."""
    webhook_retry_base_seconds: float = Field(default=5.0, gt=0, le=10)
    """The first retry comes within this, then each wait doubles (with jitter)."""
    webhook_retry_max_seconds: float = Field(default=3600.0, gt=0)
    """The longest wait between two attempts."""
    webhook_poll_seconds: float = Field(default=1.0, gt=0, le=60)
    """How often the sender looks for due rows (events of this process wake it at once)."""
    webhook_concurrency_per_bot: int = Field(default=4, ge=1, le=100)
    """Deliveries in flight at once for one bot, so a slow endpoint holds only its own."""
    webhook_retention_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    """Delivered and failed webhook events are deleted this long after their creation."""

    @field_validator(
        "login_failures_per_account_address",
        "login_failures_per_address",
        "login_failures_per_account",
        "demo_rate_limit",
    )
    @classmethod
    def _rate(cls, value: str) -> str:
        try:
            rate = limits.parse(value)
        except ValueError:
            rate = None
        if rate is None or rate.amount < 1:
            raise ValueError(
                f"{value!r} is not a rate; write COUNT/PERIOD with COUNT of at least 1, "
                "e.g. '10/15 minutes' or '50/hour'"
            )
        return value

    @field_validator("cors_origins", "runner_blocked", "runner_allowed_private", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            if value.strip().startswith("["):
                return json.loads(value)
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    def resolved_database_url(self) -> str:
        """The database URL in use: the configured one, or the embedded SQLite file."""
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'handoff.sqlite3').resolve()}"

    def resolved_public_url(self) -> str:
        """The base URL handed to widgets."""
        if self.public_url:
            return self.public_url.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"


def load_secret_key(settings: Settings) -> str:
    """The token-signing key: configured, or generated once and kept beside the database.

    Every process of one deployment must share it, so a generated key is written
    to ``data_dir`` with owner-only permissions and reused on the next start.
    """
    if settings.secret_key:
        return settings.secret_key
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    path = settings.data_dir / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    path.touch(mode=0o600)
    path.write_text(key)
    return key
