"""How the runner pool is sized and how tightly a worker is held."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from .models import DetailLimits

# The server's own stores, and the cloud metadata service (whose credentials
# an egress proxy running on the server would otherwise hand to any bot).
DEFAULT_BLOCKED = (
    "localhost:6379",
    "localhost:5432",
    "169.254.169.254:*",
    "[fd00:ec2::254]:*",
)


class RunnerConfig(BaseModel):
    """Every knob of the runner; the defaults are the seeds' numbers or safe choices.

    ``blocked`` and ``allowed_private`` entries are ``host:port``: ``host`` is
    an IP, a CIDR, a name resolved when the pool starts, or ``localhost``
    meaning every address of this machine; ``port`` may be ``*``. Public
    addresses are open unless blocked; private space (this machine, private
    networks, link-local, reserved) is closed unless listed in
    ``allowed_private``; ``blocked`` wins over both. ``forbidden_paths`` (the database file,
    the config file) are checked never to be visible inside the sandbox.
    """

    model_config = ConfigDict(frozen=True)

    bwrap_path: str | None = None
    allow_unsandboxed: bool = False
    timeout_s: float = Field(default=20.0, gt=0)
    kill_grace_s: float = Field(default=1.0, ge=0)
    spawn_timeout_s: float = Field(default=15.0, gt=0)
    max_workers_per_bot: int = Field(default=4, ge=1)
    max_workers: int = Field(default=64, ge=1)
    idle_ttl_s: float = Field(default=300.0, gt=0)
    reap_interval_s: float = Field(default=30.0, gt=0)
    memory_mb: int = Field(default=512, ge=64)
    cpu_seconds: int = Field(default=600, ge=1)
    max_processes: int = Field(default=64, ge=1)
    max_open_files: int = Field(default=128, ge=16)
    max_file_mb: int = Field(default=8, ge=1)
    tmp_mb: int = Field(default=16, ge=1)
    max_log_chars: int = Field(default=64_000, ge=1000)
    max_result_bytes: int = Field(default=1_000_000, ge=1000)
    max_code_chars: int = Field(default=200_000, ge=100)
    max_calls_per_worker: int = Field(default=10_000, ge=1)
    detail_limits: DetailLimits = Field(default_factory=DetailLimits)
    blocked: tuple[str, ...] = DEFAULT_BLOCKED
    allowed_private: tuple[str, ...] = ()
    egress_connect_timeout_s: float = Field(default=10.0, gt=0)
    max_connections_per_worker: int = Field(default=16, ge=1)
    preload_modules: tuple[str, ...] = ()
    forbidden_paths: tuple[str, ...] = ()
