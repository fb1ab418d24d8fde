"""Login attempts limited per key (identifiant, address): failures counted over a window.
The same table counts what is sent on request (codes, validation links) per account.

A guess (password, code) is checked against its limits with reserve(), which counts and
records the attempt in one write transaction before the guess is verified: requests sent at
once then each see the others' attempts, and no more than the limit are ever verified in a
window. (Checking, verifying, and recording the failure only then let 34 parallel passwords
through a limit of 5.) A send (e-mail, SMS) checks and records inside the transaction that
sends, for the same reason."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence

from . import db
from .db import now

WINDOW = 15 * 60
# "identifiant": wrong passwords and wrong codes de confirmation alike; "envoi-code": codes
# sent per account; "lien-email": validation links sent per account; "envoi-sms": phone
# verification SMS sent per account (to any number typed: no SMS pumping); "sms-numero":
# the same SMS per number, whatever the account (no harassing a number from many accounts;
# above one account's own limit, so that one account alone cannot lock a number out);
# "code-telephone": wrong phone verification codes per account; "adresse-prise": libéral
# creations refused per card (idNat) because the address is an account's (the refusal tells
# whether an address has an account: a few per card, then the same answer for any address);
# "oubli": « mot de passe oublié » requests per address; "oubli-compte": the reset e-mails
# sent per account, whatever the address asking (many addresses must not flood one mailbox;
# past it the page answers as always and sends nothing, so it tells no one the account
# exists); "invitation": invitations to an assistant sent per libéral account.
LIMITS = {"identifiant": 5, "ip": 30, "carte": 20, "oubli": 10, "envoi-code": 5, "lien-email": 3,
          "envoi-sms": 3, "sms-numero": 5, "code-telephone": 5, "adresse-prise": 5,
          "oubli-compte": 3, "invitation": 5}


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


Reservation = list[tuple[int, str, float]]  # the attempt's rows: rowid, key, time


def reserve(conn: sqlite3.Connection, limited: Sequence[tuple[str, str]],
            also: Sequence[tuple[str, str]] = ()) -> Reservation | None:
    """One attempt at a guess, before it is verified: None when a key of `limited` is at
    its limit; else the attempt is recorded now under those keys and `also` (counted, not
    checked), and other requests count it while it is verified. Then release() it when the
    guess was right (or no guess was made), failed() when it was wrong.
    Its own write transaction (BEGIN IMMEDIATE: one writer at a time) makes the count and
    the record one step; call it outside any transaction, before the slow verification."""
    assert not conn.in_transaction
    with db.tx(conn):
        if any(blocked(conn, kind, value) for kind, value in limited):
            return None
        held, at = [], now()
        for kind, value in (*limited, *also):
            key = f"{kind}:{value.lower()}"
            cur = conn.execute("INSERT INTO tentatives (cle, le) VALUES (?, ?)", (key, at))
            held.append((cur.lastrowid, key, at))
        conn.execute("DELETE FROM tentatives WHERE le < ?", (at - WINDOW,))
    return held


def release(conn: sqlite3.Connection, held: Reservation) -> None:
    """The reserved attempt was no failure: it no longer counts."""
    with db.tx(conn):
        for rowid, key, at in held:
            conn.execute("DELETE FROM tentatives WHERE rowid = ? AND cle = ? AND le = ?",
                         (rowid, key, at))


def failed(conn: sqlite3.Connection, held: Reservation) -> None:
    """The reserved attempt was a failure: it stays counted. A key cleared meanwhile (a
    login completed, a new password) gets it again, as a failure recorded then would."""
    with db.tx(conn):
        for rowid, key, at in held:
            if conn.execute("SELECT 1 FROM tentatives WHERE rowid = ? AND cle = ? AND le = ?",
                            (rowid, key, at)).fetchone() is None:
                conn.execute("INSERT INTO tentatives (cle, le) VALUES (?, ?)", (key, now()))


def clear(conn: sqlite3.Connection, kind: str, value: str) -> None:
    conn.execute("DELETE FROM tentatives WHERE cle = ?", (f"{kind}:{value.lower()}",))


MESSAGE = ("Trop de tentatives de connexion. Pour votre sécurité, l'accès est suspendu "
           "pendant 15 minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? ».")
