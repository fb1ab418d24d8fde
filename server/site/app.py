"""The Flask application: blueprints, request plumbing, and French error pages."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from flask import Flask, abort, g, render_template, request
from werkzeug.exceptions import HTTPException

from . import db, sessions, web
from .config import SiteConfig
from .sender import OutboxSender, Sender, SmtpSender
from .views import assistant, carte, compte, connexion, divers, liberal, motdepasse, referent

log = logging.getLogger(__name__)

HTTP_MESSAGES = {
    400: "La demande reçue est invalide.",
    403: "Accès refusé.",
    404: "Cette page n'existe pas.",
    405: "Cette action n'est pas possible sur cette page.",
    411: "La demande doit indiquer sa longueur (Content-Length) : les envois par morceaux "
         "(Transfer-Encoding: chunked) ne sont pas acceptés.",
    413: "La demande envoyée est trop volumineuse.",
    414: "L'adresse demandée est trop longue.",
    431: "La demande porte des en-têtes trop longs ou trop nombreux.",
    429: "Trop de demandes. Réessayez dans quelques minutes.",
}


def make_sender(config: SiteConfig) -> Sender:
    outbox = OutboxSender(config.outbox_dir)
    return SmtpSender(config.smtp, config.sender_address, outbox) if config.smtp else outbox


def create_app(config: SiteConfig, card_auth=None) -> Flask:
    db.init(config.db_path)
    app = Flask(__name__, static_folder="static", template_folder="templates")
    app.config.update(SITE=config, SENDER=make_sender(config), MAX_CONTENT_LENGTH=64 * 1024,
                      TRUSTED_HOSTS=trusted_hosts(config.origin))
    if card_auth is None:
        from .cardauth import CardAuth
        card_auth = CardAuth(config)
    app.config["CARD_AUTH"] = card_auth
    for module in (connexion, carte, motdepasse, liberal, assistant, compte, referent, divers):
        app.register_blueprint(module.bp)
    outbox_page = isinstance(app.config["SENDER"], OutboxSender)
    app.context_processor(lambda: {"boite_mail": outbox_page})
    app.before_request(_whole_bodies_only)
    app.before_request(web.before)
    app.after_request(web.after)
    app.after_request(web.security_headers)
    app.teardown_appcontext(web.teardown)
    app.register_error_handler(web.Refusal, _refusal)
    # A form's refusal goes back to the page of the form (Flask picks the most derived class).
    app.register_error_handler(web.FormRefusal, web.refused_form)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
    conn = db.connect(config.db_path)
    with db.tx(conn):
        sessions.forget_idle(conn, config.session_idle.total_seconds())
    conn.close()
    return app


def trusted_hosts(origin: str) -> list[str]:
    """The Host headers answered: the origin's host (the loopback address too for localhost,
    the same machine). Another is a 400 before any page is made: URLs the site builds
    (Werkzeug's redirects of "//" in a path) would otherwise name the host a client sent."""
    host = urlsplit(origin).hostname or ""
    return [host, "127.0.0.1"] if host == "localhost" else [host]


def _whole_bodies_only():
    """A body sent in chunks is read by Werkzeug up to MAX_CONTENT_LENGTH and then cut
    short, silently: the fields after the cut were lost, and the form refused for a field
    the user did fill in. Browsers send forms and fetch() bodies with a length."""
    if "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        abort(411)


def _answer(code: str, message: str, status: int):
    if web.wants_json() or request.path.endswith(".json"):
        return web.json_error(code, message, status)
    if g.get("sess") is None:  # refused before a session existed (e.g. an unreadable request)
        return render_template("erreur.html", erreur=message, messages=[], user=None, csrf=""), status
    return web.render("erreur.html", status, erreur=message)


def _refusal(e: web.Refusal):
    return _answer(e.code or "REFUS", e.message, e.status)


def _http_error(e: HTTPException):
    status = e.code or 500
    return _answer("REQUETE_INVALIDE" if status < 500 else "ERREUR_INTERNE",
                   HTTP_MESSAGES.get(status, "La demande n'a pas pu être traitée."), status)


def _unexpected(e: Exception):
    log.exception("erreur inattendue sur %s %s", request.method, request.path)
    g.failed = True  # the session keeps its state from before this request
    return _answer("ERREUR_INTERNE", "Une erreur inattendue est survenue ; rien n'a été "
                   "enregistré. Réessayez dans quelques instants.", 500)
