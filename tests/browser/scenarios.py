"""The browser scenarios, run in each browser: test_chromium.py and test_firefox.py import
them (FAMILY names the browser). Tests of one module share one browser and one site, in any
order: a test that logs Dr DUPONT in asks for `dupont_account`, which makes his libéral
account by the flow under test the first time."""

from __future__ import annotations

import base64
import json
import os
import re
import time

import pytest

from tests.testbed.browser import (DIALOG_ALERT, DIALOG_CANCEL, DIALOG_PIN, DIALOG_SUBMIT, TILE,
                                   TILE_ALERT, TILE_STATUS, launch, liberal_creation, type_pin)

pytestmark = [pytest.mark.browser, pytest.mark.timeout(240)]

PIN = "1234"
PASSWORD = "Cabinet2024test"
USER = '[data-testid="utilisateur"]'
LOGOUT = "form[action='/deconnexion'] button"


def shot(tab, artifacts, browser, name):
    return tab.screenshot(artifacts / f"{browser.family}-{name}.png")


def open_home(browser, site):
    tab = browser.open(site.url)
    tab.wait_for(TILE)
    return tab


@pytest.fixture(scope="module")
def dupont(pki) -> str:
    """certificateId of Dr DUPONT's authentication certificate (the store holds every card
    of the test bed, so the dialog asks which one)."""
    return pki.holders["dupont"].certificate_id


def choose(dialog, certificate_id):
    """« Sélectionnez le certificat »: the choice carrying data-certificate-id."""
    choice = f'[data-certificate-id="{certificate_id}"]'
    dialog.wait_for(choice)
    assert "Sélectionnez le certificat" in dialog.text("h2")
    dialog.click(choice)
    dialog.wait_for(DIALOG_PIN)


def card_through_dialog(browser, tab, certificate_id):
    """Click the tile, choose the certificate and type the code porteur in the trusted
    dialog: the card login as a person makes it, up to the dialog closing."""
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, certificate_id)
    type_pin(dialog, PIN)
    browser.wait_no_dialog()


def wait_logged_in(tab, timeout=60):
    try:
        tab.wait_url("/espace", timeout=timeout)
    except TimeoutError as exc:
        raise AssertionError(f"not logged in; tile says: {tab.text(TILE_ALERT)!r} / "
                             f"{tab.text(TILE_STATUS)!r}") from exc


def logout(tab):
    if tab.count(LOGOUT):
        tab.click(LOGOUT)
        tab.wait(lambda: tab.count(TILE) > 0, "the home page after logout")


def test_tile_sees_the_card_but_the_page_never_learns_whose(browser, site, fresh_host, artifacts):
    tab = open_home(browser, site)
    status = tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    assert status == "Carte CPS détectée : cliquez pour vous identifier.", status
    # A page asks status() without the user's consent: the card's kind and PIN state, never
    # its holder (the test bed's cards name DUPONT, MARTIN, BERNARD… with RPPS 997…).
    answer = tab.evaluate("CpsBridge.status()")
    assert answer["card"]["cardType"] in ("CPS", "CPE", "CPF", "CPA", "CDE", "UNKNOWN")
    assert answer["card"]["pinStatus"] in ("ok", "countLow", "finalTry", "locked")
    text = json.dumps(answer, ensure_ascii=False).upper()
    for secret in ("DUPONT", "MARTIN", "BERNARD", "PETIT", "ANCIEN", "ROBERT", "99700", "IDNAT",
                   "HOLDER", "TOKENLABEL", "CERTIFICATE\""):
        assert secret not in text, secret
    shot(tab, artifacts, browser, "accueil-tuile")
    tab.close()


def test_popup_shows_versions_host_readers_and_card(browser, site, fresh_host, artifacts):
    tab = browser.open(browser.extension_base + "popup/popup.html")
    facts = tab.wait_text("#facts", "Virtual PCD 00 00", timeout=60)
    # The popup speaks the browser's language (French, or English where the browser is).
    assert re.search(r"version 1\.2\.0 \(protoco(le|l) 1\)", facts), facts
    assert "Virtual PCD 00 01" in facts
    # The card: who it names and its kind, not the token's label (« CPS3v3-… »).
    assert re.search(r"(— Carte CP[SFEAx]|— CP[SFEAx] card)", facts), facts
    assert "CPS3v3-" not in facts, facts
    assert tab.text("#alert") == ""
    shot(tab, artifacts, browser, "popup")
    tab.close()


