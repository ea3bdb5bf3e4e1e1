"""One worker process: start it, send it a call, kill its whole process group."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import time
from collections.abc import Mapping, Sequence
from typing import Any

from .worker import frames, wire

__all__ = ["SpawnError", "WorkerCrashed", "WorkerProcess", "WorkerTimeout"]

_STDERR_TAIL = 4096


class SpawnError(Exception):
    """The worker did not start; the message carries what it printed."""


class WorkerCrashed(Exception):
    """The worker died, or broke the protocol, during a call."""

    def __init__(self, message: str, *, limit: bool = False) -> None:
        super().__init__(message)
        self.limit = limit  # the worker was stopped for exceeding a limit


class WorkerTimeout(Exception):
    """The worker did not answer within the hard time limit and was killed."""


class _Expired(Exception):
    pass


# A frame's payload: a copy, or a view of the bytes one read returned.
Frame = bytes | memoryview


class _Protocol(asyncio.SubprocessProtocol):
    """Reassembles frames from the answer pipe and keeps the tail of stderr."""

    def __init__(self, max_frame: int) -> None:
        self.max_frame = max_frame
        self.buffer = bytearray()
        self.stderr = bytearray()
        self.waiter: asyncio.Future[Frame] | None = None
        self.exited: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.broken: str | None = None

    def pipe_data_received(self, fd: int, data: bytes) -> None:
        if fd == 2:
            self.stderr += data
            del self.stderr[:-_STDERR_TAIL]
            return
        if not self.buffer and len(data) > wire.HEADER.size and self.broken is None:
            # The usual case: one read holds exactly one answer, which is handed
            # on where it lies instead of being copied through the buffer.
            (size,) = wire.HEADER.unpack_from(data)
            if size == len(data) - wire.HEADER.size and size <= self.max_frame:
                if self.waiter is None or self.waiter.done():
                    self._break("the worker sent an answer nobody asked for")
                else:
                    self.waiter.set_result(memoryview(data)[wire.HEADER.size :])
                return
        self.buffer += data
        while len(self.buffer) >= wire.HEADER.size and self.broken is None:
            (size,) = wire.HEADER.unpack_from(self.buffer)
            if size > self.max_frame:
                self._break(
                    f"the action's answer was {size} bytes; the limit is {self.max_frame}",
                    limit=True,
                )
                return
            end = wire.HEADER.size + size
            if len(self.buffer) < end:
                return
            frame = bytes(self.buffer[wire.HEADER.size : end])
            del self.buffer[:end]
            if self.waiter is None or self.waiter.done():
                self._break("the worker sent an answer nobody asked for")
                return
            self.waiter.set_result(frame)

    def _break(self, why: str, *, limit: bool = False) -> None:
        if self.broken is None:
            self.broken = why
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(WorkerCrashed(self.broken, limit=limit))

    def answers_closed(self) -> None:
        self._break("the worker closed its output")

    def process_exited(self) -> None:
        self._break("the worker exited")
        if not self.exited.done():
            self.exited.set_result(None)


def _child_pid(fd: int) -> int | None:
    """The ``child-pid`` bwrap wrote to its --info-fd (written before the worker started)."""
    os.set_blocking(fd, False)
    try:
        info = json.loads(os.read(fd, 65536))
        pid = info.get("child-pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


def _parent_of(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return int(f.read().rsplit(b")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return None


class _Answers(asyncio.Protocol):
    """The answer pipe, read directly: a subprocess pipe would add an event-loop turn."""

    def __init__(self, protocol: _Protocol) -> None:
        self.protocol = protocol

    def data_received(self, data: bytes) -> None:
        self.protocol.pipe_data_received(1, data)

    def eof_received(self) -> bool | None:
        self.protocol.answers_closed()
        return None

    def connection_lost(self, exc: Exception | None) -> None:
        self.protocol.answers_closed()


class WorkerProcess:
    """A started worker. One call at a time; the pool decides when to reuse it."""

    def __init__(
        self,
        transport: asyncio.SubprocessTransport,
        protocol: _Protocol,
        requests: asyncio.WriteTransport,
        answers: asyncio.ReadTransport,
    ) -> None:
        self.transport = transport
        self.protocol = protocol
        self.requests = requests
        self.answers = answers
        self.pid = transport.get_pid()
        self.started = self.last_used = time.monotonic()
        self.calls = 0
        self.sandbox_pid: int | None = None  # bwrap's child: init of the PID namespace
        self._next_id = 0
        self._loop = asyncio.get_running_loop()
        # The answer in flight is due by _deadline (loop time); one watchdog
        # timer, due at _watch_at, serves every call: see _arm.
        self._deadline = 0.0
        self._watch_at = 0.0
        self._watchdog: asyncio.TimerHandle | None = None

    @classmethod
    async def spawn(
        cls,
        argv: Sequence[str],
        init: dict[str, Any],
        *,
        env: Mapping[str, str],
        cwd: str,
        pass_fds: Sequence[int] = (),
        max_frame: int,
        start_within_s: float,
        info_fd: int | None = None,
    ) -> WorkerProcess:
        """Start ``argv``, send the init frame, and wait for ``ready``."""
        loop = asyncio.get_running_loop()
        child_in, requests_fd = os.pipe()
        answers_fd, child_out = os.pipe()
        try:
            transport, protocol = await loop.subprocess_exec(
                lambda: _Protocol(max_frame),
                *argv,
                stdin=child_in,
                stdout=child_out,
                env=dict(env),
                cwd=cwd,
                pass_fds=tuple(pass_fds),
                start_new_session=True,
            )
        except OSError as exc:
            for fd in (requests_fd, answers_fd):
                os.close(fd)
            raise SpawnError(f"cannot start {argv[0]}: {exc}") from None
        finally:
            os.close(child_in)
            os.close(child_out)
        requests, _ = await loop.connect_write_pipe(
            asyncio.Protocol, os.fdopen(requests_fd, "wb", buffering=0)
        )
        answers, _ = await loop.connect_read_pipe(
            lambda: _Answers(protocol), os.fdopen(answers_fd, "rb", buffering=0)
        )
        worker = cls(transport, protocol, requests, answers)
        try:
            ready = await worker._exchange(init, start_within_s)
        except (WorkerCrashed, WorkerTimeout) as exc:
            await asyncio.wait({protocol.exited}, timeout=1.0)
            stderr = protocol.stderr.decode(errors="replace").strip()
            await worker.close()
            raise SpawnError(
                f"the sandboxed worker did not start ({exc})" + (f": {stderr}" if stderr else "")
            ) from None
        if ready.get("op") != "ready":
            await worker.close()
            raise SpawnError(f"the worker answered {ready.get('op')!r} instead of 'ready'")
        if info_fd is not None:
            worker.sandbox_pid = _child_pid(info_fd)
        return worker

    @property
    def alive(self) -> bool:
        return self.transport.get_returncode() is None and self.protocol.broken is None

    def _send(self, frame: bytes, answer_within_s: float) -> asyncio.Future[Frame]:
        """Write one frame; the future its answer will complete, due within the limit."""
        if self.protocol.broken:
            raise WorkerCrashed(self.protocol.broken)
        loop = self._loop
        waiter: asyncio.Future[Frame] = loop.create_future()
        self.protocol.waiter = waiter
        self.requests.write(frame)
        self._arm(loop.time() + answer_within_s)
        return waiter

    def _arm(self, deadline: float) -> None:
        """Make sure the watchdog fires no later than ``deadline``.

        A timer per call (call_later, then cancel) costs more than the rest of
        the server's bookkeeping for a warm call. The watchdog stays armed
        across calls instead, and is moved only when a call is due sooner than
        it fires (a shorter time limit); calls are short beside their limits,
        so it fires rarely, and then re-arms for the call in flight, if any.
        """
        self._deadline = deadline
        if self._watchdog is None or deadline < self._watch_at:
            if self._watchdog is not None:
                self._watchdog.cancel()
            self._watch_at = deadline
            self._watchdog = self._loop.call_at(deadline, self._watch)

    def _watch(self) -> None:
        self._watchdog = None
        waiter = self.protocol.waiter
        if waiter is None or waiter.done():
            return  # idle: the next call arms it again
        if self._loop.time() >= self._deadline:
            waiter.set_exception(_Expired())
        else:
            self._arm(self._deadline)

    def _expired(self, answer_within_s: float) -> WorkerTimeout:
        self.kill()
        return WorkerTimeout(f"no answer within {answer_within_s:g} s")

    def _decode(self, frame: Frame) -> dict[str, Any]:
        try:
            answer = wire.decode(frame)
        except wire.FrameError as exc:
            self.kill()
            raise WorkerCrashed(str(exc)) from None
        if not isinstance(answer, dict):
            self.kill()
            raise WorkerCrashed("frame is not a JSON object")
        return answer

    async def _exchange(self, message: dict[str, Any], answer_within_s: float) -> dict[str, Any]:
        waiter = self._send(wire.encode(message), answer_within_s)
        try:
            frame = await waiter
        except _Expired:
            raise self._expired(answer_within_s) from None
        finally:
            self.protocol.waiter = None
        return self._decode(frame)

    async def call(self, call: frames.Call, answer_within_s: float) -> dict[str, Any]:
        """Send one call; returns its result (as the worker told it, unchecked), or raises."""
        # _exchange inlined: one coroutine fewer per call.
        self._next_id += 1
        self.calls += 1
        waiter = self._send(frames.encode_call(self._next_id, call), answer_within_s)
        try:
            frame = await waiter
        except _Expired:
            raise self._expired(answer_within_s) from None
        finally:
            self.protocol.waiter = None
        try:
            answer = frames.decode_result(wire.decode(frame))
        except wire.FrameError as exc:
            self.kill()
            raise WorkerCrashed(str(exc)) from None
        if answer["id"] != self._next_id:
            self.kill()
            raise WorkerCrashed("the worker answered out of turn")
        self.last_used = time.monotonic()
        return answer

    def returncode(self) -> int | None:
        return self.transport.get_returncode()

    def kill(self) -> None:
        """SIGKILL the sandbox now: every process in it dies with its PID namespace.

        The namespace's init is killed first so that bwrap, still alive, reaps
        it and exits; killing bwrap's group first would orphan that init to the
        host's PID 1, which in a container may never reap it. Without a known
        init (no sandbox), the whole process group goes at once.
        """
        if self.transport.get_returncode() is not None:
            return
        inner = self.sandbox_pid
        if inner is not None and _parent_of(inner) == self.pid:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(inner, signal.SIGKILL)
                return
        self.kill_group()

    def kill_group(self) -> None:
        """SIGKILL the worker's whole process group (bwrap and what it runs)."""
        if self.transport.get_returncode() is None:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.pid, signal.SIGKILL)

    async def close(self) -> None:
        """Kill, wait for the exit, and release the pipes."""
        self.kill()
        for last_resort in (False, True):
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.shield(self.protocol.exited), 2.0)
            if self.transport.get_returncode() is not None or last_resort:
                break
            self.kill_group()
        if self._watchdog is not None:
            self._watchdog.cancel()
            self._watchdog = None
        self.requests.close()
        self.answers.close()
        self.transport.close()
