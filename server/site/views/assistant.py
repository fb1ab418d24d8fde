"""Assistant de professionnel libéral: invited by the libéral, finalised by a card login
(manual III.1)."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, redirect, request

from .. import accounts, db, links, mails
from ..passwords import hash_password, password_field, password_problem
from ..web import conn, flash, form, open_session, render, send, sess, url
from .carte import pending_card

bp = Blueprint("assistant", __name__)


def _delegation(c: sqlite3.Connection, token: str) -> tuple[sqlite3.Row, sqlite3.Row]:
    """The invitation's delegation and the libéral; LinkError when it no longer holds."""
    lien = links.check(c, token, "delegation")
    d = c.execute("SELECT * FROM delegations WHERE id = ?", (lien["delegation_id"],)).fetchone()
    if d is None or d["revoquee_le"] is not None:
        raise links.LinkError("Cette délégation a été retirée par le professionnel libéral.")
    return d, accounts.by_id(c, d["liberal_id"])


@bp.get("/assistant/invitation/<token>")
def invitation(token: str):
    try:
        d, liberal = _delegation(conn(), token)
    except links.LinkError as e:
        sess().pop("delegation")
        return render("lien_invalide.html", 410, erreur=str(e))
    sess().set("delegation", token)
    return render("assistant_invitation.html", liberal=accounts.name_of(liberal), email=d["email"])


SELF = ("Vous ne pouvez pas être votre propre assistant : cette invitation doit être finalisée "
        "par la personne à qui vous déléguez vos droits, avec sa propre carte.")


def _invitation_card(token: str) -> dict | None:
    """The card read by a login started from this invitation's page (carte.decide)."""
    card = pending_card()
    return card if card is not None and card.get("invitation") == token else None


def _is_the_liberal(liberal: sqlite3.Row, holder: dict, existing: sqlite3.Row | None) -> bool:
    return (existing is not None and existing["id"] == liberal["id"]) \
        or bool(holder.get("rpps") and holder["rpps"] == liberal["rpps"])


def _existing_account(token: str, d: sqlite3.Row, liberal: sqlite3.Row, existing: sqlite3.Row,
                      id_nat: str):
    """A card already linked to an account: the page names who delegates and asks; only its
    form (POST, CSRF-checked) adds the delegation to that account."""
    c, liberal_name = conn(), accounts.name_of(liberal)
    if request.method == "GET":
        return render("assistant_confirmation.html", liberal=liberal_name, email=d["email"],
                      compte=accounts.name_of(existing))
    with db.tx(c):
        try:
            links.consume(c, token, "delegation")
        except links.LinkError as e:  # used meanwhile in another tab
            return render("lien_invalide.html", 410, erreur=str(e))
        c.execute("UPDATE delegations SET assistant_id = ? WHERE id = ?", (existing["id"], d["id"]))
        send(mails.delegation_accepted(liberal["email"], liberal_name, accounts.name_of(existing),
                                       url("/compte")))
        target = open_session(existing["id"], "carte CPx", id_nat)
    flash("succes", f"{liberal_name} vous a délégué ses droits.")
    return redirect(target)


def address_taken(email: str) -> str:
    return (f"Un compte ViaTrajectoire existe déjà avec l'adresse {email}. Connectez-vous avec "
            "ce compte, ou demandez une invitation à une autre adresse.")


@bp.route("/assistant/finalisation", methods=["GET", "POST"])
def finalisation():
    token, c = sess().get("delegation"), conn()
    if not token:
        return redirect("/")
    card = _invitation_card(token)
    if card is None:
        flash("info", "Insérez votre carte dans le lecteur puis cliquez sur « Se connecter par "
                      "carte CPx ».")
        return redirect(f"/assistant/invitation/{token}")
    holder = card["holder"]
    try:
        d, liberal = _delegation(c, token)
    except links.LinkError as e:
        sess().pop("delegation")
        return render("lien_invalide.html", 410, erreur=str(e))
    liberal_name = accounts.name_of(liberal)
    existing = accounts.by_card(c, holder["idNat"])
    if _is_the_liberal(liberal, holder, existing):
        return render("erreur.html", 403, erreur=SELF)
    if existing is not None:
        return _existing_account(token, d, liberal, existing, holder["idNat"])
    ctx = {"holder": holder, "email": d["email"], "liberal": liberal_name,
           "professions": accounts.ASSISTANT_PROFESSIONS}
    if request.method == "GET":
        return render("assistant_finalisation.html", **ctx)
    profession = form("profession")
    mot_de_passe = request.form.get("mot_de_passe", "")
    confirmation = request.form.get("confirmation", "")
    problem, champs = None, ()  # champs: the fields at fault, marked on the page (aria-invalid)
    if profession not in accounts.ASSISTANT_PROFESSIONS:
        problem, champs = "Choisissez votre profession dans la liste.", ("profession",)
    else:
        problem = password_problem(mot_de_passe, confirmation)
        champs = (password_field(mot_de_passe, confirmation),)
    if problem is None and request.form.get("accepte") != "oui":
        problem, champs = ("Cochez la case pour indiquer que vous avez pris connaissance des "
                           "conditions d'utilisation."), ("accepte",)
    if problem:
        return render("assistant_finalisation.html", 400, erreur=problem, profession=profession,
                      champs=champs, **ctx)
    hashed = hash_password(request.form["mot_de_passe"])  # slow: not while holding the db
    with db.tx(c):
        # Checked in the transaction that creates the account: another invitation to the same
        # address, or this card on another tab, may have been finalised a moment ago.
        if accounts.by_identifiant(c, d["email"]) is not None:
            return render("assistant_finalisation.html", 400, erreur=address_taken(d["email"]),
                          profession=profession, **ctx)
        if accounts.by_card(c, holder["idNat"]) is not None:  # the page for a linked card
            return redirect("/assistant/finalisation")
        try:
            links.consume(c, token, "delegation")
        except links.LinkError as e:
            return render("lien_invalide.html", 410, erreur=str(e))
        compte_id = accounts.create(
            c, identifiant=d["email"], type="assistant", email=d["email"],
            nom=holder["familyName"], prenom=holder["givenName"], profession=profession,
            mot_de_passe=hashed, email_valide=True, cgu=True)
        accounts.link_card(c, compte_id, holder["idNat"], card["empreinte"])
        c.execute("UPDATE delegations SET assistant_id = ? WHERE id = ?", (compte_id, d["id"]))
        name = accounts.display_name(holder["givenName"], holder["familyName"], profession)
        send(mails.assistant_ready(d["email"], name, d["email"], liberal_name, url("/")))
        send(mails.delegation_accepted(liberal["email"], liberal_name, name, url("/compte")))
        target = open_session(compte_id, "carte CPx", holder["idNat"])
    flash("succes", f"Votre compte est créé : vous disposez des droits délégués par {liberal_name}. "
                    f"Votre identifiant de connexion est {d['email']}.")
    return redirect(target)
