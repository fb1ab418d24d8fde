"""Steps several tests walk through before what they test."""

from __future__ import annotations

from tests.site.browser import Browser, code_in, last_message, path_of

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
