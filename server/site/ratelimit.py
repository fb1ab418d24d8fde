"""Login attempts limited per key (identifiant, address): failures counted over a window."""

from __future__ import annotations

import sqlite3

from .db import now

WINDOW = 15 * 60
LIMITS = {"identifiant": 5, "ip": 30, "carte": 20, "oubli": 10}


def blocked(conn: sqlite3.Connection, kind: str, value: str) -> bool:
    (count,) = conn.execute("SELECT COUNT(*) FROM tentatives WHERE cle = ? AND le > ?",
                            (f"{kind}:{value.lower()}", now() - WINDOW)).fetchone()
    return count >= LIMITS[kind]


def record(conn: sqlite3.Connection, kind: str, value: str) -> None:
    conn.execute("INSERT INTO tentatives (cle, le) VALUES (?, ?)", (f"{kind}:{value.lower()}", now()))
    conn.execute("DELETE FROM tentatives WHERE le < ?", (now() - WINDOW,))


def clear(conn: sqlite3.Connection, kind: str, value: str) -> None:
    conn.execute("DELETE FROM tentatives WHERE cle = ?", (f"{kind}:{value.lower()}",))


MESSAGE = ("Trop de tentatives de connexion. Pour votre sécurité, l'accès est suspendu "
           "pendant 15 minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? ».")
