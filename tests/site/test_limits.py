"""Limits that hold however many requests arrive at once (a fuzzing audit beat them with
parallel requests), and limits on the e-mails anyone can have the site send."""

from __future__ import annotations

import sqlite3
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests
from requests.adapters import HTTPAdapter

from tests.site.browser import Browser, age, alert, code_in, last_message, path_of, query, text_of
from tests.site.flows import PASSWORD, established, to_liberal_creation

LOCKED = ("Trop de tentatives de connexion. Pour votre sécurité, l'accès est suspendu pendant "
          "15 minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? ».")
WRONG_PASSWORD = "Identifiant ou mot de passe incorrect."
BURST = 34  # the audit's reproduction


class FromAddress(HTTPAdapter):
    """Connections from another loopback address: the site sees another client address
    (its limits per address), as requests from other machines would be."""

    def __init__(self, address: str):
        self.address = address
        super().__init__(pool_maxsize=1)

    def init_poolmanager(self, *args, **kwargs):
        kwargs["source_address"] = (self.address, 0)
        super().init_poolmanager(*args, **kwargs)


def browser_from(site, address: str) -> Browser:
    b = Browser(site)
    b.http.mount("https://", FromAddress(address))
    return b


def attempts(site, cle: str) -> int:
    return query(site, "SELECT COUNT(*) FROM tentatives WHERE cle = ?", cle)[0][0]


def fire(posts: list, late=None, ready=lambda: True, wait: float = 1.0):
    """All `posts` (callables) released at once, each from its own thread and its own
    connection, already open; `late`, if given, once `ready()` holds (or after `wait` s),
    while the others are still being answered. Returns their answers, and late's."""
    start = threading.Barrier(len(posts))

    def run(post):
        start.wait()
        return post()

    with ThreadPoolExecutor(len(posts) + 1) as pool:
        futures = [pool.submit(run, post) for post in posts]
        late_answer = None
        if late is not None:
            deadline = time.monotonic() + wait
            while not ready() and time.monotonic() < deadline:
                time.sleep(0.005)
            late_answer = late()
        return [f.result() for f in futures], late_answer


def outcome(page: requests.Response) -> tuple[int, str | None]:
    return page.status_code, alert(page.text)


# -- guesses: passwords, codes de confirmation --------------------------------------------

def test_parallel_passwords_verify_no_more_than_the_limit(site, browser):
    """34 wrong passwords at once for one identifiant: 5 are checked, the others refused
    before their hash is computed; the right password, sent while they are being answered,
    once the 5 attempts are counted, is refused like any attempt."""
    established(site, browser, "rafale", "rafale@chu.example.test")
    browser.logout()
    guessers = [browser_from(site, "127.0.0.2") for _ in range(BURST)]
    for g in guessers:
        g.get("/")  # a session, its CSRF token and an open connection, before the burst
    owner = browser_from(site, "127.0.0.3")
    owner.get("/")

    answers, right = fire(
        [lambda g=g, i=i: g.post("/connexion", {"identifiant": "rafale",
                                                "mot_de_passe": f"Faux{i:02d}secret"})
         for i, g in enumerate(guessers)],
        late=lambda: owner.post("/connexion", {"identifiant": "rafale", "mot_de_passe": PASSWORD}),
        ready=lambda: attempts(site, "identifiant:rafale") >= 5)

    seen = [outcome(a) for a in answers]
    checked = seen.count((401, WRONG_PASSWORD))
    assert checked == 5, seen
    assert seen.count((429, LOCKED)) == BURST - 5, seen
    assert outcome(right) == (429, LOCKED)
    assert not right.url.endswith("/connexion/code")
    assert attempts(site, "identifiant:rafale") == 5
    # Later, still refused: the 5 failures stay counted.
    assert outcome(owner.login("rafale", PASSWORD)) == (429, LOCKED)


def test_the_right_password_in_the_burst_takes_no_more_than_its_turn(site, browser):
    """The right password released with the wrong ones: it logs in only if it is among the
    first 5 attempts, and the wrong ones checked stay at most 5 either way."""
    established(site, browser, "rafale2", "rafale2@chu.example.test")
    browser.logout()
    # A code is due: the right password completes no login, which would clear the count.
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'rafale2'")
    people = [browser_from(site, "127.0.0.4") for _ in range(BURST + 1)]
    for p in people:
        p.get("/")
    passwords = [f"Faux{i:02d}secret" for i in range(BURST)] + [PASSWORD]
    answers, _ = fire([lambda p=p, pw=pw: p.post("/connexion", {"identifiant": "rafale2",
                                                                "mot_de_passe": pw})
                       for p, pw in zip(people, passwords)])
    seen = [outcome(a) for a in answers[:-1]]
    assert seen.count((401, WRONG_PASSWORD)) <= 5, seen
    assert seen.count((401, WRONG_PASSWORD)) + seen.count((429, LOCKED)) == BURST, seen
    right = answers[-1]
    assert right.url.endswith("/connexion/code") or outcome(right) == (429, LOCKED)
    # Its code is still due: the 5 failures stay counted (only a completed login clears them).
    assert attempts(site, "identifiant:rafale2") <= 5


