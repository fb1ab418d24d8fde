"""Request plumbing shared by the views: database, session, CSRF, login, flash messages."""

from __future__ import annotations

import functools
import logging
import sqlite3
from typing import Any, Callable

from flask import current_app, g, jsonify, redirect, render_template, request
from werkzeug.exceptions import HTTPException

from . import accounts, db, sessions
from .sender import Message, RecipientRefused, SendError

log = logging.getLogger(__name__)

UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
# The JSON APIs (the card tile's two calls), by exact path: the form pages under the same
# prefix (/connexion/carte-cps/association) answer their refusals as HTML pages.
JSON_PATHS = frozenset({"/connexion/carte-cps", "/connexion/carte-cps/defi"})
DEFAULT_RETURN = "/espace"
MAX_RETURN = 512
# SQLite's integers are 64-bit signed: a larger id in a path names no row (and cannot even be
# bound to a query: OverflowError).
MAX_ROWID = 2**63 - 1


class Refusal(Exception):
    """A request refused with a French message and an HTTP status."""

    def __init__(self, message: str, status: int = 400, code: str | None = None):
        super().__init__(message)
        self.message, self.status, self.code = message, status, code


class FormRefusal(Refusal):
    """A refusal of what a form sent: answered on the page the form is on, with the reason
    next to the form and what was typed (refused_form)."""


class SendFailure(FormRefusal):
    """The e-mail of a request could not be sent: raised inside its transaction, so nothing
    of the request is kept (the session neither)."""


class AddressRefused(SendFailure):
    """The relay refused, for good, an address the person has just typed."""

    def __init__(self, message: str, address: str):
        super().__init__(message, 400, "ADRESSE_REFUSEE")
        self.address = address


def conn() -> sqlite3.Connection:
    if "db" not in g:
        g.db = db.connect(current_app.config["SITE"].db_path)
    return g.db


def sess() -> sessions.Session:
    return g.sess


def wants_json() -> bool:
    return request.path in JSON_PATHS and request.method in UNSAFE


def before() -> None:
    cfg = current_app.config["SITE"]
    if request.endpoint in (None, "static", "divers.cpsbridge_js"):
        return
    s = sessions.load(conn(), request.cookies.get(sessions.COOKIE), cfg.session_idle.total_seconds())
    if s is None:
        s = sessions.fresh()
    g.sess = s
    if request.method in UNSAFE:
        presented = request.headers.get("X-CSRF-Token") or request.form.get("csrf_token")
        if s.new or not s.csrf_ok(presented):
            raise Refusal("La page a expiré ou la demande ne vient pas de ce site (jeton de "
                          "sécurité absent ou invalide). Rechargez la page, puis recommencez.",
                          403, "CSRF_INVALIDE")
        # A second line behind the token: a browser's Origin, when sent, must be ours.
        origin = request.headers.get("Origin")
        if origin and origin != cfg.origin:
            raise Refusal("Cette demande ne vient pas de ce site.", 403, "CSRF_INVALIDE")


def after(response):
    s: sessions.Session | None = g.get("sess")
    if s is None or g.get("failed"):
        return response
    c = conn()
    with db.tx(c):
        if s.new:  # sessions left idle go as new ones come
            sessions.forget_idle(c, current_app.config["SITE"].session_idle.total_seconds())
        if s.dirty:
            sessions.save(c, s)
        elif not s.new:
            sessions.touch(c, s)
    if s.new or g.get("cookie_changed"):
        response.set_cookie(sessions.COOKIE, s.raw, secure=True, httponly=True, samesite="Lax",
                            path="/")
    response.headers.setdefault("Cache-Control", "no-store")
    return response


SECURITY_HEADERS = {
    # Scripts and styles from this site only (no inline code in the pages); never framed.
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; "
                               "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; "
                               "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    # E-mailed links carry a secret in their path: no other site sees it. (Not no-referrer:
    # browsers would then send "Origin: null" on this site's own forms.)
    "Referrer-Policy": "same-origin",
    "Strict-Transport-Security": "max-age=31536000",
}


def security_headers(response):
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response


def teardown(_exc) -> None:
    c = g.pop("db", None)
    if c is not None:
        c.close()


def current_user() -> sqlite3.Row | None:
    s = g.get("sess")
    if s is None or s.compte_id is None:
        return None
    if "user" not in g:
        g.user = accounts.by_id(conn(), s.compte_id)
    return g.user


