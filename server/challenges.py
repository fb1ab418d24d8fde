"""One-time login challenges (PROTOCOL.md §6 step 2): 32 random bytes, bound to the browser
session that asked, consumed on first presentation, valid 5 minutes.

`ChallengeStore` is the interface; `SqliteChallengeStore` the embedded default. A multi-node
site backs the interface with its own database: `consume` must be one atomic
delete-and-return, so that of many concurrent presentations exactly one gets the challenge."""

from __future__ import annotations

import abc
import base64
import os
import secrets
import sqlite3
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Literal

NONCE_BYTES = 32
LIFETIME = timedelta(minutes=5)


@dataclass(frozen=True)
class Challenge:
    session_id: str
    nonce: str            # base64 (standard alphabet, padded) of 32 random bytes: 44 chars
    issued_at: datetime   # UTC


class ChallengeError(Exception):
    def __init__(self, reason: Literal["NONCE_UNKNOWN", "NONCE_EXPIRED"], detail: str = ""):
        super().__init__(detail or reason)
        self.reason = reason


def check_lifetime(lifetime: timedelta) -> timedelta:
    """A challenge lifetime a relying party may choose: shorter than §6's 5 minutes if it
    likes, never longer (a token would then pass that the contract says is expired)."""
    if not isinstance(lifetime, timedelta) or not timedelta(0) < lifetime <= LIFETIME:
        raise ValueError(f"a challenge lifetime is more than 0 and at most {LIFETIME} "
                         f"(PROTOCOL.md §6 step 2), not {lifetime!r}")
    return lifetime


def new_nonce() -> str:
    return base64.b64encode(secrets.token_bytes(NONCE_BYTES)).decode("ascii")


class ChallengeStore(abc.ABC):
    def __init__(self, lifetime: timedelta = LIFETIME):
        self.lifetime = check_lifetime(lifetime)

    def issue(self, session_id: str) -> Challenge:
        if not isinstance(session_id, str) or not session_id:
            raise ValueError("session_id must be a non-empty string")
        challenge = Challenge(session_id, new_nonce(), datetime.now(timezone.utc))
        self._put(challenge)
        return challenge

    def consume(self, session_id: str, nonce: str) -> Challenge:
        """The challenge, removed for good. Any presentation of a known nonce consumes it,
        whatever happens next: from another session (NONCE_UNKNOWN) or too late
        (NONCE_EXPIRED) it is gone all the same, so a nonce is never presented twice."""
        if not isinstance(nonce, str) or not nonce:
            raise ChallengeError("NONCE_UNKNOWN", "no nonce")
        challenge = self._take(nonce)
        if challenge is None:
            raise ChallengeError("NONCE_UNKNOWN", "never issued or already used")
        if not secrets.compare_digest(challenge.session_id.encode(), str(session_id).encode()):
            raise ChallengeError("NONCE_UNKNOWN", "issued to another session")
        if datetime.now(timezone.utc) - challenge.issued_at > self.lifetime:
            raise ChallengeError("NONCE_EXPIRED", f"issued at {challenge.issued_at.isoformat()}")
        return challenge

    @abc.abstractmethod
    def _put(self, challenge: Challenge) -> None:
        """Store a new challenge (and may drop expired ones)."""

    @abc.abstractmethod
    def _take(self, nonce: str) -> Challenge | None:
        """Atomically remove and return the challenge with this nonce, or None."""


class SqliteChallengeStore(ChallengeStore):
    """Challenges in one SQLite file, shared by every worker process of a site. The delete
    with RETURNING is a single statement, atomic across threads and processes."""

    def __init__(self, path: Path | str, lifetime: timedelta = LIFETIME):
        super().__init__(lifetime)
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        with self._connection() as db:
            db.execute("CREATE TABLE IF NOT EXISTS challenges (nonce TEXT PRIMARY KEY, "
                       "session_id TEXT NOT NULL, issued_at REAL NOT NULL)")

    def _connection(self) -> sqlite3.Connection:
        # One connection per thread and per process: sqlite3 connections are neither
        # thread-safe nor safe to use across fork().
        db = getattr(self._local, "db", None)
        if db is None or self._local.pid != os.getpid():
            db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db, self._local.pid = db, os.getpid()
        return db

    def _put(self, challenge: Challenge) -> None:
        db = self._connection()
        # Housekeeping. Expired rows stay an hour more, so that a late presentation is told
        # NONCE_EXPIRED (the person can understand "too slow") rather than NONCE_UNKNOWN.
        cutoff = time.time() - self.lifetime.total_seconds() - 3600
        db.execute("DELETE FROM challenges WHERE issued_at < ?", (cutoff,))
        db.execute("INSERT INTO challenges (nonce, session_id, issued_at) VALUES (?, ?, ?)",
                   (challenge.nonce, challenge.session_id, challenge.issued_at.timestamp()))

    def _take(self, nonce: str) -> Challenge | None:
        row = self._connection().execute(
            "DELETE FROM challenges WHERE nonce = ? RETURNING session_id, issued_at",
            (nonce,)).fetchone()
        if row is None:
            return None
        return Challenge(row[0], nonce, datetime.fromtimestamp(row[1], timezone.utc))
