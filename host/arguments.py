"""Validation of each command's arguments, by hand (see host/schema.py for why and for
the models this must agree with). Every failure names the fields, never their values:
one of them may be a PIN. No `re`: its import (with `enum`) would cost ~3 ms of every start."""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host.errors import CpsError, echoable

if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

_BASE64_ALPHABET = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-")
_LOWER_HEX = frozenset("0123456789abcdef")


def _base64(v: str) -> bool:
    """[A-Za-z0-9+/_-]+={0,2}: standard or URL-safe alphabet, at most two pads."""
    body = v.rstrip("=")
    return bool(body) and len(v) - len(body) <= 2 and _BASE64_ALPHABET.issuperset(body)


def _lower_hex(v: str) -> bool:
    return _LOWER_HEX.issuperset(v)


def _string(lo: int, hi: int, pattern: Callable[[str], bool] | None = None):
    def check(v: Any) -> bool:
        return type(v) is str and lo <= len(v) <= hi and (pattern is None or pattern(v))
    return check


def _wait(v: Any) -> bool:
    return type(v) is int and 0 <= v <= 120_000


def _any_string(v: Any) -> bool:
    return type(v) is str


def _optional_string(v: Any) -> bool:
    return v is None or type(v) is str


# command -> {field: (required, check)}
SHAPES: dict[str, dict[str, tuple[bool, Callable[[Any], bool]]]] = {
    "status": {}, "watch": {}, "unwatch": {},
    # `origin` (our extension of §4): the page the list is for, checked as authenticate
    # checks it, before the card is read; the extension then asks no PIN for a page the
    # host would refuse.
    "list-certificates": {"waitForCardMs": (False, _wait), "origin": (False, _optional_string)},
    "authenticate": {"challengeNonce": (True, _string(44, 128, _base64)),
                     # Any string: its form (length included) is the origin check's,
                     # so every origin refused gets one code, ERR_CPS_ORIGIN_NOT_ALLOWED (§4).
                     "origin": (True, _any_string),
                     "certificateId": (True, _string(64, 64, _lower_hex)),
                     "pin": (False, _optional_string)},
    "cancel": {"requestId": (True, _string(1, 64))},
}
DEFAULTS = {"list-certificates": {"waitForCardMs": 0, "origin": None},
            "authenticate": {"pin": None}}


def parse(command: str, arguments: dict[str, Any]) -> dict[str, Any]:
    shape = SHAPES[command]
    bad = [echoable(k) for k in arguments if k not in shape]
    for name, (required, check) in shape.items():
        if name in arguments:
            if not check(arguments[name]):
                bad.append(name)
        elif required:
            bad.append(name)
    if bad:
        raise CpsError("ERR_CPS_INVALID_REQUEST", {"reason": "invalid arguments", "fields": sorted(bad)})
    return {**DEFAULTS.get(command, {}), **arguments}
