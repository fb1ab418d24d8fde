"""The logged-in pages: the espace, and the page de gestion du compte (OTP by SMS,
assistants of a libéral)."""

from __future__ import annotations

import re
import time

from flask import Blueprint, current_app, redirect

from .. import accounts, codes, db, links, mails, ratelimit, sessions
from ..web import MAX_ROWID, Refusal, conn, current_user, flash, form, login_required, render, \
    send, sess, url
from .liberal import EMAIL

bp = Blueprint("compte", __name__)


@bp.get("/espace")
@login_required
def espace():
    user, c = current_user(), conn()
    return render("espace.html", nom=accounts.name_of(user), type=accounts.TYPES[user["type"]],
                  methode=sess().get("methode", ""),
                  pour=[accounts.name_of(d) for d in accounts.delegations_received(c, user["id"])])


def _account_page(status: int = 200, **extra):
    user, c = current_user(), conn()
    cartes = [{"id_nat": row["id_nat"], "le": _date(row["associee_le"])}
              for row in accounts.cards_of(c, user["id"])]
    return render("compte.html", status, nom=accounts.name_of(user), compte=user,
                  type=accounts.TYPES[user["type"]], cartes=cartes,
                  assistants=accounts.delegations_given(c, user["id"]),
                  pour=[accounts.name_of(d) for d in accounts.delegations_received(c, user["id"])],
                  verification=sess().get("telephone"), **extra)


def _date(epoch: float) -> str:
    return time.strftime("%d/%m/%Y", time.localtime(epoch))


@bp.get("/compte")
@login_required
def compte():
    return _account_page()


NOT_YOURS = "Cette carte n'est pas associée à votre compte ou en a déjà été retirée."


@bp.post("/compte/cartes/retirer")
@login_required
def retirer_carte():
    """Remove a card from the account (one linked by mistake, before the holder check, or
    one lost): first the question, then, confirmed, the removal. The card no longer logs
    in, the sessions it opened end (not this one), the account's address is told; to use
    it again, it must be associated again (password, code when due, holder check)."""
    user, c = current_user(), conn()
    id_nat = form("id_nat", 64)
    if id_nat not in {row["id_nat"] for row in accounts.cards_of(c, user["id"])}:
        raise Refusal(NOT_YOURS, 404)
    if form("confirmation") != "oui":
        return _account_page(retrait=id_nat)
    with db.tx(c):
        if not accounts.unlink_card(c, user, id_nat):  # removed meanwhile in another tab
            raise Refusal(NOT_YOURS, 404)
        sessions.end_card_sessions(c, user["id"], id_nat, sess())
        send(mails.card_removed(user["email"], accounts.name_of(user), user["identifiant"],
                                id_nat, url("/mot-de-passe-oublie")))
    flash("succes", f"La carte n° {id_nat} a été retirée de votre compte. Elle ne permet plus "
                    "de vous connecter ; pour l'utiliser de nouveau, connectez-vous par carte CPx "
                    "puis associez-la à votre compte avec votre identifiant et votre mot de passe.")
    return redirect("/compte")


