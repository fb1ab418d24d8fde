"""The référent's page: create the accounts of the users of his établissement (manual I.1)."""

from __future__ import annotations

from flask import Blueprint, current_app, redirect

from .. import accounts
from ..referent import AccountError, NewAccount, create_account
from ..web import Refusal, TypedAddressSender, conn, current_user, flash, form, login_required, \
    render

bp = Blueprint("referent", __name__)


def _referent():
    user = current_user()
    if not user["referent"]:
        raise Refusal("Seuls les référents ViaTrajectoire de votre établissement peuvent créer "
                      "les comptes des utilisateurs.", 403)
    return user


def _page(user, status: int = 200, **extra):
    rows = conn().execute(
        "SELECT c.*, (SELECT COUNT(*) FROM cartes WHERE compte_id = c.id) AS cartes FROM comptes c "
        "WHERE c.type = 'etablissement' AND c.etablissement = ? ORDER BY c.nom, c.prenom",
        (user["etablissement"],)).fetchall()
    return render("referent.html", status, comptes=rows, nom_de=accounts.name_of,
                  etablissement=user["etablissement"], **extra)


@bp.get("/referent")
@login_required
def page():
    return _page(_referent())


@bp.post("/referent")
@login_required
def creer():
    user = _referent()
    new = NewAccount(identifiant=form("identifiant"), email=form("email"), nom=form("nom"),
                     prenom=form("prenom"), profession=form("profession"),
                     etablissement=user["etablissement"], rpps=form("rpps") or None)
    try:
        if not new.nom or not new.prenom:
            raise AccountError("le nom et le prénom sont obligatoires")
        # The address was typed here: the relay's refusal of it comes back on this form.
        create_account(conn(), current_app.config["SITE"], TypedAddressSender(), new)
    except AccountError as e:
        reason = str(e)
        return _page(user, 400, erreur=reason[0].upper() + reason[1:] + ".", valeurs=new)
    flash("succes", f"Le compte « {new.identifiant} » a été créé. Un e-mail a été envoyé à "
                    f"{new.email} avec l'identifiant et le lien pour définir le mot de passe.")
    return redirect("/referent")
