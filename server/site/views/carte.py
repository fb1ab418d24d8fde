"""Connexion par carte CPx: the challenge, the token, then log in, link or create
(manual I.3.ii, II.1, III.1)."""

from __future__ import annotations

from flask import Blueprint, current_app, jsonify, redirect, request

from .. import accounts, db, ratelimit
from ..cardauth import REASONS, CardRefused
from ..web import client_ip, conn, flash, form, json_error, open_session, render, sess
from .connexion import check_password

bp = Blueprint("carte", __name__)

# What each refusal answers: the page shows the message, the status tells machines.
STATUS = {"NONCE_UNKNOWN": 409, "NONCE_EXPIRED": 409, "TOKEN_MALFORMED": 400,
          "REQUETE_INVALIDE": 400, "TROP_DE_TENTATIVES": 429}


def card_auth():
    return current_app.config["CARD_AUTH"]


@bp.post("/connexion/carte-cps/defi")
def defi():
    nonce = card_auth().challenge(sess().id)
    sess().set("defi", nonce)
    return jsonify({"challengeNonce": nonce})


@bp.post("/connexion/carte-cps")
def carte():
    c = conn()
    if ratelimit.blocked(c, "carte", client_ip()):
        return json_error("TROP_DE_TENTATIVES", REASONS["TROP_DE_TENTATIVES"], 429)
    body = request.get_json(silent=True) if request.is_json else None
    nonce = sess().pop("defi")  # one try per challenge, whatever happens next
    if not isinstance(body, dict) or set(body) != {"token"} or not isinstance(body["token"], dict):
        return json_error("REQUETE_INVALIDE", "La demande doit être un objet JSON "
                          "{\"token\": {...}} envoyé par la page de connexion.", 400)
    try:
        identity = card_auth().verify(sess().id, nonce, body["token"])
    except CardRefused as refusal:
        with db.tx(c):
            ratelimit.record(c, "carte", client_ip())
        return json_error(refusal.code, refusal.message, STATUS.get(refusal.code, 401))
    return jsonify({"redirect": decide(identity.holder, identity.fingerprint)})


def decide(holder: dict, fingerprint: str) -> str:
    """Where a verified card leads: the account it is linked to, or the step that links or
    creates one."""
    c = conn()
    linked = accounts.by_card(c, holder["idNat"])
    if sess().get("delegation"):
        sess().set("carte", {"holder": holder, "empreinte": fingerprint, "le": db.now()})
        return "/assistant/finalisation"
    if linked is not None:
        with db.tx(c):
            return open_session(linked["id"], "carte CPx")
    sess().set("carte", {"holder": holder, "empreinte": fingerprint, "le": db.now()})
    if holder.get("idType") == "RPPS" and not accounts.etablissement_with_rpps(c, holder["rpps"]):
        return "/liberal/creation"
    return "/connexion/carte-cps/association"


def pending_card() -> dict | None:
    """The card verified a moment ago in this session and not yet linked."""
    state = sess().get("carte")
    ttl = current_app.config["SITE"].pending_card_ttl.total_seconds()
    if not state or state["le"] < db.now() - ttl:
        return None
    return state


@bp.route("/connexion/carte-cps/association", methods=["GET", "POST"])
def association():
    card = pending_card()
    if card is None:
        flash("info", "Insérez votre carte dans le lecteur puis cliquez sur la vignette "
                      "« S'identifier par carte CPS ou S'identifier par E-CPS ».")
        return redirect("/")
    holder = card["holder"]
    if request.method == "GET":
        return render("association.html", holder=holder)
    identifiant, mot_de_passe = form("identifiant"), request.form.get("mot_de_passe", "")
    row = check_password(identifiant, mot_de_passe) if identifiant and mot_de_passe else None
    if row is None:
        return render("association.html", 401, holder=holder, identifiant=identifiant,
                      erreur="Identifiant ou mot de passe incorrect.")
    if not accounts.first_connection_done(row):
        return render("association.html", 403, holder=holder, identifiant=identifiant,
                      erreur="La connexion par carte CPx n'est possible que si vous vous êtes déjà "
                             "connecté une première fois par identifiant et mot de passe. "
                             "Connectez-vous d'abord par identifiant et mot de passe, avec le code "
                             "de confirmation reçu par e-mail.")
    if row["rpps"] and holder.get("rpps") and row["rpps"] != holder["rpps"]:
        return render("association.html", 403, holder=holder, identifiant=identifiant,
                      erreur="Cette carte n'appartient pas au titulaire de ce compte (numéro RPPS "
                             "différent). Insérez votre propre carte.")
    c = conn()
    with db.tx(c):
        if accounts.by_card(c, holder["idNat"]) is None:
            accounts.link_card(c, row["id"], holder["idNat"], card["empreinte"])
        if holder.get("rpps") and not row["rpps"]:
            accounts.update(c, row["id"], rpps=holder["rpps"])
        target = open_session(row["id"], "carte CPx")
    flash("succes", "Votre carte a été associée à votre compte. Vos prochaines connexions par "
                    "carte se feront directement.")
    return redirect(target)
