"""One-time confirmation codes (OTP by e-mail or SMS, phone verification): six digits,
kept hashed in the session state with an expiry and a count of tries."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from .db import now

MAX_TRIES = 5


def new_code() -> str:
    return f"{secrets.randbelow(10**6):06d}"


def _digest(code: str, salt: str) -> str:
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def pending(code: str, ttl_seconds: float, **extra) -> dict:
    salt = secrets.token_hex(8)
    return {"sel": salt, "empreinte": _digest(code, salt), "expire": now() + ttl_seconds,
            "essais": 0, **extra}


def check(state: dict, presented: str, account_left: int | None = None) -> str | None:
    """None when right; else the French reason. Updates the try count in `state`.
    `account_left`: the failures the account may still make, this one included (the
    identifiant's rate limit), so that « Il vous reste » never promises more."""
    if state["expire"] < now():
        return "Ce code a expiré. Demandez un nouveau code."
    if state["essais"] >= MAX_TRIES:
        return "Trop de codes erronés. Demandez un nouveau code."
    presented = presented.strip().replace(" ", "")
    if hmac.compare_digest(_digest(presented, state["sel"]), state["empreinte"]):
        return None
    state["essais"] += 1
    left = MAX_TRIES - state["essais"]
    if account_left is not None:
        left = min(left, account_left - 1)
    if left <= 0:
        return "Code de confirmation incorrect. Trop de codes erronés : demandez un nouveau code."
    return f"Code de confirmation incorrect. Il vous reste {left} essai{'s' if left > 1 else ''}."
