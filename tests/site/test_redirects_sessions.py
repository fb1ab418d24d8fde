"""Where `retour` may lead (this site only, never a broken header), sessions that stay ended
after logout and login, and the refusals of the form pages as pages, not JSON."""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import sqlite3
import threading
from urllib.parse import quote

import pytest
import requests

from server.site import db, sessions
from tests.site.browser import Browser, age, alert, code_in, last_message, text_of
from tests.site.flows import PASSWORD, established, to_liberal_creation

# Each leads to another site once a browser reads it (tabs and newlines dropped, "\" read as
# "/"), breaks the Location header (newlines), or is simply not a path of this site.
ELSEWHERE = ["/\t/evil.example.test", "/\n/evil.example.test", "/\r\nX-Injecte: 1",
             "/\\evil.example.test", "/\\/evil.example.test", "//evil.example.test",
             "/\x00/evil.example.test", "/\x0b/evil.example.test", "/ /evil.example.test",
             "https://evil.example.test/", "/\u3000/evil.example.test", "/é", "",
             "/" + "a" * 600]
EMAIL = "retour@chu.example.test"


def tiers(retour: str) -> str:
    return "/connexion/site-tiers?site=DPI&retour=" + quote(retour, safe="/")


def location(answer: requests.Response) -> str | None:
    assert answer.status_code < 500, (answer.status_code, answer.text[:300])
    return answer.headers.get("Location")


def store(site) -> sqlite3.Connection:
    return db.connect(site.data_dir / "site.sqlite")


