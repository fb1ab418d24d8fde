"""The connexion page and what follows a password: code de confirmation (OTP), CGU."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, g, redirect, request

from .. import accounts, codes, db, mails, ratelimit
from .. import sessions as store
from ..passwords import verify_password
from ..web import Refusal, cgu_step, client_ip, conn, current_user, empty_fields, flash, form, \
    open_session, render, send, sess

bp = Blueprint("connexion", __name__)


def cfg():
    return current_app.config["SITE"]


@bp.get("/")
def accueil():
    if current_user() is not None:
        return redirect("/espace")
    return render("accueil.html")


@bp.post("/connexion")
def connexion():
    identifiant, mot_de_passe = form("identifiant"), request.form.get("mot_de_passe", "")
    sess().pop("delegation")  # a login started here is not the invitation's
    if not identifiant or not mot_de_passe:
        return render("accueil.html", 400, erreur="Renseignez votre identifiant et votre mot de passe.",
                      identifiant=identifiant,
                      champs=empty_fields(identifiant=identifiant, mot_de_passe=mot_de_passe))
    row = check_password(identifiant, mot_de_passe)
    if row is None:
        return render("accueil.html", 401, erreur="Identifiant ou mot de passe incorrect.",
                      identifiant=identifiant, champs=("identifiant", "mot_de_passe"))
    return after_password(row)


def check_password(identifiant: str, mot_de_passe: str) -> sqlite3.Row | None:
    """The account if the password is right; rate-limited per identifiant and address.
    A right password does not clear the identifiant's failures: the code de confirmation
    may still follow, and its failures count there too (login_done clears them)."""
    c = conn()
    # The attempt counts from before the hash is checked: parallel requests see each other.
    held = ratelimit.reserve(c, [("identifiant", identifiant), ("ip", client_ip())])
    if held is None:
        raise Refusal(ratelimit.MESSAGE, 429)
    row = accounts.by_identifiant(c, identifiant)
    ok = verify_password(row["mot_de_passe"] if row else None, mot_de_passe[:200])
    if not ok:
        ratelimit.failed(c, held)
        return None
    ratelimit.release(c, held)
    return row


def login_done(row: sqlite3.Row) -> None:
    """Password, and code when due, were right: the identifiant's failures are forgotten."""
    ratelimit.clear(conn(), "identifiant", row["identifiant"])


def otp_due(row: sqlite3.Row) -> bool:
    last = row["derniere_otp_le"]
    return bool(sess().get("otp_force")) or last is None \
        or last < db.now() - cfg().otp_interval.total_seconds()


def after_password(row: sqlite3.Row):
    if otp_due(row):
        send_otp(row)
        return redirect("/connexion/code")
    return after_otp(row, PASSWORD)


PASSWORD, STRONG = "mot de passe", "mot de passe et code de confirmation"


def after_otp(row: sqlite3.Row, methode: str):
    with db.tx(conn()):
        login_done(row)
        if row["cgu_acceptees_le"] is None:
            sess().set("cgu", {"compte_id": row["id"], "methode": methode})
            return redirect("/connexion/cgu")
        return redirect(open_session(row["id"], methode))


def send_otp(row: sqlite3.Row, association: bool = False) -> None:
    """A new code for the account's pending login; `association`: that login links the card
    read a moment ago (carte.associate), once the code is right."""
    c, key = conn(), str(row["id"])
    code = codes.new_code()
    minutes = int(cfg().code_ttl.total_seconds() // 60)
    sms = row["otp_canal"] == "sms" and row["telephone_verifie"] and row["telephone"]
    message = mails.otp_sms(row["telephone"], code, minutes) if sms \
        else mails.otp_email(row["email"], code, minutes)
    with db.tx(c):
        # Counted per account, not per session: a new login does not send more. Checked in
        # the sending transaction: requests sent at once cannot all pass it.
        if ratelimit.blocked(c, "envoi-code", key):
            raise Refusal("Trop de codes de confirmation envoyés. Réessayez dans 15 minutes.",
                          429)
        ratelimit.record(c, "envoi-code", key)
        send(message)
    sess().set("mfa", codes.pending(code, cfg().code_ttl.total_seconds(), compte_id=row["id"],
                                    canal="sms" if sms else "email", association=association))


def _pending_account(key: str) -> sqlite3.Row | None:
    state = sess().get(key)
    return accounts.by_id(conn(), state["compte_id"]) if state else None


@bp.route("/connexion/code", methods=["GET", "POST"])
def code():
    row = _pending_account("mfa")
    if row is None:
        flash("info", "Connectez-vous d'abord avec votre identifiant et votre mot de passe.")
        return redirect("/")
    state = sess().get("mfa")
    canal = "par SMS" if state["canal"] == "sms" else "par e-mail"
    if request.method == "GET":
        return render("code.html", canal=canal)
    c, identifiant, presented = conn(), row["identifiant"], form("code", 20)
    # A wrong code is a failed attempt of the identifiant (and address), as a wrong password
    # is; reserved before the code is compared, so that codes sent at once are counted.
    held = ratelimit.reserve(c, [("identifiant", identifiant)], also=[("ip", client_ip())])
    if held is None:
        raise Refusal(ratelimit.MESSAGE, 429)
    tries = state["essais"]
    # + 1: left() already counts this attempt, and check() wants it included.
    problem = codes.check(state, presented, ratelimit.left(c, "identifiant", identifiant) + 1)
    sess().set("mfa", state)  # keeps the try count
    if state["essais"] > tries:  # a wrong code, not an expired one: a guess that failed
        ratelimit.failed(c, held)
        if ratelimit.blocked(c, "identifiant", identifiant):
            raise Refusal(ratelimit.MESSAGE, 429)
    else:  # right, or no guess made (expired, no tries left): not a failure
        ratelimit.release(c, held)
    if problem:
        return render("code.html", 401, canal=canal, erreur=problem)
    sess().pop("mfa")
    sess().pop("otp_force")
    with db.tx(c):
        accounts.update(c, row["id"], derniere_otp_le=db.now())
    row = accounts.by_id(c, row["id"])
    if state.get("association"):
        from .carte import associate  # here: carte imports this module
        return associate(row)
    return after_otp(row, STRONG)


@bp.post("/connexion/code/renvoyer")
def renvoyer():
    row = _pending_account("mfa")
    if row is None:
        return redirect("/")
    if ratelimit.blocked(conn(), "identifiant", row["identifiant"]):
        raise Refusal(ratelimit.MESSAGE, 429)
    send_otp(row, association=bool(sess().get("mfa").get("association")))
    flash("info", "Un nouveau code de confirmation vous a été envoyé.")
    return redirect("/connexion/code")


@bp.route("/connexion/cgu", methods=["GET", "POST"])
def cgu():
    row = _pending_account("cgu")
    if row is None:
        return redirect("/")
    page = cgu_step("/connexion/cgu")
    if page is not None:
        return page
    c = conn()
    with db.tx(c):
        accounts.update(c, row["id"], cgu_acceptees_le=db.now())
        return redirect(open_session(row["id"], sess().get("cgu")["methode"]))


@bp.post("/deconnexion")
def deconnexion():
    with db.tx(conn()):
        g.sess = store.rotate(conn(), sess(), None)
        g.cookie_changed = True
    flash("info", "Vous êtes déconnecté.")
    return redirect("/")
