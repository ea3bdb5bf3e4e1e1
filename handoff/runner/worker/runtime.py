"""Running one call of a bot's ``main(event, context)`` inside the worker."""

from __future__ import annotations

import builtins
import errno
import io
import json
import linecache
import logging
import re
import signal
import sys
import time
import traceback
from collections import OrderedDict
from typing import Any

from . import guard
from .context import LambdaContext
from .frames import CACHED_VERSIONS, Call, ErrorKind, ErrorRecord, encode_result, error_record

USER_FILENAME = "action.py"
_MAX_FRAMES = 30
_MAX_MESSAGE = 2000
_MAX_TRACEBACK = 20000
_LIMIT_ERRNOS = {
    errno.EFBIG: "a file grew past the file size limit",
    errno.ENOSPC: "/tmp is full (it is small and private to this worker)",
    errno.EMFILE: "too many files or connections are open at once",
}


class Deadline(BaseException):
    """Raised in the main thread when the call's time is up.

    A BaseException so that ``except Exception`` in bot code does not swallow it.
    """


class UserError(Exception):
    """A failed call, its error record already made."""

    def __init__(self, error: ErrorRecord, *, recycle: bool = False) -> None:
        super().__init__(error["message"])
        self.error = error
        self.recycle = recycle


class Capture(io.TextIOBase):
    """A bounded text sink standing in for stdout, stderr and the log handler."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self._parts: list[str] = []
        self._size = 0
        self._dropped = 0

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        room = self.limit - self._size
        if room > 0:
            kept = text[:room]
            self._parts.append(kept)
            self._size += len(kept)
        self._dropped += len(text) - max(0, min(room, len(text)))
        return len(text)

    def reset(self) -> None:
        self._parts.clear()
        self._size = 0
        self._dropped = 0

    def getvalue(self) -> str:
        text = "".join(self._parts)
        if self._dropped:
            text += (
                f"\n[{self._dropped} more characters of output were dropped: "
                f"logs keep the first {self.limit}]\n"
            )
        return text


def _error(kind: ErrorKind, exc: BaseException, message: str | None = None) -> ErrorRecord:
    """The error record for ``exc``, its traceback trimmed to the bot's own frames."""
    # Source lines for the traceback; set here, not per call, to keep calls cheap.
    code = _current_code[0]
    linecache.cache[USER_FILENAME] = (len(code), None, code.splitlines(True), USER_FILENAME)
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == USER_FILENAME]
    line = frames[-1].lineno if frames else None
    column = None
    if isinstance(exc, SyntaxError) and exc.filename == USER_FILENAME:
        line, column = exc.lineno, exc.offset
    text = "Traceback (most recent call last):\n" if frames else ""
    if len(frames) > _MAX_FRAMES:  # deep recursion: the innermost frames tell the story
        text += f"  [{len(frames) - _MAX_FRAMES} outer frames omitted]\n"
        frames = frames[-_MAX_FRAMES:]
    text += "".join(traceback.format_list(frames))
    if isinstance(exc, Deadline):  # the worker's internals are no help to the reader
        text += f"TimeoutError: {message}\n"
    else:
        text += "".join(traceback.format_exception_only(type(exc), exc))
    if message is None:
        message = "".join(traceback.format_exception_only(type(exc), exc)).strip()
    return error_record(
        kind,
        _clip(message, _MAX_MESSAGE),
        line=line,
        column=column,
        traceback=_clip(text, _MAX_TRACEBACK),
    )


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[:limit] + f"... [{len(text) - limit} more]"


_current_code = [""]


