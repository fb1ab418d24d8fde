"""The site's pages in a real Chromium, without the extension: what a browser that lacks it
sees, the tile script with a stand-in for the page library (what it shows for each status,
the focus, a cancel), and the site's own forms (a refusal's title, focus and marked fields,
colours, the menu). The tile's card flows, with the real extension, host and cards, are the
browser suite's (tests/browser/scenarios.py)."""

from __future__ import annotations

import json
import re
import shutil
import time

import pytest

from tests.site.browser import Browser, last_message, path_of
from tests.site.flows import established, liberal_by_card
from tests.testbed.site import REPO

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


TILE = "#tuile-cps"
STATUS = "[data-cpsbridge-tile] [data-cpsbridge-status]"
ALERT = '[data-cpsbridge-tile] [role="alert"]'
HELP = "[data-cpsbridge-tile] [data-cpsbridge-aide]"
ERRORS = json.loads((REPO / "host" / "errors.json").read_text(encoding="utf-8"))["codes"]


def error(code: str) -> dict:
    """An error as the extension gives it to a page: its code and its French message."""
    return {"code": code, "message": ERRORS[code]["fr"]}


def host_status(*readers: dict) -> dict:
    """The host's status (PROTOCOL §4) with these PC/SC readers."""
    return {"version": "1.2.0", "protocol": 1, "pcsc": {"available": True, "readers": list(readers)},
            "pkcs11": {"module": "/usr/lib/softhsm/libsofthsm2.so", "loaded": True}}


EMPTY_READER = {"name": "Lecteur 0", "cardPresent": False, "atr": None, "cardType": None}
VITALE = {"name": "Lecteur 0", "cardPresent": True, "atr": "3F6525082004689000",
          "cardType": "VITALE"}
CPS_CARD = {"cardType": "CPS", "certificates": 1, "pinStatus": "ok"}
READY = {"extension": "1.2.0", "host": host_status(EMPTY_READER), "card": CPS_CARD}


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
    # Said once: the alert now gives the reason, the status line no longer repeats it.
    wait_js(page, f"document.querySelector('{STATUS}').textContent === ''")
    assert page.locator(HELP).is_visible()


def test_forms_post_from_a_real_browser(chromium, site):
    """The site's own forms pass its CSRF and Origin checks as a browser sends them."""
    page = page_for(chromium, site)
    page.goto(site.url)
    page.fill("#identifiant", "inconnu")
    page.fill("#mot_de_passe", "pas le bon 1")
    page.click("form[action='/connexion'] button[type='submit']")
    page.locator('[data-testid="erreur"]').filter(
        has_text="Identifiant ou mot de passe incorrect.").wait_for()



# The extension's page library (extension/page/cpsbridge.js) replaced by a stand-in. Why a
# stand-in: what is under test here is the site's own tile script, for status results the
# test bed cannot always make (a module of another version…), and the stand-in is what lets
# the test know the exact token the page was given. The real library, extension, host and
# card are the browser suite's (tests/browser/scenarios.py).
def stand_in(status: dict | None = None, status_error: dict | None = None,
             login: str | dict = "token") -> str:
    """status() answers `status` (or rejects with `status_error`); authenticate() resolves
    with a token of no value ("token"), rejects with the error `login`, or ("pending") waits
    until the page calls endLogin(error or null). window.logins counts the logins asked."""
    setup = json.dumps({"status": status, "statusError": status_error, "login": login,
                        "messages": {code: e["fr"] for code, e in ERRORS.items()}})
    return """window.logins = 0;
(function (setup) {
  window.CpsBridge = {
    message: function (code) { return setup.messages[code]; },
    status: function () {
      return setup.statusError ? Promise.reject(setup.statusError) : Promise.resolve(setup.status);
    },
    authenticate: function (nonce) {
      window.logins += 1;
      return new Promise(function (resolve, reject) {
        window.endLogin = function (e) { if (e) reject(e); else resolve({token: {format: "cpsbridge:1"}}); };
        if (setup.login !== "pending") window.endLogin(setup.login === "token" ? null : setup.login);
      });
    }
  };
})(""" + setup + ");"


