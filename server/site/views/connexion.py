"""The connexion page and what follows a password: code de confirmation (OTP), CGU."""

from __future__ import annotations

import sqlite3

from flask import Blueprint, current_app, g, redirect, request

from .. import accounts, codes, db, mails, ratelimit
from .. import sessions as store
from ..passwords import verify_password
from ..web import Refusal, cgu_step, client_ip, conn, current_user, flash, form, open_session, \
    render, send, sess

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
    if not identifiant or not mot_de_passe:
        return render("accueil.html", 400, erreur="Renseignez votre identifiant et votre mot de passe.",
                      identifiant=identifiant)
    row = check_password(identifiant, mot_de_passe)
    if row is None:
        return render("accueil.html", 401, erreur="Identifiant ou mot de passe incorrect.",
                      identifiant=identifiant)
    return after_password(row)


def check_password(identifiant: str, mot_de_passe: str) -> sqlite3.Row | None:
    """The account if the password is right; rate-limited per identifiant and address."""
    c = conn()
    if ratelimit.blocked(c, "identifiant", identifiant) or ratelimit.blocked(c, "ip", client_ip()):
        raise Refusal(ratelimit.MESSAGE, 429)
    row = accounts.by_identifiant(c, identifiant)
    ok = verify_password(row["mot_de_passe"] if row else None, mot_de_passe[:200])
    with db.tx(c):
        if not ok:
            ratelimit.record(c, "identifiant", identifiant)
            ratelimit.record(c, "ip", client_ip())
            return None
        ratelimit.clear(c, "identifiant", identifiant)
    return row


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
    if row["cgu_acceptees_le"] is None:
        sess().set("cgu", {"compte_id": row["id"], "methode": methode})
        return redirect("/connexion/cgu")
    with db.tx(conn()):
        return redirect(open_session(row["id"], methode))


MAX_SENDS = 5


def send_otp(row: sqlite3.Row) -> None:
    previous = sess().get("mfa") or {}
    sends = previous.get("envois", 0) + 1 if previous.get("compte_id") == row["id"] else 1
    if sends > MAX_SENDS:
        raise Refusal("Trop de codes de confirmation envoyés. Reconnectez-vous dans quelques "
                      "minutes.", 429)
    code = codes.new_code()
    minutes = int(cfg().code_ttl.total_seconds() // 60)
    sms = row["otp_canal"] == "sms" and row["telephone_verifie"] and row["telephone"]
    message = mails.otp_sms(row["telephone"], code, minutes) if sms \
        else mails.otp_email(row["email"], code, minutes)
    send(message)
    sess().set("mfa", codes.pending(code, cfg().code_ttl.total_seconds(), compte_id=row["id"],
                                    canal="sms" if sms else "email", envois=sends))


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
    problem = codes.check(state, form("code", 20))
    sess().set("mfa", state)  # keeps the try count
    if problem:
        return render("code.html", 401, canal=canal, erreur=problem)
    sess().pop("mfa")
    sess().pop("otp_force")
    with db.tx(conn()):
        accounts.update(conn(), row["id"], derniere_otp_le=db.now())
    return after_otp(accounts.by_id(conn(), row["id"]), STRONG)


@bp.post("/connexion/code/renvoyer")
def renvoyer():
    row = _pending_account("mfa")
    if row is None:
        return redirect("/")
    send_otp(row)
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
