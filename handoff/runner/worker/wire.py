"""Length-prefixed JSON frames between the server and a worker.

A frame is a 4-byte big-endian length, then the payload: a 4-byte length of a
UTF-8 JSON object, the object, and the raw UTF-8 bytes of its "raw" text
fields. Pipes carry no message boundaries, and a length prefix lets each side
refuse an oversized frame before reading it. Large strings (the code, the
event body, which is itself JSON) travel raw because escaping them into JSON
and back is most of the cost of a warm call.

A frame may hold a JSON array instead (``encode_list``), its raw fields'
lengths in a last element: a call and its result are arrays (see ``frames``).
"""

from __future__ import annotations

import json
import os
import struct
import threading
from collections.abc import Callable, Sequence
from json import encoder as _json_encoder
from typing import Any

HEADER = struct.Struct(">I")
_HEADERS = struct.Struct(">II")  # the frame's length, then its JSON head's

# The server never sends more than this (the code is capped well below it);
# the worker refuses anything larger instead of allocating it.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


class FrameError(Exception):
    """A frame was malformed or larger than allowed."""


def _not_serializable(value: object) -> Any:
    # JSONEncoder.default's own message.
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


_PROBE = {"a": [1, 2.5, None, True, "\u00e9\n"], "b": {}}


class Encoder:
    """``json.JSONEncoder(**options).encode`` with its C encoder built once, not per call.

    ``JSONEncoder.encode`` builds a new C encoder (and a new circular-reference
    table) on every call, about a third of the cost of a small frame. Each
    thread gets its own: the table is shared by every encode that uses it. It
    is empty again after every successful encode; one that fails may leave
    entries in it, so the encoder is rebuilt then.
    """

    def __init__(
        self,
        *,
        ensure_ascii: bool = True,
        allow_nan: bool = True,
        default: Callable[[Any], Any] = _not_serializable,
    ) -> None:
        self._slow = json.JSONEncoder(
            ensure_ascii=ensure_ascii, allow_nan=allow_nan, default=default
        )
        self._options = (
            default,
            _json_encoder.encode_basestring_ascii
            if ensure_ascii
            else _json_encoder.encode_basestring,
            None,  # indent
            self._slow.key_separator,
            self._slow.item_separator,
            False,  # sort_keys
            False,  # skipkeys
            allow_nan,
        )
        self._local = threading.local()

    def _build(self) -> Any:
        make = getattr(_json_encoder, "c_make_encoder", None)
        try:
            fast = None if make is None else make({}, *self._options)
            # A Python whose C encoder takes other arguments gets the slow path.
            if fast is not None and "".join(fast(_PROBE, 0)) != self._slow.encode(_PROBE):
                fast = None
        except (TypeError, ValueError):
            fast = None
        self._local.fast = fast
        return fast

    def encode(self, value: Any) -> str:
        """The JSON text of ``value``, exactly as ``JSONEncoder.encode`` writes it."""
        try:
            fast = self._local.fast
        except AttributeError:
            fast = self._build()
        if fast is None or isinstance(value, str):
            return self._slow.encode(value)
        try:
            return "".join(fast(value, 0))
        except BaseException:
            self._build()  # the failed encode may have left circular-reference marks
            raise


class Decoder:
    """``decoder.decode`` (or ``json.loads``) with a fast path for text holding one value.

    Both skip whitespace around the value with two regular-expression matches
    and check what follows; the frames (and most JSON) have none, so the
    scanner is called directly and anything else (whitespace, extra data,
    errors) goes the ordinary way, with its exact result or message.
    """

    def __init__(self, decoder: json.JSONDecoder | None = None) -> None:
        """Like ``decoder.decode``, or ``json.loads`` when ``decoder`` is None."""
        scanner = decoder or json.JSONDecoder()
        # Set in JSONDecoder.__init__, missing from its type stubs.
        self._scan: Callable[[str, int], tuple[Any, int]] = scanner.scan_once  # type: ignore[attr-defined]
        self._slow: Callable[[str], Any] = json.loads if decoder is None else decoder.decode

    def decode(self, text: str) -> Any:
        """The value in ``text``, or the ``ValueError`` the slow path raises for it."""
        try:
            value, end = self._scan(text, 0)
        except StopIteration:
            end = -1
        if end == len(text):
            return value
        return self._slow(text)