# Libéraux whose first card login makes their account (Manual II.1): Dr BERNARD in the test
# of that flow, Dr DUPONT for the tests that log in (made by the fixture below).
LIBERAUX = {"dupont": ("Dr Jean DUPONT", "RPPS 99700367917", "jean.dupont@cabinet.example.test"),
            "bernard": ("Dr Luc BERNARD", "RPPS 99700412345", "luc.bernard@cabinet.example.test")}


def create_liberal_account(browser, site, pki, slug, artifacts=None) -> None:
    """Manual II.1: the first card login of a libéral creates the account (screenshots of
    each step when `artifacts` is given)."""
    name, rpps, email = LIBERAUX[slug]
    choice = f'[data-certificate-id="{pki.holders[slug].certificate_id}"]'

    def snap(tab, what):
        if artifacts is not None:
            shot(tab, artifacts, browser, what)

    tab = open_home(browser, site)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    dialog.wait_for(choice)
    assert dialog.count("[data-certificate-id]") >= 2
    assert rpps in dialog.text(choice)
    snap(dialog, "dialogue-choix-certificat")
    choose(dialog, pki.holders[slug].certificate_id)
    assert dialog.text("#origin") == site.origin
    assert "Saisissez le code porteur" in dialog.text("h2")
    # A password field, except in Firefox, whose password manager would offer to keep it
    # (test_firefox.py): a text field there, drawn masked.
    field = 'document.querySelector(\'input[name="pin"]\')'
    assert dialog.evaluate(f"{field}.type") == ("text" if browser.family == "firefox" else "password")
    assert dialog.evaluate(f"getComputedStyle({field}).getPropertyValue('-webkit-text-security')") \
        == "disc"
    snap(dialog, "dialogue-code-porteur")
    type_pin(dialog, PIN)
    browser.wait_no_dialog()
    liberal_creation(tab, email, PASSWORD)
    family = name.split()[-1]
    assert tab.wait_text(USER, family) == name
    assert "Vous êtes connecté" in tab.text("body")
    snap(tab, "compte-liberal-cree")
    logout(tab)
    tab.close()


def _has_account(site, pki, slug) -> bool:
    """Does the site link this holder's card to an account? (Read from its database.)"""
    import sqlite3

    from server.site import accounts

    conn = sqlite3.connect(f"file:{site.data_dir / 'site.sqlite'}?mode=ro", uri=True)
    try:
        conn.row_factory = sqlite3.Row
        return accounts.by_card(conn, pki.holders[slug].spec.id_nat) is not None
    finally:
        conn.close()


@pytest.fixture
def dupont_account(browser, site, pki, fresh_host) -> None:
    """Dr DUPONT's libéral account, linked to his card, for the tests that log in."""
    if not _has_account(site, pki, "dupont"):
        create_liberal_account(browser, site, pki, "dupont")


def test_liberal_account_creation_from_the_card(browser, site, pki, fresh_host, artifacts):
    assert not _has_account(site, pki, "bernard"), "no other test logs Dr BERNARD in"
    create_liberal_account(browser, site, pki, "bernard", artifacts)
    assert _has_account(site, pki, "bernard")


def test_card_login(browser, site, fresh_host, artifacts, dupont, dupont_account):
    tab = open_home(browser, site)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    card_through_dialog(browser, tab, dupont)
    wait_logged_in(tab)
    assert tab.wait_text(USER, "DUPONT") == "Dr Jean DUPONT"
    assert "Vous êtes connecté" in tab.text("body")
    shot(tab, artifacts, browser, "connecte")
    logout(tab)
    tab.close()


