"""Error codes and the sentence a person reads, from the one source: errors.json."""

from __future__ import annotations

import sys
import os
from functools import lru_cache

from host.json_codec import loads
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

if TYPE_CHECKING:
    from typing import Any


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, Any]]:
    # Frozen builds carry errors.json beside the executable (PyInstaller's _MEIPASS).
    base = getattr(sys, "_MEIPASS", None) or os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(base, "host", "errors.json"), encoding="utf-8") as f:
        return loads(f.read())["codes"]


def message(code: str, lang: str = "fr", details: dict[str, Any] | None = None) -> str:
    entry = catalogue().get(code) or catalogue()["ERR_CPS_INTERNAL"]
    variant = (entry.get("variants") or {}).get((details or {}).get("pinStatus", ""))
    chosen = variant or entry
    return chosen.get(lang) or chosen["fr"]


def is_unicode_text(text: str) -> bool:
    """False for a string JSON can carry but UTF-8 cannot (a lone surrogate, "\\ud800"):
    no frame could echo it."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def echoable(name: str) -> str:
    """A key of the request as an error's `details` can name it: one UTF-8 cannot carry is
    named by its escape, so that the error frame can still be written."""
    if is_unicode_text(name):
        return name
    return name.encode("utf-8", "backslashreplace").decode("utf-8")


class CpsError(Exception):
    """A failure with a protocol error code; `details` are safe to send to the browser
    (never a PIN, never a stack trace)."""

    def __init__(self, code: str, details: dict[str, Any] | None = None, log: str | None = None):
        if code not in catalogue():
            raise ValueError(f"unknown error code {code}")
        super().__init__(log or code)
        self.code = code
        self.details = details or {}

    def to_error(self) -> dict[str, Any]:
        # `details` always, if only {}: §3 gives every error the three keys.
        return {"code": self.code, "message": message(self.code, "fr", self.details),
                "details": self.details}
