"""Login attempts limited per key (identifiant, address): failures counted over a window.
The same table counts what is sent on request (codes, validation links) per account."""

from __future__ import annotations

import sqlite3

from .db import now

WINDOW = 15 * 60
# "identifiant": wrong passwords and wrong codes de confirmation alike; "envoi-code": codes
# sent per account; "lien-email": validation links sent per account; "envoi-sms": phone
# verification SMS sent per account (to any number typed: no SMS pumping); "sms-numero":
# the same SMS per number, whatever the account (no harassing a number from many accounts;
# above one account's own limit, so that one account alone cannot lock a number out);
# "code-telephone": wrong phone verification codes per account; "adresse-prise": libéral
# creations refused per card (idNat) because the address is an account's (the refusal tells
# whether an address has an account: a few per card, then the same answer for any address).
LIMITS = {"identifiant": 5, "ip": 30, "carte": 20, "oubli": 10, "envoi-code": 5, "lien-email": 3,
          "envoi-sms": 3, "sms-numero": 5, "code-telephone": 5, "adresse-prise": 5}


def _count(conn: sqlite3.Connection, kind: str, value: str) -> int:
    (count,) = conn.execute("SELECT COUNT(*) FROM tentatives WHERE cle = ? AND le > ?",
                            (f"{kind}:{value.lower()}", now() - WINDOW)).fetchone()
    return count


def blocked(conn: sqlite3.Connection, kind: str, value: str) -> bool:
    return _count(conn, kind, value) >= LIMITS[kind]


def left(conn: sqlite3.Connection, kind: str, value: str) -> int:
    """How many more may be recorded before the key is blocked."""
    return max(0, LIMITS[kind] - _count(conn, kind, value))


def record(conn: sqlite3.Connection, kind: str, value: str) -> None:
    conn.execute("INSERT INTO tentatives (cle, le) VALUES (?, ?)", (f"{kind}:{value.lower()}", now()))
    conn.execute("DELETE FROM tentatives WHERE le < ?", (now() - WINDOW,))


def clear(conn: sqlite3.Connection, kind: str, value: str) -> None:
    conn.execute("DELETE FROM tentatives WHERE cle = ?", (f"{kind}:{value.lower()}",))


MESSAGE = ("Trop de tentatives de connexion. Pour votre sécurité, l'accès est suspendu "
           "pendant 15 minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? ».")