def test_an_expired_card_is_refused_by_the_site(browser, site, pki, fresh_host, artifacts):
    """The host signs with any certificate the card holds; the site's verifier refuses an
    expired one (CERT_EXPIRED), and the tile says so. Nobody is logged in."""
    tab = open_home(browser, site)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    card_through_dialog(browser, tab, pki.holders["expire"].certificate_id)
    alert = tab.wait_text(TILE_ALERT, "expiré")
    assert alert.startswith("Le certificat de votre carte CPS a expiré."), alert
    assert not tab.count(LOGOUT) and "/espace" not in tab.url()
    shot(tab, artifacts, browser, "carte-expiree")
    tab.close()


def test_assistant_finishes_the_account_a_doctor_delegated(browser, site, pki, fresh_host, artifacts,
                                                           dupont, dupont_account):
    """Manual III.1 through the extension: Dr DUPONT delegates from his account page; the
    assistant follows the e-mailed link, clicks « Se connecter par carte CPx » on the
    invitation (its tile tells the site the login belongs to the invitation), chooses her
    certificate, types her code porteur, completes the form and acts for him."""
    from tests.site.browser import last_message, path_of

    email = "sophie.petit@cabinet.example.test"
    tab = open_home(browser, site)
    card_through_dialog(browser, tab, dupont)
    wait_logged_in(tab)
    tab.goto(site.url + "compte")
    tab.fill("#email_assistant", email)
    tab.click("form[action='/compte/assistants'] button[type='submit']")
    tab.wait_text("body", f"Une invitation a été envoyée à {email}.")
    logout(tab)

    tab.goto(site.url + path_of(last_message(site, email).links[0]).lstrip("/"))
    assert tab.wait_text('[data-testid="delegant"]', "DUPONT") == "Dr Jean DUPONT"
    assert tab.text(TILE) == "Se connecter par carte CPx"
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    card_through_dialog(browser, tab, pki.holders["petit"].certificate_id)
    tab.wait_url("/assistant/finalisation")
    tab.wait_for("#profession")
    tab.evaluate("document.querySelector('#profession').value = 'Secrétaire médicale'")
    tab.fill("#mot_de_passe", PASSWORD)
    tab.fill("#confirmation", PASSWORD)
    tab.click("input[name='accepte']")
    shot(tab, artifacts, browser, "assistant-finalisation")
    tab.click("form[action='/assistant/finalisation'] button[type='submit']")
    wait_logged_in(tab)
    assert tab.wait_text(USER, "PETIT") == "Sophie PETIT"
    assert "Vous agissez pour le compte de : Dr Jean DUPONT" in tab.text("body")
    logout(tab)
    tab.close()


def test_wrong_pin_then_right(browser, site, fresh_host, artifacts, dupont, dupont_account):
    tab = open_home(browser, site)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, dupont)
    type_pin(dialog, "0000")
    alert = dialog.wait_text(DIALOG_ALERT, "Code porteur incorrect")
    assert alert == "Code porteur incorrect : il vous reste 2 essais."
    assert dialog.evaluate('document.querySelector(\'input[name="pin"]\').value') == ""
    shot(dialog, artifacts, browser, "dialogue-code-faux")
    assert "/espace" not in tab.url()
    type_pin(dialog, PIN)
    browser.wait_no_dialog()
    wait_logged_in(tab)
    assert tab.wait_text(USER, "DUPONT") == "Dr Jean DUPONT"
    logout(tab)
    tab.close()


def test_cancel_and_closing_the_dialog(browser, site, fresh_host, artifacts, dupont):
    tab = open_home(browser, site)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, dupont)
    dialog.click_closing(DIALOG_CANCEL)
    browser.wait_no_dialog()
    # A cancel the person chose is no error: said in the status line, not in the alert, and
    # the keyboard focus is back on the button.
    assert tab.wait_text(TILE_STATUS, "annulée").startswith("Connexion par carte CPS annulée.")
    assert tab.text(TILE_ALERT) == ""
    assert tab.evaluate("document.activeElement.id") == "tuile-cps"
    shot(tab, artifacts, browser, "annule")

    tab.click(TILE)
    dialog = browser.wait_dialog()
    dialog.wait_for("[data-certificate-id]")
    dialog.close()  # the window's close button
    browser.wait_no_dialog()
    assert tab.wait_text(TILE_STATUS, "annulée").startswith("Connexion par carte CPS annulée.")
    assert tab.text(TILE_ALERT) == ""
    assert "/espace" not in tab.url()
    tab.close()


