"""Professionnel libéral (manual II): the account is created by a first card login; later
the RPPS number and password, or the card."""

from __future__ import annotations

import html

from tests.site.browser import (Browser, age, alert, code_in, last_message, path_of, query,
                                text_of)
from tests.site.flows import established, to_liberal_creation

PASSWORD = "Cabinet2024ok"
EMAIL = "dr.bernard@cabinet.example.test"


def test_first_card_login_creates_the_account(site, browser, host, ids):
    # Nothing on the card tells a libéral from an établissement user whose référent recorded
    # no RPPS: the page of the first card login (I.3.ii) offers the creation (II.1 step 4)
    # as its second choice.
    page = to_liberal_creation(browser, host, ids["bernard"])
    # Pre-filled from the card: the RPPS number is the identifiant.
    for value in ('value="99700412345"', 'value="BERNARD"', 'value="Luc"', 'value="Médecin"'):
        assert value in page.text
    assert "Créer mon compte" in page.text

    refused = browser.post("/liberal/creation", {"email": EMAIL, "mot_de_passe": "court1",
                                                 "confirmation": "court1"})
    assert refused.status_code == 400
    assert alert(refused.text) == "Le mot de passe doit comporter au moins 10 caractères."
    refused = browser.post("/liberal/creation", {"email": "pas une adresse",
                                                 "mot_de_passe": PASSWORD,
                                                 "confirmation": PASSWORD})
    assert alert(refused.text) == "Renseignez une adresse e-mail valide."

    page = browser.post("/liberal/creation", {"email": EMAIL, "mot_de_passe": PASSWORD,
                                              "confirmation": PASSWORD})
    assert page.url.endswith("/liberal/cgu") and "Conditions Générales d'Utilisation" in page.text
    assert not site.outbox() or all(m.to != EMAIL for m in site.outbox())  # nothing yet
    page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Luc BERNARD"
    assert "Vous êtes connecté" in page.text and "99700412345" in page.text

    # The e-mail whose link validates the address, once.
    mail = last_message(site, EMAIL)
    assert mail.subject == "ViaTrajectoire : validez votre adresse e-mail"
    assert "99700412345" in mail.body
    link = path_of(mail.links[0])
    # Opening the link (as a mail scanner does) shows a button and uses nothing.
    page = browser.get(link)
    assert page.status_code == 200 and "Valider mon adresse e-mail" in page.text
    assert browser.get(link).status_code == 200
    assert "(non validée" in browser.get("/compte").text
    page = browser.post(link)
    assert "Votre adresse e-mail est validée" in page.text
    again = browser.get(link)
    assert again.status_code == 410 and "déjà été utilisé" in alert(again.text)
    assert "(validée)" in browser.get("/compte").text
    browser.logout()

    # Later: the card connects directly...
    answer = browser.card_login(host, ids["bernard"])
    assert answer.json() == {"redirect": "/espace"}
    browser.logout()
    # ... and so does the RPPS number with the password (a code the first time).
    page = browser.login("99700412345", PASSWORD)
    assert page.url.endswith("/connexion/code")
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, EMAIL))})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Luc BERNARD"


