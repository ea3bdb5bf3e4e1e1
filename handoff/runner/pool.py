"""Warm sandboxed workers, kept per bot and reused across calls.

A worker belongs to one bot and one set of that bot's variables (its
environment); it is never lent to another bot. Each bot may have at most
``max_workers_per_bot`` workers, the machine at most ``max_workers``; a call
that finds no room gets a ``busy`` error at once rather than a place in an
unbounded queue. A worker that timed out, crashed, hit a limit or left a thread
running is killed and replaced by the next call; idle ones are reaped.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

from .config import RunnerConfig
from .contract import build_event
from .launcher import EnvKey, Launcher, Worker, env_key
from .models import DetailLimits, ErrorKind, EventInput, InvocationRequest, InvocationResult
from .process import SpawnError, WorkerCrashed, WorkerTimeout
from .results import crash_result, mask_known_secrets, result_from_answer
from .worker.frames import Call

__all__ = ["PoolStats", "RunnerPool"]

log = logging.getLogger("handoff.runner")


@dataclass(frozen=True)
class PoolStats:
    """A snapshot of the pool: worker counts overall and per bot."""

    workers: int
    idle: int
    busy: int
    per_bot: dict[str, int] = field(default_factory=dict)


class RunnerPool:
    """Runs bots' custom actions in sandboxed, warm, per-bot worker processes.

    Use as ``async with RunnerPool(config) as pool: await pool.invoke(request)``.
    """

    def __init__(self, config: RunnerConfig | None = None) -> None:
        self.config = config or RunnerConfig()
        self._launcher: Launcher | None = None
        self._idle: dict[tuple[str, EnvKey], list[Worker]] = {}
        self._workers: set[Worker] = set()
        self._counts: dict[str, int] = {}
        self._reserved = 0
        self._closing: set[asyncio.Task[None]] = set()
        self._reaper: asyncio.Task[None] | None = None
        self._state = "new"

    @property
    def sandboxed(self) -> bool:
        """Whether workers run under bubblewrap (False only with the explicit opt-out)."""
        return self._launcher is not None and self._launcher.bwrap is not None

    async def __aenter__(self) -> RunnerPool:
        await self.start()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.aclose()

    async def start(self) -> None:
        """Find bubblewrap, check nothing forbidden is mounted, start the reaper."""
        if self._state != "new":
            raise RuntimeError("a RunnerPool can be started once")
        self._launcher = await Launcher.open(self.config)
        self._state = "running"
        self._reaper = asyncio.create_task(self._reap_forever())

    async def aclose(self) -> None:
        """Kill every worker, busy or idle, and remove the pool's files."""
        if self._state == "closed":
            return
        self._state = "closed"
        if self._reaper is not None:
            self._reaper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reaper
        for worker in list(self._workers):
            self._discard(worker)
        # A worker still starting discards itself when it sees the pool closed.
        for _ in range(int(self.config.spawn_timeout_s * 100)):
            if not self._reserved:
                break
            await asyncio.sleep(0.01)
        while self._closing:
            await asyncio.gather(*list(self._closing), return_exceptions=True)
        if self._launcher is not None:
            self._launcher.close()

    def stats(self) -> PoolStats:
        """How many workers exist, how many wait idle, and how many each bot has."""
        idle = sum(len(ws) for ws in self._idle.values())
        return PoolStats(
            workers=len(self._workers),
            idle=idle,
            busy=len(self._workers) - idle,
            per_bot=dict(self._counts),
        )

    def worker_pids(self) -> list[int]:
        """Host pids of the live workers (bwrap's, when sandboxed): for metrics and tests."""
        return sorted(w.proc.pid for w in self._workers if w.proc.returncode() is None)

    async def run(
        self,
        bot_id: str,
        action: str,
        code: str,
        input: EventInput | Mapping[str, Any] | None = None,
        *,
        env: Mapping[str, str] | None = None,
        timeout_s: float | None = None,
        limits: DetailLimits | None = None,
    ) -> InvocationResult:
        """Shorthand for ``invoke(InvocationRequest(...))``."""
        data = input if isinstance(input, EventInput) else EventInput.model_validate(input or {})
        return await self.invoke(
            InvocationRequest(
                bot_id=bot_id,
                action=action,
                code=code,
                input=data,
                env=dict(env or {}),
                timeout_s=timeout_s,
                limits=limits,
            )
        )

    async def invoke(self, request: InvocationRequest) -> InvocationResult:
        """Run one call; every failure comes back as a result, never as an exception."""
        if self._state != "running":
            raise RuntimeError("the RunnerPool is not running: use 'async with RunnerPool()'")
        assert self._launcher is not None
        if self._launcher.unavailable:
            return InvocationResult.failure(
                ErrorKind.SANDBOX_UNAVAILABLE,
                self._launcher.unavailable,
                request_id=request.request_id,
                version=request.version,
            )
        if len(request.code) > self.config.max_code_chars:
            return InvocationResult.failure(
                ErrorKind.LIMIT_EXCEEDED,
                f"the code is {len(request.code)} characters; the "
                f"limit is {self.config.max_code_chars}",
                request_id=request.request_id,
                version=request.version,
            )
        timeout = request.timeout_s or self.config.timeout_s
        worker: Worker | InvocationResult | None = self._take_idle(
            request.bot_id, env_key(request.env)
        )
        if worker is None:  # no warm worker: start one, if there is room
            worker = await self._acquire(request.bot_id, request.env)
        if isinstance(worker, InvocationResult):
            worker.request_id, worker.version = request.request_id, request.version
            return worker
        with_code = request.version not in worker.versions
        call: Call = {
            "timeout_ms": int(timeout * 1000),
            "version": request.version,
            "action": request.action,
            "bot_id": request.bot_id,
            "request_id": request.request_id,
            "with_code": with_code,
            "code": request.code if with_code else "",
            "body": build_event(request.input, request.env)["body"],
        }
        started = time.perf_counter()
        try:
            answer = await worker.proc.call(call, timeout + self.config.kill_grace_s)
        except WorkerTimeout:
            self._discard(worker)
            return InvocationResult.failure(
                ErrorKind.TIMEOUT,
                f"the action ran longer than its {timeout:g} s time limit and was stopped",
                duration_ms=timeout * 1000,
                request_id=request.request_id,
                version=request.version,
            )
        except WorkerCrashed as exc:
            self._discard(worker)
            return crash_result(
                exc,
                worker.proc.returncode(),
                request_id=request.request_id,
                version=request.version,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        except BaseException:
            self._discard(worker)  # cancelled mid-call: its state is unknown
            raise
        try:
            result = result_from_answer(
                answer,
                request.limits or self.config.detail_limits,
                request_id=request.request_id,
                version=request.version,
            )
            # The worker holds exactly request.env (the pool's key), so its secrets are these.
            mask_known_secrets(result, worker.secrets)
        except Exception:
            # The answer is the worker's word, and bot code can forge it: anything that
            # does not read costs that worker, never the pool a slot.
            log.warning("custom-action worker of bot %s answered garbage", request.bot_id)
            self._discard(worker)
            return InvocationResult.failure(
                ErrorKind.BAD_RETURN,
                "the worker's answer could not be read; the worker was replaced",
                request_id=request.request_id,
                version=request.version,
                duration_ms=(time.perf_counter() - started) * 1000,
            )
        worker.remember(request.version, answer.get("cached") is True)
        cpu_s = answer.get("cpu_s")
        worn = (
            answer.get("recycle") is not False
            or worker.proc.calls >= self.config.max_calls_per_worker
            or not isinstance(cpu_s, (int, float))
            or cpu_s > self.config.cpu_seconds / 2
        )
        if worn or self._state != "running":
            self._discard(worker)
        else:
            self._idle.setdefault((worker.bot_id, worker.env_key), []).append(worker)
        return result

    async def prewarm(
        self, bot_id: str, env: Mapping[str, str] | None = None, count: int = 1
    ) -> int:
        """Start up to ``count`` idle workers for a bot now; returns how many started."""
        started = 0
        for _ in range(count):
            worker = await self._acquire(bot_id, dict(env or {}), reuse=False)
            if isinstance(worker, InvocationResult):
                break
            self._idle.setdefault((worker.bot_id, worker.env_key), []).append(worker)
            started += 1
        return started

    async def retire_bot(self, bot_id: str) -> int:
        """Kill a bot's idle workers (its variables changed, say); returns how many."""
        return self._evict(lambda w: w.bot_id == bot_id, every=True)

    async def reap_idle(self, now: float | None = None) -> int:
        """Kill workers idle longer than ``idle_ttl_s``: the reaper's single pass."""
        cutoff = (time.monotonic() if now is None else now) - self.config.idle_ttl_s
        return self._evict(lambda w: w.proc.last_used < cutoff or not w.proc.alive, every=True)

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(self.config.reap_interval_s)
            try:
                await self.reap_idle()
            except Exception:  # the reaper must outlive any one bad pass
                log.exception("reaping idle custom-action workers failed")

    async def _acquire(
        self, bot_id: str, env: Mapping[str, str], *, reuse: bool = True
    ) -> Worker | InvocationResult:
        key = env_key(env)
        worker = self._take_idle(bot_id, key) if reuse else None
        if worker is not None:
            return worker
        limit = self.config.max_workers_per_bot
        if self._counts.get(bot_id, 0) >= limit and not self._evict(lambda w: w.bot_id == bot_id):
            return InvocationResult.failure(
                ErrorKind.BUSY,
                f"bot {bot_id} is already running {limit} custom actions at "
                "once, its limit; try again in a moment",
            )
        if len(self._workers) + self._reserved >= self.config.max_workers and not self._evict(
            lambda w: True
        ):
            return InvocationResult.failure(
                ErrorKind.BUSY,
                f"the runner is at its limit of {self.config.max_workers} "
                "workers, all busy; try again in a moment",
            )
        self._counts[bot_id] = self._counts.get(bot_id, 0) + 1
        self._reserved += 1
        try:
            assert self._launcher is not None
            worker = await self._launcher.launch(bot_id, key, env)
        except SpawnError as exc:
            self._uncount(bot_id)
            log.error("custom action worker for bot %s did not start: %s", bot_id, exc)
            return InvocationResult.failure(ErrorKind.SANDBOX_UNAVAILABLE, str(exc))
        except BaseException:
            self._uncount(bot_id)
            raise
        finally:
            self._reserved -= 1
        self._workers.add(worker)
        if self._state != "running":  # closed while it started
            self._discard(worker)
            return InvocationResult.failure(ErrorKind.SANDBOX_UNAVAILABLE, "the runner closed")
        return worker

    def _take_idle(self, bot_id: str, key: EnvKey) -> Worker | None:
        """A live idle worker of this bot holding exactly these variables, if any."""
        idle = self._idle.get((bot_id, key))
        while idle:
            worker = idle.pop()
            if worker.proc.alive:
                return worker
            self._discard(worker)
        return None

    def _evict(self, choose: Callable[[Worker], bool], *, every: bool = False) -> int:
        """Kill idle workers ``choose`` picks, least recently used first."""
        picked = sorted(
            (w for ws in self._idle.values() for w in ws if choose(w)),
            key=lambda w: w.proc.last_used,
        )
        for worker in picked if every else picked[:1]:
            self._discard(worker)
        return len(picked) if every else min(1, len(picked))

    def _uncount(self, bot_id: str) -> None:
        left = self._counts.get(bot_id, 0) - 1
        if left > 0:
            self._counts[bot_id] = left
        else:
            self._counts.pop(bot_id, None)

    def _discard(self, worker: Worker) -> None:
        """Forget a worker and kill it now; the wait for its exit runs in the background."""
        if worker not in self._workers:
            return
        self._workers.discard(worker)
        self._uncount(worker.bot_id)
        idle = self._idle.get((worker.bot_id, worker.env_key))
        if idle is not None and worker in idle:
            idle.remove(worker)
            if not idle:
                del self._idle[(worker.bot_id, worker.env_key)]
        worker.proc.kill()
        task = asyncio.get_running_loop().create_task(self._close(worker))
        self._closing.add(task)
        task.add_done_callback(self._closing.discard)

    async def _close(self, worker: Worker) -> None:
        await worker.close()