def test_short_pin_is_said_in_the_dialog_and_not_sent(browser, site, fresh_host, artifacts, dupont):
    """An empty or too short code porteur: the dialog says so in its own words, sends
    nothing (the window stays, no try is used), and the label says « 4 chiffres »."""
    tab = open_home(browser, site)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, dupont)
    assert dialog.text("label[for='pin']") == "Code porteur (4 chiffres)"
    dialog.click(DIALOG_SUBMIT)
    assert dialog.wait_text(DIALOG_ALERT, "Saisissez") == "Saisissez votre code porteur (4 chiffres)."
    dialog.type(DIALOG_PIN, "12")
    dialog.click(DIALOG_SUBMIT)
    assert dialog.wait_text(DIALOG_ALERT, "saisi") \
        == "Votre code porteur comporte 4 chiffres : vous en avez saisi 2."
    assert dialog.evaluate("document.activeElement.name") == "pin"
    shot(dialog, artifacts, browser, "dialogue-code-trop-court")
    dialog.click_closing(DIALOG_CANCEL)
    browser.wait_no_dialog()
    tab.close()


def test_time_limit_leaves_the_dialog_open_on_its_explanation(browser, site, fresh_host, artifacts):
    """The time is up (8 s here): the page gets ERR_CPS_USER_TIMEOUT, the dialog stays open on
    « Délai dépassé » without the PIN field, and « Fermer » closes it."""
    tab = open_home(browser, site)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)  # the host is up: the time is the dialog's
    tab.evaluate("""(() => { window.outcome = null;
        CpsBridge.authenticate("T".repeat(44), {timeoutMs: 8000})
          .then(() => { outcome = "token"; }, (e) => { outcome = e.code; });
        return true; })()""")
    dialog = browser.wait_dialog()
    tab.wait(lambda: tab.evaluate("window.outcome"), "the page's answer", timeout=20)
    assert tab.evaluate("window.outcome") == "ERR_CPS_USER_TIMEOUT"
    assert dialog.wait_text("h2", "Délai dépassé") == "Délai dépassé"
    assert dialog.text(DIALOG_ALERT).startswith("Le délai de connexion par carte CPS est dépassé.")
    assert dialog.count(DIALOG_PIN) == 0
    assert len(browser.dialogs()) == 1, "the window stays until the person closes it"
    shot(dialog, artifacts, browser, "dialogue-delai-depasse")
    dialog.click_closing(DIALOG_CANCEL)  # « Fermer »
    browser.wait_no_dialog()
    tab.close()


def test_one_pending_action_per_tab(browser, site, fresh_host, artifacts):
    """A second authenticate from the same tab while the dialog is open is refused; the
    first one goes on (here: cancelled)."""
    tab = open_home(browser, site)
    tab.evaluate("""(() => {
        window.outcomes = [];
        const nonce = (c) => c.repeat(44);
        CpsBridge.authenticate(nonce("A")).then(() => outcomes.push("token"), e => outcomes.push(e.code));
        setTimeout(() => CpsBridge.authenticate(nonce("B")).then(() => outcomes.push("token"),
                                                                    e => outcomes.push(e.code)), 300);
        return true; })()""")
    dialog = browser.wait_dialog()
    dialog.wait_for("[data-certificate-id]")
    tab.wait(lambda: tab.evaluate("window.outcomes.length") == 1, "the second request's answer")
    assert tab.evaluate("window.outcomes") == ["ERR_CPS_ACTION_PENDING"]
    assert len(browser.dialogs()) == 1
    dialog.click_closing(DIALOG_CANCEL)
    tab.wait(lambda: tab.evaluate("window.outcomes.length") == 2, "the first request's answer")
    assert tab.evaluate("window.outcomes") == ["ERR_CPS_ACTION_PENDING", "ERR_CPS_USER_CANCELLED"]
    browser.wait_no_dialog()
    tab.close()


