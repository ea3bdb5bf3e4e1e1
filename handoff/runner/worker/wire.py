"""Length-prefixed JSON frames between the server and a worker.

A frame is a 4-byte big-endian length, then the payload: a 4-byte length of a
UTF-8 JSON object, the object, and the raw UTF-8 bytes of its "raw" text
fields. Pipes carry no message boundaries, and a length prefix lets each side
refuse an oversized frame before reading it. Large strings (the code, the
event body, which is itself JSON) travel raw because escaping them into JSON
and back is most of the cost of a warm call.
"""

from __future__ import annotations

import json
import os
import struct
from typing import Any

HEADER = struct.Struct(">I")

# The server never sends more than this (the code is capped well below it);
# the worker refuses anything larger instead of allocating it.
MAX_REQUEST_BYTES = 16 * 1024 * 1024


# One encoder for every frame: json.dumps with options builds a new one per call.
_ENCODER = json.JSONEncoder(ensure_ascii=False, allow_nan=False)


class FrameError(Exception):
    """A frame was malformed or larger than allowed."""


def encode(message: dict[str, Any], raw: dict[str, str] | None = None) -> bytes:
    """One frame for ``message`` plus ``raw`` text fields; NaN and Infinity are refused."""
    blobs = [text.encode() for text in raw.values()] if raw else []
    if raw:
        message = {**message, "raw": [[k, len(b)] for k, b in zip(raw, blobs, strict=True)]}
    head = _ENCODER.encode(message).encode()
    size = HEADER.size + len(head) + sum(len(b) for b in blobs)
    return b"".join([HEADER.pack(size), HEADER.pack(len(head)), head, *blobs])


def decode(payload: bytes) -> dict[str, Any]:
    """The object in a frame's payload, its raw text fields put back in place."""
    try:
        (size,) = HEADER.unpack_from(payload)
        end = HEADER.size + size
        view = memoryview(payload)
        value = json.loads(str(view[HEADER.size : end], "utf-8"))
        if not isinstance(value, dict):
            raise FrameError("frame is not a JSON object")
        for name, length in value.pop("raw", ()):
            value[str(name)] = str(view[end : end + length], "utf-8")
            end += length
    except (ValueError, TypeError, struct.error) as exc:
        raise FrameError(f"frame is malformed: {exc}") from None
    if end != len(payload):
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

    def read(self) -> dict[str, Any] | None:
        """The next frame, or None at end of stream."""
        if not self._fill(HEADER.size):
            return None
        (size,) = HEADER.unpack_from(self.buffer)
        if size > self.limit:
            raise FrameError(f"frame of {size} bytes is over the {self.limit} byte limit")
        if not self._fill(HEADER.size + size):
            raise FrameError("stream ended inside a frame")
        payload = bytes(self.buffer[HEADER.size : HEADER.size + size])
        del self.buffer[: HEADER.size + size]
        return decode(payload)


def write_all(fd: int, data: bytes) -> None:
    """Write every byte to a blocking fd."""
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
