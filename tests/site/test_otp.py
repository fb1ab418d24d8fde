"""Code OTP (manual IV.1): by e-mail by default; by SMS once a phone number is verified with
a code; the choice can be changed on the account page."""

from __future__ import annotations

from tests.site.browser import Browser, age, alert, code_in, last_message
from tests.site.flows import PASSWORD, established

EMAIL = "anne.durand@chu.example.test"


def test_sms_once_the_phone_is_verified(site, browser):
    established(site, browser, "adurand", EMAIL)
    page = browser.get("/compte")
    assert "Vérifier" in page.text and 'value="sms"' in page.text

    # SMS cannot be chosen before the number is verified.
    refused = browser.post("/compte/otp", {"canal": "sms"})
    assert refused.status_code == 400 and "Vérifier" in alert(refused.text)
    refused = browser.post("/compte/telephone", {"telephone": "12"})
    assert refused.status_code == 400 and "numéro de téléphone mobile valide" in alert(refused.text)

    page = browser.post("/compte/telephone", {"telephone": "06 12 34 56 78"})
    assert "Un code de vérification vous a été envoyé par SMS" in page.text
    sms = last_message(site, "+33612345678", "sms")
    code = code_in(sms)
    wrong = browser.post("/compte/telephone/code", {"code": "999999" if code != "999999" else "1"})
    assert wrong.status_code == 401 and "Code de confirmation incorrect" in alert(wrong.text)
    page = browser.post("/compte/telephone/code", {"code": code})
    assert "Votre numéro de téléphone est vérifié" in page.text
    page = browser.post("/compte/otp", {"canal": "sms"})
    assert "le code de confirmation vous sera envoyé par SMS." in page.text
    browser.logout()

    # At the next interval the code comes by SMS, not by e-mail.
    age(site, "UPDATE comptes SET derniere_otp_le = derniere_otp_le - 31 * 86400 "
              "WHERE identifiant = 'adurand'")
    mails_before = len([m for m in site.outbox() if m.to == EMAIL])
    page = browser.login("adurand", PASSWORD)
    assert page.url.endswith("/connexion/code") and "par SMS" in page.text
    assert len([m for m in site.outbox() if m.to == EMAIL]) == mails_before
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, "+33612345678", "sms"))})
    assert page.url.endswith("/espace")

    # Back to e-mail, at any time.
    page = browser.post("/compte/otp", {"canal": "email"})
    assert "le code de confirmation vous sera envoyé par e-mail." in page.text
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = derniere_otp_le - 31 * 86400 "
              "WHERE identifiant = 'adurand'")
    page = browser.login("adurand", PASSWORD)
    assert "par e-mail" in page.text


LOCKED = ("Trop de tentatives de connexion. Pour votre sécurité, l'accès est suspendu pendant "
          "15 minutes. Réessayez plus tard ou utilisez « Mot de passe oublié ? ».")


def wrong_code(site, email: str) -> str:
    code = code_in(last_message(site, email))
    return "000000" if code != "000000" else "111111"


def test_wrong_codes_run_out(site, browser):
    """A wrong code is a failed login attempt of the identifiant, as a wrong password is."""
    established(site, browser, "bdurand", "b.durand@chu.example.test")
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'bdurand'")
    browser.login("bdurand", PASSWORD)
    code = code_in(last_message(site, "b.durand@chu.example.test"))
    wrong = wrong_code(site, "b.durand@chu.example.test")
    pages = [browser.post("/connexion/code", {"code": wrong}) for _ in range(5)]
    assert alert(pages[0].text) == "Code de confirmation incorrect. Il vous reste 4 essais."
    assert alert(pages[3].text) == "Code de confirmation incorrect. Il vous reste 1 essai."
    assert pages[4].status_code == 429 and alert(pages[4].text) == LOCKED
    # Even the right code is refused now, and the password too: the identifiant is suspended.
    page = browser.post("/connexion/code", {"code": code})
    assert page.status_code == 429 and alert(page.text) == LOCKED
    assert browser.post("/connexion/code/renvoyer").status_code == 429
    assert browser.login("bdurand", PASSWORD).status_code == 429
    # Fifteen minutes later: the password, then a new code.
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1 WHERE cle = 'identifiant:bdurand'")
    assert browser.login("bdurand", PASSWORD).url.endswith("/connexion/code")
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, "b.durand@chu.example.test"))})
    assert page.url.endswith("/espace")


