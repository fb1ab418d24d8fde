"""The site's tile script (static/connexion.js) in a real Chromium, against the real site,
verifier and host.

The extension itself is not loaded here (its own browser suite does that): a small page-side
stand-in answers the §9 messages the way the extension does, and has the real host sign.
It fakes the extension's transport only; the token is the host's, from a SoftHSM2 card."""

from __future__ import annotations

import json
import shutil

import pytest

from tests.site.browser import sign
from tests.site.flows import established

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

STAND_IN = """
window.addEventListener("message", async (event) => {
  const m = event.data;
  if (event.source !== window || !m || m.cpsbridge !== "request") return;
  window.postMessage({cpsbridge: "ack", requestId: m.requestId}, location.origin);
  let answer;
  if (m.action === "status") {
    answer = {result: STATUS};
  } else {
    const token = await window.hostSign(m.challengeNonce);
    answer = token.error ? {error: token.error} : {result: {token: token}};
  }
  window.postMessage({cpsbridge: "response", requestId: m.requestId, ...answer}, location.origin);
});
"""

STATUS = {"extension": "1.2.0", "host": {"version": "1.2.0", "protocol": 1,
          "pcsc": {"available": True, "readers": [{"name": "Lecteur", "cardPresent": True,
                                                   "atr": "3BAC00", "cardType": "CPS3"}]},
          "pkcs11": {"module": "softhsm", "loaded": True}},
          "card": {"cardType": "CPS", "certificates": 1, "pinStatus": "ok"}}


@pytest.fixture
def chromium():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--headless=new"])
        yield browser
        browser.close()


def page_for(chromium, site):
    context = chromium.new_context(ignore_https_errors=True, locale="fr-FR")
    return context.new_page()


def test_without_the_extension(chromium, site):
    page = page_for(chromium, site)
    page.goto(site.url)
    status = page.locator("[data-cpsbridge-tile] [data-cpsbridge-status]")
    status.filter(has_text="n'est pas installée").wait_for()
    assert status.get_attribute("data-state") == "extension-absente"
    page.click("#tuile-cps")
    alert = page.locator('[data-cpsbridge-tile] [role="alert"]')
    alert.filter(has_text="extension CPS Bridge").wait_for()


def test_card_login_through_the_tile(chromium, site, host, ids, browser):
    # An établissement account whose card is linked already.
    established(site, browser, "jdupont", "jean.dupont@chu.example.test", nom="Dupont",
                prenom="Jean", profession="Médecin", rpps="99700367917")
    answer = browser.card_login(host, ids["dupont"])
    browser.follow(answer)
    browser.post("/connexion/carte-cps/association",
                 {"identifiant": "jdupont", "mot_de_passe": "Hopital2024sur"})

    page = page_for(chromium, site)
    page.expose_function("hostSign", lambda nonce: sign(host, nonce, site.origin, ids["dupont"]))
    page.add_init_script(STAND_IN.replace("STATUS", json.dumps(STATUS)))
    page.goto(site.url)
    page.locator("[data-cpsbridge-status]").filter(
        has_text="Carte CPS détectée : cliquez pour vous identifier.").wait_for()
    page.click("#tuile-cps")
    page.wait_for_url("**/espace")
    assert page.locator('[data-testid="utilisateur"]').inner_text() == "Dr Jean DUPONT"
    assert "Vous êtes connecté" in page.content()


def test_a_refusal_shows_in_the_tile(chromium, site, host, ids):
    page = page_for(chromium, site)
    page.expose_function("hostSign", lambda nonce: sign(host, nonce, site.origin, ids["expire"]))
    page.add_init_script(STAND_IN.replace("STATUS", json.dumps(STATUS)))
    page.goto(site.url)
    page.click("#tuile-cps")
    page.locator('[data-cpsbridge-tile] [role="alert"]').filter(
        has_text="Le certificat de votre carte CPS a expiré.").wait_for()
    assert page.url == site.url


def test_forms_post_from_a_real_browser(chromium, site):
    """The site's own forms pass its CSRF and Origin checks as a browser sends them."""
    page = page_for(chromium, site)
    page.goto(site.url)
    page.fill("#identifiant", "inconnu")
    page.fill("#mot_de_passe", "pas le bon 1")
    page.click("form[action='/connexion'] button[type='submit']")
    page.locator('[data-testid="erreur"]').filter(
        has_text="Identifiant ou mot de passe incorrect.").wait_for()
