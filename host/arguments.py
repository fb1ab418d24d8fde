"""Validation of each command's arguments, by hand (see host/schema.py for why and for
the models this must agree with). Every failure names the fields, never their values:
one of them may be a PIN."""

from __future__ import annotations

import re
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host.errors import CpsError

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")
_CERTIFICATE_ID = re.compile(r"[0-9a-f]{64}")

def _string(lo: int, hi: int, pattern: re.Pattern | None = None):
    def check(v: Any) -> bool:
        return type(v) is str and lo <= len(v) <= hi and (pattern is None or bool(pattern.fullmatch(v)))
    return check


def _wait(v: Any) -> bool:
    return type(v) is int and 0 <= v <= 120_000


def _optional_string(v: Any) -> bool:
    return v is None or type(v) is str


# command -> {field: (required, check)}
SHAPES: dict[str, dict[str, tuple[bool, Callable[[Any], bool]]]] = {
    "status": {}, "watch": {}, "unwatch": {},
    "list-certificates": {"waitForCardMs": (False, _wait)},
    "authenticate": {"challengeNonce": (True, _string(44, 128, _BASE64)),
                     "origin": (True, _string(1, 255)),
                     "certificateId": (True, _string(64, 64, _CERTIFICATE_ID)),
                     "pin": (False, _optional_string)},
    "cancel": {"requestId": (True, _string(1, 64))},
}
DEFAULTS = {"list-certificates": {"waitForCardMs": 0}, "authenticate": {"pin": None}}


def parse(command: str, arguments: dict[str, Any]) -> dict[str, Any]:
    shape = SHAPES[command]
    bad = sorted(k for k in arguments if k not in shape)
    for name, (required, check) in shape.items():
        if name in arguments:
            if not check(arguments[name]):
                bad.append(name)
        elif required:
            bad.append(name)
    if bad:
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"reason": "invalid arguments", "fields": sorted(bad)})
    return {**DEFAULTS.get(command, {}), **arguments}