def test_wrong_codes_across_sessions_lock_the_identifiant(site, browser):
    """A new session (a new password login) does not start the count again: someone who knows
    the password cannot try codes without end."""
    email = "e.durand@chu.example.test"
    established(site, browser, "edurand", email)
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'edurand'")
    answers = []
    for _ in range(3):
        guesser = Browser(site)
        assert guesser.login("edurand", PASSWORD).url.endswith("/connexion/code")
        for _ in range(2):
            page = guesser.post("/connexion/code", {"code": wrong_code(site, email)})
            answers.append((page.status_code, alert(page.text)))
            if page.status_code == 429:
                break
    assert answers[2] == (401, "Code de confirmation incorrect. Il vous reste 2 essais.")
    assert answers[-1] == (429, LOCKED) and len(answers) == 5
    page = Browser(site).login("edurand", PASSWORD)
    assert page.status_code == 429 and alert(page.text) == LOCKED


def test_codes_sent_are_limited(site, browser):
    established(site, browser, "cdurand", "c.durand@chu.example.test")
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'cdurand'")
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1")  # the first connection's code
    browser.login("cdurand", PASSWORD)  # first code
    pages = [browser.post("/connexion/code/renvoyer") for _ in range(5)]
    assert [p.status_code for p in pages] == [200, 200, 200, 200, 429]
    assert alert(pages[-1].text).startswith("Trop de codes de confirmation envoyés.")
    assert len([m for m in site.outbox() if m.to == "c.durand@chu.example.test"
                and "code de confirmation" in m.subject]) == 5 + 1  # + the first connection's
    # Counted for the account: a new session gets no new code either.
    page = Browser(site).login("cdurand", PASSWORD)
    assert page.status_code == 429
    assert alert(page.text).startswith("Trop de codes de confirmation envoyés.")
    assert len([m for m in site.outbox() if m.to == "c.durand@chu.example.test"
                and "code de confirmation" in m.subject]) == 5 + 1


def test_the_interval_is_configurable(pki_dir, tmp_path):
    from tests.testbed.site import SiteProcess

    with SiteProcess(tmp_path / "site", pki_dir / "trust",
                     extra_args=["--otp-interval-days", "0"]) as every_time:
        browser = Browser(every_time)
        established(every_time, browser, "ddurand", "d.durand@chu.example.test")
        browser.logout()
        assert browser.login("ddurand", PASSWORD).url.endswith("/connexion/code")


SMS_LIMIT = ("Trop de SMS de vérification envoyés pour votre compte. Pour votre sécurité, attendez "
             "15 minutes avant de demander un nouveau code.")
PHONE_LOCKED = ("Trop de codes de vérification erronés. Pour votre sécurité, la vérification du "
                "numéro de téléphone est suspendue pendant 15 minutes.")


def sms_to(site, numero: str) -> int:
    return len([m for m in site.outbox() if m.to == numero and m.canal == "sms"])


def compte_id(site, identifiant: str) -> int:
    import sqlite3

    conn = sqlite3.connect(site.data_dir / "site.sqlite")
    try:
        return conn.execute("SELECT id FROM comptes WHERE identifiant = ?",
                            (identifiant,)).fetchone()[0]
    finally:
        conn.close()


def test_phone_codes_sent_are_limited(site, browser):
    """Each « Vérifier » sends an SMS to the number typed: a few per account in a quarter of
    an hour, whatever the number and the session (no SMS pumping, no harassing a number)."""
    established(site, browser, "fdurand", "f.durand@chu.example.test")
    numbers = ["06 11 11 11 11", "06 22 22 22 22", "07 33 33 33 33"]
    for numero in numbers:
        page = browser.post("/compte/telephone", {"telephone": numero})
        assert page.status_code == 200
        assert "Un code de vérification vous a été envoyé par SMS" in page.text
    victim = "+33644444444"
    refused = browser.post("/compte/telephone", {"telephone": "06 44 44 44 44"})
    assert refused.status_code == 429 and alert(refused.text) == SMS_LIMIT
    assert sms_to(site, victim) == 0
    # Counted for the account: another session of it sends no more.
    other = Browser(site)
    assert other.login("fdurand", PASSWORD).url.endswith("/espace")
    other.get("/compte")
    refused = other.post("/compte/telephone", {"telephone": "06 44 44 44 44"})
    assert refused.status_code == 429 and alert(refused.text) == SMS_LIMIT
    assert sms_to(site, victim) == 0
    # A quarter of an hour later, one more.
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1 WHERE cle = ?",
        f"envoi-sms:{compte_id(site, 'fdurand')}")
    page = browser.post("/compte/telephone", {"telephone": "06 44 44 44 44"})
    assert "Un code de vérification vous a été envoyé par SMS" in page.text
    assert sms_to(site, victim) == 1


