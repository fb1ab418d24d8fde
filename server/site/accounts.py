"""Accounts and the cards linked to them: reads and the writes the flows need."""

from __future__ import annotations

import sqlite3
import unicodedata

from host.holder import split_id_nat

from .db import now

TYPES = {"etablissement": "Professionnel en établissement", "liberal": "Professionnel libéral",
         "assistant": "Assistant de professionnel libéral"}
# Professions addressed as "Dr" in ViaTrajectoire's pages and e-mails.
DOCTORS = {"médecin", "pharmacien", "chirurgien-dentiste"}
ASSISTANT_PROFESSIONS = ("Secrétaire médicale", "Assistant(e) médical(e)",
                         "Assistant(e) de cabinet", "Infirmier(ère) coordinateur(rice)", "Autre")


def display_name(given: str, family: str, profession: str | None) -> str:
    given = "-".join(p.capitalize() for p in given.strip().split("-"))
    name = f"{given} {family.strip().upper()}".strip()
    if not name:
        return ""
    if profession and profession.strip().lower() in DOCTORS:
        return f"Dr {name}"
    return name


def name_of(row: sqlite3.Row) -> str:
    """The name a page shows; the identifiant when the référent gave no name."""
    return display_name(row["prenom"], row["nom"], row["profession"]) or row["identifiant"]


def by_id(conn: sqlite3.Connection, compte_id: int) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM comptes WHERE id = ?", (compte_id,)).fetchone()


def by_identifiant(conn: sqlite3.Connection, identifiant: str) -> sqlite3.Row | None:
    return conn.execute("SELECT * FROM comptes WHERE identifiant = ?",
                        (identifiant.strip(),)).fetchone()


def by_card(conn: sqlite3.Connection, id_nat: str) -> sqlite3.Row | None:
    return conn.execute("SELECT comptes.* FROM cartes JOIN comptes ON comptes.id = cartes.compte_id "
                        "WHERE cartes.id_nat = ?", (id_nat,)).fetchone()


def with_rpps(conn: sqlite3.Connection, rpps: str) -> sqlite3.Row | None:
    """The account that records this RPPS number, whatever its type."""
    return conn.execute("SELECT * FROM comptes WHERE rpps = ? ORDER BY id", (rpps,)).fetchone()


def email_taken(conn: sqlite3.Connection, email: str) -> bool:
    """Whether an account, of any type, has this address (case ignored: one mailbox)."""
    return conn.execute("SELECT 1 FROM comptes WHERE lower(email) = lower(?)",
                        (email.strip(),)).fetchone() is not None


def _plain(name: str) -> str:
    # Without accents (NFKD, then letters and digits only), case, hyphens, spaces or
    # apostrophes: « Hélène Le-Goff » is « HELENE LE GOFF » on the card.
    return "".join(ch for ch in unicodedata.normalize("NFKD", name) if ch.isalnum()).casefold()


def same_name(typed: str, on_card: str) -> bool:
    """One name, as the référent typed it and as the card carries it; an empty one is
    nobody's."""
    return bool(_plain(typed)) and _plain(typed) == _plain(on_card)


def _numbers(id_nat: str) -> set[tuple[str, str]]:
    """What identifies the holder of an idNat: the RPPS or ADELI number, else the idNat."""
    _, rpps, adeli = split_id_nat(id_nat)
    return {("RPPS", rpps)} if rpps else {("ADELI", adeli)} if adeli else {("idNat", id_nat)}


def not_the_holder(conn: sqlite3.Connection, row: sqlite3.Row, holder: dict) -> str | None:
    """Why the card's holder is not the account's holder (a French sentence), or None.
    The numbers the account records (its RPPS, those of the cards linked to it) decide;
    when it records none, the family and given names must be the card's."""
    recorded = {("RPPS", row["rpps"])} if row["rpps"] else set()
    for (id_nat,) in conn.execute("SELECT id_nat FROM cartes WHERE compte_id = ?", (row["id"],)):
        recorded |= _numbers(id_nat)
    if recorded:
        if recorded & _numbers(holder["idNat"]):
            return None
        return ("Cette carte n'appartient pas au titulaire de ce compte (numéro RPPS ou ADELI "
                "différent de celui du compte). Insérez votre propre carte.")
    if same_name(row["nom"], holder.get("familyName") or "") \
            and same_name(row["prenom"], holder.get("givenName") or ""):
        return None
    return ("Cette carte n'appartient pas au titulaire de ce compte (nom ou prénom différents "
            "de ceux du compte). Insérez votre propre carte.")