def test_one_login_at_a_time_across_tabs(browser, site, fresh_host, artifacts):
    """One code porteur dialog in the whole browser: while tab A's dialog is open, tab B's
    authenticate is refused (its status still answered) and no second dialog opens; once A's
    login ends, B's opens its own."""
    first, second = open_home(browser, site), open_home(browser, site)
    first.evaluate("""(() => { window.outcomes = [];
        CpsBridge.authenticate("A".repeat(44)).then(() => outcomes.push("token"), e => outcomes.push(e.code));
        return true; })()""")
    dialog = browser.wait_dialog()
    dialog.wait_for("[data-certificate-id]")
    second.evaluate("""(() => { window.outcomes = []; window.statusSeen = null;
        CpsBridge.authenticate("B".repeat(44)).then(() => outcomes.push("token"),
                                                      e => outcomes.push([e.code, e.message]));
        CpsBridge.status().then(s => { statusSeen = typeof s.extension; }, e => { statusSeen = e.code; });
        return true; })()""")
    second.wait(lambda: second.evaluate("window.outcomes.length") == 1, "tab B's answer")
    code, message = second.evaluate("window.outcomes")[0]
    assert code == "ERR_CPS_ACTION_PENDING"
    assert "déjà en cours" in message and "onglet" not in message, message
    second.wait(lambda: second.evaluate("window.statusSeen") is not None, "tab B's status")
    assert second.evaluate("window.statusSeen") == "string", "status must be answered meanwhile"
    assert len(browser.dialogs()) == 1, "no second dialog"
    dialog.click_closing(DIALOG_CANCEL)
    first.wait(lambda: first.evaluate("window.outcomes.length") == 1, "tab A's answer")
    assert first.evaluate("window.outcomes") == ["ERR_CPS_USER_CANCELLED"]
    browser.wait_no_dialog()
    second.evaluate("""(() => { window.outcomes = [];
        CpsBridge.authenticate("C".repeat(44)).then(() => outcomes.push("token"), e => outcomes.push(e.code));
        return true; })()""")
    dialog = browser.wait_dialog()
    dialog.wait_for("[data-certificate-id]")
    dialog.click_closing(DIALOG_CANCEL)
    second.wait(lambda: second.evaluate("window.outcomes.length") == 1, "tab B's second answer")
    assert second.evaluate("window.outcomes") == ["ERR_CPS_USER_CANCELLED"]
    browser.wait_no_dialog()
    first.close()
    second.close()


def test_reload_mid_login_cancels_it(browser, site, fresh_host, artifacts, dupont, dupont_account):
    """The page reloads while the dialog asks for the code porteur: that login is cancelled
    and its dialog closes (no PIN for a page that is gone), and the reloaded page logs in
    at the first click (no ERR_CPS_ACTION_PENDING)."""
    tab = open_home(browser, site)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, dupont)
    tab.goto(site.url)
    browser.wait_no_dialog()
    tab.wait_for(TILE)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    card_through_dialog(browser, tab, dupont)
    wait_logged_in(tab)
    assert tab.wait_text(USER, "DUPONT") == "Dr Jean DUPONT"
    logout(tab)
    tab.close()


def post_authenticate(tab, request_id: str) -> str:
    """An authenticate request posted by the page itself (raw window.postMessage, §9), in
    French as the library asks by default. Returns its challenge nonce."""
    nonce = base64.b64encode(os.urandom(32)).decode()
    request = {"cpsbridge": "request", "requestId": request_id, "action": "authenticate",
               "challengeNonce": nonce, "lang": "fr"}
    tab.evaluate(f"postMessage({json.dumps(request)}, location.origin), true")
    return nonce


def responses(tab, request_id: str) -> list[dict]:
    """The responses the page got to one request (cacheable_page records them)."""
    return tab.evaluate(f"answers.filter(a => a.requestId === {json.dumps(request_id)}"
                        " && a.cpsbridge === 'response')")


