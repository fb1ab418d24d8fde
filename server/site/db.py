"""SQLite storage for accounts, cards, links, sessions and login attempts.

Every change a request makes happens inside one `tx()` (BEGIN IMMEDIATE ... COMMIT), so a
failure half-way leaves nothing half-written."""

from __future__ import annotations

import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS comptes (
  id INTEGER PRIMARY KEY,
  identifiant TEXT NOT NULL UNIQUE COLLATE NOCASE,
  type TEXT NOT NULL CHECK (type IN ('etablissement', 'liberal', 'assistant')),
  email TEXT NOT NULL,
  nom TEXT NOT NULL DEFAULT '',
  prenom TEXT NOT NULL DEFAULT '',
  profession TEXT NOT NULL DEFAULT '',
  etablissement TEXT NOT NULL DEFAULT '',
  rpps TEXT,
  mot_de_passe TEXT,
  email_valide INTEGER NOT NULL DEFAULT 0,
  cgu_acceptees_le REAL,
  derniere_otp_le REAL,
  otp_canal TEXT NOT NULL DEFAULT 'email' CHECK (otp_canal IN ('email', 'sms')),
  telephone TEXT,
  telephone_verifie INTEGER NOT NULL DEFAULT 0,
  referent INTEGER NOT NULL DEFAULT 0,
  cree_le REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS cartes (
  id_nat TEXT PRIMARY KEY,
  compte_id INTEGER NOT NULL REFERENCES comptes(id),
  empreinte TEXT NOT NULL,
  associee_le REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS delegations (
  id INTEGER PRIMARY KEY,
  liberal_id INTEGER NOT NULL REFERENCES comptes(id),
  email TEXT NOT NULL,
  assistant_id INTEGER REFERENCES comptes(id),
  creee_le REAL NOT NULL,
  revoquee_le REAL
);
CREATE TABLE IF NOT EXISTS liens (
  empreinte TEXT PRIMARY KEY,
  objet TEXT NOT NULL,
  compte_id INTEGER,
  delegation_id INTEGER,
  expire_le REAL NOT NULL,
  utilise_le REAL
);
CREATE TABLE IF NOT EXISTS sessions (
  id TEXT PRIMARY KEY,
  csrf TEXT NOT NULL,
  compte_id INTEGER REFERENCES comptes(id),
  etat TEXT NOT NULL DEFAULT '{}',
  vue_le REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS sessions_vue ON sessions(vue_le);
CREATE TABLE IF NOT EXISTS tentatives (
  cle TEXT NOT NULL,
  le REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS tentatives_cle ON tentatives(cle, le);
"""


def connect(path: Path) -> sqlite3.Connection:
    # Autocommit mode: transactions are explicit (tx), reads see committed data.
    conn = sqlite3.connect(path, isolation_level=None, timeout=10, check_same_thread=False)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute("PRAGMA busy_timeout = 10000")
    return conn


def init(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = connect(path)
    try:
        conn.execute("PRAGMA journal_mode = WAL")
        conn.executescript(SCHEMA)
        _migrate(conn)
    finally:
        conn.close()


def _migrate(conn: sqlite3.Connection) -> None:
    """Columns added since a data folder was made."""
    columns = {row[1] for row in conn.execute("PRAGMA table_info(comptes)")}
    if "referent" not in columns:
        conn.execute("ALTER TABLE comptes ADD COLUMN referent INTEGER NOT NULL DEFAULT 0")


@contextmanager
def tx(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One atomic unit of work; nested use joins the outer transaction."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def now() -> float:
    return time.time()