def test_parallel_passwords_from_one_address_stop_at_its_limit(site):
    """The per-address limit (30) holds at once too: two left, ten identifiants tried."""
    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    with conn:
        conn.executemany("INSERT INTO tentatives (cle, le) VALUES (?, ?)",
                         [("ip:127.0.0.5", time.time())] * 28)
    conn.close()
    guessers = [browser_from(site, "127.0.0.5") for _ in range(10)]
    for g in guessers:
        g.get("/")
    answers, _ = fire([lambda g=g, i=i: g.post("/connexion", {"identifiant": f"inconnu{i}",
                                                              "mot_de_passe": "Faux00secret"})
                       for i, g in enumerate(guessers)])
    seen = [outcome(a) for a in answers]
    assert seen.count((401, WRONG_PASSWORD)) == 2, seen
    assert seen.count((429, LOCKED)) == 8, seen


def test_parallel_codes_verify_no_more_than_the_limit(site, browser):
    """34 wrong codes de confirmation at once in the session waiting for the code: 5 are
    compared; the right code, sent once they are counted, is refused."""
    email = "salve@chu.example.test"
    established(site, browser, "salve", email)
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'salve'")
    first = browser_from(site, "127.0.0.6")
    assert first.login("salve", PASSWORD).url.endswith("/connexion/code")
    code = code_in(last_message(site, email))
    wrong = "000000" if code != "000000" else "111111"
    # The same session in every thread (its cookie and token), each on its own connection.
    tabs = [browser_from(site, "127.0.0.6") for _ in range(BURST + 1)]
    for tab in tabs:
        tab.http.cookies.update(first.http.cookies)
        tab.csrf = first.csrf
        tab.get("/connexion/code")

    answers, right = fire(
        [lambda t=t: t.post("/connexion/code", {"code": wrong}) for t in tabs[:-1]],
        late=lambda: tabs[-1].post("/connexion/code", {"code": code}),
        ready=lambda: attempts(site, "identifiant:salve") >= 5)

    # Each code compared and wrong is one failure recorded (the fifth answers 429 at once,
    # as would a code compared while the other four are: the identifiant is suspended).
    assert attempts(site, "identifiant:salve") == 5
    seen = [outcome(a) for a in answers]
    wrong_answers = [s for s in seen if s[0] == 401]
    assert len(wrong_answers) <= 4 and all(
        m.startswith("Code de confirmation incorrect.") for _, m in wrong_answers), seen
    assert seen.count((429, LOCKED)) == BURST - len(wrong_answers), seen
    assert outcome(right) == (429, LOCKED)
    assert not right.url.endswith(("/espace", "/connexion/cgu"))


# -- e-mails sent on request ---------------------------------------------------------------

RESET_SUBJECT = "ViaTrajectoire : définir un nouveau mot de passe"
SAME_ANSWER = ("Si les informations saisies correspondent à un compte ViaTrajectoire, vous allez "
               "recevoir un e-mail contenant un lien pour définir votre nouveau mot de passe.")


def reset_mails(site, email: str) -> list:
    return [m for m in site.outbox() if m.to == email and m.subject == RESET_SUBJECT]


def forgotten(b: Browser, identifiant: str, email: str) -> tuple[int, str, str | None]:
    page = b.post("/mot-de-passe-oublie", {"identifiant": identifiant, "email": email})
    return page.status_code, page.url.split("/", 3)[3], text_of(page.text, 'role="status"')


def test_reset_mails_are_limited_per_account(site, browser):
    """12 addresses ask at once for one account: 3 e-mails; every answer is the one any
    identifiant gets, so the limit tells no one the account exists."""
    email = "oubli.rafale@chu.example.test"
    established(site, browser, "oublirafale", email)
    browser.logout()
    askers = [browser_from(site, f"127.0.1.{i}") for i in range(1, 13)]
    for a in askers:
        a.get("/mot-de-passe-oublie")
    answers, _ = fire([lambda a=a: forgotten(a, "oublirafale", email) for a in askers])
    assert len(reset_mails(site, email)) == 3
    assert set(answers) == {(200, "", SAME_ANSWER)}, answers
    # Past the limit, the account's answer is still the one for no account at all.
    other = browser_from(site, "127.0.1.20")
    other.get("/mot-de-passe-oublie")
    assert forgotten(other, "oublirafale", email) == forgotten(other, "personne",
                                                               "personne@example.test")
    assert len(reset_mails(site, email)) == 3
    # The last link sent works; the limit does not retire it.
    assert browser.get(path_of(reset_mails(site, email)[-1].links[0])).status_code == 200