def test_expired_validation_link(site, browser, host, ids):
    to_liberal_creation(browser, host, ids["robert"])
    browser.post("/liberal/creation", {"email": "alice.robert@officine.example.test",
                                       "mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Alice ROBERT"
    link = path_of(last_message(site, "alice.robert@officine.example.test").links[0])
    age(site, "UPDATE liens SET expire_le = expire_le - 73 * 3600 WHERE objet = 'valider-email'")
    expired = browser.get(link)
    assert expired.status_code == 410
    assert alert(expired.text) == "Ce lien a expiré. Demandez un nouveau lien."
    page = browser.get("/compte")
    assert "(non validée" in page.text and "Recevoir un nouveau lien" in page.text

    # The new link, from the account page; a few per quarter of an hour.
    for _ in range(3):
        page = browser.post("/compte/email/lien")
        assert page.status_code == 200 and page.url.endswith("/compte")
        assert ("Un nouveau lien de validation a été envoyé à alice.robert@officine.example.test."
                in page.text)
    refused = browser.post("/compte/email/lien")
    assert refused.status_code == 429
    assert alert(refused.text).startswith("Trop de liens de validation envoyés.")
    sent = [path_of(m.links[0]) for m in site.outbox()
            if m.to == "alice.robert@officine.example.test" and "validez" in m.subject]
    assert len(sent) == 1 + 3
    assert browser.get(sent[-2]).status_code == 410  # a new link retires the previous one
    page = browser.post(sent[-1])
    assert "Votre adresse e-mail est validée" in page.text
    page = browser.get("/compte")
    assert "(validée)" in page.text and "Recevoir un nouveau lien" not in page.text


def test_creation_page_needs_a_card(browser):
    page = browser.get("/liberal/creation")
    assert page.url.endswith("/") and "première connexion par carte CPx" in page.text


def used_address(typed: str) -> str:
    return (f"Un compte ViaTrajectoire utilise déjà cette adresse e-mail : {typed}. S'il s'agit "
            "de votre compte, associez-y votre carte en renseignant ses identifiant et mot de "
            "passe.")


def test_creation_refuses_an_address_already_used(site, browser, host, ids):
    """One address, one account: an établissement user who took the creation button by
    mistake is sent back to the association, and nothing is created. The refusal says no
    more than what was typed; a card learns it about a few addresses only."""
    used = "secretariat.cardio@chu.example.test"
    established(site, Browser(site), "adurand", used)
    comptes = query(site, "SELECT id, identifiant, email FROM comptes ORDER BY id")
    mails = len(site.outbox())
    to_liberal_creation(browser, host, ids["dupont"])
    for typed in (used, used.upper()):
        refused = browser.post("/liberal/creation", {"email": typed, "mot_de_passe": PASSWORD,
                                                     "confirmation": PASSWORD})
        assert refused.status_code == 409 and alert(refused.text) == used_address(typed)
        assert 'href="/connexion/carte-cps/association"' in refused.text
        for theirs in ("adurand", "Durand", "DURAND", "Anne"):
            assert theirs not in refused.text
    assert browser.post("/liberal/cgu", {"accepte": "oui"}).url == site.url  # nothing pending
    assert query(site, "SELECT id, identifiant, email FROM comptes ORDER BY id") == comptes
    assert query(site, "SELECT * FROM cartes WHERE id_nat = '899700367917'") == []
    assert len(site.outbox()) == mails

    # The address taken between the form and the conditions: refused at « Valider » too.
    to_liberal_creation(browser, host, ids["dupont"])
    later = "dr.dupont@cabinet.example.test"
    page = browser.post("/liberal/creation", {"email": later, "mot_de_passe": PASSWORD,
                                              "confirmation": PASSWORD})
    assert page.url.endswith("/liberal/cgu")
    assert site.create_account("jdupont2", later, "Dupont", "Jean").returncode == 0
    comptes = query(site, "SELECT id, identifiant, email FROM comptes ORDER BY id")
    page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert page.url.endswith("/connexion/carte-cps/association")
    assert used_address(later) in html.unescape(page.text)
    assert query(site, "SELECT id, identifiant, email FROM comptes ORDER BY id") == comptes
    assert query(site, "SELECT * FROM cartes WHERE id_nat = '899700367917'") == []

    # A few addresses per card and quarter of an hour: then every address gets the same
    # answer, used or not, so the form cannot be used to try a list of addresses.
    browser.get("/liberal/creation")
    for n in range(3):
        refused = browser.post("/liberal/creation", {"email": used, "mot_de_passe": PASSWORD,
                                                     "confirmation": PASSWORD})
        assert refused.status_code == 409, n
    for typed in (used, "personne@nulle-part.example.test"):
        refused = browser.post("/liberal/creation", {"email": typed, "mot_de_passe": PASSWORD,
                                                     "confirmation": PASSWORD})
        assert refused.status_code == 429 and "utilise déjà" not in refused.text
        assert alert(refused.text).startswith("Trop de tentatives")
    assert query(site, "SELECT id, identifiant, email FROM comptes ORDER BY id") == comptes


def test_no_second_account_for_a_known_rpps(site, browser, host, ids):
    """An établissement account records the RPPS: the card is associated with it, and the
    creation page refuses, whatever the way in."""
    established(site, browser, "jdupont", "jean.dupont@chu.example.test", nom="Dupont",
                prenom="Jean", profession="Médecin", rpps="99700367917")
    browser.logout()
    answer = browser.card_login(host, ids["dupont"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    page = browser.follow(answer)
    assert "Créer mon compte de l'espace médecin libéral" not in page.text  # one per RPPS
    refusal = ("Un compte ViaTrajectoire existe déjà avec votre numéro RPPS. Associez votre carte "
               "à ce compte en renseignant ses identifiant et mot de passe.")
    page = browser.get("/liberal/creation")
    assert page.status_code == 409 and alert(page.text) == refusal
    assert 'href="/connexion/carte-cps/association"' in page.text
    refused = browser.post("/liberal/creation", {"email": "dr.dupont@cabinet.example.test",
                                                 "mot_de_passe": PASSWORD,
                                                 "confirmation": PASSWORD})
    assert refused.status_code == 409 and alert(refused.text) == refusal
    assert browser.post("/liberal/cgu", {"accepte": "oui"}).url == site.url
    assert query(site, "SELECT identifiant FROM comptes WHERE rpps = '99700367917'") == [("jdupont",)]
