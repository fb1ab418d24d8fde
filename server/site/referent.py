"""What a référent ViaTrajectoire does: create an établissement user's account, which sends
the e-mail with the identifiant and the link to define the password (manual I.1)."""

from __future__ import annotations

import re
import smtplib
import sqlite3

from . import accounts, db, links, mails
from .app import make_sender
from .config import SiteConfig

IDENTIFIANT = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    pass


def create_etablissement_account(config: SiteConfig, *, identifiant: str, email: str, nom: str,
                                 prenom: str, profession: str = "", etablissement: str = "",
                                 rpps: str | None = None) -> int:
    if not IDENTIFIANT.match(identifiant):
        raise AccountError("identifiant invalide (3 à 64 lettres, chiffres ou . _ @ -)")
    if not EMAIL.match(email):
        raise AccountError("adresse e-mail invalide")
    if rpps is not None and not re.fullmatch(r"\d{11}", rpps):
        raise AccountError("numéro RPPS invalide (11 chiffres)")
    if not nom.strip() or not prenom.strip():
        raise AccountError("nom et prénom obligatoires")
    db.init(config.db_path)
    conn = db.connect(config.db_path)
    try:
        with db.tx(conn):
            if accounts.by_identifiant(conn, identifiant) is not None:
                raise AccountError(f"l'identifiant « {identifiant} » est déjà utilisé")
            try:
                compte_id = accounts.create(conn, identifiant=identifiant, type="etablissement",
                                            email=email, nom=nom.strip(), prenom=prenom.strip(),
                                            profession=profession.strip(),
                                            etablissement=etablissement.strip(), rpps=rpps)
            except sqlite3.IntegrityError as e:
                raise AccountError(str(e)) from None
            token = links.issue(conn, "definir", config.link_ttl, compte_id=compte_id)
            send = make_sender(config).send
            message = mails.account_created(
                email, accounts.display_name(prenom, nom, profession), identifiant,
                f"{config.origin}/mot-de-passe/definir/{token}",
                int(config.link_ttl.total_seconds() // 3600))
            try:
                send(message)
            except (OSError, smtplib.SMTPException) as e:
                # Raised inside the transaction: the account is not created either.
                raise AccountError(f"l'e-mail n'a pas pu être envoyé ({e}) ; le compte n'a pas "
                                   "été créé") from None
    finally:
        conn.close()
    return compte_id