def session_id(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def cookie(browser: Browser) -> str:
    return browser.http.cookies.get(sessions.COOKIE)


def as_cookie(site, raw: str, path: str) -> requests.Response:
    """What a copy of an old cookie opens."""
    return requests.get(site.origin + path, cookies={sessions.COOKIE: raw},
                        verify=str(site.ca_cert_path), allow_redirects=False, timeout=30)


@pytest.fixture(scope="module")
def account(site) -> str:
    """An établissement account past its first connection (no code due by the interval)."""
    established(site, Browser(site), "retour", EMAIL)
    return "retour"


def login_with_code(browser: Browser, identifiant: str) -> requests.Response:
    """Identifiant, mot de passe, then the e-mailed code; the last answer, not followed."""
    # As if a quarter of an hour had passed: the site limits the codes sent to one account,
    # and these tests send many to the same one.
    age(browser.site, "UPDATE tentatives SET le = le - 3600")
    browser.get("/")
    answer = browser.post("/connexion", {"identifiant": identifiant, "mot_de_passe": PASSWORD},
                          allow_redirects=False)
    assert location(answer) == "/connexion/code"
    browser.get("/connexion/code")
    return browser.post("/connexion/code", {"code": code_in(last_message(browser.site, EMAIL))},
                        allow_redirects=False)


# -- retour: this site only ------------------------------------------------------------------

@pytest.mark.parametrize("retour", ELSEWHERE)
def test_retour_leading_elsewhere_goes_to_the_espace(site, account, retour):
    browser = Browser(site)
    arrival = browser.get(tiers(retour), allow_redirects=False)
    assert arrival.status_code == 403  # the refusal page, with its way out
    assert text_of(arrival.text, 'data-testid="erreur"') == alert(arrival.text) == (
        "Accès refusé : le site depuis lequel vous souhaitez vous connecter n'a pas de mode de "
        "connexion fort (double authentification ou connexion par carte de professionnel).")
    assert '<form method="post" action="/connexion">' in arrival.text
    assert location(login_with_code(browser, account)) == "/espace"
    # Logged in strongly, the arrival goes straight to retour: still this site only.
    assert location(browser.get(tiers(retour), allow_redirects=False)) == "/espace"


@pytest.mark.parametrize("retour", ["/compte", "/compte?onglet=otp&x=%2F%2Fa#haut", "/"])
def test_retour_on_this_site_is_kept(site, account, retour):
    browser = Browser(site)
    browser.get(tiers(retour))
    assert location(login_with_code(browser, account)) == retour
    assert location(browser.get(tiers(retour), allow_redirects=False)) == retour


@pytest.mark.parametrize("retour", ["/\t/evil.example.test", "/\n/evil.example.test",
                                    "/\\evil.example.test"])
def test_retour_already_in_a_session_is_checked_when_used(site, account, retour):
    """A session stored before the check existed may hold anything: checked again at login."""
    browser = Browser(site)
    browser.get("/")
    c = store(site)
    try:
        with db.tx(c):
            c.execute("UPDATE sessions SET etat = json_set(etat, '$.retour', ?) WHERE id = ?",
                      (retour, session_id(cookie(browser))))
    finally:
        c.close()
    answer = browser.post("/connexion", {"identifiant": account, "mot_de_passe": PASSWORD},
                          allow_redirects=False)
    assert location(answer) == "/espace"


def test_retour_leading_elsewhere_is_not_given_to_the_tile(site, host, ids):
    """The tile passes `redirect` to window.location.assign: a path of this site only."""
    liberal = Browser(site)
    to_liberal_creation(liberal, host, ids["bernard"])
    liberal.post("/liberal/creation", {"email": "dr.retour@cabinet.example.test",
                                       "mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    assert liberal.post("/liberal/cgu", {"accepte": "oui"}).url.endswith("/espace")
    for retour in ["/\t/evil.example.test", "/\n/evil.example.test", "/\\evil.example.test"]:
        browser = Browser(site)
        browser.get(tiers(retour))
        answer = browser.card_login(host, ids["bernard"])
        assert answer.status_code == 200 and answer.json() == {"redirect": "/espace"}, retour
        assert location(browser.get(tiers(retour), allow_redirects=False)) == "/espace"


def test_a_newline_in_retour_breaks_no_later_login(site, account):
    """Planted by a link from elsewhere, a newline once made every later login a 500."""
    browser = Browser(site)
    for retour in ("/\n", "/\r\nX-Injecte: 1"):
        browser.get("/connexion/site-tiers?site=DPI&retour=" + quote(retour, safe="/"))
        assert location(login_with_code(browser, account)) == "/espace"
        arrival = browser.get("/connexion/site-tiers?retour=/%0a", allow_redirects=False)
        assert location(arrival) == "/espace"
        assert "X-Injecte" not in arrival.headers
        browser.get("/espace")  # the CSRF token of the session the login made
        browser.logout()
        answer = browser.login(account, PASSWORD)  # no code: within the interval
        assert answer.status_code == 200 and answer.url.endswith("/espace")
        browser.logout()


# -- sessions that stay ended ----------------------------------------------------------------

def test_a_request_ending_after_logout_does_not_bring_the_session_back(site, browser):
    established(site, browser, "fin1", "fin1@chu.example.test")
    raw = cookie(browser)
    c = store(site)
    try:
        # A request in flight on this cookie read the session before the logout...
        stale = sessions.load(c, raw, 7200)
        assert stale is not None and stale.compte_id is not None
        assert location(browser.post("/deconnexion", allow_redirects=False)) == "/"
        # ... and writes what it changed once the logout is done (as /connexion/site-tiers).
        stale.set("retour", "/compte")
        assert_saving_revives_nothing(c, stale)
    finally:
        c.close()
    assert location(as_cookie(site, raw, "/espace")) == "/"


def assert_saving_revives_nothing(c, stale) -> None:
    """The stale request's end: it saves what it changed; the deleted row stays deleted."""
    with db.tx(c):
        sessions.save(c, stale)
    assert c.execute("SELECT 1 FROM sessions WHERE id = ?", (stale.id,)).fetchone() is None


def test_a_request_ending_after_login_does_not_bring_the_old_session_back(site, browser):
    """Login by password, then again with a code (arrival from a site tiers): the weaker
    session's id is dropped, and stays dropped."""
    established(site, browser, "fin2", "fin2@chu.example.test")
    browser.logout()
    assert browser.login("fin2", PASSWORD).url.endswith("/espace")  # password only
    raw = cookie(browser)
    c = store(site)
    try:
        stale = sessions.load(c, raw, 7200)
        assert stale is not None and stale.get("methode") == "mot de passe"
        browser.get(tiers("/compte"))
        browser.post("/connexion", {"identifiant": "fin2", "mot_de_passe": PASSWORD})
        page = browser.post("/connexion/code",
                            {"code": code_in(last_message(site, "fin2@chu.example.test"))})
        assert page.url.endswith("/compte") and cookie(browser) != raw
        stale.set("messages", [])
        assert_saving_revives_nothing(c, stale)
    finally:
        c.close()
    assert location(as_cookie(site, raw, "/espace")) == "/"


def test_logout_wins_over_requests_in_flight(site, browser):
    """The same over HTTP: requests that write to the session run on the cookie while it
    logs out; once they are all done, the old cookie opens nothing."""
    established(site, browser, "fin3", "fin3@chu.example.test")
    for _ in range(5):
        browser.get("/espace")
        raw, csrf = cookie(browser), browser.csrf
        done = threading.Event()

        def writer() -> int:
            sent = 0
            while not done.is_set():
                location(as_cookie(site, raw, tiers("/compte")))
                sent += 1
            return sent

        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            writers = [pool.submit(writer) for _ in range(4)]
            out = requests.post(site.origin + "/deconnexion", data={"csrf_token": csrf},
                                cookies={sessions.COOKIE: raw}, verify=str(site.ca_cert_path),
                                allow_redirects=False, timeout=30)
            for _ in range(4):  # a few more on the old cookie, after the logout
                location(as_cookie(site, raw, tiers("/compte")))
            done.set()
            assert all(w.result() > 0 for w in writers)
        assert location(out) == "/"
        assert location(as_cookie(site, raw, "/espace")) == "/"
        assert browser.login("fin3", PASSWORD).url.endswith("/espace")


# -- the form pages answer as pages ----------------------------------------------------------

def html_refusal(answer: requests.Response, status: int) -> str:
    assert answer.status_code == status, (answer.status_code, answer.text[:300])
    assert answer.headers["Content-Type"].startswith("text/html"), answer.text[:300]
    return alert(answer.text)


def test_refusals_on_the_association_form_are_pages(site, host, ids):
    made = site.create_account("assoc", "assoc@chu.example.test", "Leroy", "Marc")
    assert made.returncode == 0, made.stderr
    browser = Browser(site)
    path = "/connexion/carte-cps/association"
    browser.get("/")
    refused = browser.post(path, {"identifiant": "assoc", "mot_de_passe": PASSWORD}, csrf=False)
    assert "jeton de sécurité absent ou invalide" in html_refusal(refused, 403)
    refused = browser.post(path, {"identifiant": "x" * 100_000, "mot_de_passe": "y"})
    assert html_refusal(refused, 413) == "La demande envoyée est trop volumineuse."
    refused = browser.http.put(site.origin + path, data={"csrf_token": browser.csrf},
                               verify=browser.verify, timeout=30)
    assert html_refusal(refused, 405) == "Cette action n'est pas possible sur cette page."

    answer = browser.card_login(host, ids["martin"])  # an unknown card: the form
    assert answer.json() == {"redirect": path}
    browser.get(path)
    refused = browser.post(path, {"identifiant": "x" * 500, "mot_de_passe": "y"})
    assert html_refusal(refused, 400) == "Une des valeurs saisies est trop longue."
    for i in range(5):
        refused = browser.post(path, {"identifiant": "assoc", "mot_de_passe": f"faux{i}xxxxxx"})
        assert html_refusal(refused, 401) == "Identifiant ou mot de passe incorrect."
    refused = browser.post(path, {"identifiant": "assoc", "mot_de_passe": PASSWORD})
    assert html_refusal(refused, 429).startswith("Trop de tentatives de connexion.")


def test_the_card_calls_still_answer_json(site, browser):
    browser.get("/")
    for path in ("/connexion/carte-cps/defi", "/connexion/carte-cps"):
        answer = browser.post_json(path, {"token": {}}, csrf=False)
        assert answer.status_code == 403 and answer.headers["Content-Type"] == "application/json"
        assert answer.json()["error"]["code"] == "CSRF_INVALIDE"
    answer = browser.post_json("/connexion/carte-cps", {"token": {"x": "A" * 100_000}})
    assert answer.status_code == 413 and json.loads(answer.text)["error"]["message"] == (
        "La demande envoyée est trop volumineuse.")