def test_no_code_porteur_is_asked_for_a_page_the_host_refuses(browser, cacheable_page,
                                                              fresh_host, dupont):
    """The dev build serves https://localhost on any port; this host does not allow this
    page's port. The list of certificates goes with the page's origin, so the host refuses
    it before the card is read, and the page hears it without anyone being asked for a
    code porteur (before, the dialog asked for it, then the host refused the login)."""
    tab = browser.open(cacheable_page)
    post_authenticate(tab, "refused")
    tab.wait(lambda: responses(tab, "refused"), "the answer to the page", timeout=30)
    [answer] = responses(tab, "refused")
    assert answer["error"]["code"] == "ERR_CPS_ORIGIN_NOT_ALLOWED", answer
    browser.wait_no_dialog()
    tab.close()


def test_a_login_ends_when_its_page_enters_the_back_forward_cache(
        request, dev_extension, native_host, fresh_host, site, cacheable_page, pki, dupont,
        tmp_path):
    """A page served without no-store (the site's all are) leaves for the back/forward cache
    while the dialog of its login is open: that login ends (its dialog closes), the tab's
    next document logs in (no ERR_CPS_ACTION_PENDING), and the first document, shown again,
    gets one answer to its request: ERR_CPS_CANCELLED. In a browser of its own, Chromium with
    its back/forward cache on (Playwright turns it off in the module's)."""
    from datetime import datetime, timezone

    from server.verify import Verifier

    family = request.module.FAMILY
    page_origin = cacheable_page.rstrip("/")
    fresh_host.set_override({"CPSBRIDGE_ALLOWED_ORIGINS": f"{site.origin},{page_origin}"})
    own = launch(family, tmp_path, dev_extension[family], native_host,
                 **({"bfcache": True} if family == "chromium" else {}))
    try:
        tab = own.open(cacheable_page + "?document=1")
        tab.evaluate("window.marker = 'first', true")
        post_authenticate(tab, "first")
        own.wait_dialog().wait_for("[data-certificate-id]")

        tab.goto(cacheable_page + "?document=2")
        try:
            own.wait_no_dialog(timeout=5)
        except TimeoutError:
            raise AssertionError("the dialog of the login of a page gone into the back/forward "
                                 "cache is still open 5 s later") from None
        asked = datetime.now(timezone.utc)
        nonce = post_authenticate(tab, "second")
        tab.wait(lambda: own.dialogs() or responses(tab, "second"),
                 "a dialog or an answer to the next document's authenticate", timeout=15)
        assert not responses(tab, "second"), \
            f"the next document's login was refused: {responses(tab, 'second')}"
        dialog = own.wait_dialog()
        dialog.wait_for("[data-certificate-id]")
        choose(dialog, dupont)
        assert dialog.text("#origin") == page_origin
        type_pin(dialog, PIN)
        own.wait_no_dialog()
        answer = tab.wait(lambda: responses(tab, "second"), "the token", timeout=30)
        assert len(answer) == 1 and "error" not in answer[0], answer
        verified = Verifier([pki.root_cert, pki.ca_cert], revocation="off").verify(
            answer[0]["result"]["token"], page_origin, nonce, asked)
        assert verified.valid, verified.detail
        assert verified.fingerprint == dupont

        tab.back()
        tab.wait(lambda: tab.evaluate("location.search") == "?document=1", "the first document")
        assert tab.evaluate("window.marker === 'first'"), (
            "the browser did not restore the first document from the back/forward cache (it "
            "loaded it again): this test then checks nothing")
        try:
            tab.wait(lambda: responses(tab, "first"), "the first request's answer", timeout=10)
        except TimeoutError:
            raise AssertionError("the page shown again from the back/forward cache never got "
                                 f"an answer; it got {tab.evaluate('answers')}") from None
        time.sleep(1)  # time for a second answer, if one came
        first = responses(tab, "first")
        assert len(first) == 1, first
        assert first[0]["error"]["code"] == "ERR_CPS_CANCELLED", first
        assert first[0]["error"]["message"], first
        assert not own.dialogs()
        tab.close()
    finally:
        own.stop()


