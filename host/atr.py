"""Card type from the ATR (answer to reset), as far as PC/SC can tell without middleware."""

from __future__ import annotations

# (pattern, mask, type): ATR & mask == pattern & mask. The CPS3 mask is OpenSC's.
_TABLE: list[tuple[bytes, bytes, str]] = [
    (bytes.fromhex("3BAC00402A00122500648000031000 9000".replace(" ", "")),
     bytes.fromhex("FF00000000FFFFFFFFFFFF000000FFFFFF"), "CPS3"),
    (bytes.fromhex("3B8F800100 31B86404B0ECC17394018082 90000E".replace(" ", "")),
     bytes.fromhex("FF" * 20), "CPS3-contactless"),
    (bytes.fromhex("3B9B188001001225006480040100009044"), bytes.fromhex("FF" * 17), "CPS4"),
]
_VITALE_PREFIX = bytes.fromhex("3F6525")


def card_type(atr: bytes) -> str:
    if atr.startswith(_VITALE_PREFIX):
        return "VITALE"
    for pattern, mask, name in _TABLE:
        if len(atr) == len(pattern) and all(a & m == p & m for a, m, p in zip(atr, mask, pattern)):
            return name
    return "UNKNOWN"


def is_cps(kind: str) -> bool:
    return kind.startswith("CPS")
