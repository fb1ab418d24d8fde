"""The host's log: a file in the user's log folder (and warnings to stderr).

Not the `logging` module: importing it costs ~16 ms (it pulls traceback, linecache and
tokenize), half of what the host adds to a login on top of python-pkcs11, in a process
that often lives for one request and writes two lines. This writes the same format,
rotated by size when the file is first opened. Nothing here ever receives a PIN: callers
log what happened, never argument values.

Warnings and errors are written at once (and to stderr). INFO and DEBUG lines wait in
memory until `flush()`, which the service calls once a request's answer is out: their
timestamp and write (~40 µs after card work) then cost the person waiting nothing.
"""

from __future__ import annotations

import os
import sys
import threading
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

    from host.config import Settings

MAX_BYTES = 1_000_000
BACKUPS = 3
LEVELS = {"DEBUG": 10, "INFO": 20, "WARNING": 30, "ERROR": 40, "CRITICAL": 50}

_settings: "Settings | None" = None
_file: "TextIO | None" = None
_opened = False
_lock = threading.Lock()
_pending: list[tuple[float, str]] = []  # (time, rest of the line) of INFO/DEBUG lines, under _lock
_MAX_PENDING = 64  # lines written anyway once this many wait (a host that only sends events)
_second: tuple[int, str] = (-1, "")  # the last second formatted, and its text


def init(settings: "Settings") -> None:
    global _settings
    _settings = settings


def rotate(path: str, max_bytes: int = MAX_BYTES, backups: int = BACKUPS) -> None:
    """host.log -> host.log.1 -> … -> host.log.N when it has grown past max_bytes."""
    try:
        if os.path.getsize(path) < max_bytes:
            return
    except OSError:
        return
    for i in range(backups, 0, -1):
        older = f"{path}.{i - 1}" if i > 1 else path
        if os.path.exists(older):
            os.replace(older, f"{path}.{i}")


def _open() -> "TextIO | None":
    global _file, _opened
    if not _opened:
        _opened = True
        if _settings is not None:
            path = _settings.log_path
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                rotate(path)
                _file = open(path, "a", encoding="utf-8")
            except OSError as exc:
                sys.stderr.write(f"cpsbridge: log file {path} unavailable: {exc}\n")
    return _file


class Logger:
    def __init__(self, name: str):
        self.name = name if name.startswith("cpsbridge") else f"cpsbridge.{name}"

    def _emit(self, level: str, msg: str, args: tuple, trace: str = "") -> None:
        threshold = LEVELS.get(_settings.logLevel if _settings else "INFO", 20)
        rank = LEVELS[level]
        if rank < threshold and rank < LEVELS["WARNING"]:
            return
        try:
            text = msg % args if args else msg
        except (TypeError, ValueError):
            text = f"{msg} {args!r}"
        now = time.time()
        rest = f" {os.getpid()} {level} {self.name}: {text}\n{trace}"
        with _lock:
            if rank < LEVELS["WARNING"]:
                if _settings is not None:  # no log file without settings: nowhere to write
                    _pending.append((now, rest))
                    if len(_pending) >= _MAX_PENDING:
                        _write_pending()
                return
            line = _stamp(now) + rest
            if rank >= threshold:
                _write_pending()  # keep the file in time order
                _write(line)
            sys.stderr.write(line)  # stderr, never stdout

    def debug(self, msg: str, *args) -> None:
        self._emit("DEBUG", msg, args)

    def info(self, msg: str, *args) -> None:
        self._emit("INFO", msg, args)

    def warning(self, msg: str, *args) -> None:
        self._emit("WARNING", msg, args)

    def error(self, msg: str, *args) -> None:
        self._emit("ERROR", msg, args)

    def exception(self, msg: str, *args) -> None:
        import traceback  # only when something went wrong

        self._emit("ERROR", msg, args, traceback.format_exc())


def _stamp(now: float) -> str:
    """`2026-11-26 08:30:09,123`, the second formatted once per second (~9 µs each time)."""
    global _second
    whole = int(now)
    if _second[0] != whole:
        _second = (whole, time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(whole)))
    return f"{_second[1]},{int(now % 1 * 1000):03d}"


def _write(line: str) -> None:
    f = _open()
    if f is not None:
        try:
            f.write(line)
            f.flush()
        except OSError:
            pass


def _write_pending() -> None:
    """Write the waiting INFO/DEBUG lines, in one write; the caller holds _lock."""
    if _pending:
        lines = "".join(_stamp(now) + rest for now, rest in _pending)
        _pending.clear()
        _write(lines)


def flush() -> None:
    """Write the lines that wait: called once an answer has been sent, and at exit."""
    with _lock:
        _write_pending()


def get(name: str = "cpsbridge") -> Logger:
    return Logger(name)


def close() -> None:
    with _lock:
        _write_pending()
        if _file is not None:
            try:
                _file.flush()
            except OSError:
                pass