def login_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if current_user() is None:
            flash("info", "Connectez-vous pour accéder à cette page.")
            return redirect("/")
        return view(*args, **kwargs)
    return wrapped


def open_session(compte_id: int, methode: str, carte: str | None = None) -> str:
    """Logged in: a new session id (no fixation); returns where to go next. `carte`: the
    idNat of the card that logged in (removing it from the account ends this session)."""
    old = sess()
    retour = old.get("retour")
    new = sessions.rotate(conn(), old, compte_id)
    new.set("methode", methode)
    if carte is not None:
        new.set("carte_connexion", carte)
    new.set("messages", old.get("messages", []))
    sessions.save(conn(), new)
    g.sess, g.cookie_changed = new, True
    g.pop("user", None)
    return safe_return(retour)  # again here: an older session may hold an unchecked value


def renew_session() -> None:
    """The same login under a new id (after a new password: a copy of the old cookie opens
    nothing); pending steps are dropped, as at any rotation."""
    old = sess()
    new = sessions.rotate(conn(), old, old.compte_id)
    for key in ("methode", "carte_connexion", "messages"):
        if key in old.etat:
            new.set(key, old.etat[key])
    sessions.save(conn(), new)
    g.sess, g.cookie_changed = new, True


def safe_return(value: object) -> str:
    r"""A path of this site to go back to, or the default destination.

    Only "/" followed by printable ASCII (percent-encoded is fine): browsers drop tabs and
    newlines and read a backslash as a slash, so "/\t/x", "/\x" and "//x" all lead to
    another site; a newline would also break the Location header (a 500)."""
    if not isinstance(value, str) or not 0 < len(value) <= MAX_RETURN or value[0] != "/":
        return DEFAULT_RETURN
    if value[1:2] == "/" or "\\" in value:
        return DEFAULT_RETURN
    if any(not "!" <= ch <= "~" for ch in value):  # controls, spaces, non-ASCII
        return DEFAULT_RETURN
    return value


def flash(kind: str, text: str) -> None:
    s = sess()
    s.set("messages", [*s.get("messages", []), [kind, text]])


# Never shown again on a refused form's page: secrets, and the CSRF token (the page has its own).
NOT_KEPT = frozenset({"csrf_token", "mot_de_passe", "confirmation", "code"})


def typed() -> dict[str, str]:
    """What the form this request sent holds, but secrets: a refused form shows it again."""
    if request.method not in UNSAFE:
        return {}
    try:
        fields = request.form
    except HTTPException:  # a body too large or unreadable: nothing to show again
        return {}
    return {name: value for name, value in fields.items() if name not in NOT_KEPT}


def render(template: str, status: int = 200, **ctx: Any):
    """A page; `saisie` in templates is what the refused form held (the request's own form by
    default), which its fields show in place of their usual value."""
    refused = g.get("refused_form")
    if refused is not None:  # the page of a refused form, shown again (refused_form below)
        ctx["erreur"], ctx["saisie"] = refused
    if "saisie" not in ctx:
        ctx["saisie"] = typed()
    msgs = sess().pop("messages", []) if g.get("sess") else []
    return render_template(template, messages=msgs, user=current_user(),
                           csrf=g.sess.csrf if g.get("sess") else "", **ctx), status


def cgu_step(action: str, **page: Any):
    """The CGU acceptance step shared by the flows (manual I.2 and II.1): the page on GET,
    the page again with the reason when the box is not ticked, None once accepted. `page`:
    more for the page (adresse, modifier: the address typed before, and where to change it)."""
    if request.method == "GET":
        return render("cgu_accepter.html", action=action, **page)
    if request.form.get("accepte") != "oui":
        return render("cgu_accepter.html", 400, action=action, **page, champs=("accepte",),
                      erreur="Cochez la case pour indiquer que vous avez pris connaissance des "
                             "Conditions Générales d'Utilisation.")
    return None


SEND_FAILED = ("L'e-mail n'a pas pu être envoyé : le service de messagerie est momentanément "
               "indisponible. Rien n'a été enregistré ; réessayez dans quelques minutes.")
RECIPIENT_FAILED = ("L'e-mail n'a pas pu être envoyé : le serveur de messagerie a refusé l'adresse "
                    "de destination. Rien n'a été enregistré.")


def address_refused(address: str, then: str = "puis recommencez.") -> str:
    return (f"L'adresse e-mail {address} a été refusée par le serveur de messagerie : elle "
            f"n'existe pas ou ne peut pas recevoir d'e-mails. Vérifiez-la, corrigez-la si "
            f"besoin, {then}")


