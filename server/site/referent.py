"""What a référent ViaTrajectoire does: create an établissement user's account, which sends
the e-mail with the identifiant and the link to define the password (manual I.1). Used by
the command `create-account` and by the référent's page `/referent`."""

from __future__ import annotations

import re
import smtplib
import sqlite3
from dataclasses import dataclass

from . import accounts, db, links, mails
from .config import SiteConfig
from .sender import Sender

IDENTIFIANT = re.compile(r"^[A-Za-z0-9._@-]{3,64}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class AccountError(Exception):
    """Why the account was not created, in French."""


@dataclass
class NewAccount:
    identifiant: str
    email: str
    nom: str
    prenom: str
    profession: str = ""
    etablissement: str = ""
    rpps: str | None = None
    referent: bool = False

    def problem(self) -> str | None:
        if not IDENTIFIANT.match(self.identifiant):
            return "identifiant invalide (3 à 64 lettres, chiffres ou . _ @ -)"
        if not EMAIL.match(self.email):
            return "adresse e-mail invalide"
        # [0-9], not \d: \d also matches other scripts' digits (٩٩٧…), which no RPPS has.
        if self.rpps and not re.fullmatch(r"[0-9]{11}", self.rpps):
            return "numéro RPPS invalide (11 chiffres)"
        if max(len(v) for v in (self.nom, self.prenom, self.profession, self.etablissement)) > 100:
            return "une des valeurs est trop longue (100 caractères au plus)"
        return None


def create_account(conn: sqlite3.Connection, config: SiteConfig, sender: Sender,
                   new: NewAccount) -> int:
    """One transaction: the account, its link, and the e-mail; all or nothing."""
    problem = new.problem()
    if problem:
        raise AccountError(problem)
    with db.tx(conn):
        if accounts.by_identifiant(conn, new.identifiant) is not None:
            raise AccountError(f"l'identifiant « {new.identifiant} » est déjà utilisé")
        compte_id = accounts.create(conn, identifiant=new.identifiant, type="etablissement",
                                    email=new.email, nom=new.nom.strip(),
                                    prenom=new.prenom.strip(), profession=new.profession.strip(),
                                    etablissement=new.etablissement.strip(),
                                    rpps=new.rpps or None, referent=new.referent)
        token = links.issue(conn, "definir", config.link_ttl, compte_id=compte_id)
        message = mails.account_created(
            new.email,
            accounts.display_name(new.prenom, new.nom, new.profession) or new.identifiant,
            new.identifiant, f"{config.origin}/mot-de-passe/definir/{token}",
            int(config.link_ttl.total_seconds() // 3600))
        try:
            sender.send(message)
        except (OSError, smtplib.SMTPException) as e:
            # Raised inside the transaction: the account is not created either.
            raise AccountError(f"l'e-mail n'a pas pu être envoyé ({e}) ; le compte n'a pas "
                               "été créé") from None
    return compte_id


def create_from_command(config: SiteConfig, new: NewAccount) -> int:
    from .app import make_sender

    db.init(config.db_path)
    conn = db.connect(config.db_path)
    try:
        return create_account(conn, config, make_sender(config), new)
    finally:
        conn.close()