def test_reset_requests_per_address_hold_at_once(site):
    """The per-address limit (10) holds when the requests come at once."""
    askers = [browser_from(site, "127.0.0.7") for _ in range(15)]
    for a in askers:
        a.get("/mot-de-passe-oublie")
    answers, _ = fire([lambda a=a, i=i: a.post("/mot-de-passe-oublie", {
        "identifiant": f"inconnu{i}", "email": "x@example.test"}).status_code
                       for i, a in enumerate(askers)])
    assert sorted(answers) == [200] * 10 + [429] * 5


INVITE = "accueil@cabinet.example.test"
INVITATION_SUBJECT = "ViaTrajectoire : Dr Jean DUPONT souhaite vous déléguer ses droits"


def invitations(site) -> list:
    return [m for m in site.outbox()
            if m.to.lower() == INVITE and m.subject == INVITATION_SUBJECT]


def pending_delegations(site) -> int:
    return query(site, "SELECT COUNT(*) FROM delegations WHERE email = ? AND assistant_id IS "
                       "NULL AND revoquee_le IS NULL", INVITE)[0][0]


def test_invitations_are_limited_and_not_duplicated(site, browser, host, ids):
    password = "Cabinet2024ok"
    to_liberal_creation(browser, host, ids["dupont"])
    browser.post("/liberal/creation", {"email": "dr.dupont@cabinet.example.test",
                                       "mot_de_passe": password, "confirmation": password})
    assert browser.post("/liberal/cgu", {"accepte": "oui"}).url.endswith("/espace")
    browser.get("/compte")
    page = browser.post("/compte/assistants", {"email": INVITE})
    assert f"Une invitation a été envoyée à {INVITE}." in page.text
    first = path_of(invitations(site)[-1].links[0])
    # Again to the same address (any case): the same pending invitation, a new link.
    page = browser.post("/compte/assistants", {"email": INVITE.upper()})
    assert text_of(page.text, 'role="status"') == (
        f"Une nouvelle invitation a été envoyée à {INVITE.upper()}. Le lien de l'invitation "
        "précédente ne fonctionne plus.")
    assert pending_delegations(site) == 1
    assert len(text_of(page.text, 'data-testid="assistants"').split("invitation envoyée")) == 2
    assert Browser(site).get(first).status_code == 410
    assert Browser(site).get(path_of(invitations(site)[-1].links[0])).status_code == 200

    # 15 at once (the audit's count): the account's 5 invitations in 15 minutes, no more.
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1 WHERE cle LIKE 'invitation:%'")
    sent_before = len(invitations(site))
    tabs = [Browser(site) for _ in range(15)]
    for tab in tabs:
        tab.http.cookies.update(browser.http.cookies)
        tab.csrf = browser.csrf
        tab.get("/compte")
    answers, _ = fire([lambda t=t: t.post("/compte/assistants", {"email": INVITE})
                       for t in tabs])
    assert sorted(a.status_code for a in answers) == [200] * 5 + [429] * 10
    refused = [a for a in answers if a.status_code == 429]
    assert {alert(a.text) for a in refused} == {
        "Trop d'invitations envoyées. Réessayez dans 15 minutes."}
    assert len(invitations(site)) - sent_before == 5
    assert pending_delegations(site) == 1
    # Only the last link sent opens the invitation.
    links = [path_of(m.links[0]) for m in invitations(site)]
    assert [Browser(site).get(link).status_code for link in links] == \
        [410] * (len(links) - 1) + [200]


def test_parallel_phone_codes_verify_no_more_than_the_limit(site, browser):
    established(site, browser, "appel", "appel@chu.example.test")
    browser.get("/compte")
    browser.post("/compte/telephone", {"telephone": "06 12 34 56 78"})
    code = code_in(last_message(site, "+33612345678", canal="sms"))
    wrong = "000000" if code != "000000" else "111111"
    key = query(site, "SELECT id FROM comptes WHERE identifiant = 'appel'")[0][0]
    tabs = [Browser(site) for _ in range(BURST + 1)]
    for tab in tabs:
        tab.http.cookies.update(browser.http.cookies)
        tab.get("/compte")
    answers, right = fire(
        [lambda t=t: t.post("/compte/telephone/code", {"code": wrong}) for t in tabs[:-1]],
        late=lambda: tabs[-1].post("/compte/telephone/code", {"code": code}),
        ready=lambda: attempts(site, f"code-telephone:{key}") >= 5)
    assert attempts(site, f"code-telephone:{key}") == 5, [outcome(a) for a in answers]
    assert right.status_code == 429
    assert query(site, "SELECT telephone_verifie FROM comptes WHERE id = ?", key) == [(0,)]
