"""Assistant de professionnel libéral (manual III): the libéral delegates from his account
page; the assistant follows the e-mailed link, connects by card, chooses profession and
password, accepts the conditions, and has the delegated rights."""

from __future__ import annotations

import re
import sqlite3

from tests.site.browser import Browser, alert, last_message, path_of, text_of
from tests.site.flows import (define_password, first_connection, liberal_by_card,
                              to_liberal_creation)

PASSWORD = "Cabinet2024ok"
ASSISTANT = "sophie.petit@cabinet.example.test"


def make_liberal(browser: Browser, host, ids) -> None:
    to_liberal_creation(browser, host, ids["dupont"])
    browser.post("/liberal/creation", {"email": "dr.dupont@cabinet.example.test",
                                       "mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Jean DUPONT"


def test_delegation_to_an_assistant(site, browser, host, ids):
    make_liberal(browser, host, ids)
    page = browser.get("/compte")
    assert "Mes assistants" in page.text
    refused = browser.post("/compte/assistants", {"email": "pas-une-adresse"})
    assert refused.status_code == 400
    assert alert(refused.text) == "Renseignez l'adresse e-mail de votre assistant."
    page = browser.post("/compte/assistants", {"email": ASSISTANT})
    assert f"Une invitation a été envoyée à {ASSISTANT}." in page.text

    mail = last_message(site, ASSISTANT)
    assert mail.subject == "ViaTrajectoire : Dr Jean DUPONT souhaite vous déléguer ses droits"
    link = path_of(mail.links[0])

    # The assistant, in another browser: the link, then "Se connecter par carte CPx".
    assistant = Browser(site)
    page = assistant.get(link)
    assert page.status_code == 200
    assert text_of(page.text, 'data-testid="delegant"') == "Dr Jean DUPONT"
    assert 'id="tuile-cps"' in page.text and "Se connecter par carte CPx" in page.text
    assert 'data-cpsbridge-etape="invitation"' in page.text  # what the tile sends (etape=)
    assert "Se connecter par carte e-CPS" in page.text
    answer = assistant.card_login(host, ids["petit"], etape="invitation")
    assert answer.json() == {"redirect": "/assistant/finalisation"}
    page = assistant.follow(answer)
    assert 'value="PETIT"' in page.text and 'value="Sophie"' in page.text
    assert "Secrétaire médicale" in page.text

    refused = assistant.post("/assistant/finalisation", {
        "profession": "Secrétaire médicale", "mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    assert refused.status_code == 400 and "conditions d'utilisation" in alert(refused.text)
    refused = assistant.post("/assistant/finalisation", {
        "profession": "Astronaute", "mot_de_passe": PASSWORD, "confirmation": PASSWORD,
        "accepte": "oui"})
    assert alert(refused.text) == "Choisissez votre profession dans la liste."
    page = assistant.post("/assistant/finalisation", {
        "profession": "Secrétaire médicale", "mot_de_passe": PASSWORD, "confirmation": PASSWORD,
        "accepte": "oui"})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Sophie PETIT"
    assert "Vous agissez pour le compte de : Dr Jean DUPONT" in text_of(
        page.text, 'data-testid="delegations"')
    assert last_message(site, ASSISTANT).subject == "ViaTrajectoire : votre compte d'assistant est créé"
    assert last_message(site, "dr.dupont@cabinet.example.test").subject == \
        "ViaTrajectoire : délégation acceptée"

    # The delegation link works once.
    third = Browser(site)
    again = third.get(link)
    assert again.status_code == 410
    assert alert(again.text) == "Ce lien a déjà été utilisé. Chaque lien ne peut servir qu'une fois."

    # The libéral sees the assistant on his account page.
    assert "PETIT" in text_of(browser.get("/compte").text, 'data-testid="assistants"')

    # Later: the assistant's card connects directly, with the delegated rights.
    assistant.logout()
    answer = assistant.card_login(host, ids["petit"])
    assert answer.json() == {"redirect": "/espace"}
    assert "Dr Jean DUPONT" in assistant.follow(answer).text

    # Withdrawn by the libéral: the rights go.
    page = browser.get("/compte")
    delegation_id = re.search(r'/compte/assistants/(\d+)/retirer', page.text).group(1)
    browser.post(f"/compte/assistants/{delegation_id}/retirer")
    assert 'data-testid="delegations"' not in assistant.get("/espace").text


def test_only_a_liberal_delegates(site, browser):
    site.create_account("cmartin", "claire.martin@chu.example.test", "Martin", "Claire")
    define_password(site, browser, "claire.martin@chu.example.test")
    first_connection(site, browser, "cmartin", "claire.martin@chu.example.test")
    assert "Mes assistants" not in browser.get("/compte").text
    refused = browser.post("/compte/assistants", {"email": ASSISTANT})
    assert refused.status_code == 403
    assert alert(refused.text) == ("Seul un professionnel libéral peut déléguer ses droits à un "
                                   "assistant.")


def test_account_pages_need_a_login(browser):
    page = browser.get("/compte")
    assert page.url.endswith("/") and "Connectez-vous pour accéder à cette page." in page.text


# -- an invitation changes nothing by itself -------------------------------------------------

def invite(site, browser: Browser, email: str) -> str:
    browser.get("/compte")
    browser.post("/compte/assistants", {"email": email})
    return path_of(last_message(site, email).links[0])


def assistant_of(site, email: str) -> str | None:
    """The identifiant of the account that holds the delegation sent to `email`."""
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    try:
        row = conn.execute("SELECT a.identifiant FROM delegations d LEFT JOIN comptes a "
                           "ON a.id = d.assistant_id WHERE d.email = ?", (email,)).fetchone()
    finally:
        conn.close()
    return row[0]


def test_the_liberal_is_not_his_own_assistant(site, host, ids):
    robert = Browser(site)
    liberal_by_card(robert, host, ids["robert"], "alice.robert@officine.example.test", PASSWORD)
    link = invite(site, robert, "accueil@officine.example.test")
    robert.logout()
    robert.get(link)
    answer = robert.card_login(host, ids["robert"], etape="invitation")
    assert answer.json() == {"redirect": "/assistant/finalisation"}
    for page in (robert.follow(answer), robert.post("/assistant/finalisation", {})):
        assert page.status_code == 403
        assert alert(page.text) == ("Vous ne pouvez pas être votre propre assistant : cette "
                                    "invitation doit être finalisée par la personne à qui vous "
                                    "déléguez vos droits, avec sa propre carte.")
        assert text_of(page.text, 'data-testid="utilisateur"') is None
    assert assistant_of(site, "accueil@officine.example.test") is None


def test_an_existing_account_confirms_the_delegation(site, host, ids):
    robert = Browser(site)
    liberal_by_card(robert, host, ids["robert"], "alice.robert@officine.example.test", PASSWORD)
    link = invite(site, robert, "luc.bernard@cabinet.example.test")
    robert.logout()
    bernard = Browser(site)
    liberal_by_card(bernard, host, ids["bernard"], "dr.bernard@cabinet.example.test", PASSWORD)
    bernard.logout()

    bernard.get(link)
    answer = bernard.card_login(host, ids["bernard"], etape="invitation")
    assert answer.json() == {"redirect": "/assistant/finalisation"}
    # Opening the page changes nothing: it names who delegates and asks.
    page = bernard.follow(answer)
    assert page.status_code == 200
    assert text_of(page.text, 'data-testid="delegant"') == "Dr Alice ROBERT"
    assert "Accepter la délégation" in page.text
    assert text_of(page.text, 'data-testid="utilisateur"') is None
    assert assistant_of(site, "luc.bernard@cabinet.example.test") is None
    assert bernard.get("/assistant/finalisation").status_code == 200  # again: still nothing
    assert assistant_of(site, "luc.bernard@cabinet.example.test") is None

    refused = bernard.post("/assistant/finalisation", {}, csrf=False)
    assert refused.status_code == 403
    page = bernard.post("/assistant/finalisation", {})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Luc BERNARD"
    assert "Vous agissez pour le compte de : Dr Alice ROBERT" in text_of(
        page.text, 'data-testid="delegations"')
    assert assistant_of(site, "luc.bernard@cabinet.example.test") == "99700412345"
    assert last_message(site, "alice.robert@officine.example.test").subject == \
        "ViaTrajectoire : délégation acceptée"


def test_an_invitation_does_not_divert_a_later_card_login(site, host, ids):
    robert = Browser(site)
    liberal_by_card(robert, host, ids["robert"], "alice.robert@officine.example.test", PASSWORD)
    link = invite(site, robert, "secretariat@officine.example.test")
    robert.logout()
    liberal_by_card(Browser(site), host, ids["bernard"],
                    "dr.bernard@cabinet.example.test", PASSWORD)

    # In the same browser: the invitation, then a card login from the home page.
    shared = Browser(site)
    shared.get(link)
    shared.get("/")
    answer = shared.card_login(host, ids["bernard"])
    assert answer.json() == {"redirect": "/espace"}
    assert assistant_of(site, "secretariat@officine.example.test") is None
    shared.logout()

    # An unknown card read from the home page is not taken for the invitation's either.
    other = Browser(site)
    other.get(link)
    other.get("/")
    answer = other.card_login(host, ids["martin"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    assert other.get("/assistant/finalisation").url == site.url  # the invitation is forgotten
    assert assistant_of(site, "secretariat@officine.example.test") is None