def tile_page(chromium, site, library: str | None):
    """The home page, its page library replaced by `library` (None: absent, a 404)."""
    page = page_for(chromium, site)
    page.route("**/static/cpsbridge.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=library) if library is not None
        else route.fulfill(status=404, body="absent"))
    page.goto(site.url)
    return page


def wait_js(page, expression: str, timeout: float = 10.0):
    """Until `expression` is true in the page. (Not wait_for_function: its polling evaluates
    a string, which the site's CSP forbids.)"""
    deadline = time.monotonic() + timeout
    while not (value := page.evaluate(expression)):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {expression}")
        page.wait_for_timeout(50)
    return value


def shown_state(page) -> tuple[str, str, bool]:
    """Once the tile has described a status: its status line, data-state, help link shown."""
    wait_js(page, f"document.querySelector('{STATUS}').dataset.state")
    return (" ".join(page.locator(STATUS).text_content().split()),
            page.locator(STATUS).get_attribute("data-state"), page.locator(HELP).is_visible())


def test_the_tile_sends_back_the_nonce_it_signed(chromium, site):
    """The session may hold several challenges (tabs): the token goes with its own nonce,
    to the real site, whose refusal of that token the tile then shows."""
    page = page_for(chromium, site)
    page.route("**/static/cpsbridge.js", lambda route: route.fulfill(
        status=200, content_type="text/javascript", body=stand_in(READY)))
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


READY_TEXT = "Carte CPS détectée : cliquez pour vous identifier."


@pytest.mark.parametrize("status, status_error, text, state, help_link", [
    (READY, None, READY_TEXT, "pret", False),
    # A Carte Vitale is no CPS card: the extension's cardError, not « détectée » in green.
    ({"extension": "1.2.0", "host": host_status(VITALE), "card": None,
      "cardError": error("ERR_CPS_UNSUPPORTED_CARD")},
     None, ERRORS["ERR_CPS_UNSUPPORTED_CARD"]["fr"], "erreur", False),
    ({"extension": "1.2.0", "host": host_status(EMPTY_READER), "card": None},
     None, "Insérez votre carte CPS dans le lecteur.", "attente", False),
    ({"extension": "1.2.0", "host": host_status(), "card": None},
     None, "Aucun lecteur de carte n'est détecté. Branchez votre lecteur de carte CPS.",
     "attente", False),
    # A blocked card: the words of the extension's ERR_CPS_PIN_LOCKED, not a second wording.
    ({"extension": "1.2.0", "host": host_status(EMPTY_READER), "card": {**CPS_CARD, "pinStatus": "locked"}},
     None, ERRORS["ERR_CPS_PIN_LOCKED"]["fr"], "erreur", False),
    ({"extension": "1.2.0", "host": None, "card": None,
      "hostError": error("ERR_CPS_NATIVE_UNAVAILABLE")},
     None, ERRORS["ERR_CPS_NATIVE_UNAVAILABLE"]["fr"], "module-absent", True),
    # No host and no word of why: the site's own sentence, the extension's words.
    ({"extension": "1.2.0", "host": None, "card": None},
     None, ERRORS["ERR_CPS_NATIVE_UNAVAILABLE"]["fr"], "module-absent", True),
    ({"extension": "1.2.0", "host": host_status(), "card": None,
      "hostError": error("ERR_CPS_VERSION_MISMATCH")},
     None, ERRORS["ERR_CPS_VERSION_MISMATCH"]["fr"], "erreur", True),
    (None, error("ERR_CPS_EXTENSION_UNAVAILABLE"),
     ERRORS["ERR_CPS_EXTENSION_UNAVAILABLE"]["fr"], "extension-absente", True),
], ids=["carte-cps", "carte-vitale", "lecteur-vide", "sans-lecteur", "carte-bloquee",
        "module-absent", "module-absent-sans-message", "versions", "extension-absente"])
