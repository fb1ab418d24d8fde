"""Links sent by e-mail: random, stored only as a hash, single-use and expiring."""

from __future__ import annotations

import hashlib
import secrets
import sqlite3
from datetime import timedelta

from .db import now

PURPOSES = ("definir", "reinitialiser", "valider-email", "delegation")


class LinkError(Exception):
    """A French sentence for the person who clicked."""


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(conn: sqlite3.Connection, objet: str, ttl: timedelta, *, compte_id: int | None = None,
          delegation_id: int | None = None) -> str:
    assert objet in PURPOSES
    token = secrets.token_urlsafe(32)
    conn.execute("INSERT INTO liens (empreinte, objet, compte_id, delegation_id, expire_le) "
                 "VALUES (?, ?, ?, ?, ?)",
                 (_hash(token), objet, compte_id, delegation_id, now() + ttl.total_seconds()))
    return token


def check(conn: sqlite3.Connection, token: str, objet: str) -> sqlite3.Row:
    """The link's row if it can still be used; LinkError otherwise."""
    row = None
    if 20 <= len(token) <= 100:
        row = conn.execute("SELECT * FROM liens WHERE empreinte = ? AND objet = ?",
                           (_hash(token), objet)).fetchone()
    if row is None:
        raise LinkError("Ce lien n'est pas valide. Vérifiez que vous avez copié le lien complet "
                        "reçu par e-mail.")
    if row["utilise_le"] is not None:
        raise LinkError("Ce lien a déjà été utilisé. Chaque lien ne peut servir qu'une fois.")
    if row["expire_le"] < now():
        raise LinkError("Ce lien a expiré. Demandez un nouveau lien.")
    return row


def consume(conn: sqlite3.Connection, token: str, objet: str) -> sqlite3.Row:
    """Check and mark used; call inside a transaction with the change the link allows."""
    row = check(conn, token, objet)
    conn.execute("UPDATE liens SET utilise_le = ? WHERE empreinte = ?", (now(), row["empreinte"]))
    return row


def retire(conn: sqlite3.Connection, objet: str, compte_id: int) -> None:
    """Earlier unused links of the same kind stop working when a new one is sent."""
    conn.execute("UPDATE liens SET utilise_le = ? WHERE objet = ? AND compte_id = ? "
                 "AND utilise_le IS NULL", (now(), objet, compte_id))