NUMBER_LIMIT = ("Trop de SMS de vérification envoyés à ce numéro. Pour votre sécurité, attendez "
                "15 minutes avant de demander un nouveau code.")


def test_phone_codes_to_one_number_are_limited_whatever_the_account(site, browser):
    """Several accounts cannot together flood one number: five SMS per number in a quarter
    of an hour, more than one account's three (one account alone cannot lock a number out);
    a refusal costs the account nothing; another number is still served."""
    victim, numero = "+33677777777", "06 77 77 77 77"
    senders = {}
    for name, times in (("hdurand", 3), ("idurand", 2)):
        senders[name] = sender = browser if name == "hdurand" else Browser(site)
        established(site, sender, name, f"{name[0]}.durand@chu.example.test")
        for _ in range(times):
            page = sender.post("/compte/telephone", {"telephone": numero})
            assert "Un code de vérification vous a été envoyé par SMS" in page.text
    established(site, other := Browser(site), "kdurand", "k.durand@chu.example.test")
    refused = other.post("/compte/telephone", {"telephone": numero})
    assert refused.status_code == 429 and alert(refused.text) == NUMBER_LIMIT
    assert sms_to(site, victim) == 5
    for elsewhere in ("06 88 88 88 81", "06 88 88 88 82", "06 88 88 88 83"):  # its three
        page = other.post("/compte/telephone", {"telephone": elsewhere})
        assert "Un code de vérification vous a été envoyé par SMS" in page.text
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1 WHERE cle = ?", f"sms-numero:{victim}")
    page = senders["idurand"].post("/compte/telephone", {"telephone": numero})
    assert "Un code de vérification vous a été envoyé par SMS" in page.text
    assert sms_to(site, victim) == 6


def test_wrong_phone_codes_lock_the_verification(site, browser):
    """Wrong phone codes count for the account, not for the code or the session: a new code,
    or another session, does not start the count again."""
    established(site, browser, "gdurand", "g.durand@chu.example.test")
    numero = "+33655555555"
    browser.post("/compte/telephone", {"telephone": "06 55 55 55 55"})
    wrong = "000000" if code_in(last_message(site, numero, "sms")) != "000000" else "111111"
    pages = [browser.post("/compte/telephone/code", {"code": wrong}) for _ in range(3)]
    assert [p.status_code for p in pages] == [401, 401, 401]
    assert alert(pages[0].text) == "Code de confirmation incorrect. Il vous reste 4 essais."
    other = Browser(site)
    assert other.login("gdurand", PASSWORD).url.endswith("/espace")
    other.get("/compte")
    other.post("/compte/telephone", {"telephone": "06 55 55 55 55"})
    code = code_in(last_message(site, numero, "sms"))
    wrong = "000000" if code != "000000" else "111111"
    page = other.post("/compte/telephone/code", {"code": wrong})
    assert page.status_code == 401
    assert alert(page.text) == "Code de confirmation incorrect. Il vous reste 1 essai."
    page = other.post("/compte/telephone/code", {"code": wrong})
    assert page.status_code == 429 and alert(page.text) == PHONE_LOCKED
    # Locked: the right code is refused, and no new code is sent.
    sent = sms_to(site, numero)
    page = other.post("/compte/telephone/code", {"code": code})
    assert page.status_code == 429 and alert(page.text) == PHONE_LOCKED
    refused = browser.post("/compte/telephone", {"telephone": "06 55 55 55 55"})
    assert refused.status_code == 429 and alert(refused.text) == PHONE_LOCKED
    assert sms_to(site, numero) == sent
    assert "Numéro vérifié." not in browser.get("/compte").text
    # A quarter of an hour later: a new code, and the right one verifies the number.
    key = compte_id(site, "gdurand")
    age(site, "UPDATE tentatives SET le = le - 15 * 60 - 1 WHERE cle IN (?, ?)",
        f"code-telephone:{key}", f"envoi-sms:{key}")
    browser.get("/compte")
    browser.post("/compte/telephone", {"telephone": "06 55 55 55 55"})
    page = browser.post("/compte/telephone/code",
                        {"code": code_in(last_message(site, numero, "sms"))})
    assert "Votre numéro de téléphone est vérifié" in page.text