def test_the_tile_says_what_the_status_says(chromium, site, status, status_error, text, state,
                                            help_link):
    """« Carte CPS détectée », and its green (data-state "pret"), only for a CPS card; the
    link to the help page where something is to be installed."""
    page = tile_page(chromium, site, stand_in(status, status_error))
    assert shown_state(page) == (text, state, help_link)


def test_without_the_page_library_the_site_says_what_the_extension_says(chromium, site):
    """No library at all (the site's own sentence): the extension's words for that state,
    said once after a click, with the link to the help page, which says what to install and
    whom to ask."""
    page = tile_page(chromium, site, None)
    missing = ERRORS["ERR_CPS_EXTENSION_UNAVAILABLE"]["fr"]
    assert shown_state(page) == (missing, "extension-absente", True)
    page.click(TILE)
    page.locator(ALERT).filter(has_text=missing).wait_for()
    assert shown_state(page)[0] == ""
    page.click(f"{HELP} a")
    page.wait_for_url("**/aide/carte-cps")
    assert page.locator("h1").text_content() == "Connexion par carte CPS : ce qu'il faut installer"


def test_the_module_missing_is_said_once(chromium, site):
    missing = error("ERR_CPS_NATIVE_UNAVAILABLE")
    page = tile_page(chromium, site, stand_in(
        {"extension": "1.2.0", "host": None, "card": None, "hostError": missing}, login=missing))
    assert shown_state(page) == (missing["message"], "module-absent", True)
    page.click(TILE)
    page.locator(ALERT).filter(has_text=missing["message"]).wait_for(timeout=5000)
    wait_js(page, f"document.querySelector('{STATUS}').textContent === ''")
    assert shown_state(page) == ("", "module-absent", True)


def test_a_cancel_is_no_error_and_the_focus_comes_back(chromium, site):
    """The person cancelled in the dialog: a neutral sentence in the status line (polite), no
    red alert; the keyboard focus is back on the button, to try again."""
    page = tile_page(chromium, site, stand_in(READY, login=error("ERR_CPS_USER_CANCELLED")))
    assert shown_state(page)[0] == READY_TEXT
    page.focus(TILE)
    page.keyboard.press("Enter")
    page.locator(STATUS).filter(has_text="annulée").wait_for(timeout=5000)
    wait_js(page, "window.logins === 1")
    assert shown_state(page) == (f"Connexion par carte CPS annulée. {READY_TEXT}", "pret", False)
    assert page.locator(f"{STATUS} .avis").text_content() == "Connexion par carte CPS annulée."
    assert page.locator(ALERT).is_hidden()
    assert page.evaluate("document.activeElement.id") == "tuile-cps"


def test_the_button_keeps_the_focus_while_the_login_runs(chromium, site):
    """Busy, the button is aria-disabled, not disabled (a disabled button drops the focus to
    the page), and a second press starts nothing; a login ending in an error gives the
    focus back to the button."""
    page = tile_page(chromium, site, stand_in(READY, login="pending"))
    challenges = []
    page.on("request", lambda r: challenges.append(r.url)
            if r.method == "POST" and r.url.endswith("/connexion/carte-cps/defi") else None)
    assert shown_state(page)[0] == READY_TEXT
    page.focus(TILE)
    page.keyboard.press("Enter")
    wait_js(page, "window.logins === 1")
    button = page.locator(TILE)
    assert button.get_attribute("aria-disabled") == "true"
    assert page.evaluate(f"document.querySelector('{TILE}').disabled") is False
    assert page.evaluate("document.activeElement.id") == "tuile-cps"
    page.keyboard.press("Enter")
    page.wait_for_timeout(500)
    assert page.evaluate("window.logins") == 1 and len(challenges) == 1
    timeout = error("ERR_CPS_USER_TIMEOUT")
    page.evaluate(f"endLogin({json.dumps(timeout)})")
    page.locator(ALERT).filter(has_text=timeout["message"]).wait_for(timeout=5000)
    assert button.get_attribute("aria-disabled") is None
    assert page.evaluate("document.activeElement.id") == "tuile-cps"


