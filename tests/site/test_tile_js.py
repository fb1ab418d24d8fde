"""The site's pages in a real Chromium, without the extension: what a browser that lacks it
sees, and the site's own forms. The tile's card flows, with the real extension, host and
cards, are the browser suite's (tests/browser/scenarios.py)."""

from __future__ import annotations

import shutil

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


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


def test_forms_post_from_a_real_browser(chromium, site):
    """The site's own forms pass its CSRF and Origin checks as a browser sends them."""
    page = page_for(chromium, site)
    page.goto(site.url)
    page.fill("#identifiant", "inconnu")
    page.fill("#mot_de_passe", "pas le bon 1")
    page.click("form[action='/connexion'] button[type='submit']")
    page.locator('[data-testid="erreur"]').filter(
        has_text="Identifiant ou mot de passe incorrect.").wait_for()


# The extension's page library (extension/page/cpsbridge.js) replaced by a stand-in that
# "signs" at once with a token of no value. Why a stand-in: what is under test here is the
# site's own tile script, and the stand-in is what lets the test know the exact token the
# page was given. The real library, extension, host and card are the browser suite's.
FAKE_BRIDGE = """window.CpsBridge = {
  status: function () { return Promise.resolve({extension: {}, host: {pcsc: {available: true,
    readers: [{name: "lecteur", cardPresent: true}]}}}); },
  authenticate: function (nonce) { return Promise.resolve({token: {format: "cpsbridge:1"}}); }
};"""


def test_the_tile_sends_back_the_nonce_it_signed(chromium, site):
    """The session may hold several challenges (tabs): the token goes with its own nonce,
    to the real site, whose refusal of that token the tile then shows."""
    import json

    page = page_for(chromium, site)
    page.route("**/static/cpsbridge.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=FAKE_BRIDGE))
    sent = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data))
            if r.method == "POST" and r.url.endswith("/connexion/carte-cps") else None)
    page.goto(site.url)
    with page.expect_response("**/connexion/carte-cps/defi") as defi:
        with page.expect_response("**/connexion/carte-cps") as answer:
            page.click("#tuile-cps")
    refusal = answer.value.json()["error"]
    assert answer.value.status == 400 and refusal["code"] == "TOKEN_MALFORMED", refusal
    page.locator('[data-cpsbridge-tile] [role="alert"]').filter(
        has_text=refusal["message"]).wait_for()
    assert sent == [{"token": {"format": "cpsbridge:1"},
                     "nonce": defi.value.json()["challengeNonce"]}]
