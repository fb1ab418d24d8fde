"""Espace médecin libéral: the account is created by a first card login (manual II.1)."""

from __future__ import annotations

import re

from flask import Blueprint, current_app, redirect, request

from .. import accounts, db, links, mails, ratelimit
from ..passwords import hash_password, password_field, password_problem
from ..web import AddressRefused, address_refused, cgu_step, conn, flash, form, open_session, \
    render, send, sess, url
from .carte import TO_THE_TILE, pending_card

bp = Blueprint("liberal", __name__)

EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _card_or_home():
    card = pending_card()
    if card is None or card["holder"].get("idType") != "RPPS":
        flash("info", "La création du compte de l'espace médecin libéral nécessite une première "
                      f"connexion par carte CPx. {TO_THE_TILE}")
        return None
    return card


# One account per RPPS: when one records it (an établissement account made with its RPPS,
# or one a card was linked to), the card is associated with that account instead.
RPPS_KNOWN = ("Un compte ViaTrajectoire existe déjà avec votre numéro RPPS. Associez votre carte "
              "à ce compte en renseignant ses identifiant et mot de passe.")


# One address, one account: an établissement user who took the creation by mistake (his
# référent recorded no RPPS) would otherwise get a second account, to which his card is then
# linked for good. Only the typed address is repeated, never whose account it is.
def address_taken(email: str) -> str:
    return (f"Un compte ViaTrajectoire utilise déjà cette adresse e-mail : {email}. S'il s'agit "
            "de votre compte, associez-y votre carte en renseignant ses identifiant et mot de "
            "passe.")


TOO_MANY = ("Trop de tentatives de création de compte avec cette carte. Pour votre sécurité, la "
            "création est suspendue pendant 15 minutes. Réessayez plus tard, ou associez votre "
            "carte à votre compte existant.")


@bp.route("/liberal/creation", methods=["GET", "POST"])
def creation():
    card = _card_or_home()
    if card is None:
        return redirect("/")
    holder = card["holder"]
    if accounts.with_rpps(conn(), holder["rpps"]) is not None:
        sess().pop("liberal")
        return render("liberal_creation.html", 409, holder=holder, valeurs={}, erreur=RPPS_KNOWN,
                      existe=True)
    if request.method == "GET":
        return render("liberal_creation.html", holder=holder, valeurs=sess().get("liberal", {}))
    c = conn()
    # The refusal below tells whether an address has an account, to a verified card only
    # (as the assistant's finalisation does for its invitation's address); a few per card,
    # then this one answer whatever the address, so a list of addresses cannot be tried.
    if ratelimit.blocked(c, "adresse-prise", holder["idNat"]):
        return render("liberal_creation.html", 429, holder=holder, valeurs={}, erreur=TOO_MANY,
                      existe=True)
    email = form("email")
    valeurs = {"email": email}
    problem, champs = None, ()  # champs: the fields at fault, marked on the page (aria-invalid)
    mot_de_passe = request.form.get("mot_de_passe", "")
    confirmation = request.form.get("confirmation", "")
    if not EMAIL.match(email):
        problem, champs = "Renseignez une adresse e-mail valide.", ("email",)
    else:
        problem = password_problem(mot_de_passe, confirmation)
        champs = (password_field(mot_de_passe, confirmation),)
    if problem is None and accounts.by_identifiant(c, holder["rpps"]) is not None:
        problem, champs = ("Un compte existe déjà avec ce numéro RPPS. Connectez-vous avec votre "
                           "identifiant et votre mot de passe, ou utilisez « Mot de passe "
                           "oublié ? »."), ()
    if problem:
        return render("liberal_creation.html", 400, holder=holder, valeurs=valeurs, erreur=problem,
                      champs=champs)
    # Reserved before the address is looked up, so that addresses tried at once are counted
    # too (ratelimit.reserve): no more than the limit are ever answered.
    held = ratelimit.reserve(c, [("adresse-prise", holder["idNat"])])
    if held is None:
        return render("liberal_creation.html", 429, holder=holder, valeurs={}, erreur=TOO_MANY,
                      existe=True)
    if accounts.email_taken(c, email):
        ratelimit.failed(c, held)
        sess().pop("liberal")
        return render("liberal_creation.html", 409, holder=holder, valeurs=valeurs,
                      erreur=address_taken(email), champs=("email",))
    ratelimit.release(c, held)
    sess().set("liberal", {**valeurs, "mot_de_passe": hash_password(request.form["mot_de_passe"])})
    return redirect("/liberal/cgu")


@bp.route("/liberal/cgu", methods=["GET", "POST"])
def cgu():
    card, pending = _card_or_home(), sess().get("liberal")
    if card is None or pending is None:
        return redirect("/")
    # The address typed on the creation form, and the way back to correct it before it is used.
    page = cgu_step("/liberal/cgu", adresse=pending["email"], modifier="/liberal/creation")
    if page is not None:
        return page
    try:
        return _create(card, pending)
    except AddressRefused as e:
        # Typed on the creation form, refused by the relay only now: that form again, with
        # the address to correct (nothing was created; the CGU come again after it).
        return render("liberal_creation.html", 400, holder=card["holder"],
                      valeurs={"email": e.address},
                      erreur=address_refused(e.address, ADDRESS_THEN), champs=("email",))


ADDRESS_THEN = ("renseignez de nouveau votre mot de passe puis cliquez sur « Créer mon compte ». "
                "Votre compte n'a pas encore été créé.")


def _create(card: dict, pending: dict):
    """The account, its card and the validation e-mail: one transaction."""
    holder, c = card["holder"], conn()
    cfg = current_app.config["SITE"]
    with db.tx(c):
        if accounts.by_identifiant(c, holder["rpps"]) or accounts.by_card(c, holder["idNat"]):
            flash("erreur", "Un compte existe déjà pour cette carte. Connectez-vous.")
            sess().pop("liberal")
            return redirect("/")
        if accounts.with_rpps(c, holder["rpps"]):  # recorded meanwhile (an association)
            flash("erreur", RPPS_KNOWN)
            sess().pop("liberal")
            return redirect("/connexion/carte-cps/association")
        if accounts.email_taken(c, pending["email"]):  # taken meanwhile (a référent)
            flash("erreur", address_taken(pending["email"]))
            sess().pop("liberal")
            return redirect("/connexion/carte-cps/association")
        compte_id = accounts.create(
            c, identifiant=holder["rpps"], type="liberal", email=pending["email"],
            nom=holder["familyName"], prenom=holder["givenName"],
            profession=holder.get("title") or "", rpps=holder["rpps"],
            mot_de_passe=pending["mot_de_passe"], cgu=True)
        accounts.link_card(c, compte_id, holder["idNat"], card["empreinte"])
        token = links.issue(c, "valider-email", cfg.link_ttl, compte_id=compte_id)
        name = accounts.display_name(holder["givenName"], holder["familyName"], holder.get("title"))
        send(mails.validate_email(pending["email"], name, holder["rpps"],
                                  url(f"/email/valider/{token}"),
                                  int(cfg.link_ttl.total_seconds() // 3600)), typed_address=True)
        target = open_session(compte_id, "carte CPx", holder["idNat"])
    flash("succes", f"Votre compte a été créé. Votre identifiant de connexion est votre numéro "
                    f"RPPS : {holder['rpps']}. Cliquez sur le lien de l'e-mail envoyé à "
                    f"{pending['email']} pour valider votre adresse e-mail.")
    return redirect(target)
