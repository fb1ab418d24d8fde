"""Professionnel libéral (manual II): the account is created by a first card login; later
the RPPS number and password, or the card."""

from __future__ import annotations

import sqlite3

from tests.site.browser import age, alert, code_in, last_message, path_of, text_of
from tests.site.flows import established

PASSWORD = "Cabinet2024ok"
EMAIL = "dr.bernard@cabinet.example.test"


def test_first_card_login_creates_the_account(site, browser, host, ids):
    answer = browser.card_login(host, ids["bernard"])
    assert answer.json() == {"redirect": "/liberal/creation"}
    page = browser.follow(answer)
    assert "Création de compte de l'espace médecin libéral" in page.text
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
    answer = browser.card_login(host, ids["robert"])
    assert answer.json() == {"redirect": "/liberal/creation"}
    browser.follow(answer)
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


def test_no_second_account_for_a_known_rpps(site, browser, host, ids):
    """An établissement account records the RPPS: the card is associated with it, and the
    creation page refuses, whatever the way in."""
    established(site, browser, "jdupont", "jean.dupont@chu.example.test", nom="Dupont",
                prenom="Jean", profession="Médecin", rpps="99700367917")
    browser.logout()
    answer = browser.card_login(host, ids["dupont"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    browser.follow(answer)
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
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    try:
        found = conn.execute("SELECT identifiant FROM comptes WHERE rpps = '99700367917'").fetchall()
    finally:
        conn.close()
    assert found == [("jdupont",)]
