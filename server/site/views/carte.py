"""Connexion par carte CPx: the challenge, the token, then log in, link or create
(manual I.3.ii, II.1, III.1)."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, jsonify, redirect, request

from server.verify.token import loads

from .. import accounts, db, mails, ratelimit
from ..cardauth import REASONS, CardRefused
from ..web import client_ip, conn, flash, form, json_error, open_session, render, send, sess, url
from .connexion import STRONG, after_otp, check_password, login_done, otp_due, send_otp

bp = Blueprint("carte", __name__)

# What each refusal answers: the page shows the message, the status tells machines.
STATUS = {"NONCE_UNKNOWN": 409, "NONCE_EXPIRED": 409, "TOKEN_MALFORMED": 400,
          "REQUETE_INVALIDE": 400, "TROP_DE_TENTATIVES": 429}


def card_auth():
    return current_app.config["CARD_AUTH"]


def json_body() -> object:
    """The request's JSON; None when there is none or it does not parse, or has a key twice
    (which of two tokens would count? server/verify/token.py loads)."""
    if not request.is_json:
        return None
    try:
        return loads(request.get_data())
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting deeper than it reads
        return None


@bp.post("/connexion/carte-cps/defi")
def defi():
    body = json_body()
    nonce = card_auth().challenge(sess().id)
    # Only a login started from the invitation page (its tile sends {"etape": "invitation"})
    # finalises the invitation; a login started anywhere else forgets it.
    token = sess().get("delegation")
    if token and isinstance(body, dict) and body.get("etape") == "invitation":
        sess().set("defi_invitation", [nonce, token])
    else:
        sess().pop("delegation")
        sess().pop("defi_invitation")
    return jsonify({"challengeNonce": nonce})


@bp.post("/connexion/carte-cps")
def carte():
    c = conn()
    if ratelimit.blocked(c, "carte", client_ip()):
        return json_error("TROP_DE_TENTATIVES", REASONS["TROP_DE_TENTATIVES"], 429)
    body = json_body()
    if not isinstance(body, dict) or not {"token"} <= set(body) <= {"token", "nonce"} \
            or not isinstance(body["token"], dict) or not isinstance(body.get("nonce", ""), str):
        return json_error("REQUETE_INVALIDE", "La demande doit être un objet JSON "
                          "{\"token\": {...}, \"nonce\": \"…\"} envoyé par la page de connexion.",
                          400)
    # The nonce the page signed with. The challenge store alone knows which are pending:
    # it binds each to its session and spends it at its first presentation (§6), so two
    # tabs each present their own. (A list in the session lost a tab's challenge when the
    # other tab's request, slow verifying its card, saved the session it had read.) No
    # nonce is no guess at "the last one": NONCE_UNKNOWN, after TOKEN_MALFORMED (§6 order).
    nonce = body.get("nonce", "")
    pending = sess().get("defi_invitation")
    invitation = pending[1] if isinstance(pending, list) and pending[0] == nonce else None
    if invitation:
        sess().pop("defi_invitation")
    try:
        identity = card_auth().verify(sess().id, nonce, body["token"])
    except CardRefused as refusal:
        with db.tx(c):
            ratelimit.record(c, "carte", client_ip())
        return json_error(refusal.code, refusal.message, STATUS.get(refusal.code, 401))
    if invitation != sess().get("delegation"):
        invitation = None
    return jsonify({"redirect": decide(identity.holder, identity.fingerprint, invitation)})


def decide(holder: dict, fingerprint: str, invitation: str | None = None) -> str:
    """Where a verified card leads: the invitation's page when the login started there, the
    account the card is linked to, or the page that links it to one (or creates one)."""
    c = conn()
    card = {"holder": holder, "empreinte": fingerprint, "le": db.now()}
    if invitation:
        # Bound to that invitation: its finalisation takes no card read elsewhere.
        sess().set("carte", {**card, "invitation": invitation})
        return "/assistant/finalisation"
    linked = accounts.by_card(c, holder["idNat"])
    if linked is not None:
        with db.tx(c):
            return open_session(linked["id"], "carte CPx", holder["idNat"])
    sess().set("carte", card)
    # Every card not linked yet: the I.3.ii page. Nothing on the card tells a libéral
    # (II.1 step 4: the creation) from an établissement user whose référent recorded no
    # RPPS; sending unknown RPPS numbers straight to the creation made those users a second
    # account. The page offers the creation as a second choice (association_page).
    return "/connexion/carte-cps/association"


def pending_card() -> dict | None:
    """The card verified a moment ago in this session and not yet linked."""
    state = sess().get("carte")
    ttl = current_app.config["SITE"].pending_card_ttl.total_seconds()
    if not state or state["le"] < db.now() - ttl:
        return None
    return state


# The flash messages that send a person back to the tile name its button as the page does.
TO_THE_TILE = "Insérez votre carte dans le lecteur puis cliquez sur « S'identifier par carte CPS »."

WRONG_PASSWORD = "Identifiant ou mot de passe incorrect."
# A libéral without an account may type his RPPS (his future identifiant, manual II.2.i) and a
# password here: the refusal then points at the other choice of the page.
NO_ACCOUNT_YET = ("Vous n'avez pas encore de compte ViaTrajectoire ? Professionnel libéral, "
                  "cliquez sur « Créer mon compte de l'espace médecin libéral ».")


def association_page(status: int, holder: dict, **ctx):
    # The button towards the libéral creation only for an RPPS that no account records (one
    # account per RPPS: liberal.creation refuses the others; ADELI cards make no libéral).
    creation = holder.get("idType") == "RPPS" and not accounts.with_rpps(conn(), holder["rpps"])
    if creation and ctx.get("erreur") == WRONG_PASSWORD:
        ctx["erreur"] = f"{WRONG_PASSWORD} {NO_ACCOUNT_YET}"
    return render("association.html", status, holder=holder, creation=creation, **ctx)


@bp.route("/connexion/carte-cps/association", methods=["GET", "POST"])
def association():
    card = pending_card()
    if card is None:
        flash("info", TO_THE_TILE)
        return redirect("/")
    holder = card["holder"]
    if request.method == "GET":
        return association_page(200, holder)
    identifiant, mot_de_passe = form("identifiant"), request.form.get("mot_de_passe", "")
    row = check_password(identifiant, mot_de_passe) if identifiant and mot_de_passe else None
    if row is None:
        return association_page(401, holder, identifiant=identifiant, erreur=WRONG_PASSWORD,
                                champs=("identifiant", "mot_de_passe"))
    if not accounts.first_connection_done(row):
        return association_page(
            403, holder, identifiant=identifiant,
            erreur="La connexion par carte CPx n'est possible que si vous vous êtes déjà "
                   "connecté une première fois par identifiant et mot de passe. Connectez-vous "
                   "d'abord par identifiant et mot de passe, avec le code de confirmation reçu "
                   "par e-mail.")
    problem = accounts.not_the_holder(conn(), row, holder)
    if problem:
        return association_page(403, holder, identifiant=identifiant, erreur=problem)
    if otp_due(row):
        # « Renseignez alors vos identifiant et mot de passe » (I.3.ii): a password login,
        # with its code de confirmation when one is due (IV.1); the card is linked after it.
        send_otp(row, association=True)
        return redirect("/connexion/code")
    return associate(row)


def associate(row: sqlite3.Row):
    """Link the card read a moment ago to the account whose password (and code, when due)
    were just given, tell the account's address, and log in."""
    card, c = pending_card(), conn()
    if card is None:  # read too long ago: the password and code still log in
        minutes = int(current_app.config["SITE"].pending_card_ttl.total_seconds() // 60)
        flash("info", f"Votre carte n'a pas été associée : sa lecture date de plus de {minutes} "
                      "minutes. Reconnectez-vous par carte CPx pour l'associer à votre compte.")
        return after_otp(row, STRONG)
    holder = card["holder"]
    porteur = accounts.display_name(holder["givenName"], holder["familyName"], holder.get("title"))
    with db.tx(c):
        problem = accounts.not_the_holder(c, row, holder)
        linked = accounts.by_card(c, holder["idNat"])
        if problem is None and linked is not None and linked["id"] != row["id"]:
            problem = "Cette carte est déjà associée à un autre compte ViaTrajectoire."
        if problem:
            return association_page(403, holder, identifiant=row["identifiant"], erreur=problem)
        if linked is None:
            accounts.link_card(c, row["id"], holder["idNat"], card["empreinte"])
            if holder.get("rpps") and not row["rpps"]:
                accounts.update(c, row["id"], rpps=holder["rpps"])
            send(mails.card_linked(row["email"], accounts.name_of(row), row["identifiant"],
                                   porteur, url("/mot-de-passe-oublie")))
        login_done(row)
        target = open_session(row["id"], "carte CPx", holder["idNat"])
    flash("succes", "Votre carte a été associée à votre compte. Vos prochaines connexions par "
                    "carte se feront directement.")
    return redirect(target)


@bp.get("/aide/carte-cps")
def aide():
    """What to install for the card login, and whom to ask: the tile links here when the
    extension or the module is missing."""
    return render("aide_carte_cps.html")
