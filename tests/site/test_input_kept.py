"""Bad input gets a clear French refusal and loses nothing: the refused form comes back with
what was typed (passwords and codes excepted), and nothing half-written stays in the database.
From a fuzz run against the real site: e-mail addresses the relay refuses, a path id larger
than SQLite's integers, two invitations to one address finalised at once, values too long."""

from __future__ import annotations

import asyncio
import email
import email.message
import email.policy
import html
import os
import re
import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from server.site.sender import refuses_the_address
from tests.site.browser import Browser, alert, last_message, path_of, query
from tests.site.flows import established, liberal_by_card, to_liberal_creation
from tests.testbed.hostproc import HostProcess
from tests.testbed.site import SiteProcess

PASSWORD = "Cabinet2024ok"
TOO_LONG = "Une des valeurs saisies est trop longue."
SEND_FAILED = ("L'e-mail n'a pas pu être envoyé : le service de messagerie est momentanément "
               "indisponible. Rien n'a été enregistré ; réessayez dans quelques minutes.")
REFUSED_DOMAIN = "cabinet.exmaple"  # the fuzz run's misspelt domain


def refused(address: str, then: str = "puis recommencez.") -> str:
    return (f"L'adresse e-mail {address} a été refusée par le serveur de messagerie : elle "
            f"n'existe pas ou ne peut pas recevoir d'e-mails. Vérifiez-la, corrigez-la si "
            f"besoin, {then}")


def field(page: str, field_id: str) -> str | None:
    """The value an <input id=…> shows ('' when it has none); None when there is no such
    input on the page."""
    tag = re.search(rf'<input[^>]*\bid="{re.escape(field_id)}"[^>]*>', page)
    if tag is None:
        return None
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else ""


# -- a real SMTP relay that refuses one domain ------------------------------------------------

