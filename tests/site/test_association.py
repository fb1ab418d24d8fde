"""Linking a card to an existing account (manual I.3.ii): « Renseignez alors vos identifiant
et mot de passe » is a password login, so the code de confirmation is asked when it is due
(IV.1); only the card of the account's holder is linked; the account is told by e-mail."""

from __future__ import annotations

import html

from tests.site.browser import Browser, age, alert, code_in, last_message, query, text_of
from tests.site.flows import PASSWORD, define_password, first_connection

NOTICE = "ViaTrajectoire : une carte CPx a été associée à votre compte"


def linked_to(site, id_nat: str) -> str | None:
    found = query(site, "SELECT a.identifiant FROM cartes c JOIN comptes a ON a.id = c.compte_id "
                        "WHERE c.id_nat = ?", id_nat)
    return found[0][0] if found else None


def mails_to(site, to: str) -> list:
    return [m for m in site.outbox() if m.to == to]


def account(site, browser: Browser, identifiant: str, email: str, nom: str, prenom: str,
            **options) -> None:
    """An établissement account past its first connection, logged out."""
    made = site.create_account(identifiant, email, nom, prenom, **options)
    assert made.returncode == 0, made.stderr
    define_password(site, browser, email)
    first_connection(site, browser, identifiant, email)
    browser.logout()


def code_due(site, identifiant: str) -> None:
    age(site, "UPDATE comptes SET derniere_otp_le = derniere_otp_le - 31 * 86400 "
              "WHERE identifiant = ?", identifiant)


def test_another_persons_card_is_refused(site, browser, host, ids):
    """Knowing her password is not enough: his card is not linked to her account, whether
    it carries an RPPS (ROBERT) or an ADELI number (MARTIN), and she hears of nothing."""
    victim = "vera.victime@chu.example.test"
    account(site, browser, "vvictime", victim, "Victime", "Vera", profession="Médecin")
    code_due(site, "vvictime")  # no code is sent either: the card is refused before
    mails_before, cards_before = len(mails_to(site, victim)), query(site, "SELECT * FROM cartes")
    for slug in ("robert", "martin"):
        attacker = Browser(site)
        assert attacker.card_login(host, ids[slug]).status_code == 200
        attacker.get("/connexion/carte-cps/association")
        refused = attacker.post("/connexion/carte-cps/association",
                                {"identifiant": "vvictime", "mot_de_passe": PASSWORD})
        assert refused.status_code == 403, slug
        assert alert(refused.text) == (
            "Cette carte n'appartient pas au titulaire de ce compte (nom ou prénom différents "
            "de ceux du compte). Insérez votre propre carte.")
        assert text_of(refused.text, 'data-testid="utilisateur"') is None
        assert attacker.get("/espace").url == site.url  # not logged in
    assert query(site, "SELECT * FROM cartes") == cards_before
    assert query(site, "SELECT rpps FROM comptes WHERE identifiant = 'vvictime'") == [(None,)]
    assert len(mails_to(site, victim)) == mails_before


def test_the_holders_card_links_after_the_code(site, browser, host, ids):
    email = "claire.martin@chu.example.test"
    # The name as the référent typed it: compared without case.
    account(site, browser, "cmartin", email, "martin", "Claire", profession="Infirmier")
    code_due(site, "cmartin")
    answer = browser.card_login(host, ids["martin"])
    assert answer.json() == {"redirect": "/connexion/carte-cps/association"}
    browser.follow(answer)
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "cmartin", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/connexion/code") and "Code de confirmation" in page.text
    assert linked_to(site, "0751234567") is None  # nothing linked before the code
    code = code_in(last_message(site, email))
    wrong = browser.post("/connexion/code", {"code": "000000" if code != "000000" else "111111"})
    assert wrong.status_code == 401 and linked_to(site, "0751234567") is None
    page = browser.post("/connexion/code", {"code": code})
    assert page.url.endswith("/espace")
    assert text_of(page.text, 'data-testid="utilisateur"') == "Claire MARTIN"
    assert "connexion par carte CPx" in page.text
    assert linked_to(site, "0751234567") == "cmartin"
    notice = last_message(site, email)
    assert notice.subject == NOTICE
    assert "CLAIRE MARTIN" in notice.body.upper() and "cmartin" in notice.body
    assert "Si vous n'êtes pas à l'origine de cette association" in notice.body
    browser.logout()
    assert browser.card_login(host, ids["martin"]).json() == {"redirect": "/espace"}


