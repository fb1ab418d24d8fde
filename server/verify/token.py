"""Step 1: the token is small, is `cpsbridge:1`, and every field is present and decodes."""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass
from typing import Any, Literal

from cryptography import x509
from pydantic import BaseModel, ConfigDict, ValidationError

from server.verify.outcome import Rejected

MAX_TOKEN_BYTES = 10_000
Algorithm = Literal["RS256", "PS256", "ES256", "ES384"]


class TokenFields(BaseModel):
    # Unknown fields are ignored: the contract may add optional ones (§ intro).
    model_config = ConfigDict(extra="ignore", strict=True)

    format: Literal["cpsbridge:1"]
    unverifiedCertificate: str
    algorithm: Algorithm
    signature: str
    appVersion: str


@dataclass(frozen=True)
class ParsedToken:
    certificate: x509.Certificate
    certificate_der: bytes
    fingerprint: str
    algorithm: Algorithm
    signature: bytes
    app_version: str


def _size(token: Any) -> int:
    if isinstance(token, bytes):
        return len(token)
    if isinstance(token, str):
        return len(token.encode("utf-8", "surrogatepass"))
    return len(json.dumps(token, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode("utf-8", "surrogatepass"))


def _b64(value: str, field: str) -> bytes:
    try:
        data = base64.b64decode(value.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Rejected("TOKEN_MALFORMED", f"{field} is not base64") from None
    if not data:
        raise Rejected("TOKEN_MALFORMED", f"{field} is empty")
    return data


def parse_token(token: dict | str | bytes) -> ParsedToken:
    """Raises Rejected("TOKEN_MALFORMED") for anything that is not a well-formed token.
    Nothing here is trusted yet: the certificate is only parsed."""
    if _size(token) > MAX_TOKEN_BYTES:
        raise Rejected("TOKEN_MALFORMED", f"token larger than {MAX_TOKEN_BYTES} bytes")
    if isinstance(token, (str, bytes)):
        try:
            token = json.loads(token)
        except (ValueError, UnicodeDecodeError):
            raise Rejected("TOKEN_MALFORMED", "token is not JSON") from None
    if not isinstance(token, dict):
        raise Rejected("TOKEN_MALFORMED", "token is not a JSON object")
    try:
        fields = TokenFields.model_validate(token)
    except ValidationError as e:
        where = ", ".join(".".join(map(str, err["loc"])) or "token" for err in e.errors())
        raise Rejected("TOKEN_MALFORMED", f"bad or missing field(s): {where}") from None
    der = _b64(fields.unverifiedCertificate, "unverifiedCertificate")
    signature = _b64(fields.signature, "signature")
    try:
        certificate = x509.load_der_x509_certificate(der)
        certificate.public_key()  # an unsupported key type fails here, not at step 6
    except (ValueError, TypeError, x509.UnsupportedGeneralNameType) as e:
        raise Rejected("TOKEN_MALFORMED", f"unverifiedCertificate is not a certificate: {e}") \
            from None
    return ParsedToken(certificate, der, hashlib.sha256(der).hexdigest(), fields.algorithm,
                       signature, fields.appVersion)