def test_a_framed_page_is_told_it_is_framed(browser, other_origins, fresh_host, artifacts):
    """A page with the library in a frame (the site itself refuses to be framed; this page
    frames itself): the extension listens to top-level pages only, so the library says at
    once that a frame may not log in, not « extension absente » after its 1 s wait."""
    tab = browser.open(other_origins["https"])
    tab.wait(lambda: tab.evaluate("typeof CpsBridge") == "object", "the page library")
    tab.evaluate("""new Promise(done => { const f = document.createElement('iframe');
        f.src = location.href; f.onload = () => done(true); document.body.append(f); })""")
    frame = "document.querySelector('iframe').contentWindow"
    tab.wait(lambda: tab.evaluate(f"typeof {frame}.CpsBridge") == "object", "the frame's library")
    for call in ("status()", "authenticate('A'.repeat(44))"):
        answer = tab.evaluate(f"{frame}.CpsBridge.{call}.then(r => 'answered', "
                              "e => e.code + ' ' + JSON.stringify(e.details))")
        assert answer == 'ERR_CPS_ORIGIN_NOT_ALLOWED {"reason":"not a top-level page"}', (call, answer)
    assert not browser.dialogs()
    tab.close()


def test_other_origins_get_nothing(browser, site, other_origins, fresh_host, artifacts):
    tab = browser.open(other_origins["https"])
    tab.wait(lambda: tab.evaluate("typeof CpsBridge") == "object", "the page library")
    answer = tab.evaluate("CpsBridge.status().then(r => 'answered', e => e.code + ': ' + e.message)")
    assert answer.startswith("ERR_CPS_ORIGIN_NOT_ALLOWED"), answer
    answer = tab.evaluate("CpsBridge.authenticate('A'.repeat(44)).then(r => 'token', e => e.code + ': ' + e.message)")
    assert answer.startswith("ERR_CPS_ORIGIN_NOT_ALLOWED"), answer
    assert not browser.dialogs(), "no dialog for a site that is not allowed"
    # http: the library refuses by itself, and the extension is not even there (its content
    # script runs on https pages only): a request posted by hand gets no ack
    tab.goto(other_origins["http"])
    raw = ("new Promise(done => { addEventListener('message', e => { "
           "if (e.data && e.data.requestId === 'raw-1' && e.data.cpsbridge !== 'request') "
           "done(e.data.cpsbridge); }); setTimeout(() => done('nothing'), 1500); "
           "postMessage({cpsbridge: 'request', requestId: 'raw-1', action: 'status'}, location.origin); })")
    assert tab.evaluate(raw) == "nothing"
    assert tab.evaluate("CpsBridge.status().then(r => 'answered', e => e.code)") \
        == "ERR_CPS_INSECURE_CONTEXT"
    assert not browser.dialogs()
    tab.close()


def test_host_not_installed(browser, site, fresh_host, artifacts):
    browser.uninstall_host()
    fresh_host.stop_running()
    try:
        tab = open_home(browser, site)
        try:
            status = tab.wait_text(TILE_STATUS, "pas installé", timeout=30)
        except TimeoutError as exc:
            raise AssertionError(f"tile: {tab.text(TILE_STATUS)!r}, background: "
                                 f"{browser.background_state()}") from exc
        assert status.startswith("Le module CPS Bridge n'est pas installé sur cet ordinateur.")
        assert tab.evaluate("!document.querySelector('[data-cpsbridge-aide]').hidden"), \
            "no link to the help page"
        tab.click(TILE)
        alert = tab.wait_text(TILE_ALERT, "pas installé")
        assert alert.startswith("Le module CPS Bridge n'est pas installé sur cet ordinateur.")
        # Said once: the alert gives it now, the status line no longer repeats it.
        tab.wait(lambda: tab.text(TILE_STATUS) == "", "the status line to leave it to the alert")
        assert not browser.dialogs()
        shot(tab, artifacts, browser, "module-absent")
    finally:
        browser.install_host()
    # installed again: the extension connects without a browser restart
    tab.goto(site.url)
    assert tab.wait_text(TILE_STATUS, "détectée", timeout=60).startswith("Carte CPS détectée")
    tab.close()


