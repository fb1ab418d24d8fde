"""The narrow interface between the command handlers and whatever middleware reads the card.

The dispatcher and the tests see only `Card`; `Pkcs11Card` (python-pkcs11 over the
Cryptolib CPS, OpenSC or SoftHSM2) is the production implementation. Imported only by
card commands (typing is loaded by python-pkcs11 there anyway).

No `from __future__ import annotations` here: NamedTuple would turn each string annotation
into a ForwardRef, compiling it, ~1 ms of every login; these annotations are plain types.
"""

from collections.abc import Callable
from typing import Any, Literal, NamedTuple, Protocol

PinStatus = Literal["ok", "countLow", "finalTry", "locked"]
Algorithm = Literal["RS256", "PS256", "ES256", "ES384"]


class PinState(NamedTuple):
    min_length: int
    max_length: int
    status: PinStatus
    pin_pad: bool


class CardCertificate(NamedTuple):
    certificate_id: str  # lower-case hex SHA-256 of the DER
    der: bytes
    token_label: str
    reader: str | None  # the slot's description; a reader name with real middleware
    pin: PinState
    holder: dict[str, Any]  # host.holder.holder_fields
    not_before: str
    not_after: str


class Signature(NamedTuple):
    algorithm: Algorithm
    value: bytes
    certificate: bytes


# hash name ("sha256" or "sha384") -> the bytes to sign (M of §5)
MessageFor = Callable[[str], bytes]


class Card(Protocol):
    def module_status(self) -> dict[str, Any]:
        """{"module": path|None, "loaded": bool[, "error": code]} without touching a card."""

    def list_certificates(self) -> list[CardCertificate]:
        """Authentication certificates of every card present; no PIN asked."""

    def uses_readers(self) -> bool:
        """Whether what the middleware sees can depend on PC/SC: not when every slot it
        shows is a software token (SoftHSM2), with no reader behind it."""

    def refresh(self) -> None:
        """Look again for cards that appeared since the last look."""

    def sign(self, certificate_id: str, pin: str | None, message_for: MessageFor) -> Signature:
        """Log in with `pin` (None: the reader's PIN pad) once, never more, and sign."""