def send(message: Message, typed_address: bool = False) -> None:
    """Send, inside the request's transaction: a failure leaves nothing written.
    `typed_address`: the address is one the person has just typed, so the relay's refusal
    of it is theirs to correct (AddressRefused, 400); any other failure is the site's
    (SendFailure, 503). A failure to write the outbox stays unexpected (500)."""
    try:
        current_app.config["SENDER"].send(message)
    except RecipientRefused as e:
        if typed_address:
            log.info("adresse saisie refusée : %s", e)
            raise AddressRefused(address_refused(message.to), message.to) from e
        log.warning("e-mail non envoyé : %s", e)
        raise SendFailure(RECIPIENT_FAILED, 503, "ENVOI_IMPOSSIBLE") from e
    except SendError as e:
        log.warning("e-mail non envoyé : %s", e)
        raise SendFailure(SEND_FAILED, 503, "ENVOI_IMPOSSIBLE") from e


def check_relay() -> None:
    """SendFailure (503) if no e-mail could be sent now: for a page whose answer must not
    depend on whether it sends one."""
    try:
        current_app.config["SENDER"].check()
    except SendError as e:
        log.warning("service de messagerie indisponible : %s", e)
        raise SendFailure(SEND_FAILED, 503, "ENVOI_IMPOSSIBLE") from e


class TypedAddressSender:
    """The site's sender for code that takes a Sender (referent.create_account), when the
    address is one the person has just typed."""

    def send(self, message: Message) -> None:
        send(message, typed_address=True)


def url(path: str) -> str:
    return current_app.config["SITE"].origin + path


def client_ip() -> str:
    return request.remote_addr or "inconnue"


def json_error(code: str, message: str, status: int):
    return jsonify({"error": {"code": code, "message": message}}), status


TOO_LONG = "Une des valeurs saisies est trop longue."


def form(name: str, max_len: int = 200) -> str:
    value = request.form.get(name, "")
    if len(value) > max_len:
        raise FormRefusal(TOO_LONG, 400, "REQUETE_INVALIDE")
    return value.strip()


def empty_fields(**values: str) -> tuple[str, ...]:
    """The names of the fields left empty: those a refusal « Renseignez … » is about, marked
    on the page (aria-invalid, templates/_aria.html)."""
    return tuple(name for name, value in values.items() if not value)


# POST paths whose form is on another page than their own GET.
FORM_PAGES = {"/connexion": "/", "/connexion/code/renvoyer": "/connexion/code"}


def form_page(path: str) -> str:
    if path in FORM_PAGES:
        return FORM_PAGES[path]
    if path.startswith("/compte/"):
        return "/compte"
    return path


def refused_form(e: FormRefusal):
    """A form's refusal, on the page the form is on: that page's own view renders it (a GET,
    which changes nothing), with the reason next to the form and every field as typed (a
    value too long comes back whole, to be shortened there), passwords and codes excepted.
    A page that cannot be shown again (none, or one that now redirects): the bare refusal."""
    if isinstance(e, SendFailure):
        g.failed = True  # the session keeps its state from before this request, as the db does
    if wants_json():
        return json_error(e.code or "REFUS", e.message, e.status)
    response = _form_page_again(e)
    if response is None:
        response = current_app.make_response(render("erreur.html", e.status, erreur=e.message))
    response.headers["Cache-Control"] = "no-store"
    return response


def _form_page_again(e: FormRefusal):
    if request.method not in UNSAFE or g.get("sess") is None:
        return None
    saisie, page = typed(), form_page(request.path)
    try:
        endpoint, args = current_app.create_url_adapter(request).match(page, method="GET")
    except HTTPException:  # no such page (RequestRedirect is one too)
        return None
    # The same browser's request, as a GET of that page: cookies, address and host kept.
    environ = {**request.environ, "REQUEST_METHOD": "GET", "PATH_INFO": page,
               "QUERY_STRING": "", "CONTENT_LENGTH": "0"}
    environ.pop("CONTENT_TYPE", None)
    with current_app.request_context(environ):
        g.refused_form = (e.message, saisie)
        try:
            response = current_app.make_response(current_app.view_functions[endpoint](**args))
        except (Refusal, HTTPException):
            return None
        finally:
            g.pop("refused_form", None)
    if response.status_code >= 300:  # the page sends elsewhere now (logged out, step gone)
        return None
    response.status_code = e.status
    return response
