"""Native messaging framing: a 32-bit native-order length, then UTF-8 JSON.

stdout carries frames and nothing else. `guard_stdout()` moves the real stdout to a
private descriptor and points fd 1 (and sys.stdout) at stderr, so that a stray print or
a C library writing to stdout can never corrupt the stream.
"""

from __future__ import annotations

import os
import struct
import sys
import threading

from host.json_codec import dumps
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

if TYPE_CHECKING:
    from typing import Any, BinaryIO

MAX_INCOMING = 64 * 1024  # browser -> host (contract §2)
MAX_OUTGOING = 1024 * 1024  # host -> browser (browser limit)
_HEADER = struct.Struct("=I")


class FrameTooLarge(Exception):
    def __init__(self, size: int):
        super().__init__(f"incoming frame of {size} bytes exceeds {MAX_INCOMING}")
        self.size = size


def read_frame(stream: BinaryIO) -> bytes | None:
    """One message body, or None at EOF (also EOF in the middle of a frame)."""
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > MAX_INCOMING:
        raise FrameTooLarge(size)  # the body is deliberately left unread
    return _read_exact(stream, size)


def _read_exact(stream: BinaryIO, n: int) -> bytes | None:
    buf = bytearray()
    while len(buf) < n:
        chunk = stream.read(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return bytes(buf)


def encode(message: dict[str, Any]) -> bytes:
    body = dumps(message).encode("utf-8")
    if len(body) > MAX_OUTGOING:
        raise ValueError(f"outgoing frame of {len(body)} bytes exceeds the browser limit")
    return _HEADER.pack(len(body)) + body


class FrameWriter:
    """Writes whole frames atomically from any thread; can be closed for good (EOF)."""

    def __init__(self, stream: BinaryIO):
        self._stream = stream
        self._lock = threading.Lock()
        self._closed = False

    def write(self, message: dict[str, Any]) -> bool:
        data = encode(message)
        with self._lock:
            if self._closed:
                return False
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, OSError, ValueError):
                self._closed = True
                return False
            return True

    def close(self) -> None:
        with self._lock:
            self._closed = True


def guard_stdout() -> BinaryIO:
    """Reserve the real stdout for frames; everything else written to fd 1 goes to stderr."""
    frames_fd = os.dup(1)
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    return os.fdopen(frames_fd, "wb", buffering=0)
