"""`python -m server.verify --trust DIR [--revocation off|soft|hard]` (PROTOCOL.md §6).

Reads {"token": {...}, "origin": "https://…", "nonce": "…", "nonceIssuedAt": "<ISO 8601>"}
on stdin, prints {"valid": true, "holder": {...}, "fingerprint": "…"} or
{"valid": false, "reason": "<code>"} in UTF-8; exit 0 either way, 2 on unusable input."""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import math
import os
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator

from host.holder import CARD_TYPES, is_card_type_table
from server.verify import RevocationPolicy, Verifier, load_trust_anchors
from server.verify.token import loads

MAX_INPUT_BYTES = 1024 * 1024
_BASIC_DATE_TIME = re.compile(r"\d{8}T\d{6}(?:[.,]\d{1,6})?(?:Z|[+-]\d{2}(?:\d{2})?)?")
# Beyond these, datetime and socket arithmetic overflow (a traceback, not a verdict); far
# beyond any sensible setting anyway.
MAX_CLOCK_SKEW = 24 * 3600.0
MAX_TIMEOUT = 3600.0


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")

    token: Any  # judged by the verifier itself (TOKEN_MALFORMED), not here
    origin: str
    nonce: str
    nonceIssuedAt: datetime

    @field_validator("nonceIssuedAt", mode="before")
    @classmethod
    def _iso_8601(cls, value: Any) -> Any:
        # §6 says ISO 8601: not a number, nor a string of digits, which pydantic would read
        # as a Unix time.
        if not isinstance(value, str) or value.strip().lstrip("+-").replace(".", "", 1).isdigit():
            raise ValueError("an ISO 8601 date and time is expected")
        # pydantic reads only the extended profile (RFC 3339). The basic format
        # (20261125T120000Z) is read here, and only it: Python's reader alone would also take
        # any separator, hour-only times and week dates.
        if _BASIC_DATE_TIME.fullmatch(value):
            return datetime.fromisoformat(value)
        return value

    @field_validator("nonceIssuedAt")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        # A date without offset is taken as UTC, the only sensible reading for a server.
        return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


class UnusableInput(Exception):
    pass


def _seconds(minimum: float, maximum: float, zero_allowed: bool):
    """An argparse type: a finite number of seconds in [minimum, maximum], or (minimum,
    maximum] when zero is not allowed (requests refuses a timeout of 0)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
        low_ok = value >= minimum if zero_allowed else value > minimum
        if not (math.isfinite(value) and low_ok and value <= maximum):
            low = f"{'>=' if zero_allowed else '>'} {minimum:g}"
            raise argparse.ArgumentTypeError(
                f"must be a number of seconds {low} and <= {maximum:g}: {text!r}")
        return value
    return parse


def _card_type_policies(path: str) -> dict[str, str]:
    """An argparse type: the JSON file of certificate-policy OID -> card type."""
    try:
        with open(path, encoding="utf-8") as f:
            value = json.load(f)
    except (OSError, ValueError) as e:
        raise argparse.ArgumentTypeError(f"{path}: {e}") from None
    except RecursionError:
        raise argparse.ArgumentTypeError(f"{path}: nested too deeply") from None
    if not is_card_type_table(value):
        raise argparse.ArgumentTypeError(
            f"{path}: a JSON object OID -> {'/'.join(CARD_TYPES)} is expected (each OID "
            "in dotted form, e.g. 1.2.250.1.71.1.2.1)")
    return value


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m server.verify",
                                     description="Verify one CPS Bridge token read on stdin.")
    parser.add_argument("--trust", required=True, type=Path,
                        help="folder of PEM/DER CA certificates (trust anchors)")
    parser.add_argument("--revocation", default="hard", choices=[p.value for p in RevocationPolicy])
    parser.add_argument("--clock-skew", type=_seconds(0.0, MAX_CLOCK_SKEW, zero_allowed=True),
                        default=60.0, metavar="SECONDS")
    parser.add_argument("--timeout", type=_seconds(0.0, MAX_TIMEOUT, zero_allowed=False),
                        default=5.0, metavar="SECONDS",
                        help="HTTP timeout for OCSP/CRL/CA fetches")
    parser.add_argument("--fetch-intermediates", action="store_true",
                        help="fetch an intermediate missing from --trust from the AIA "
                             "caIssuers URL of the token's certificate (off: these URLs "
                             "come from a certificate not yet trusted)")
    parser.add_argument("--card-type-policies", type=_card_type_policies, metavar="FILE",
                        help="JSON object: certificate-policy OID -> CPS, CPF, CPE, CPA or CDE "
                             "(the IGC-Santé OIDs, from the ANS certificate templates); "
                             "without it, every holder's cardType is UNKNOWN")
    return parser.parse_args(argv)


def _read_request(raw: bytes) -> Request:
    if len(raw) > MAX_INPUT_BYTES:
        raise UnusableInput(f"input larger than {MAX_INPUT_BYTES} bytes")
    try:
        data = loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise UnusableInput(f"input is not JSON: {e}") from None
    except RecursionError:
        # Unreadable JSON wherever the nesting is, "token" included, like a syntax error
        # there: the verdicts are for tokens that could be read.
        raise UnusableInput("input is not JSON: nested too deeply") from None
    if not isinstance(data, dict):
        raise UnusableInput("input is not a JSON object")
    if "token" not in data:
        raise UnusableInput("field 'token' is missing")
    try:
        return Request.model_validate(data)
    except ValidationError as e:
        problems = "; ".join(f"{'.'.join(map(str, err['loc']))}: {err['msg']}"
                             for err in e.errors())
        raise UnusableInput(f"invalid input: {problems}") from None


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr,
                        format="server.verify: %(levelname)s %(message)s")
    args = _arguments(argv)
    try:
        anchors = load_trust_anchors(args.trust)
        request = _read_request(sys.stdin.buffer.read())
        verifier = Verifier(anchors, revocation=args.revocation,
                            clock_skew=timedelta(seconds=args.clock_skew),
                            http_timeout=args.timeout,
                            fetch_intermediates=args.fetch_intermediates,
                            card_type_policies=args.card_type_policies)
        outcome = verifier.verify(request.token, origin=request.origin, nonce=request.nonce,
                                  nonce_issued_at=request.nonceIssuedAt)
    except (UnusableInput, ValueError) as e:
        print(f"server.verify: {e}", file=sys.stderr)
        return 2
    # UTF-8 bytes whatever the locale or PYTHONIOENCODING: the reader parses JSON, and an
    # ASCII stdout would otherwise fail on a holder's accented name.
    out = (json.dumps(outcome.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
    try:
        if sys.stdout is None:  # started with fd 1 closed
            raise BrokenPipeError("stdout is closed")
        sys.stdout.buffer.write(out)
        sys.stdout.buffer.flush()
    except OSError as e:  # the reader has gone: the verdict reached nobody
        print(f"server.verify: the verdict could not be written: {e}", file=sys.stderr)
        with contextlib.suppress(OSError):  # nor may the interpreter's flush at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        return 3
    return 0


if __name__ == "__main__":
    sys.exit(main())
