"""Steps several tests walk through before what they test."""

from __future__ import annotations

import re

import requests

from tests.site.browser import Browser, alert, code_in, last_message, path_of

PASSWORD = "Hopital2024sur"


def define_password(site, browser: Browser, email: str) -> None:
    mail = last_message(site, email)
    link = path_of(mail.links[0])
    page = browser.get(link)
    assert page.status_code == 200 and "Définition de votre mot de passe" in page.text
    done = browser.post(link, {"mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    assert done.url.endswith("/") and "Votre mot de passe a été enregistré" in done.text
    confirm = last_message(site, email)
    assert confirm.subject == ("ViaTrajectoire : confirmation de la modification de votre mot "
                               "de passe")


def first_connection(site, browser: Browser, identifiant: str, email: str) -> None:
    page = browser.login(identifiant, PASSWORD)
    assert page.url.endswith("/connexion/code") and "Code de confirmation" in page.text
    code = code_in(last_message(site, email))
    page = browser.post("/connexion/code", {"code": code})
    assert page.url.endswith("/connexion/cgu")
    page = browser.post("/connexion/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace") and "Vous êtes connecté" in page.text


def established(site, browser: Browser, identifiant: str, email: str,
                **options: str | bool) -> None:
    """An établissement account past its first connection, logged in."""
    made = site.create_account(identifiant, email, options.pop("nom", "Durand"),
                               options.pop("prenom", "Anne"), **options)
    assert made.returncode == 0, made.stderr
    define_password(site, browser, email)
    first_connection(site, browser, identifiant, email)


# The association page's second choice (manual II.1 step 4, reached from the I.3.ii page):
# a real button, in a GET form towards the creation page.
CREATION_BUTTON = re.compile(r'<form method="get" action="(/[^"]*)"[^>]*>\s*'
                             r'<button type="submit"[^>]*>\s*Créer mon compte de l\'espace '
                             r'médecin libéral\s*</button>')


def to_liberal_creation(browser: Browser, host, certificate_id: str) -> requests.Response:
    """A libéral's first card login: the association page, whose button « Créer mon compte
    de l'espace médecin libéral » opens the account form."""
    answer = browser.card_login(host, certificate_id)
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    page = browser.follow(answer)
    assert "Vous n'avez pas encore de compte ViaTrajectoire ?" in page.text
    button = CREATION_BUTTON.search(page.text)
    assert button, "no « Créer mon compte de l'espace médecin libéral » button"
    page = browser.get(button.group(1))
    assert page.status_code == 200 and page.url.split("?")[0].endswith("/liberal/creation")
    assert "Création de compte de l'espace médecin libéral" in page.text
    return page


def liberal_by_card(browser: Browser, host, certificate_id: str, address: str,
                    password: str) -> None:
    """Logged in by card as that card's libéral; his account made on the first call."""
    answer = browser.card_login(host, certificate_id)
    page = browser.follow(answer)
    if answer.json()["redirect"] == "/connexion/carte-cps/association":
        browser.get(CREATION_BUTTON.search(page.text).group(1))
        browser.post("/liberal/creation", {"email": address, "mot_de_passe": password,
                                           "confirmation": password})
        page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace"), (page.status_code, alert(page.text))
