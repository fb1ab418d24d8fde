"""Passwords: Argon2id (memory-hard), and the rule a new password must follow."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

_hasher = PasswordHasher()  # argon2id, RFC 9106 low-memory profile (64 MiB, t=3)

# Checked against when the account has no password yet, so that a wrong identifiant
# costs the same time as a wrong password.
_DUMMY = _hasher.hash("mot de passe factice pour égaliser les durées")

MIN_LENGTH = 10
MAX_LENGTH = 128


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(stored: str | None, password: str) -> bool:
    try:
        return _hasher.verify(stored or _DUMMY, password) and stored is not None
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def password_problem(password: str, confirmation: str) -> str | None:
    """The French reason a new password is refused, or None."""
    if password != confirmation:
        return "Les deux mots de passe saisis ne sont pas identiques."
    if len(password) < MIN_LENGTH:
        return f"Le mot de passe doit comporter au moins {MIN_LENGTH} caractères."
    if len(password) > MAX_LENGTH:
        return f"Le mot de passe doit comporter au plus {MAX_LENGTH} caractères."
    if not any(c.isalpha() for c in password) or not any(c.isdigit() for c in password):
        return "Le mot de passe doit contenir au moins une lettre et un chiffre."
    return None


def password_field(password: str, confirmation: str) -> str:
    """The form field a refusal by password_problem is about, marked on the page
    (aria-invalid, templates/_aria.html): the confirmation when the two differ, else the
    password."""
    return "confirmation" if password != confirmation else "mot_de_passe"
