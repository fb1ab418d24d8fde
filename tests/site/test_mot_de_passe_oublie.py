"""Mot de passe oublié (manual IV.2): identification page, e-mail with a link to set a new
password, single-use and expiring."""

from __future__ import annotations

import html

import requests

from tests.site.browser import age, alert, last_message, path_of, text_of
from tests.site.flows import PASSWORD, established

EMAIL = "paul.leroy@chu.example.test"
NEW = "NouveauSecret2025"
SAME_ANSWER = ("Si les informations saisies correspondent à un compte ViaTrajectoire, vous allez "
               "recevoir un e-mail contenant un lien pour définir votre nouveau mot de passe.")


def test_forgotten_password(site, browser):
    established(site, browser, "pleroy", EMAIL, nom="Leroy", prenom="Paul")
    browser.logout()
    page = browser.get("/")
    assert 'href="/mot-de-passe-oublie"' in page.text and "Mot de passe oublié ?" in page.text
    browser.get("/mot-de-passe-oublie")
    count = len(site.outbox())
    # A wrong address gets the same answer and no e-mail.
    page = browser.post("/mot-de-passe-oublie", {"identifiant": "pleroy",
                                                 "email": "autre@example.test"})
    assert SAME_ANSWER in page.text and len(site.outbox()) == count
    page = browser.post("/mot-de-passe-oublie", {"identifiant": "pleroy", "email": EMAIL})
    assert SAME_ANSWER in page.text
    mail = last_message(site, EMAIL)
    assert mail.subject == "ViaTrajectoire : définir un nouveau mot de passe"
    link = path_of(mail.links[0])
    page = browser.get(link)
    assert "Définition d'un nouveau mot de passe" in html.unescape(page.text)
    assert text_of(page.text, 'data-testid="identifiant"') == "pleroy"
    page = browser.post(link, {"mot_de_passe": NEW, "confirmation": NEW})
    assert "Votre mot de passe a été enregistré" in page.text
    assert last_message(site, EMAIL).subject.startswith("ViaTrajectoire : confirmation")

    assert alert(browser.login("pleroy", PASSWORD).text) == "Identifiant ou mot de passe incorrect."
    assert browser.login("pleroy", NEW).url.endswith("/espace")
    assert browser.get(link).status_code == 410


def test_expired_reset_link(site, browser):
    established(site, browser, "mleroy", "m.leroy@chu.example.test", nom="Leroy", prenom="Marie")
    browser.logout()
    browser.get("/mot-de-passe-oublie")
    browser.post("/mot-de-passe-oublie", {"identifiant": "mleroy", "email": "m.leroy@chu.example.test"})
    link = path_of(last_message(site, "m.leroy@chu.example.test").links[0])
    age(site, "UPDATE liens SET expire_le = expire_le - 3601 WHERE objet = 'reinitialiser'")
    page = browser.get(link)
    assert page.status_code == 410 and alert(page.text) == "Ce lien a expiré. Demandez un nouveau lien."
    browser.get("/")  # a fresh page for its CSRF token
    page = browser.post(link, {"mot_de_passe": NEW, "confirmation": NEW})
    assert page.status_code == 410 and alert(page.text) == "Ce lien a expiré. Demandez un nouveau lien."
    assert browser.login("mleroy", NEW).status_code == 401


def test_a_new_request_retires_the_previous_link(site, browser):
    established(site, browser, "rleroy", "r.leroy@chu.example.test", nom="Leroy", prenom="Rose")
    browser.logout()
    browser.get("/mot-de-passe-oublie")
    for _ in range(2):
        browser.post("/mot-de-passe-oublie", {"identifiant": "rleroy", "email": "r.leroy@chu.example.test"})
    first, second = [path_of(m.links[0]) for m in site.outbox()
                     if m.to == "r.leroy@chu.example.test" and "nouveau mot de passe" in m.subject]
    assert browser.get(first).status_code == 410
    assert browser.get(second).status_code == 200


def test_a_new_password_ends_the_other_sessions(site, browser):
    """Someone logged in elsewhere (or half-way through a login, the code pending) with the
    old password is out once the owner sets a new one; the owner's own session, where the
    link was used, stays logged in under a new cookie."""
    from server.site import sessions
    from tests.site.browser import Browser, code_in

    email = "s.leroy@chu.example.test"
    elsewhere = browser
    established(site, elsewhere, "sleroy", email, nom="Leroy", prenom="Sarah")
    assert elsewhere.get("/espace").url.endswith("/espace")
    owner = Browser(site)
    assert owner.login("sleroy", PASSWORD).url.endswith("/espace")
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'sleroy'")
    halfway = Browser(site)
    assert halfway.login("sleroy", PASSWORD).url.endswith("/connexion/code")
    code = code_in(last_message(site, email))

    owner.get("/mot-de-passe-oublie")
    owner.post("/mot-de-passe-oublie", {"identifiant": "sleroy", "email": email})
    link = path_of(last_message(site, email).links[0])
    owner.get(link)
    old_cookie = owner.http.cookies.get(sessions.COOKIE)
    page = owner.post(link, {"mot_de_passe": NEW, "confirmation": NEW})
    assert "Votre mot de passe a été enregistré" in page.text
    assert "Les autres sessions ouvertes avec votre compte ont été fermées." in page.text

    # The owner: still logged in, under a new cookie; a copy of the old one opens nothing.
    assert owner.http.cookies.get(sessions.COOKIE) != old_cookie
    assert text_of(owner.get("/espace").text, 'data-testid="utilisateur"') == "Sarah LEROY"
    stale = requests.get(site.origin + "/espace", cookies={sessions.COOKIE: old_cookie},
                         verify=str(site.ca_cert_path), allow_redirects=False, timeout=30)
    assert stale.headers.get("Location") == "/"
    # Elsewhere: logged out.
    assert elsewhere.get("/espace").url == site.url
    assert text_of(elsewhere.get("/").text, 'data-testid="utilisateur"') is None
    # Half-way: the code that was sent no longer finishes the login.
    page = halfway.post("/connexion/code", {"code": code})
    assert page.status_code == 403 and not page.url.endswith("/espace")
    # Its session is gone, and with it the token of the page it shows: refused as a stale page.
    assert alert(page.text) == ("La page a expiré ou la demande ne vient pas de ce site (jeton de "
                                "sécurité absent ou invalide). Rechargez la page, puis recommencez.")
    assert halfway.get("/espace").url == site.url


def test_a_new_password_from_a_browser_not_logged_in(site, browser):
    """The usual case: the owner, logged out, uses the link; every session of the account
    ends, and the owner logs in with the new password."""
    from tests.site.browser import Browser

    email = "t.leroy@chu.example.test"
    elsewhere = Browser(site)
    established(site, elsewhere, "tleroy", email, nom="Leroy", prenom="Tom")
    browser.get("/mot-de-passe-oublie")
    browser.post("/mot-de-passe-oublie", {"identifiant": "tleroy", "email": email})
    link = path_of(last_message(site, email).links[0])
    browser.get(link)
    page = browser.post(link, {"mot_de_passe": NEW, "confirmation": NEW})
    assert "Votre mot de passe a été enregistré" in page.text
    assert "Vous pouvez maintenant vous connecter" in page.text
    assert elsewhere.get("/espace").url == site.url
    assert browser.login("tleroy", NEW).url.endswith("/espace")
