"""Error codes and the sentence a person reads, from the one source: errors.json."""

from __future__ import annotations

import json
import sys
from functools import lru_cache
from pathlib import Path
from typing import Any


@lru_cache(maxsize=1)
def catalogue() -> dict[str, dict[str, Any]]:
    base = Path(getattr(sys, "_MEIPASS", Path(__file__).resolve().parent.parent))
    path = base / "host" / "errors.json"
    return json.loads(path.read_text("utf-8"))["codes"]


def message(code: str, lang: str = "fr", details: dict[str, Any] | None = None) -> str:
    entry = catalogue().get(code) or catalogue()["ERR_CPS_INTERNAL"]
    variant = (entry.get("variants") or {}).get((details or {}).get("pinStatus", ""))
    chosen = variant or entry
    return chosen.get(lang) or chosen["fr"]


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
        err: dict[str, Any] = {"code": self.code, "message": message(self.code, "fr", self.details)}
        if self.details:
            err["details"] = self.details
        return err
