"""Définition du mot de passe (lien du référent), mot de passe oublié (manual I.1, IV.2),
and the e-mail validation link of the espace libéral (II.1.6)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect, request

from .. import accounts, db, links, mails, ratelimit, sessions
from ..passwords import hash_password, password_field, password_problem
from ..web import (Refusal, SendFailure, check_relay, client_ip, conn, empty_fields, flash, form,
                   renew_session, render, send, sess, url)

bp = Blueprint("motdepasse", __name__)

TITLES = {"definir": "Définition de votre mot de passe",
          "reinitialiser": "Définition d'un nouveau mot de passe"}


def _link_page(objet: str, token: str):
    c = conn()
    try:
        row = links.check(c, token, objet)
    except links.LinkError as e:
        return render("lien_invalide.html", 410, erreur=str(e))
    compte = accounts.by_id(c, row["compte_id"])
    if request.method == "GET":
        return render("mot_de_passe.html", titre=TITLES[objet], compte=compte)
    mdp, confirmation = request.form.get("mot_de_passe", ""), request.form.get("confirmation", "")
    problem = password_problem(mdp, confirmation)
    if problem:
        return render("mot_de_passe.html", 400, titre=TITLES[objet], compte=compte, erreur=problem,
                      champs=(password_field(mdp, confirmation),))
    with db.tx(c):
        try:
            links.consume(c, token, objet)
        except links.LinkError as e:  # used meanwhile in another tab
            return render("lien_invalide.html", 410, erreur=str(e))
        # Clicking the link received by e-mail proves the address.
        accounts.update(c, compte["id"], mot_de_passe=hash_password(mdp), email_valide=1)
        ratelimit.clear(c, "identifiant", compte["identifiant"])
        logged_in = _end_sessions(compte["id"])
        send(mails.password_changed(compte["email"], accounts.name_of(compte), url("/")))
    if logged_in:
        flash("succes", "Votre mot de passe a été enregistré. Un e-mail de confirmation vous a "
                        "été envoyé. Les autres sessions ouvertes avec votre compte ont été "
                        "fermées.")
    else:
        flash("succes", "Votre mot de passe a été enregistré. Un e-mail de confirmation vous a "
                        "été envoyé. Vous pouvez maintenant vous connecter.")
    return redirect("/")


def _end_sessions(compte_id: int) -> bool:
    """A new password: whoever is logged in to the account elsewhere, or half-way through a
    login to it, is out. This browser's session stays logged in when it was (under a new id:
    a copy of its cookie opens nothing), and forgets a login to the account it had pending.
    True when it stays logged in."""
    sessions.end_others(conn(), compte_id, sess())
    if sess().compte_id == compte_id:
        renew_session()
        return True
    for step in ("mfa", "cgu"):
        if (sess().get(step) or {}).get("compte_id") == compte_id:
            sess().pop(step)
    return False


@bp.route("/mot-de-passe/definir/<token>", methods=["GET", "POST"])
def definir(token: str):
    return _link_page("definir", token)


@bp.route("/mot-de-passe/reinitialiser/<token>", methods=["GET", "POST"])
def reinitialiser(token: str):
    return _link_page("reinitialiser", token)


DONE = ("Si les informations saisies correspondent à un compte ViaTrajectoire, vous allez recevoir "
        "un e-mail contenant un lien pour définir votre nouveau mot de passe.")


@bp.route("/mot-de-passe-oublie", methods=["GET", "POST"])
def oubli():
    if request.method == "GET":
        return render("oubli.html")
    identifiant, email = form("identifiant"), form("email")
    if not identifiant or not email:
        return render("oubli.html", 400, identifiant=identifiant, email=email,
                      erreur="Renseignez votre identifiant et votre adresse e-mail.",
                      champs=empty_fields(identifiant=identifiant, email=email))
    c = conn()
    cfg = current_app.config["SITE"]
    # The same answer whether or not the account exists: no way to probe identifiants. So
    # the relay is asked first, for every request: out of service, everyone is told (503);
    # a failure that only a match could meet (the send itself) is logged, not shown.
    check_relay()
    with db.tx(c):
        # Checked in the sending transaction: requests sent at once cannot all pass it.
        if ratelimit.blocked(c, "oubli", client_ip()):
            raise Refusal("Trop de demandes de nouveau mot de passe. Réessayez dans 15 minutes.",
                          429)
        ratelimit.record(c, "oubli", client_ip())
        row = accounts.by_identifiant(c, identifiant)
        # Past the account's own limit (requests from many addresses), nothing is sent, and
        # the answer is still the same.
        if row is not None and row["email"].lower() == email.lower() \
                and not ratelimit.blocked(c, "oubli-compte", str(row["id"])):
            ratelimit.record(c, "oubli-compte", str(row["id"]))
            links.retire(c, "reinitialiser", row["id"])
            token = links.issue(c, "reinitialiser", cfg.reset_ttl, compte_id=row["id"])
            try:
                send(mails.reset_link(row["email"], accounts.name_of(row), row["identifiant"],
                                      url(f"/mot-de-passe/reinitialiser/{token}"),
                                      int(cfg.reset_ttl.total_seconds() // 60)))
            except SendFailure:  # logged by send(); the link that was never sent is withdrawn
                links.retire(c, "reinitialiser", row["id"])
    flash("info", DONE)
    return redirect("/")


@bp.route("/email/valider/<token>", methods=["GET", "POST"])
def valider_email(token: str):
    """The link shows a button; only its form uses the link: mail scanners open links (GET)
    before the person does."""
    c = conn()
    if request.method == "GET":
        try:
            links.check(c, token, "valider-email")
        except links.LinkError as e:
            return render("lien_invalide.html", 410, erreur=str(e), validation=True)
        return render("email_valider.html", token=token)
    with db.tx(c):
        try:
            row = links.consume(c, token, "valider-email")
        except links.LinkError as e:
            return render("lien_invalide.html", 410, erreur=str(e), validation=True)
        accounts.update(c, row["compte_id"], email_valide=1)
    flash("succes", "Votre adresse e-mail est validée. Merci.")
    return redirect("/")
