"""The other pages: the outbox (demo and tests), the third-party entry, Pro Santé Connect,
the CGU, and the site library of the extension."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, jsonify, redirect, request, send_file

from ..sender import OutboxSender
from ..web import current_user, render, safe_return, sess

bp = Blueprint("divers", __name__)
STRONG_METHODS = ("carte CPx", "mot de passe et code de confirmation")


def outbox() -> OutboxSender | None:
    """The outbox page exists only when no SMTP server is configured (demo, tests): it shows
    codes and links to anyone who can reach the site."""
    sender = current_app.config["SENDER"]
    return sender if isinstance(sender, OutboxSender) else None


@bp.get("/boite-mail")
def boite():
    box = outbox()
    if box is None:
        abort(404)
    return render("boite.html", messages_boite=list(reversed(box.messages())))


@bp.get("/boite-mail.json")
def boite_json():
    box = outbox()
    if box is None:
        abort(404)
    return jsonify([m.__dict__ for m in box.messages()])


@bp.get("/boite-mail/<message_id>")
def message(message_id: str):
    box = outbox()
    found = box.get(message_id) if box else None
    if found is None:
        abort(404)
    return render("message.html", m=found)


# One fixed sentence (manual IV.3): nothing from the link is shown (site_tiers below).
WEAK_SITE = ("Accès refusé : le site depuis lequel vous souhaitez vous connecter n'a pas de mode "
             "de connexion fort (double authentification ou connexion par carte de professionnel).")


@bp.get("/connexion/site-tiers")
def site_tiers():
    """Arrival from a third-party site that did not authenticate strongly (manual IV.3).
    The reference site knows no partner, so every such arrival is the refused case; the
    way out is a strong method here: the card, or a password with a confirmation code.
    The `site` parameter is not shown: on the official domain it would be a message anyone
    can write (a phone number to call, an address to go to)."""
    retour = safe_return(request.args.get("retour"))  # never another site, nor a broken header
    sess().set("retour", retour)
    sess().set("otp_force", True)
    if current_user() is not None and sess().get("methode") in STRONG_METHODS:
        return redirect(retour)
    return render("site_tiers.html", 403, erreur=WEAK_SITE)


@bp.get("/pro-sante-connect")
def psc():
    return render("psc.html")


@bp.get("/cgu")
def cgu():
    return render("cgu.html")


@bp.get("/static/cpsbridge.js")
def cpsbridge_js():
    """The extension's site library, served from the repository (extension/page/)."""
    path = current_app.config["SITE"].extension_js
    if not path.is_file():
        abort(404)
    return send_file(path, mimetype="text/javascript", max_age=0)
