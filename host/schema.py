"""The messages of §4 as pydantic models: the contract in executable form.

The host itself validates arguments with host/arguments.py and never imports pydantic:
pydantic costs ~35 ms and ~12 MB in a process that often lives for one request. The
tests hold both to this schema: arguments.py must accept exactly what these models accept
(tests/host/test_schema.py, with hypothesis), and every response the host sends in the
test suites must validate against the result models.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from host.errors import CpsError
from host.identity import Holder

_BASE64 = re.compile(r"[A-Za-z0-9+/_-]+={0,2}")  # used with fullmatch: "$" accepts a final newline


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True)


class NoArguments(Strict):
    pass


class ListCertificatesArgs(Strict):
    waitForCardMs: int = Field(0, ge=0, le=120_000)
    # Our extension of §4: checked as authenticate's origin, before the card is read.
    origin: str | None = None


class AuthenticateArgs(Strict):
    challengeNonce: str = Field(min_length=44, max_length=128)
    # Shape only: an origin of the wrong form or length is ERR_CPS_ORIGIN_NOT_ALLOWED,
    # like any origin not allowed (host/origins.py), not ERR_CPS_INVALID_REQUEST.
    origin: str
    certificateId: str = Field(pattern=r"^[0-9a-f]{64}$")
    # Shape only here: digits and length against the token are checked before the card
    # (ERR_CPS_PIN_FORMAT), not here (ERR_CPS_INVALID_REQUEST).
    pin: str | None = None

    @field_validator("challengeNonce")
    @classmethod
    def _base64(cls, v: str) -> str:
        if not _BASE64.fullmatch(v):
            raise ValueError("challengeNonce must be base64")
        return v

    def __repr__(self) -> str:  # never let the PIN reach a log through a repr
        return (f"AuthenticateArgs(origin={self.origin!r}, "
                f"certificateId={self.certificateId!r}, pin=<hidden>)")

    __str__ = __repr__


class CancelArgs(Strict):
    requestId: str = Field(min_length=1, max_length=64)


ARGUMENTS: dict[str, type[Strict]] = {
    "status": NoArguments, "list-certificates": ListCertificatesArgs,
    "authenticate": AuthenticateArgs, "watch": NoArguments, "unwatch": NoArguments,
    "cancel": CancelArgs,
}


def parse_arguments(command: str, arguments: dict[str, Any]) -> Strict:
    try:
        return ARGUMENTS[command].model_validate(arguments)
    except ValidationError as exc:
        # Name the fields, never echo the values (one of them may be a PIN).
        fields = sorted({".".join(str(p) for p in e["loc"]) or "arguments"
                         for e in exc.errors()})
        raise CpsError("ERR_CPS_INVALID_REQUEST",
                       {"reason": "invalid arguments", "fields": fields}) from None


PinStatus = Literal["ok", "countLow", "finalTry", "locked"]


class PinInfo(Strict):
    minLength: int
    maxLength: int
    status: PinStatus
    pinPad: bool


class CertificateEntry(Strict):
    certificateId: str
    certificate: str
    tokenLabel: str
    reader: str | None
    holder: Holder
    notBefore: str
    notAfter: str
    pin: PinInfo


class ListCertificatesResult(Strict):
    certificates: list[CertificateEntry]


Algorithm = Literal["RS256", "PS256", "ES256", "ES384"]


class Token(Strict):
    format: Literal["cpsbridge:1"] = "cpsbridge:1"
    unverifiedCertificate: str
    algorithm: Algorithm
    signature: str
    appVersion: str


class AuthenticateResult(Strict):
    token: Token