def create(conn: sqlite3.Connection, *, identifiant: str, type: str, email: str, nom: str,
           prenom: str, profession: str, etablissement: str = "", rpps: str | None = None,
           mot_de_passe: str | None = None, email_valide: bool = False,
           cgu: bool = False, referent: bool = False) -> int:
    cur = conn.execute(
        "INSERT INTO comptes (identifiant, type, email, nom, prenom, profession, etablissement, "
        "rpps, mot_de_passe, email_valide, cgu_acceptees_le, referent, cree_le) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (identifiant, type, email, nom, prenom, profession, etablissement, rpps, mot_de_passe,
         int(email_valide), now() if cgu else None, int(referent), now()))
    return int(cur.lastrowid)


def link_card(conn: sqlite3.Connection, compte_id: int, id_nat: str, fingerprint: str) -> None:
    conn.execute("INSERT INTO cartes (id_nat, compte_id, empreinte, associee_le) VALUES (?, ?, ?, ?)",
                 (id_nat, compte_id, fingerprint, now()))


def cards_of(conn: sqlite3.Connection, compte_id: int) -> list[sqlite3.Row]:
    return conn.execute("SELECT id_nat, associee_le FROM cartes WHERE compte_id = ? "
                        "ORDER BY associee_le, id_nat", (compte_id,)).fetchall()


def unlink_card(conn: sqlite3.Connection, row: sqlite3.Row, id_nat: str) -> bool:
    """Remove one of the account's cards; False when it is not one of them. The account's
    RPPS goes too when it is that card's and no other card of the account carries it: the
    association wrote the card's RPPS into an account that had none (before the holder
    check, whatever the card), and the holder check must not let that card back in by it.
    (Where it came from is not stored: a référent's equal RPPS goes as well; the next card
    associated records its own.) A libéral's RPPS is its identifiant: it stays."""
    cur = conn.execute("DELETE FROM cartes WHERE id_nat = ? AND compte_id = ?", (id_nat, row["id"]))
    if cur.rowcount != 1:
        return False
    rpps = row["rpps"]
    if rpps and ("RPPS", rpps) in _numbers(id_nat) and row["identifiant"] != rpps:
        others = conn.execute("SELECT id_nat FROM cartes WHERE compte_id = ?", (row["id"],))
        if not any(("RPPS", rpps) in _numbers(other) for (other,) in others):
            update(conn, row["id"], rpps=None)
    return True


def update(conn: sqlite3.Connection, compte_id: int, **fields) -> None:
    allowed = {"mot_de_passe", "email_valide", "cgu_acceptees_le", "derniere_otp_le", "otp_canal",
               "telephone", "telephone_verifie", "rpps"}
    assert fields and set(fields) <= allowed
    sets = ", ".join(f"{k} = ?" for k in fields)
    conn.execute(f"UPDATE comptes SET {sets} WHERE id = ?", (*fields.values(), compte_id))


def first_connection_done(row: sqlite3.Row) -> bool:
    return row["cgu_acceptees_le"] is not None and row["derniere_otp_le"] is not None


def delegations_given(conn: sqlite3.Connection, liberal_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT d.*, a.prenom, a.nom, a.profession FROM delegations d "
        "LEFT JOIN comptes a ON a.id = d.assistant_id "
        "WHERE d.liberal_id = ? AND d.revoquee_le IS NULL ORDER BY d.id", (liberal_id,)).fetchall()


def delegations_received(conn: sqlite3.Connection, assistant_id: int) -> list[sqlite3.Row]:
    return conn.execute(
        "SELECT d.*, l.prenom, l.nom, l.profession, l.identifiant FROM delegations d "
        "JOIN comptes l ON l.id = d.liberal_id "
        "WHERE d.assistant_id = ? AND d.revoquee_le IS NULL ORDER BY d.id",
        (assistant_id,)).fetchall()