@bp.post("/compte/email/lien")
@login_required
def lien_email():
    """A new validation link, for an address not validated yet (the previous link expired or
    went astray); a few per quarter of an hour, each retiring the one before."""
    user, c = current_user(), conn()
    if user["email_valide"]:
        flash("info", "Votre adresse e-mail est déjà validée.")
        return redirect("/compte")
    cfg = current_app.config["SITE"]
    with db.tx(c):  # checked where it is recorded: requests sent at once cannot all pass
        if ratelimit.blocked(c, "lien-email", str(user["id"])):
            return _account_page(429, erreur="Trop de liens de validation envoyés. Réessayez "
                                             "dans 15 minutes.")
        ratelimit.record(c, "lien-email", str(user["id"]))
        links.retire(c, "valider-email", user["id"])
        token = links.issue(c, "valider-email", cfg.link_ttl, compte_id=user["id"])
        send(mails.validate_email_again(user["email"], accounts.name_of(user),
                                        url(f"/email/valider/{token}"),
                                        int(cfg.link_ttl.total_seconds() // 3600)))
    flash("succes", f"Un nouveau lien de validation a été envoyé à {user['email']}. Cliquez sur "
                    "le lien de cet e-mail pour valider votre adresse.")
    return redirect("/compte")


def normalize_phone(raw: str) -> str | None:
    """A French mobile number, as +33XXXXXXXXX; None when it is not one."""
    digits = re.sub(r"[\s.\-]", "", raw)
    # [0-9], not \d (which takes ١٢٣…): the number is also the key of its SMS limit, and a
    # number must have one spelling only.
    if re.fullmatch(r"0[67][0-9]{8}", digits):
        return "+33" + digits[1:]
    if re.fullmatch(r"\+33[67][0-9]{8}", digits):
        return digits
    return None


def _too_many_sms(where: str) -> str:
    return (f"Trop de SMS de vérification envoyés {where}. Pour votre sécurité, attendez 15 "
            f"minutes avant de demander un nouveau code.")


PHONE_LOCKED = ("Trop de codes de vérification erronés. Pour votre sécurité, la vérification du "
                "numéro de téléphone est suspendue pendant 15 minutes.")


@bp.post("/compte/telephone")
@login_required
def telephone():
    numero = normalize_phone(form("telephone", 30))
    if numero is None:
        return _account_page(400, champs=("telephone",),
                             erreur="Renseignez un numéro de téléphone mobile valide "
                                    "(par exemple 06 12 34 56 78).")
    c, key = conn(), str(current_user()["id"])
    cfg = current_app.config["SITE"]
    code = codes.new_code()
    with db.tx(c):
        # Counted per account, not per session: each send reaches whatever number was typed.
        # Checked in the sending transaction: requests sent at once cannot all pass.
        if ratelimit.blocked(c, "code-telephone", key):
            return _account_page(429, erreur=PHONE_LOCKED)
        if ratelimit.blocked(c, "envoi-sms", key):
            return _account_page(429, erreur=_too_many_sms("pour votre compte"))
        if ratelimit.blocked(c, "sms-numero", numero):
            return _account_page(429, erreur=_too_many_sms("à ce numéro"))
        ratelimit.record(c, "envoi-sms", key)
        ratelimit.record(c, "sms-numero", numero)
        send(mails.phone_code(numero, code, int(cfg.code_ttl.total_seconds() // 60)))
    sess().set("telephone", codes.pending(code, cfg.code_ttl.total_seconds(), numero=numero))
    flash("info", "Un code de vérification vous a été envoyé par SMS. Renseignez-le ci-dessous.")
    return redirect("/compte")


@bp.post("/compte/telephone/code")
@login_required
def telephone_code():
    c, key = conn(), str(current_user()["id"])
    state, presented = sess().get("telephone"), form("code", 20)
    if not state and not ratelimit.blocked(c, "code-telephone", key):
        return redirect("/compte")
    # Wrong codes count for the account: a new code or another session starts no new count.
    # Reserved before the code is compared, so that codes sent at once are counted too.
    held = ratelimit.reserve(c, [("code-telephone", key)]) if state else None
    if held is None:
        sess().pop("telephone")
        return _account_page(429, erreur=PHONE_LOCKED)
    tries = state["essais"]
    # + 1: left() already counts this attempt, and check() wants it included.
    problem = codes.check(state, presented, ratelimit.left(c, "code-telephone", key) + 1)
    sess().set("telephone", state)
    if state["essais"] > tries:  # a wrong code, not an expired one
        ratelimit.failed(c, held)
        if ratelimit.blocked(c, "code-telephone", key):
            sess().pop("telephone")
            return _account_page(429, erreur=PHONE_LOCKED)
    else:  # right, or no guess made (expired, no tries left)
        ratelimit.release(c, held)
    if problem:
        return _account_page(401, erreur=problem, champs=("code",))
    sess().pop("telephone")
    with db.tx(c):
        ratelimit.clear(c, "code-telephone", key)
        accounts.update(c, current_user()["id"], telephone=state["numero"], telephone_verifie=1)
    flash("succes", "Votre numéro de téléphone est vérifié. Vous pouvez désormais choisir de "
                    "recevoir le code de confirmation par SMS ou par e-mail.")
    return redirect("/compte")


@bp.post("/compte/otp")
@login_required
def otp_canal():
    canal, user = form("canal"), current_user()
    if canal not in ("email", "sms"):
        raise Refusal("Choisissez « E-mail » ou « SMS ».", 400)
    if canal == "sms" and not user["telephone_verifie"]:
        return _account_page(400, champs=("telephone",),
                             erreur="Pour recevoir le code par SMS, renseignez d'abord votre "
                                    "numéro de téléphone puis cliquez sur « Vérifier ».")
    with db.tx(conn()):
        accounts.update(conn(), user["id"], otp_canal=canal)
    flash("succes", "Votre choix est enregistré : le code de confirmation vous sera envoyé par "
                    + ("SMS." if canal == "sms" else "e-mail."))
    return redirect("/compte")


@bp.post("/compte/assistants")
@login_required
def deleguer():
    user, c = current_user(), conn()
    if user["type"] != "liberal":
        raise Refusal("Seul un professionnel libéral peut déléguer ses droits à un assistant.", 403)
    email = form("email")
    if not EMAIL.match(email):
        return _account_page(400, erreur="Renseignez l'adresse e-mail de votre assistant.",
                             champs=("email_assistant",))
    if email.lower() == user["email"].lower():
        return _account_page(400, erreur="Vous ne pouvez pas vous déléguer vos propres droits.",
                             champs=("email_assistant",))
    cfg = current_app.config["SITE"]
    with db.tx(c):
        # Checked in the sending transaction: requests sent at once cannot all pass it.
        if ratelimit.blocked(c, "invitation", str(user["id"])):
            return _account_page(429, erreur="Trop d'invitations envoyées. Réessayez dans 15 "
                                             "minutes.")
        ratelimit.record(c, "invitation", str(user["id"]))
        delegation_id, again = _pending_invitation(c, user["id"], email)
        token = links.issue(c, "delegation", cfg.link_ttl, delegation_id=delegation_id)
        send(mails.delegation(email, accounts.name_of(user), url(f"/assistant/invitation/{token}"),
                              int(cfg.link_ttl.total_seconds() // 3600)), typed_address=True)
    if again:
        flash("succes", f"Une nouvelle invitation a été envoyée à {email}. Le lien de "
                        "l'invitation précédente ne fonctionne plus.")
    else:
        flash("succes", f"Une invitation a été envoyée à {email}.")
    return redirect("/compte")


def _pending_invitation(c, liberal_id: int, email: str) -> tuple[int, bool]:
    """The delegation an invitation to `email` is for, and whether it was already pending:
    one pending invitation per address, whose new link retires the one sent before."""
    row = c.execute("SELECT id FROM delegations WHERE liberal_id = ? AND email = ? COLLATE NOCASE "
                    "AND assistant_id IS NULL AND revoquee_le IS NULL", (liberal_id, email)
                    ).fetchone()
    if row is None:
        cur = c.execute("INSERT INTO delegations (liberal_id, email, creee_le) VALUES (?, ?, ?)",
                        (liberal_id, email, db.now()))
        return cur.lastrowid, False
    c.execute("UPDATE liens SET utilise_le = ? WHERE objet = 'delegation' AND delegation_id = ? "
              "AND utilise_le IS NULL", (db.now(), row["id"]))
    c.execute("UPDATE delegations SET creee_le = ? WHERE id = ?", (db.now(), row["id"]))
    return row["id"], True


NO_DELEGATION = "Cette délégation n'existe pas ou a déjà été retirée."


@bp.post("/compte/assistants/<int:delegation_id>/retirer")
@login_required
def retirer(delegation_id: int):
    user, c = current_user(), conn()
    if delegation_id > MAX_ROWID:  # no row has it; SQLite could not even be asked
        raise Refusal(NO_DELEGATION, 404)
    with db.tx(c):
        cur = c.execute("UPDATE delegations SET revoquee_le = ? WHERE id = ? AND liberal_id = ? "
                        "AND revoquee_le IS NULL", (db.now(), delegation_id, user["id"]))
    if cur.rowcount != 1:
        raise Refusal(NO_DELEGATION, 404)
    flash("succes", "La délégation a été retirée.")
    return redirect("/compte")
