"""The runner's configuration, derived from the server's settings."""

from __future__ import annotations

from urllib.parse import urlsplit

from sqlalchemy.engine import make_url

from handoff.config import Settings
from handoff.runner import DEFAULT_BLOCKED, DetailLimits, RunnerConfig

__all__ = ["runner_config"]


def _stores(settings: Settings) -> list[str]:
    """``host:port`` of the server's own database, Redis and listening port."""
    found = [f"localhost:{settings.port}"] if settings.port else []
    url = make_url(settings.resolved_database_url())
    if url.host:
        found.append(f"{url.host}:{url.port or 5432}")
    if settings.redis_url:
        redis = urlsplit(settings.redis_url)
        if redis.hostname:
            found.append(f"{redis.hostname}:{redis.port or 6379}")
    return found


def runner_config(settings: Settings) -> RunnerConfig:
    """Bot code must see none of the server's files and reach none of its stores."""
    data_dir = settings.data_dir.resolve()
    forbidden = [str(data_dir)]
    url = make_url(settings.resolved_database_url())
    if url.drivername.startswith("sqlite") and url.database:
        forbidden.append(url.database)
    return RunnerConfig(
        allow_unsandboxed=settings.runner_allow_unsandboxed,
        timeout_s=settings.action_timeout_seconds,
        max_workers_per_bot=settings.runner_max_workers_per_bot,
        max_workers=settings.runner_max_workers,
        memory_mb=settings.runner_memory_mb,
        idle_ttl_s=settings.runner_idle_seconds,
        detail_limits=DetailLimits(
            user_detail_chars=settings.user_detail_max_chars,
            conversation_details_chars=settings.conversation_details_max_chars,
        ),
        blocked=tuple(
            dict.fromkeys([*DEFAULT_BLOCKED, *_stores(settings), *settings.runner_blocked])
        ),
        allowed_private=tuple(settings.runner_allowed_private),
        forbidden_paths=tuple(forbidden),
    )