# -- the site's forms ----------------------------------------------------------------------

ACTIVE = "(() => { const a = document.activeElement; return a && (a.id || a.tagName); })()"


def logged_page(chromium, site, browser: Browser):
    """A Chromium page with the session of `browser` (the requests-side person)."""
    context = chromium.new_context(ignore_https_errors=True, locale="fr-FR")
    context.add_cookies([{"name": "__Host-vt_session", "url": site.url, "secure": True,
                          "value": browser.http.cookies.get("__Host-vt_session")}])
    return context.new_page()


def test_a_refused_login_says_so_in_the_title_and_takes_the_focus(chromium, site):
    page = page_for(chromium, site)
    page.goto(site.url)
    assert page.title() == "Connexion – ViaTrajectoire"
    page.fill("#identifiant", "inconnu")
    page.fill("#mot_de_passe", "pas le bon 1")
    page.click("form[action='/connexion'] button[type='submit']")
    page.wait_for_load_state()
    assert page.title() == "Erreur : Connexion – ViaTrajectoire"
    # The first field at fault takes the focus; the refusal is its description.
    assert page.evaluate(ACTIVE) == "identifiant"
    assert page.locator("#identifiant").get_attribute("aria-describedby") == "erreur"
    assert page.locator("#erreur").text_content() == "Identifiant ou mot de passe incorrect."


def test_a_refused_association_takes_the_focus_to_its_fields(chromium, site, host, ids):
    """A libéral without an account types his RPPS and a password: the refusal says where
    to go instead; the fields are marked, described by the refusal, and take the focus."""
    person = Browser(site)
    association = "/connexion/carte-cps/association"
    assert person.card_login(host, ids["bernard"]).json() == {"redirect": association}
    page = logged_page(chromium, site, person)
    page.goto(site.url + association.lstrip("/"))
    assert page.evaluate(ACTIVE) == "BODY"  # nothing refused yet: the page starts at the top
    page.fill("#identifiant", "99700412345")
    page.fill("#mot_de_passe", "pas le bon 1")
    page.click(f"form[action='{association}'] button[type='submit']")
    page.wait_for_load_state()
    assert page.title() == "Erreur : Première connexion par carte – ViaTrajectoire"
    assert page.evaluate(ACTIVE) == "identifiant"
    for field in ("#identifiant", "#mot_de_passe"):
        assert page.get_attribute(field, "aria-invalid") == "true"
        assert page.get_attribute(field, "aria-describedby") == "erreur"
    assert page.locator("#erreur").text_content() == (
        "Identifiant ou mot de passe incorrect. Vous n'avez pas encore de compte "
        "ViaTrajectoire ? Professionnel libéral, cliquez sur « Créer mon compte de l'espace "
        "médecin libéral ».")


