"""Logging to a rotating file in the user's log folder (and warnings to stderr).

Set up on first use, not at start: `logging.handlers` alone costs ~25 ms, and `status`
usually has nothing to log. Nothing here ever receives a PIN: handlers log what happened,
never argument values.
"""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import logging

    from host.config import Settings

_settings: "Settings | None" = None
_configured = False


def init(settings: "Settings") -> None:
    global _settings
    _settings = settings


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
            import logging.handlers

            path = _settings.log_path
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                handler = logging.handlers.RotatingFileHandler(
                    path, maxBytes=1_000_000, backupCount=3, encoding="utf-8")
                handler.setFormatter(fmt)
                root.addHandler(handler)
            except OSError as exc:
                root.warning("log file %s unavailable: %s", path, exc)
    return logging.getLogger(name if name.startswith("cpsbridge") else f"cpsbridge.{name}")
