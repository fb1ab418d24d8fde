"""Professionnel en établissement (manual I): account made by the référent, password defined
through the e-mailed link, first connection with code de confirmation and CGU, then the
card, which must first be linked to the account."""

from __future__ import annotations


from tests.site.browser import (Browser, age, alert, code_in, last_message, path_of, query,
                                text_of)
from tests.site.flows import PASSWORD, define_password, established, first_connection


def test_account_password_first_connection_then_card(site, browser, host, ids):
    made = site.create_account("jdupont", "jean.dupont@chu.example.test", "Dupont", "Jean",
                               profession="Médecin", etablissement="CHU de Lyon",
                               rpps="99700367917")
    assert made.returncode == 0, made.stderr
    mail = last_message(site, "jean.dupont@chu.example.test")
    assert "Votre identifiant de connexion : jdupont" in mail.body
    assert len(mail.links) == 1 and "/mot-de-passe/definir/" in mail.links[0]

    # The password rule, in French, before anything is stored.
    link = path_of(mail.links[0])
    browser.get(link)
    refused = browser.post(link, {"mot_de_passe": PASSWORD, "confirmation": PASSWORD + "x"})
    assert refused.status_code == 400
    assert alert(refused.text) == "Les deux mots de passe saisis ne sont pas identiques."
    define_password(site, browser, "jean.dupont@chu.example.test")

    # The link is single-use.
    again = browser.get(link)
    assert again.status_code == 410 and "déjà été utilisé" in alert(again.text)

    # Card before the first connection: the manual says it is not possible yet.
    answer = browser.card_login(host, ids["dupont"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    browser.get("/connexion/carte-cps/association")
    refused = browser.post("/connexion/carte-cps/association",
                           {"identifiant": "jdupont", "mot_de_passe": PASSWORD})
    assert refused.status_code == 403
    assert "première fois par identifiant et mot de passe" in alert(refused.text)

    # First connection: identifiant + mot de passe, code de confirmation (with a wrong one
    # first), then the CGU.
    page = browser.login("jdupont", PASSWORD)
    assert page.url.endswith("/connexion/code")
    code = code_in(last_message(site, "jean.dupont@chu.example.test"))
    wrong = "000000" if code != "000000" else "111111"
    refused = browser.post("/connexion/code", {"code": wrong})
    assert refused.status_code == 401
    assert alert(refused.text) == "Code de confirmation incorrect. Il vous reste 4 essais."
    page = browser.post("/connexion/code", {"code": code})
    assert page.url.endswith("/connexion/cgu")
    refused = browser.post("/connexion/cgu", {})
    assert refused.status_code == 400 and "Conditions Générales" in alert(refused.text)
    page = browser.post("/connexion/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Jean DUPONT"
    assert "Vous êtes connecté" in page.text
    browser.logout()

    # First card login: the card is recognised, the account asked for, then linked.
    answer = browser.card_login(host, ids["dupont"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    page = browser.follow(answer)
    assert "première connexion avec cette carte" in page.text.lower() or \
        "Première connexion avec votre carte" in page.text
    refused = browser.post("/connexion/carte-cps/association",
                           {"identifiant": "jdupont", "mot_de_passe": "pas le bon 1"})
    assert refused.status_code == 401
    assert alert(refused.text) == "Identifiant ou mot de passe incorrect."
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "jdupont", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Jean DUPONT"
    assert "connexion par carte CPx" in page.text
    browser.logout()

    # Later card logins connect directly.
    answer = browser.card_login(host, ids["dupont"])
    assert answer.json() == {"redirect": "/espace"}
    page = browser.follow(answer)
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Jean DUPONT"
    browser.logout()

    # Later password logins: no code within the interval, a code again once it has passed.
    page = browser.login("jdupont", PASSWORD)
    assert page.url.endswith("/espace")
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = derniere_otp_le - 31 * 86400 "
              "WHERE identifiant = 'jdupont'")
    page = browser.login("jdupont", PASSWORD)
    assert page.url.endswith("/connexion/code")


def test_a_card_is_linked_only_to_its_holder(site, browser, host, ids):
    """An établissement account that knows its RPPS takes no other practitioner's card."""
    site.create_account("lbernard", "luc.bernard@chu.example.test", "Bernard", "Luc",
                        profession="Médecin", rpps="99700412345")
    define_password(site, browser, "luc.bernard@chu.example.test")
    first_connection(site, browser, "lbernard", "luc.bernard@chu.example.test")
    browser.logout()
    # ROBERT's card (RPPS, no account) goes to the association page, like every card not
    # yet linked; associating it with BERNARD's account is refused.
    answer = browser.card_login(host, ids["robert"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    browser.follow(answer)
    refused = browser.post("/connexion/carte-cps/association",
                           {"identifiant": "lbernard", "mot_de_passe": PASSWORD})
    assert refused.status_code == 403
    assert "n'appartient pas au titulaire de ce compte" in alert(refused.text)


def test_account_without_rpps_gets_the_card_not_a_second_account(site, browser, host, ids):
    """The référent recorded no RPPS (manual I.1 asks for none): the first card login is
    still the I.3.ii page, whose identifiant + mot de passe link the card to the existing
    account. It once led to the libéral creation, which made a second account."""
    email = "alice.robert@chu.example.test"
    established(site, browser, "arobert", email, nom="Robert", prenom="Alice",
                profession="Pharmacien", etablissement="CHU de Lyon")
    browser.logout()
    comptes = query(site, "SELECT COUNT(*) FROM comptes")
    answer = browser.card_login(host, ids["robert"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    page = browser.follow(answer)
    assert ("Renseignez vos identifiant et mot de passe pour associer votre compte de "
            "professionnel existant avec les informations de votre carte.") in page.text
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "arobert", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Alice ROBERT"
    assert query(site, "SELECT COUNT(*) FROM comptes") == comptes
    assert query(site, f"SELECT identifiant, type, rpps FROM comptes WHERE email = '{email}'") \
        == [("arobert", "etablissement", "99700666666")]
    assert query(site, "SELECT c.identifiant FROM cartes JOIN comptes c ON c.id = compte_id "
                       "WHERE id_nat = '899700666666'") == [("arobert",)]
    browser.logout()
    assert browser.card_login(host, ids["robert"]).json() == {"redirect": "/espace"}


def test_adeli_card_links_to_an_account_without_rpps(site, browser, host, ids):
    site.create_account("cmartin", "claire.martin@chu.example.test", "Martin", "Claire",
                        profession="Infirmier")
    define_password(site, browser, "claire.martin@chu.example.test")
    first_connection(site, browser, "cmartin", "claire.martin@chu.example.test")
    browser.logout()
    answer = browser.card_login(host, ids["martin"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    page = browser.follow(answer)
    assert "Créer mon compte de l'espace médecin libéral" not in page.text  # RPPS cards only
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "cmartin", "mot_de_passe": PASSWORD})
    assert text_of(page.text, 'data-testid="utilisateur"') == "Claire MARTIN"
    browser.logout()
    assert browser.card_login(host, ids["martin"]).json() == {"redirect": "/espace"}


def test_referent_command_refuses_bad_input(site):
    # One fault at a time: each refusal must name its own field.
    bad_id = site.create_account("x", "x@example.test", "N", "P")
    assert bad_id.returncode == 1 and "identifiant invalide" in bad_id.stderr
    bad_mail = site.create_account("valide1", "pas-une-adresse", "N", "P")
    assert bad_mail.returncode == 1 and "adresse e-mail invalide" in bad_mail.stderr
    site.create_account("unique1", "u@example.test", "Nom", "Prenom")
    dup = site.create_account("unique1", "u2@example.test", "Nom", "Prenom")
    assert dup.returncode == 1 and "déjà utilisé" in dup.stderr


def test_referent_page_creates_accounts(site, browser):
    established(site, browser, "referent1", "referent@chu.example.test", nom="Garnier",
                prenom="Hélène", etablissement="CHU de Lyon", referent=True)
    page = browser.get("/referent")
    assert page.status_code == 200 and "Créer un compte utilisateur" in page.text
    refused = browser.post("/referent", {"identifiant": "n", "email": "x@y.fr", "nom": "A",
                                         "prenom": "B"})
    assert refused.status_code == 400
    assert alert(refused.text) == "Identifiant invalide (3 à 64 lettres, chiffres ou . _ @ -)."
    page = browser.post("/referent", {"identifiant": "pmorel", "email": "p.morel@chu.example.test",
                                      "nom": "Morel", "prenom": "Pierre",
                                      "profession": "Cadre de santé"})
    assert "Le compte « pmorel » a été créé." in page.text
    assert "Pierre MOREL" in text_of(page.text, 'data-testid="comptes"')
    mail = last_message(site, "p.morel@chu.example.test")
    assert "Votre identifiant de connexion : pmorel" in mail.body
    duplicate = browser.post("/referent", {"identifiant": "pmorel", "email": "a@b.fr",
                                           "nom": "Morel", "prenom": "Paul"})
    assert duplicate.status_code == 400 and "déjà utilisé" in alert(duplicate.text)

    # Anyone else is refused.
    browser.logout()
    other = Browser(site)
    established(site, other, "pasref", "pasref@chu.example.test", etablissement="CHU de Lyon")
    refused = other.get("/referent")
    assert refused.status_code == 403 and "Seuls les référents" in alert(refused.text)


def test_referent_command_with_identifiant_and_email_only(site, browser):
    made = site.create_account("minimal1", "minimal1@chu.example.test")
    assert made.returncode == 0, made.stderr
    assert last_message(site, "minimal1@chu.example.test").body.startswith("Bonjour minimal1,")
    define_password(site, browser, "minimal1@chu.example.test")
    first_connection(site, browser, "minimal1", "minimal1@chu.example.test")
    assert text_of(browser.get("/espace").text, 'data-testid="utilisateur"') == "minimal1"
