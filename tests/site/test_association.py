"""Linking a card to an existing account (manual I.3.ii): « Renseignez alors vos identifiant
et mot de passe » is a password login, so the code de confirmation is asked when it is due
(IV.1); only the card of the account's holder is linked; the account is told by e-mail."""

from __future__ import annotations

import sqlite3

from tests.site.browser import Browser, age, alert, code_in, last_message, text_of
from tests.site.flows import PASSWORD, define_password, first_connection

NOTICE = "ViaTrajectoire : une carte CPx a été associée à votre compte"


def query(site, sql: str, *params) -> list[tuple]:
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    try:
        return conn.execute(sql, params).fetchall()
    finally:
        conn.close()


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
