"""Server-side sessions in SQLite, behind a random cookie; CSRF token per session.

The cookie holds a random value; the table keys on its SHA-256, so a copy of the database
does not yield live cookies. Login rotates the id (no session fixation).

Only a session made by the request itself is inserted; one read from the table is only ever
updated. So a request still running on a session that logout or login has deleted meanwhile
cannot write it back: the old cookie stays dead."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from dataclasses import dataclass, field
from typing import Any

from .db import now

COOKIE = "__Host-vt_session"  # __Host-: Secure, Path=/, no Domain


def _key(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class Session:
    raw: str
    csrf: str
    compte_id: int | None = None
    etat: dict[str, Any] = field(default_factory=dict)
    new: bool = False
    dirty: bool = False

    @property
    def id(self) -> str:
        """The id other stores key on (the challenge store): never the cookie itself."""
        return _key(self.raw)

    def get(self, key: str, default: Any = None) -> Any:
        return self.etat.get(key, default)

    def set(self, key: str, value: Any) -> None:
        self.etat[key] = value
        self.dirty = True

    def pop(self, key: str, default: Any = None) -> Any:
        if key in self.etat:
            self.dirty = True
        return self.etat.pop(key, default)

    def csrf_ok(self, presented: str | None) -> bool:
        # As bytes: compare_digest refuses str with non-ASCII characters (TypeError, a 500).
        if not isinstance(presented, str) or not presented:
            return False
        return hmac.compare_digest(self.csrf.encode(), presented.encode("utf-8", "surrogatepass"))


def fresh() -> Session:
    return Session(raw=secrets.token_urlsafe(32), csrf=secrets.token_urlsafe(32), new=True,
                   dirty=True)


def load(conn: sqlite3.Connection, raw: str | None, idle_seconds: float) -> Session | None:
    if not raw or len(raw) > 100:
        return None
    row = conn.execute("SELECT * FROM sessions WHERE id = ?", (_key(raw),)).fetchone()
    if row is None or row["vue_le"] < now() - idle_seconds:
        return None
    return Session(raw=raw, csrf=row["csrf"], compte_id=row["compte_id"],
                   etat=json.loads(row["etat"]))


def save(conn: sqlite3.Connection, s: Session) -> None:
    etat = json.dumps(s.etat)
    if s.new:  # made by this request: no other request knows its id
        conn.execute(
            "INSERT INTO sessions (id, csrf, compte_id, etat, vue_le) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT(id) DO UPDATE SET compte_id = excluded.compte_id, "
            "etat = excluded.etat, vue_le = excluded.vue_le",
            (s.id, s.csrf, s.compte_id, etat, now()))
    else:  # read from the table: if logout or login deleted it meanwhile, it stays deleted
        conn.execute("UPDATE sessions SET compte_id = ?, etat = ?, vue_le = ? WHERE id = ?",
                     (s.compte_id, etat, now(), s.id))
    s.dirty = False


def touch(conn: sqlite3.Connection, s: Session) -> None:
    conn.execute("UPDATE sessions SET vue_le = ? WHERE id = ?", (now(), s.id))


def rotate(conn: sqlite3.Connection, s: Session, compte_id: int | None) -> Session:
    """A new id and CSRF token for a change of who is logged in; pending steps are dropped."""
    conn.execute("DELETE FROM sessions WHERE id = ?", (s.id,))
    n = fresh()
    n.compte_id = compte_id
    save(conn, n)
    return n


def end_others(conn: sqlite3.Connection, compte_id: int, keep: Session) -> None:
    """Ends every session of the account but `keep` (a new password: whoever used the old
    one is out): those logged in to it, and those half-way through a login to it (password
    given, code or CGU pending). Deleted rows stay deleted: see save()."""
    conn.execute("DELETE FROM sessions WHERE id != ? AND (compte_id = ? "
                 "OR json_extract(etat, '$.mfa.compte_id') = ? "
                 "OR json_extract(etat, '$.cgu.compte_id') = ?)",
                 (keep.id, compte_id, compte_id, compte_id))


def end_card_sessions(conn: sqlite3.Connection, compte_id: int, id_nat: str,
                      keep: Session) -> None:
    """Ends the account's sessions that card opened, but `keep` (the card was removed from
    the account). Sessions opened by a card before the card was recorded in them go too."""
    conn.execute("DELETE FROM sessions WHERE id != ? AND compte_id = ? "
                 "AND (json_extract(etat, '$.carte_connexion') = ? "
                 "OR (json_extract(etat, '$.carte_connexion') IS NULL "
                 "AND json_extract(etat, '$.methode') = 'carte CPx'))",
                 (keep.id, compte_id, id_nat))


def forget_idle(conn: sqlite3.Connection, idle_seconds: float) -> None:
    conn.execute("DELETE FROM sessions WHERE vue_le < ?", (now() - idle_seconds,))