def contrast(rgb1: str, rgb2: str) -> float:
    """WCAG contrast ratio of two CSS rgb()/rgba() colours (opaque)."""
    def luminance(css: str) -> float:
        channels = [int(x) / 255 for x in re.findall(r"\d+", css)[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    hi, lo = sorted((luminance(rgb1), luminance(rgb2)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


def test_field_borders_stand_out(chromium, site):
    """WCAG 1.4.11: a field's outline at 3:1 at least, on a tile (white) and on the page."""
    page = page_for(chromium, site)
    page.goto(site.url)
    style = "(s) => getComputedStyle(document.querySelector(s))"
    border = page.evaluate(f"({style})('#identifiant').borderTopColor")
    for behind in (page.evaluate(f"({style})('.tuile').backgroundColor"),
                   page.evaluate(f"({style})('body').backgroundColor")):
        assert contrast(border, behind) >= 3, (border, behind)


def test_the_menu_entries_do_not_touch(chromium, site):
    person = Browser(site)
    established(site, person, "menu1", "menu1@chu.example.test")
    page = logged_page(chromium, site, person)
    page.goto(site.url + "espace")
    compte = page.locator("nav a[href='/compte']").bounding_box()
    sortie = page.locator("nav form[action='/deconnexion'] button").bounding_box()
    assert sortie["x"] - (compte["x"] + compte["width"]) >= 12, (compte, sortie)


def test_a_refused_new_password_takes_the_focus_to_its_field(chromium, site):
    """The new password page (the référent's link) as a person sees it: two passwords that
    differ, the confirmation takes the focus, described by the refusal."""
    assert site.create_account("focus1", "focus1@chu.example.test", "Focus", "Anne").returncode == 0
    link = path_of(last_message(site, "focus1@chu.example.test").links[0])
    page = page_for(chromium, site)
    page.goto(site.url + link.lstrip("/"))
    assert page.evaluate(ACTIVE) == "BODY"
    page.fill("#mot_de_passe", "Hopital2024ok")
    page.fill("#confirmation", "Hopital2024ko")
    page.click("form button[type='submit']")
    page.wait_for_load_state()
    assert page.title() == "Erreur : Définition de votre mot de passe – ViaTrajectoire"
    assert page.evaluate(ACTIVE) == "confirmation"
    assert page.get_attribute("#confirmation", "aria-invalid") == "true"
    assert page.get_attribute("#confirmation", "aria-describedby") == "erreur"
    assert page.locator("#erreur").text_content() == \
        "Les deux mots de passe saisis ne sont pas identiques."


def test_a_refused_assistant_finalisation_takes_the_focus_to_its_field(chromium, site, host, ids):
    """The assistant, invited by a libéral, finishing the account by card: a profession not
    chosen is refused, and the list takes the focus, described by the refusal."""
    liberal = Browser(site)
    liberal_by_card(liberal, host, ids["dupont"], "dr.dupont@cabinet.example.test", "Cabinet2024ok")
    liberal.get("/compte")
    liberal.post("/compte/assistants", {"email": "focus.assistant@cabinet.example.test"})
    assistant = Browser(site)
    assistant.get(path_of(last_message(site, "focus.assistant@cabinet.example.test").links[0]))
    answer = assistant.card_login(host, ids["petit"], etape="invitation")
    assert answer.json() == {"redirect": "/assistant/finalisation"}
    page = logged_page(chromium, site, assistant)
    page.goto(site.url + "assistant/finalisation")
    assert page.evaluate(ACTIVE) == "BODY"
    # The browser's own check would stop an empty choice: a person whose browser lets it
    # through (or a choice gone from the list) meets the site's.
    page.evaluate("document.querySelector('form[action=\"/assistant/finalisation\"]')"
                  ".noValidate = true")
    page.fill("#mot_de_passe", "Cabinet2024ok")
    page.fill("#confirmation", "Cabinet2024ok")
    page.check("input[name='accepte']")
    page.click("form[action='/assistant/finalisation'] button[type='submit']")
    page.wait_for_load_state()
    assert page.title() == "Erreur : Finaliser votre compte d'assistant – ViaTrajectoire"
    assert page.evaluate(ACTIVE) == "profession"
    assert page.get_attribute("#profession", "aria-invalid") == "true"
    assert page.get_attribute("#profession", "aria-describedby") == "erreur"
    assert page.locator("#erreur").text_content() == "Choisissez votre profession dans la liste."


def test_the_third_party_refusal_takes_the_focus(chromium, site):
    page = page_for(chromium, site)
    page.goto(site.url + "connexion/site-tiers?retour=/compte")
    assert page.title() == "Erreur : Connexion depuis un site tiers – ViaTrajectoire"
    assert page.evaluate(ACTIVE) == "erreur"
    assert page.get_attribute("#erreur", "role") is None  # said once: read as it takes the focus
