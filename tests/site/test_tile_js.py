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