class Runtime:
    """Compiled actions by version, the capture, and the per-call protocol."""

    def __init__(self, *, max_log_chars: int, max_result_bytes: int, memory_mb: int) -> None:
        self.capture = Capture(max_log_chars)
        self.max_result_bytes = max_result_bytes
        self.memory_mb = memory_mb
        self._modules: OrderedDict[str, tuple[dict[str, Any], str]] = OrderedDict()
        # fds 1 and 2 already lead to /dev/null (guard.py); these are what print uses.
        sys.stdout = sys.stderr = self.capture
        handler = logging.StreamHandler(self.capture)
        handler.setFormatter(logging.Formatter("[%(levelname)s] %(message)s"))
        root = logging.getLogger()
        root.handlers[:] = [handler]
        root.setLevel(logging.INFO)
        # The call's time limit: see call() and _on_alarm().
        self._deadline = 0.0
        self._running = False
        signal.signal(signal.SIGALRM, self._on_alarm)

    def _on_alarm(self, signum: int, frame: object) -> None:
        """SIGALRM: raise Deadline in bot code once the running call's time is up.

        A call arms the interval timer and does not disarm it when it ends (one
        system call fewer per call): a signal from a finished call's timer
        arrives while ``_running`` is false, or before the next call re-arms
        it, and is ignored, or waits for that call's own deadline.
        """
        if not self._running:
            return
        left = self._deadline - time.monotonic()
        if left > 0:
            signal.setitimer(signal.ITIMER_REAL, left)
            return
        raise Deadline()

    def _module(self, version: str, code: str | None) -> dict[str, Any]:
        """The action's module namespace, initialised once per version (as Lambda does).

        ``code`` is None when the server knows this worker holds the version.
        """
        cached = self._modules.get(version)
        if cached is not None:
            self._modules.move_to_end(version)
            _current_code[0] = cached[1]
            return cached[0]
        if code is None:  # only if the cache was tampered with: start afresh
            raise UserError(
                error_record(
                    ErrorKind.EXCEPTION, "the worker lost this version of the code; try again"
                ),
                recycle=True,
            )
        _current_code[0] = code
        try:
            compiled = compile(code, USER_FILENAME, "exec", dont_inherit=True)
        except (SyntaxError, ValueError) as exc:
            raise UserError(_error(ErrorKind.SYNTAX_ERROR, exc)) from None
        namespace = {"__name__": "action", "__file__": USER_FILENAME, "__builtins__": builtins}
        exec(compiled, namespace)
        main = namespace.get("main")
        if not callable(main):
            raise UserError(
                error_record(ErrorKind.SYNTAX_ERROR, "the code must define main(event, context)")
            )
        self._modules[version] = (namespace, code)
        if len(self._modules) > CACHED_VERSIONS:
            self._modules.popitem(last=False)
        return namespace

    def call(self, call_id: int, call: Call) -> dict[str, Any]:
        """Run one call; return its result, to be framed by ``answer``."""
        version = call["version"]
        timeout = call["timeout_ms"] / 1000
        deadline = time.monotonic() + timeout
        context = LambdaContext(
            request_id=call["request_id"],
            function_name=call["action"],
            function_version=version,
            memory_limit_in_mb=self.memory_mb,
            bot_id=call["bot_id"],
            deadline=deadline,
        )
        capture = self.capture
        capture.reset()
        # Code that replaced sys.stdout in an earlier call must not lose this call's logs.
        sys.stdout = sys.stderr = capture
        reply: dict[str, Any] = {"id": call_id, "recycle": False}
        started = time.perf_counter()
        try:
            self._deadline = deadline
            self._running = True
            try:
                # Re-armed by every call, so an earlier call's timer never cuts this one short.
                signal.setitimer(signal.ITIMER_REAL, timeout)
                main = self._module(version, call["code"] if call["with_code"] else None)["main"]
                value = main({"body": call["body"]}, context)
            finally:
                self._running = False
            reply["ok"] = True
            reply["ret"] = value
            reply["ret_type"] = type(value).__name__
        except UserError as exc:
            reply.update(ok=False, recycle=exc.recycle, error=exc.error)
        except Deadline as exc:
            reply.update(
                ok=False,
                recycle=True,
                error=_error(
                    ErrorKind.TIMEOUT,
                    exc,
                    f"the action ran longer than its {timeout:g} s time limit",
                ),
            )
        except MemoryError as exc:
            reply.update(
                ok=False,
                recycle=True,
                error=_error(
                    ErrorKind.LIMIT_EXCEEDED,
                    exc,
                    f"MemoryError: the action used more than its {self.memory_mb} MiB memory limit",
                ),
            )
        except OSError as exc:
            why = _LIMIT_ERRNOS.get(exc.errno or 0)
            kind = ErrorKind.LIMIT_EXCEEDED if why else ErrorKind.EXCEPTION
            reply.update(ok=False, error=_error(kind, exc, f"{exc} ({why})" if why else None))
        except SystemExit as exc:
            reply.update(
                ok=False,
                error=_error(
                    ErrorKind.EXCEPTION,
                    exc,
                    "main called sys.exit() or exit(); return a response dict instead",
                ),
            )
        except BaseException as exc:
            reply.update(ok=False, error=_error(ErrorKind.EXCEPTION, exc))
        # Also when the signal struck before the inner try or inside its finally.
        self._running = False
        # Milliseconds to three decimals; round(x, 3) costs as much as the rest of this.
        reply["duration_ms"] = int((time.perf_counter() - started) * 1e6 + 0.5) / 1000
        # CPU time of the whole process, all threads: getrusage's user + system
        # time, from one clock read instead of a whole rusage structure.
        reply["cpu_s"] = time.process_time()
        # A thread bot code left behind would run into the next call: retire.
        # Files it left in /tmp are removed (guard.left_behind).
        reply["recycle"] = reply["recycle"] or guard.left_behind()
        reply["logs"] = capture.getvalue()
        # Whether the next call of this version may leave its code out.
        reply["cached"] = version in self._modules
        return reply

    def answer(self, reply: dict[str, Any]) -> bytes:
        """The reply as a frame; a return value JSON cannot hold, or too much of it, fails."""
        try:
            frame = encode_result(reply)
        except MemoryError:
            return encode_result(
                self._refuse(
                    reply,
                    ErrorKind.LIMIT_EXCEEDED,
                    "main returned more data than fits in "
                    f"the {self.memory_mb} MiB memory limit: return less data",
                )
            )
        except UnicodeEncodeError:
            # Text with a lone surrogate ('\ud800') has no UTF-8: what bot code printed or
            # raised is shown with U+FFFD instead, and such a return value is refused.
            for key, value in reply.items():
                if key != "ret":
                    reply[key] = _valid_text(value)
            try:
                return encode_result(reply)
            except UnicodeEncodeError:
                return encode_result(
                    self._refuse(
                        reply,
                        ErrorKind.BAD_RETURN,
                        "main returned text that is not valid Unicode (a lone surrogate "
                        "such as '\\ud800'): return text that can be written as UTF-8",
                    )
                )
        except (TypeError, ValueError, RecursionError) as exc:
            return encode_result(
                self._refuse(
                    reply,
                    ErrorKind.BAD_RETURN,
                    "main must return "
                    "JSON-compatible values (dicts, lists, strings, numbers, "
                    f"booleans, None): {exc}",
                )
            )
        if len(frame) > self.max_result_bytes:  # only then is the exact size worth measuring
            size = len(json.dumps(reply.get("ret"), ensure_ascii=False))
            if size > self.max_result_bytes:
                return encode_result(
                    self._refuse(
                        reply,
                        ErrorKind.LIMIT_EXCEEDED,
                        f"main returned "
                        f"{size} bytes of JSON; the limit is "
                        f"{self.max_result_bytes}: return less data",
                    )
                )
        return frame

    @staticmethod
    def _refuse(reply: dict[str, Any], kind: ErrorKind, message: str) -> dict[str, Any]:
        reply.pop("ret", None)
        reply.update(ok=False, error=error_record(kind, message))
        return reply


_SURROGATE = re.compile("[\ud800-\udfff]")


def _valid_text(value: Any) -> Any:
    """``value`` with every string in it made encodable as UTF-8 (lone surrogates → U+FFFD)."""
    if isinstance(value, str):
        return _SURROGATE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {k: _valid_text(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_valid_text(v) for v in value]
    return value