class Relay:
    """A tiny SMTP server on 127.0.0.1 (asyncio, standard library only: Python 3.12 has no
    smtpd). It stands for the site's mail relay: it takes every message, except that it
    refuses at RCPT TO the addresses of REFUSED_DOMAIN with `550 5.1.2 Domain not found`, as
    a relay does for a domain that does not exist; with `down` set it answers every
    connection `421 4.3.2 Service not available`, as a relay out of service does. What it
    took is in `received`: (envelope recipients, the message)."""

    def __init__(self):
        self.received: list[tuple[list[str], email.message.EmailMessage]] = []
        self.down = False
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_forever, daemon=True).start()
        self.server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._session, "127.0.0.1", 0), self.loop).result(10)
        self.port = self.server.sockets[0].getsockname()[1]

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.server.close)
        self.loop.call_soon_threadsafe(self.loop.stop)

    async def _session(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        async def say(line: str) -> None:
            writer.write(line.encode() + b"\r\n")
            await writer.drain()

        try:
            if self.down:
                await say("421 4.3.2 Service not available")
                return
            await say("220 relais.example.test ESMTP")
            recipients: list[str] = []
            while line := await reader.readline():
                verb, _, arg = line.decode("utf-8", "replace").rstrip("\r\n").partition(" ")
                verb = verb.upper()
                if verb in ("EHLO", "HELO"):
                    await say("250 relais.example.test")
                elif verb in ("MAIL", "RSET"):
                    recipients = []
                    await say("250 2.1.0 Ok")
                elif verb == "RCPT":
                    address = arg.partition(":")[2].strip().strip("<>")
                    if address.lower().endswith("@" + REFUSED_DOMAIN):
                        await say("550 5.1.2 Domain not found")
                    else:
                        recipients.append(address)
                        await say("250 2.1.5 Ok")
                elif verb == "DATA" and recipients:
                    await say("354 End data with <CR><LF>.<CR><LF>")
                    lines = []
                    while (chunk := await reader.readline()) not in (b".\r\n", b""):
                        lines.append(chunk[1:] if chunk.startswith(b"..") else chunk)
                    message = email.message_from_bytes(b"".join(lines), policy=email.policy.default)
                    self.received.append((recipients, message))
                    await say("250 2.0.0 Ok: queued")
                elif verb == "DATA":
                    await say("554 5.5.1 No valid recipients")
                elif verb == "NOOP":
                    await say("250 2.0.0 Ok")
                elif verb == "QUIT":
                    await say("221 2.0.0 Bye")
                    return
                else:
                    await say("502 5.5.2 Command not recognized")
        finally:
            writer.close()

    def to(self, address: str) -> list[email.message.EmailMessage]:
        return [m for rcpts, m in self.received if address in rcpts]

    def last_body(self, address: str) -> str:
        found = self.to(address)
        assert found, f"nothing for {address}: {[r for r, _ in self.received]}"
        return found[-1].get_body().get_content()


@pytest.fixture(scope="module")
def relay():
    r = Relay()
    yield r
    r.close()


def smtp_env(port: int) -> dict[str, str]:
    return {"CPSBRIDGE_SITE_SMTP_HOST": "127.0.0.1", "CPSBRIDGE_SITE_SMTP_PORT": str(port),
            "CPSBRIDGE_SITE_SMTP_STARTTLS": "0"}


@pytest.fixture(scope="module")
def smtp_site(pki_dir, tmp_path_factory, relay):
    """A second site process, whose e-mails go through the relay."""
    with pytest.MonkeyPatch.context() as env:  # the site process inherits the environment
        for name, value in smtp_env(relay.port).items():
            env.setenv(name, value)
        site = SiteProcess(tmp_path_factory.mktemp("site-smtp"), pki_dir / "trust",
                           revocation="off").start()
    try:
        yield site
    finally:
        site.stop()


@pytest.fixture
def smtp_host(host_env, smtp_site):
    with HostProcess(dict(host_env, CPSBRIDGE_ALLOWED_ORIGINS=smtp_site.origin)) as h:
        yield h


def count(site, sql: str, *params) -> int:
    return query(site, sql, *params)[0][0]


# -- 1. an address the relay refuses is the user's to correct; a relay down is the site's ----

def test_a_refused_address_at_liberal_creation_leads_back_to_the_form(smtp_site, smtp_host,
                                                                       ids, relay):
    """The address typed on the creation form is first sent to at the CGU step: refused
    there, it must lead back to the form (it was a 500 on every CGU retry, and the CGU page
    cannot correct it)."""
    browser = Browser(smtp_site)
    to_liberal_creation(browser, smtp_host, ids["bernard"])
    bad, good = f"dr.bernard@{REFUSED_DOMAIN}", "dr.bernard@cabinet.example.test"
    page = browser.post("/liberal/creation", {"email": bad, "mot_de_passe": PASSWORD,
                                              "confirmation": PASSWORD})
    assert page.url.endswith("/liberal/cgu")
    # The CGU page names the address and leads back to the form to change it.
    assert bad in page.text and '<a href="/liberal/creation">' in page.text
    nothing = ("SELECT (SELECT COUNT(*) FROM comptes) + (SELECT COUNT(*) FROM cartes) "
               "+ (SELECT COUNT(*) FROM liens)")

    # The relay out of service: the site's problem, said so; the CGU page again, box ticked.
    relay.down = True
    try:
        page = browser.post("/liberal/cgu", {"accepte": "oui"})
    finally:
        relay.down = False
    assert page.status_code == 503, (page.status_code, alert(page.text))
    assert alert(page.text) == SEND_FAILED
    assert 'action="/liberal/cgu"' in page.text and "checked" in page.text
    assert count(smtp_site, nothing) == 0

    # The relay refuses the address: the creation form again, with the address to correct.
    for _ in range(2):  # every retry of the CGU step comes back to it, never a 500
        page = browser.post("/liberal/cgu", {"accepte": "oui"})
        assert page.status_code == 400, (page.status_code, alert(page.text))
        assert alert(page.text) == refused(bad, "renseignez de nouveau votre mot de passe puis "
                                                "cliquez sur « Créer mon compte ». Votre compte "
                                                "n'a pas encore été créé.")
        assert 'action="/liberal/creation"' in page.text and field(page.text, "email") == bad
        assert field(page.text, "mot_de_passe") == ""
        assert count(smtp_site, nothing) == 0
    assert field(browser.get("/liberal/creation").text, "email") == bad

    page = browser.post("/liberal/creation", {"email": good, "mot_de_passe": PASSWORD,
                                              "confirmation": PASSWORD})
    page = browser.post("/liberal/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace")
    assert "/email/valider/" in relay.last_body(good)
    assert query(smtp_site, "SELECT email FROM comptes WHERE identifiant = '99700412345'") == \
        [(good,)]


DONE = ("Si les informations saisies correspondent à un compte ViaTrajectoire, vous allez "
        "recevoir un e-mail contenant un lien pour définir votre nouveau mot de passe.")


def test_a_forgotten_password_gets_one_answer_whatever_the_relay_does(smtp_site, relay):
    """« Mot de passe oublié » must not tell whether an identifiant and an address match. It
    did when the relay failed: 503 for a match, the usual answer otherwise. Now the relay is
    asked first, for every request (out of service: 503 for all); a failure only a match can
    meet (the relay refuses the stored address) gets the usual answer, its link withdrawn."""
    refused_at = f"oubli@{REFUSED_DOMAIN}"
    for identifiant, address in (("oubliref", refused_at), ("oubliok", "oubli.ok@chu.example.test")):
        made = smtp_site.create_account(identifiant, address, "Oubli", "Rémi")
        assert made.returncode == 0, made.stderr
    browser = Browser(smtp_site)

    def ask(identifiant: str, address: str):
        browser.get("/mot-de-passe-oublie")
        return browser.post("/mot-de-passe-oublie", {"identifiant": identifiant, "email": address})

    relay.down = True
    try:
        down = {"match": ask("oubliok", "oubli.ok@chu.example.test"),
                "no match": ask("personne", "oubli.ok@chu.example.test")}
    finally:
        relay.down = False
    for case, page in down.items():
        assert (page.status_code, alert(page.text)) == (503, SEND_FAILED), case
        assert field(page.text, "email") == "oubli.ok@chu.example.test", case

    sent = len(relay.received)
    answers = {"match": ask("oubliref", refused_at), "no match": ask("personne", refused_at)}
    for case, page in answers.items():
        assert (page.status_code, path_of(page.url)) == (200, "/"), case
        assert DONE in html.unescape(page.text), case
    assert len(relay.received) == sent
    unused = ("SELECT COUNT(*) FROM liens JOIN comptes ON comptes.id = liens.compte_id "
              "WHERE identifiant = ? AND objet = 'reinitialiser' AND utilise_le IS NULL")
    assert count(smtp_site, unused, "oubliref") == 0, "a link that was never sent still works"

    page = ask("oubliok", "oubli.ok@chu.example.test")  # the relay up: the e-mail goes out
    assert DONE in html.unescape(page.text)
    assert "/mot-de-passe/reinitialiser/" in relay.last_body("oubli.ok@chu.example.test")
    assert count(smtp_site, unused, "oubliok") == 1


def test_a_refused_assistant_address_comes_back_on_the_form(smtp_site, smtp_host, ids, relay):
    browser = Browser(smtp_site)
    liberal_by_card(browser, smtp_host, ids["dupont"], "dr.dupont@cabinet.example.test", PASSWORD)
    browser.get("/compte")
    bad, good = f"secretariat@{REFUSED_DOMAIN}", "secretariat@cabinet.example.test"
    invitations = ("SELECT (SELECT COUNT(*) FROM delegations) + "
                   "(SELECT COUNT(*) FROM liens WHERE objet = 'delegation')")

    page = browser.post("/compte/assistants", {"email": bad})
    assert page.status_code == 400, (page.status_code, alert(page.text))
    assert alert(page.text) == refused(bad)
    assert "Mes assistants" in page.text and field(page.text, "email_assistant") == bad
    assert count(smtp_site, invitations) == 0

    accented = "secrétariat@cabinet.example.test"  # this relay does not offer SMTPUTF8
    page = browser.post("/compte/assistants", {"email": accented})
    assert page.status_code == 400 and alert(page.text) == refused(accented)
    assert field(page.text, "email_assistant") == accented
    assert count(smtp_site, invitations) == 0

    relay.down = True
    try:
        page = browser.post("/compte/assistants", {"email": good})
    finally:
        relay.down = False
    assert page.status_code == 503, (page.status_code, alert(page.text))
    assert alert(page.text) == SEND_FAILED
    assert field(page.text, "email_assistant") == good
    assert count(smtp_site, invitations) == 0

    page = browser.post("/compte/assistants", {"email": good})
    assert f"Une invitation a été envoyée à {good}." in page.text
    assert "/assistant/invitation/" in relay.last_body(good)
    assert count(smtp_site, invitations) == 2


def test_a_refused_address_on_the_referent_page(smtp_site, relay):
    """The référent's page sends through referent.create_account: the same answers there."""
    made = smtp_site.create_account("refrelais", "refrelais@chu.example.test", "Leroy", "Anne",
                                    env={**os.environ, **smtp_env(relay.port)},
                                    referent=True, etablissement="CHU Relais")
    assert made.returncode == 0, made.stderr
    browser = Browser(smtp_site)
    link = path_of(re.search(r"https://\S+", relay.last_body("refrelais@chu.example.test"))[0])
    browser.get(link)
    browser.post(link, {"mot_de_passe": PASSWORD, "confirmation": PASSWORD})
    page = browser.login("refrelais", PASSWORD)
    code = re.search(r"\b(\d{6})\b", relay.last_body("refrelais@chu.example.test"))[1]
    browser.post("/connexion/code", {"code": code})
    page = browser.post("/connexion/cgu", {"accepte": "oui"})
    assert page.url.endswith("/espace")
    browser.get("/referent")

    typed = {"identifiant": "apetit", "email": f"anne.petit@{REFUSED_DOMAIN}", "nom": "Petit",
             "prenom": "Anne", "profession": "Infirmière", "rpps": "99700123456"}
    page = browser.post("/referent", typed)
    assert page.status_code == 400, (page.status_code, alert(page.text))
    assert alert(page.text) == refused(typed["email"])
    assert {name: field(page.text, name) for name in typed} == typed
    assert count(smtp_site, "SELECT COUNT(*) FROM comptes WHERE identifiant = 'apetit'") == 0

    typed["email"] = "anne.petit@chu.example.test"
    relay.down = True
    try:
        page = browser.post("/referent", typed)
    finally:
        relay.down = False
    assert page.status_code == 503 and alert(page.text) == SEND_FAILED
    assert {name: field(page.text, name) for name in typed} == typed
    assert count(smtp_site, "SELECT COUNT(*) FROM comptes WHERE identifiant = 'apetit'") == 0

    page = browser.post("/referent", typed)
    assert page.url.endswith("/referent") and "Le compte « apetit » a été créé." in page.text


@pytest.mark.parametrize("code, reply, address", [
    (550, "5.1.2 Domain not found", True), (550, "5.1.1 User unknown", True),
    (552, "5.2.2 Mailbox full", True), (550, "No such user", True), (553, "Bad address", True),
    (554, "5.7.1 Relay access denied", False), (530, "5.7.0 Authentication required", False),
    (554, "Transaction failed", False), (450, "4.1.2 Domain not found, try later", False),
    (421, "Service not available", False)])
def test_which_refusals_are_the_address(code, reply, address):
    """The address's fault (the person corrects it): permanent, and about the address or its
    mailbox; the rest is the relay's or the site's (503)."""
    assert refuses_the_address(code, reply) is address


# -- 2. an id larger than SQLite's integers is an unknown id ----------------------------------

def test_a_delegation_id_too_large_for_sqlite_is_unknown(site, browser):
    established(site, browser, "grandid", "grandid@chu.example.test")
    for delegation_id in ("9223372036854775808", "9223372036854775807", "1" + "0" * 40):
        page = browser.post(f"/compte/assistants/{delegation_id}/retirer")
        assert page.status_code == 404, (delegation_id, page.status_code, alert(page.text))
        assert alert(page.text) == "Cette délégation n'existe pas ou a déjà été retirée."


# -- 3. two invitations to one address, finalised at the same moment --------------------------

def test_two_invitations_to_one_address_finalised_at_once(site, host, ids):
    """Real concurrency, made certain: the test holds SQLite's write lock while both
    finalisations are sent, so both read the database before either can write; then lets
    go. The one that writes second must find the account the first made (it was a 500,
    UNIQUE constraint failed: comptes.identifiant, the check being outside the transaction)."""
    address = "secretariat.commun@cabinet.example.test"
    assistants = []
    for liberal, card in (("dupont", "petit"), ("bernard", "martin")):
        browser = Browser(site)
        liberal_by_card(browser, host, ids[liberal], f"dr.{liberal}@cabinet.example.test", PASSWORD)
        browser.get("/compte")
        assert browser.post("/compte/assistants", {"email": address}).status_code == 200
        assistant = Browser(site)
        assistant.get(path_of(last_message(site, address).links[0]))
        answer = assistant.card_login(host, ids[card], etape="invitation")
        assert answer.json() == {"redirect": "/assistant/finalisation"}
        assistant.follow(answer)
        assistants.append(assistant)

    form = {"profession": "Secrétaire médicale", "mot_de_passe": PASSWORD,
            "confirmation": PASSWORD, "accepte": "oui"}
    lock = sqlite3.connect(site.data_dir / "site.sqlite", isolation_level=None, timeout=10)
    try:
        lock.execute("BEGIN IMMEDIATE")
        with ThreadPoolExecutor(2) as pool:
            sent = [pool.submit(a.post, "/assistant/finalisation", form) for a in assistants]
            time.sleep(3)  # both past their reads, waiting for the lock (the site waits 10 s)
            lock.execute("ROLLBACK")
            pages = [s.result() for s in sent]
    finally:
        if lock.in_transaction:
            lock.execute("ROLLBACK")
        lock.close()

    done = [p for p in pages if p.url.endswith("/espace")]
    assert len(done) == 1, [(p.status_code, alert(p.text)) for p in pages]
    other = pages[1 - pages.index(done[0])]
    assert other.status_code == 400, (other.status_code, alert(other.text))
    assert alert(other.text) == (f"Un compte ViaTrajectoire existe déjà avec l'adresse "
                                 f"{address}. Connectez-vous avec ce compte, ou demandez une "
                                 "invitation à une autre adresse.")
    assert '<option value="Secrétaire médicale" selected>' in other.text
    assert 'checked' in other.text and field(other.text, "mot_de_passe") == ""
    # Nothing of the second: one account, one card linked to it, the other link unused.
    assert count(site, "SELECT COUNT(*) FROM comptes WHERE identifiant = ?", address) == 1
    assert count(site, "SELECT COUNT(*) FROM cartes c JOIN comptes a ON a.id = c.compte_id "
                       "WHERE a.type = 'assistant'") == 1
    assert count(site, "SELECT COUNT(*) FROM liens l JOIN delegations d ON d.id = "
                       "l.delegation_id WHERE d.email = ? AND l.utilise_le IS NULL", address) == 1


# -- 4. what was typed comes back on a refusal --------------------------------------------------

def test_a_refused_phone_number_comes_back_as_typed(site, browser):
    established(site, browser, "saisie1", "saisie1@chu.example.test")
    page = browser.post("/compte/telephone", {"telephone": "07 12 34"})
    assert page.status_code == 400
    assert alert(page.text) == ("Renseignez un numéro de téléphone mobile valide (par exemple "
                                "06 12 34 56 78).")
    assert field(page.text, "telephone") == "07 12 34"
    page = browser.post("/compte/telephone", {"telephone": "06 12 34 56 78 " * 3})
    assert page.status_code == 400 and alert(page.text) == TOO_LONG
    assert "Gestion de mon compte" in page.text
    assert field(page.text, "telephone") == "06 12 34 56 78 " * 3


def test_a_refused_assistant_address_comes_back_as_typed(site, browser, host, ids):
    liberal_by_card(browser, host, ids["robert"], "alice.robert@officine.example.test", PASSWORD)
    browser.get("/compte")
    page = browser.post("/compte/assistants", {"email": "secretariat@cabinet"})
    assert page.status_code == 400
    assert alert(page.text) == "Renseignez l'adresse e-mail de votre assistant."
    assert field(page.text, "email_assistant") == "secretariat@cabinet"


def test_a_value_too_long_comes_back_on_its_form(site, browser):
    """Kept whole, as typed: the person sees it and shortens it there."""
    browser.get("/")
    identifiant = "i" * 209
    page = browser.post("/connexion", {"identifiant": identifiant, "mot_de_passe": "secret"})
    assert page.status_code == 400 and alert(page.text) == TOO_LONG
    assert 'action="/connexion"' in page.text
    assert field(page.text, "identifiant") == identifiant
    assert field(page.text, "mot_de_passe") == ""

    browser.get("/mot-de-passe-oublie")
    address = "m" * 193 + "@example.test"
    page = browser.post("/mot-de-passe-oublie", {"identifiant": "quelquun", "email": address})
    assert page.status_code == 400 and alert(page.text) == TOO_LONG
    assert 'action="/mot-de-passe-oublie"' in page.text
    assert (field(page.text, "identifiant"), field(page.text, "email")) == ("quelquun", address)

    established(site, browser, "refsaisie", "refsaisie@chu.example.test", referent=True,
                etablissement="CHU Saisie")
    browser.get("/referent")
    typed = {"identifiant": "nlong", "email": "nlong@chu.example.test", "nom": "N" * 201,
             "prenom": "Noé", "profession": "Infirmier", "rpps": ""}
    page = browser.post("/referent", typed)
    assert page.status_code == 400 and alert(page.text) == TOO_LONG
    assert 'action="/referent"' in page.text
    assert {name: field(page.text, name) for name in typed} == typed
    assert count(site, "SELECT COUNT(*) FROM comptes WHERE identifiant = 'nlong'") == 0
