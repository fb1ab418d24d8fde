"""Code OTP (manual IV.1): by e-mail by default; by SMS once a phone number is verified with
a code; the choice can be changed on the account page."""

from __future__ import annotations

from tests.site.browser import age, alert, code_in, last_message
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


def test_wrong_codes_run_out(site, browser):
    established(site, browser, "bdurand", "b.durand@chu.example.test")
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'bdurand'")
    browser.login("bdurand", PASSWORD)
    code = code_in(last_message(site, "b.durand@chu.example.test"))
    wrong = "000000" if code != "000000" else "111111"
    answers = [alert(browser.post("/connexion/code", {"code": wrong}).text) for _ in range(5)]
    assert answers[0] == "Code de confirmation incorrect. Il vous reste 4 essais."
    assert answers[3] == "Code de confirmation incorrect. Il vous reste 1 essai."
    assert "Trop de codes erronés" in answers[4]
    # Even the right code is refused now; a new one is needed.
    page = browser.post("/connexion/code", {"code": code})
    assert page.status_code == 401 and "Trop de codes erronés" in alert(page.text)
    browser.post("/connexion/code/renvoyer")
    page = browser.post("/connexion/code", {"code": code_in(last_message(site, "b.durand@chu.example.test"))})
    assert page.url.endswith("/espace")


def test_codes_sent_are_limited(site, browser):
    established(site, browser, "cdurand", "c.durand@chu.example.test")
    browser.logout()
    age(site, "UPDATE comptes SET derniere_otp_le = NULL WHERE identifiant = 'cdurand'")
    browser.login("cdurand", PASSWORD)  # first code
    pages = [browser.post("/connexion/code/renvoyer") for _ in range(5)]
    assert [p.status_code for p in pages] == [200, 200, 200, 200, 429]
    assert alert(pages[-1].text).startswith("Trop de codes de confirmation envoyés.")
    assert len([m for m in site.outbox() if m.to == "c.durand@chu.example.test"
                and "code de confirmation" in m.subject]) == 5 + 1  # + the first connection's


def test_the_interval_is_configurable(pki_dir, tmp_path):
    from tests.site.browser import Browser
    from tests.testbed.site import SiteProcess

    with SiteProcess(tmp_path / "site", pki_dir / "trust",
                     extra_args=["--otp-interval-days", "0"]) as every_time:
        browser = Browser(every_time)
        established(every_time, browser, "ddurand", "d.durand@chu.example.test")
        browser.logout()
        assert browser.login("ddurand", PASSWORD).url.endswith("/connexion/code")
