"""What a verification says: the holder and fingerprint, or one §6 reason code."""

from __future__ import annotations

from enum import Enum
from typing import Literal

from pydantic import BaseModel, ConfigDict

from host.identity import Holder

Reason = Literal[
    "TOKEN_MALFORMED", "NONCE_UNKNOWN", "NONCE_EXPIRED", "CERT_EXPIRED", "CERT_NOT_YET_VALID",
    "CERT_WRONG_USAGE", "CERT_UNTRUSTED", "CERT_REVOKED", "REVOCATION_UNKNOWN",
    "SIGNATURE_INVALID",
]
REASONS: tuple[str, ...] = Reason.__args__  # type: ignore[attr-defined]


class RevocationPolicy(str, Enum):
    """hard: no trustworthy 'good' answer means refusal (the default); soft: refuse only
    on 'revoked' or a signed 'unknown', accept when no answer could be had; off: no check."""

    HARD = "hard"
    SOFT = "soft"
    OFF = "off"


class Rejected(Exception):
    """A verification step failed; `detail` is for logs (English), never for the client."""

    def __init__(self, reason: Reason, detail: str = ""):
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason: Reason = reason
        self.detail = detail


class Outcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    valid: bool
    reason: Reason | None = None
    holder: Holder | None = None
    fingerprint: str | None = None  # lower-case hex SHA-256 of the DER = the host's certificateId
    detail: str | None = None       # why, for the relying party's logs only

    @classmethod
    def accepted(cls, holder: Holder, fingerprint: str) -> "Outcome":
        # Built from values the verifier itself produced: no need to validate them again.
        return cls.model_construct(valid=True, reason=None, holder=holder,
                                   fingerprint=fingerprint, detail=None)

    @classmethod
    def refused(cls, error: Rejected) -> "Outcome":
        return cls(valid=False, reason=error.reason, detail=error.detail or None)

    def to_json(self) -> dict:
        """The §6 command-line shape (plus `fingerprint` when valid)."""
        if self.valid:
            assert self.holder is not None
            return {"valid": True, "holder": self.holder.model_dump(exclude_none=True),
                    "fingerprint": self.fingerprint}
        return {"valid": False, "reason": self.reason}