@pytest.mark.pcsc
def test_a_carte_vitale_is_no_cps_card(browser, site, pcscd, fresh_host, tmp_path):
    """A Carte Vitale in a real reader (vpcd, read by OpenSC): the tile says what the
    extension's status says of it, never « Carte CPS détectée »."""
    from tests.testbed.cardsim import opensc_env
    from tests.testbed.pcsc import ATR_VITALE, VirtualCard

    fresh_host.set_override(opensc_env(pcscd, tmp_path / "opensc"))
    fresh_host.stop_running()
    card = VirtualCard(ATR_VITALE).insert(pcscd, 0)
    try:
        tab = open_home(browser, site)
        state = tab.wait(lambda: tab.evaluate(
            "document.querySelector('[data-cpsbridge-status]').dataset.state"),
            "the tile to describe the status", timeout=60)
        shown = (tab.text(TILE_STATUS), state)
        assert shown == ("La carte insérée n'est pas une carte CPS (par exemple une carte "
                         "Vitale). Insérez votre carte CPS.", "erreur"), shown
        tab.close()
    finally:
        card.remove()


@pytest.mark.pcsc
def test_no_card_then_a_card_inserted(browser, site, pcscd, pki, fresh_host, artifacts,
                                      tmp_path, dupont_account):
    """A real reader (vpcd in the private pcscd) read by OpenSC: the dialog waits for the
    card, then a simulated CPS3 of Dr DUPONT is inserted."""
    from tests.testbed.cardsim import SimulatedCps3, opensc_env

    fresh_host.set_override(opensc_env(pcscd, tmp_path / "opensc"))
    fresh_host.stop_running()
    tab = open_home(browser, site)
    tab.click(TILE)
    dialog = browser.wait_dialog()
    dialog.wait_text("h2", "Insérez votre carte CPS dans le lecteur", timeout=60)
    shot(dialog, artifacts, browser, "dialogue-inserez-carte")
    card = SimulatedCps3(pki.holders["dupont"], pin=PIN, puk="12345678")
    card.insert(pcscd, 0)
    try:
        dialog.wait_for(DIALOG_PIN, timeout=60)
        # One certificate: no list to choose from, but the §9 hook names the one shown.
        dialog.wait_for(f'[data-certificate-id="{pki.holders["dupont"].certificate_id}"]')
        type_pin(dialog, PIN)
        browser.wait_no_dialog(timeout=60)
        wait_logged_in(tab)
        assert tab.wait_text(USER, "DUPONT") == "Dr Jean DUPONT"
        shot(tab, artifacts, browser, "connecte-carte-inseree")
        logout(tab)
    finally:
        card.remove()
    tab.close()


@pytest.mark.pcsc
def test_wrong_pins_block_the_card(browser, site, pcscd, pki, fresh_host, artifacts, tmp_path):
    """A simulated CPS3 counts its own tries (3): each wrong PIN says how many are left, the
    third blocks the card, the dialog explains the code de déblocage, the page is told."""
    from tests.testbed.cardsim import SimulatedCps3, opensc_env

    fresh_host.set_override(opensc_env(pcscd, tmp_path / "opensc"))
    fresh_host.stop_running()
    card = SimulatedCps3(pki.holders["martin"], pin=PIN, puk="12345678")
    card.insert(pcscd, 1)
    try:
        tab = open_home(browser, site)
        tab.click(TILE)
        dialog = browser.wait_dialog()
        type_pin(dialog, "9999")
        assert dialog.wait_text(DIALOG_ALERT, "essai", timeout=60) \
            == "Code porteur incorrect : il vous reste 2 essais."
        type_pin(dialog, "9999")
        assert dialog.wait_text(DIALOG_ALERT, "1 essai", timeout=60).startswith(
            "Code porteur incorrect : il vous reste 1 essai.")
        type_pin(dialog, "9999")
        blocked = dialog.wait_text(DIALOG_ALERT, "déblocage", timeout=60)
        assert "code de déblocage" in blocked
        assert dialog.count(DIALOG_PIN) == 0, "no PIN field on a blocked card"
        assert card.blocked
        shot(dialog, artifacts, browser, "dialogue-carte-bloquee")
        page_alert = tab.wait_text(TILE_ALERT, "bloquée")
        assert page_alert.startswith("Votre carte CPS est bloquée. Débloquez-la avec votre code de "
                                     "déblocage")
        dialog.click_closing(DIALOG_CANCEL)  # « Fermer »
        browser.wait_no_dialog()
        tab.close()
    finally:
        card.remove()
