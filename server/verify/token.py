"""Step 1: the token is small, is `cpsbridge:1`, and every field is present and decodes."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, ValidationError

from host.json_codec import DuplicateKey, unique_keys
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


class ParsedToken(NamedTuple):
    certificate_b64: str  # decoded and parsed by the verifier's certificate cache, still step 1
    algorithm: Algorithm
    signature: bytes
    app_version: str


# Printable ASCII that JSON writes unescaped: every byte but '"' and '\\'.
_PLAIN = bytes(c for c in range(0x20, 0x7F) if c not in (0x22, 0x5C))


def _plain_json_len(s: object) -> int | None:
    """Length of a string written as JSON, when it needs no escape (base64, versions)."""
    if not isinstance(s, str) or not s.isascii():
        return None
    raw = s.encode("ascii")
    return None if raw.translate(None, _PLAIN) else len(raw) + 2


def json_size(token: Any) -> int:
    """Bytes of the token as compact UTF-8 JSON (as received when it is text or bytes)."""
    if isinstance(token, bytes):
        return len(token)
    if isinstance(token, str):
        return len(token.encode("utf-8", "surrogatepass"))
    if isinstance(token, dict) and token:
        # The usual token, a flat object of plain strings, is counted without serializing
        # it (half the verifier's own cost otherwise).
        total = 1
        for key, value in token.items():
            k, v = _plain_json_len(key), _plain_json_len(value)
            if k is None or v is None:
                break
            total += k + v + 2
        else:
            return total
    return len(json.dumps(token, separators=(",", ":"), ensure_ascii=False,
                          default=str).encode("utf-8", "surrogatepass"))


def b64decode(value: str, field: str) -> bytes:
    try:
        raw = value.encode("ascii")
        data = base64.b64decode(raw, validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise Rejected("TOKEN_MALFORMED", f"{field} is not base64") from None
    if base64.b64encode(data) != raw:
        # The decoder ignores the unused bits before the padding ("…R==" reads as "…Q=="):
        # one value, several spellings, and so one token under several texts. Only the
        # canonical spelling decodes.
        raise Rejected("TOKEN_MALFORMED", f"{field} is not canonical base64")
    if not data:
        raise Rejected("TOKEN_MALFORMED", f"{field} is empty")
    return data


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not JSON (RFC 8259)")


def loads(text: str | bytes) -> Any:
    """json.loads, refusing an object with a key twice (DuplicateKey, a ValueError): parsers
    differ on which one counts, and a token or a request must mean one thing to every
    reader. The same rule as the host's for its frames (host/json_codec.py). Also refused:
    NaN, Infinity and -Infinity, which Python's json reads and other JSON readers do not."""
    return json.loads(text, object_pairs_hook=unique_keys, parse_constant=_not_json)


def _check_size(size: int) -> None:
    if size > MAX_TOKEN_BYTES:
        raise Rejected("TOKEN_MALFORMED", f"token larger than {MAX_TOKEN_BYTES} bytes")


def parse_token(token: dict | str | bytes) -> ParsedToken:
    """Raises Rejected("TOKEN_MALFORMED") for anything that is not a well-formed token.
    Nothing here is trusted. The certificate is left to the verifier's certificate cache
    (parsed once per certificate), which the verifier reads before the nonce."""
    given_as_object = isinstance(token, dict)
    if not given_as_object:
        # Text is measured before it is parsed; an object the caller already holds is
        # measured below, once its fields are known (cheaper, same answer).
        try:
            _check_size(json_size(token))
        except (ValueError, TypeError, RecursionError):
            raise Rejected("TOKEN_MALFORMED", "token is not JSON data") from None
    if isinstance(token, (str, bytes)):
        try:
            token = loads(token)
        except DuplicateKey as e:
            raise Rejected("TOKEN_MALFORMED", f"token is not JSON: {e}") from None
        except (ValueError, UnicodeDecodeError):
            raise Rejected("TOKEN_MALFORMED", "token is not JSON") from None
        except RecursionError:  # "[" * 5000 fits in the size limit: not a crash either
            raise Rejected("TOKEN_MALFORMED", "token is nested too deeply") from None
    if not isinstance(token, dict):
        raise Rejected("TOKEN_MALFORMED", "token is not a JSON object")
    try:
        fields = TokenFields.model_validate(token)
    except ValidationError as e:
        where = ", ".join(".".join(map(str, err["loc"])) or "token" for err in e.errors())
        raise Rejected("TOKEN_MALFORMED", f"bad or missing field(s): {where}") from None
    signature = b64decode(fields.signature, "signature")
    if given_as_object:
        _check_size(_object_size(token, fields))
    return ParsedToken(fields.unverifiedCertificate, fields.algorithm, signature,
                       fields.appVersion)


# The five fields as compact JSON with empty values: what a token weighs besides its values.
_FIELDS = tuple(TokenFields.model_fields)
_FIXED_SIZE = len(json.dumps(dict.fromkeys(_FIELDS, ""), separators=(",", ":")))


def _object_size(token: dict, fields: TokenFields) -> int:
    """json_size(token) for a token whose fields validated, without serializing it. With
    exactly the five fields, all plain strings (the signature passed b64decode;
    the others are checked here), the size is a sum of lengths."""
    values = [getattr(fields, name) for name in _FIELDS]
    if len(token) != len(_FIELDS) or not all(
            _plain_json_len(v) is not None for v in (fields.unverifiedCertificate,
                                                     fields.appVersion)):
        try:
            return json_size(token)
        except (ValueError, TypeError, RecursionError):  # e.g. a circular structure
            raise Rejected("TOKEN_MALFORMED", "token is not JSON data") from None
    return _FIXED_SIZE + sum(map(len, values))