def test_notice_when_no_code_is_due(site, browser, host, ids):
    """Within the interval the password is enough (as for a password login); the account's
    RPPS decides whose card it is, and the notice goes out all the same."""
    email = "jean.dupont@chu.example.test"
    account(site, browser, "jdupont", email, "Dupont", "Jean", profession="Médecin",
            rpps="99700367917")
    answer = browser.card_login(host, ids["dupont"])
    browser.follow(answer)
    page = browser.post("/connexion/carte-cps/association",
                        {"identifiant": "jdupont", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/espace")
    assert linked_to(site, "899700367917") == "jdupont"
    assert last_message(site, email).subject == NOTICE


def test_names_compare_without_case_accents_hyphens_or_spaces():
    from server.site.accounts import same_name

    assert same_name("Jean-Pierre", "JEAN PIERRE")
    assert same_name(" Hélène ", "HELENE")
    assert same_name("Le Goff", "LEGOFF")
    assert not same_name("Martin", "Martine")
    assert not same_name("", "")  # an account without a name names no holder


REMOVED = "ViaTrajectoire : une carte CPx a été retirée de votre compte"
ASSOCIATION = "/connexion/carte-cps/association"


def test_a_card_linked_wrongly_is_removed_from_the_account(site, browser, host, ids):
    """A card linked before the holder check existed (someone else's, whose RPPS the
    association then wrote into the account): the owner sees it on /compte and removes it;
    it no longer logs in, the sessions it opened end, and linking it again goes through the
    holder check."""
    email = "alice.robert@chu.example.test"
    account(site, browser, "arobert", email, "Robert", "Alice", profession="Pharmacien")
    age(site, "INSERT INTO cartes (id_nat, compte_id, empreinte, associee_le) SELECT "
              "'899700412345', id, 'avant-le-controle', 1700000000 FROM comptes "
              "WHERE identifiant = 'arobert'")
    age(site, "UPDATE comptes SET rpps = '99700412345' WHERE identifiant = 'arobert'")
    intruder = Browser(site)
    assert intruder.card_login(host, ids["bernard"]).json() == {"redirect": "/espace"}
    assert intruder.get("/espace").url.endswith("/espace")
    # Opened before sessions recorded which card opened them.
    age(site, "UPDATE sessions SET etat = json_remove(etat, '$.carte_connexion') "
              "WHERE json_extract(etat, '$.carte_connexion') = '899700412345'")
    # Meanwhile her own card is refused: the account records his number.
    assert browser.card_login(host, ids["robert"]).status_code == 200
    browser.get(ASSOCIATION)
    refused = browser.post(ASSOCIATION, {"identifiant": "arobert", "mot_de_passe": PASSWORD})
    assert refused.status_code == 403 and "numéro RPPS ou ADELI" in alert(refused.text)

    assert browser.login("arobert", PASSWORD).url.endswith("/espace")
    page = browser.get("/compte")
    assert "899700412345" in text_of(page.text, 'data-testid="cartes"')
    # The question first: nothing is removed until it is confirmed.
    page = browser.post("/compte/cartes/retirer", {"id_nat": "899700412345"})
    assert page.status_code == 200
    question = html.unescape(text_of(page.text, 'data-testid="retrait-carte"') or "")
    assert "Voulez-vous vraiment retirer la carte n° 899700412345 de votre compte ?" in question
    assert "Confirmer le retrait" in page.text
    assert linked_to(site, "899700412345") == "arobert"
    refused = browser.post("/compte/cartes/retirer",
                           {"id_nat": "899700412345", "confirmation": "oui"}, csrf=False)
    assert refused.status_code == 403 and linked_to(site, "899700412345") == "arobert"
    # Only the account's own cards.
    before = linked_to(site, "0751234567")
    refused = browser.post("/compte/cartes/retirer",
                           {"id_nat": "0751234567", "confirmation": "oui"})
    assert refused.status_code == 404
    assert alert(refused.text) == ("Cette carte n'est pas associée à votre compte ou en a déjà "
                                   "été retirée.")
    assert linked_to(site, "0751234567") == before

    page = browser.post("/compte/cartes/retirer", {"id_nat": "899700412345", "confirmation": "oui"})
    assert page.url.endswith("/compte")
    assert "La carte n° 899700412345 a été retirée de votre compte." in html.unescape(page.text)
    assert linked_to(site, "899700412345") is None
    assert query(site, "SELECT rpps FROM comptes WHERE identifiant = 'arobert'") == [(None,)]
    notice = last_message(site, email)
    assert notice.subject == REMOVED and "899700412345" in notice.body
    assert text_of(page.text, 'data-testid="utilisateur"') == "Dr Alice ROBERT"  # still logged in

    # The session the card opened is over; the card no longer logs in, nor links again.
    assert intruder.get("/espace").url == site.url
    answer = intruder.card_login(host, ids["bernard"])
    assert answer.status_code == 200 and answer.json()["redirect"] != "/espace"
    intruder.get(ASSOCIATION)
    refused = intruder.post(ASSOCIATION, {"identifiant": "arobert", "mot_de_passe": PASSWORD})
    assert refused.status_code == 403 and "nom ou prénom différents" in alert(refused.text)
    assert linked_to(site, "899700412345") is None

    # Her own card links now, and logs in.
    browser.logout()
    assert browser.card_login(host, ids["robert"]).status_code == 200
    browser.get(ASSOCIATION)
    page = browser.post(ASSOCIATION, {"identifiant": "arobert", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/espace") and linked_to(site, "899700666666") == "arobert"
    browser.logout()
    assert browser.card_login(host, ids["robert"]).json() == {"redirect": "/espace"}


def test_removing_ones_own_card(site, browser, host, ids):
    """The owner's own card (a CPE, whose idNat holds a "/"), removed: the session in use
    stays open, as do those the password opened; the card must be associated again
    (password, holder check) before it logs in again."""
    email = "sophie.petit@chu.example.test"
    id_nat = "3750100125/4521"
    account(site, browser, "spetit", email, "Petit", "Sophie", profession="Secrétaire médicale")
    age(site, "INSERT INTO cartes (id_nat, compte_id, empreinte, associee_le) SELECT "
              "?, id, 'sa-carte', 1700000000 FROM comptes WHERE identifiant = 'spetit'", id_nat)
    assert browser.card_login(host, ids["petit"]).json() == {"redirect": "/espace"}
    by_card, by_password = Browser(site), Browser(site)
    assert by_card.card_login(host, ids["petit"]).json() == {"redirect": "/espace"}
    assert by_password.login("spetit", PASSWORD).url.endswith("/espace")
    page = browser.get("/compte")
    assert id_nat in text_of(page.text, 'data-testid="cartes"')
    page = browser.post("/compte/cartes/retirer", {"id_nat": id_nat, "confirmation": "oui"})
    assert page.url.endswith("/compte") and linked_to(site, id_nat) is None
    assert text_of(page.text, 'data-testid="utilisateur"') == "Sophie PETIT"
    # The other session that card opened ends; one opened by the password stays.
    assert by_card.get("/espace").url == site.url
    assert by_password.get("/espace").url.endswith("/espace")
    assert "aucune" in text_of(page.text, 'data-testid="cartes"')
    browser.logout()
    answer = browser.card_login(host, ids["petit"])
    assert answer.json() == {"redirect": ASSOCIATION}
    browser.get(ASSOCIATION)
    page = browser.post(ASSOCIATION, {"identifiant": "spetit", "mot_de_passe": PASSWORD})
    assert page.url.endswith("/espace") and linked_to(site, id_nat) == "spetit"
