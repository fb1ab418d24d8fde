"""Logging to a file in the user's log folder (and warnings to stderr).

Set up on first use, not at start, and with logging.FileHandler rotated by hand when the
file is opened: `logging.handlers` alone costs ~25 ms, and most host processes live for
one request. Nothing here ever receives a PIN: handlers log what happened, never argument
values.
"""

from __future__ import annotations

import os
import sys
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

if TYPE_CHECKING:
    import logging

    from host.config import Settings

MAX_BYTES = 1_000_000
BACKUPS = 3
_settings: "Settings | None" = None
_configured = False


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


def get(name: str = "cpsbridge") -> "logging.Logger":
    global _configured
    import logging

    if not _configured:
        _configured = True
        root = logging.getLogger("cpsbridge")
        level = getattr(logging, (_settings.logLevel if _settings else "INFO"), logging.INFO)
        root.setLevel(level)
        root.propagate = False
        fmt = logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s")
        console = logging.StreamHandler(sys.stderr)  # stderr, never stdout
        console.setLevel(logging.WARNING)
        console.setFormatter(fmt)
        root.addHandler(console)
        if _settings is not None:
            path = _settings.log_path
            try:
                os.makedirs(os.path.dirname(path), exist_ok=True)
                rotate(path)
                handler = logging.FileHandler(path, encoding="utf-8")
                handler.setFormatter(fmt)
                root.addHandler(handler)
            except OSError as exc:
                root.warning("log file %s unavailable: %s", path, exc)
    return logging.getLogger(name if name.startswith("cpsbridge") else f"cpsbridge.{name}")