# One encoder and decoder for every frame: json.dumps/loads with options build
# a new codec per call.
_ENCODER = Encoder(ensure_ascii=False, allow_nan=False)
_DECODER = Decoder()  # json.loads


def encode(message: dict[str, Any], raw: dict[str, str] | None = None) -> bytes:
    """One frame for ``message`` plus ``raw`` text fields; NaN and Infinity are refused."""
    if not raw:
        head = _ENCODER.encode(message).encode()
        return _HEADERS.pack(HEADER.size + len(head), len(head)) + head
    blobs = [text.encode() for text in raw.values()]
    message = {**message, "raw": [[k, len(b)] for k, b in zip(raw, blobs, strict=True)]}
    head = _ENCODER.encode(message).encode()
    size = HEADER.size + len(head) + sum(map(len, blobs))
    return b"".join([_HEADERS.pack(size, len(head)), head, *blobs])


def encode_list(items: list[Any], raw: Sequence[str] = ()) -> bytes:
    """One frame for the JSON array ``items`` and ``raw`` text fields after them.

    ``decode`` gives back ``items`` with the raw texts appended.
    """
    parts = [b""]
    lengths = []
    size = HEADER.size
    for text in raw:
        blob = text.encode()
        parts.append(blob)
        lengths.append(len(blob))
        size += len(blob)
    head = _ENCODER.encode([*items, lengths]).encode()
    parts[0] = _HEADERS.pack(size + len(head), len(head)) + head
    return b"".join(parts)


def decode(payload: bytes | bytearray | memoryview) -> dict[str, Any] | list[Any]:
    """The object (or array) in a frame's payload, its raw text fields put back in place."""
    try:
        view = memoryview(payload)
        (size,) = HEADER.unpack_from(view)
        end = HEADER.size + size
        value: dict[str, Any] | list[Any] = _DECODER.decode(str(view[HEADER.size : end], "utf-8"))
        if isinstance(value, dict):
            for name, length in value.pop("raw", ()):
                value[str(name)] = str(view[end : end + length], "utf-8")
                end += length
        elif isinstance(value, list) and value and isinstance(value[-1], list):
            for length in value.pop():
                value.append(str(view[end : end + length], "utf-8"))
                end += length
        else:
            raise FrameError("frame is not a JSON object")
    except (ValueError, TypeError, struct.error) as exc:
        raise FrameError(f"frame is malformed: {exc}") from None
    if end != len(view):
        raise FrameError("frame length does not match its contents")
    return value


class FrameReader:
    """Frames from a blocking fd, read in large chunks (one read per call, usually)."""

    def __init__(self, fd: int, limit: int = MAX_REQUEST_BYTES) -> None:
        self.fd = fd
        self.limit = limit
        self.buffer = bytearray()

    def _fill(self, size: int) -> bool:
        while len(self.buffer) < size:
            chunk = os.read(self.fd, max(65536, size - len(self.buffer)))
            if not chunk:
                if self.buffer:
                    raise FrameError("stream ended inside a frame")
                return False
            self.buffer += chunk
        return True

    def _check(self, size: int) -> None:
        if size > self.limit:
            raise FrameError(f"frame of {size} bytes is over the {self.limit} byte limit")

    def read(self) -> dict[str, Any] | list[Any] | None:
        """The next frame, or None at end of stream."""
        if not self.buffer:
            # The usual case: one read brings exactly one whole frame, which is
            # decoded where it lies instead of being copied through the buffer.
            chunk = os.read(self.fd, 65536)
            if not chunk:
                return None
            if len(chunk) >= HEADER.size:
                (size,) = HEADER.unpack_from(chunk)
                self._check(size)
                if len(chunk) == HEADER.size + size:
                    return decode(memoryview(chunk)[HEADER.size :])
            self.buffer += chunk
        if not self._fill(HEADER.size):
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        self._check(size)
        if not self._fill(HEADER.size + size):
            raise FrameError("stream ended inside a frame")
        payload = bytes(self.buffer[HEADER.size : HEADER.size + size])
        del self.buffer[: HEADER.size + size]
        return decode(payload)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking fd."""
    written = os.write(fd, data)
    if written == len(data):  # the usual case: a pipe takes a small frame whole
        return
    view = memoryview(data)[written:]
    while view:
        written = os.write(fd, view)
        view = view[written:]
