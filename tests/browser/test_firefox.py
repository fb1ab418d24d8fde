"""The browser scenarios in Firefox ESR (raw WebDriver BiDi over a websocket), and managed
storage, which Firefox reads from a user-level manifest (so a test can set it)."""

import json

import pytest

FAMILY = "firefox"

from tests.browser.scenarios import *  # noqa: E402,F401,F403


@pytest.mark.browser
def test_managed_storage_adds_an_origin(dev_extension, native_host, other_origins, fresh_host,
                                        tmp_path):
    """IT adds an origin through managed storage: the extension then serves that page, which
    test_other_origins_get_nothing saw refused. Firefox keeps managed storage for its whole
    session, so this runs in a Firefox of its own, the storage written before it starts:
    the module's browser never sees it, whatever order the tests run in."""
    from tests.testbed.browser import launch

    origin = other_origins["https"].rstrip("/")
    path = tmp_path / "home" / ".mozilla" / "managed-storage" / "cpsbridge@viatrajectoire.fr.json"
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"name": "cpsbridge@viatrajectoire.fr", "description": "test",
                                "type": "storage", "data": {"allowedOrigins": [origin]}}))
    own = launch(FAMILY, tmp_path, dev_extension[FAMILY], native_host)
    try:
        tab = own.open(other_origins["https"])
        tab.wait(lambda: tab.evaluate("typeof CpsBridge") == "object", "the page library")
        status = tab.evaluate("CpsBridge.status().then(s => s, e => e.code)")
        assert isinstance(status, dict), status
        assert status["extension"] == "1.2.0" and status["host"]["protocol"] == 1
    finally:
        own.stop()


def _in_firefox_itself(b, expression: str):
    """The value of `expression` in the browser's own (chrome) scope: its windows' pending
    doorhangers and its login store are out of reach of any page."""
    from tests.testbed.browser import _remote_value

    context = b.bidi.send("browsingContext.getTree",
                          {"maxDepth": 0, "moz:scope": "chrome"})["contexts"][0]["context"]
    r = b.bidi.send("script.evaluate", {"expression": expression, "target": {"context": context},
                                        "awaitPromise": True, "resultOwnership": "none"})
    assert r.get("type") != "exception", r
    return _remote_value(r["result"])


SAVE_OFFERS = ("JSON.stringify([...Services.wm.getEnumerator(null)].flatMap(w => w.PopupNotifications"
               " ? w.PopupNotifications._currentNotifications.filter(n => n.id === 'password')"
               ".map(n => n.message) : []))")
SAVED = "Services.logins.getAllLogins().then(l => JSON.stringify(l.map(x => x.origin)))"


@pytest.mark.browser
def test_the_code_porteur_is_never_offered_to_the_password_manager(
        dev_extension, native_host, site, fresh_host, dupont, dupont_account, tmp_path):
    """Firefox's password manager offers to save the value of a password field once its form
    is sent, autocomplete="off" or not: after a mistyped code porteur it asked « Save password
    for moz-extension://…? » with the code in it, one click from its login store (and Sync).
    The dialog's field is therefore no password field in Firefox, yet shows dots. Run with
    the password manager on, as a person's Firefox has it (automation turns it off)."""
    from tests.testbed.browser import launch

    own = launch(FAMILY, tmp_path, dev_extension[FAMILY], native_host,
                 prefs={"signon.rememberSignons": True})
    try:
        assert _in_firefox_itself(own, "Services.prefs.getBoolPref('signon.rememberSignons')")
        tab = open_home(own, site)
        tab.click(TILE)
        dialog = own.wait_dialog()
        choose(dialog, dupont)
        field = "document.querySelector('input[name=\"pin\"]')"
        assert dialog.evaluate(f"{field}.type") == "text"
        assert dialog.evaluate(f"getComputedStyle({field}).getPropertyValue('-webkit-text-security')") == "disc"
        type_pin(dialog, "0000")
        dialog.wait_text(DIALOG_ALERT, "Code porteur incorrect")
        time.sleep(2)  # the offer, when there was one, came within a second of the sending
        assert json.loads(_in_firefox_itself(own, SAVE_OFFERS)) == []
        # The right code: the login ends (and the card's counter is reset for the session's
        # other tests), still with nothing offered or kept.
        type_pin(dialog, PIN)
        own.wait_no_dialog()
        wait_logged_in(tab)
        time.sleep(1)
        assert json.loads(_in_firefox_itself(own, SAVE_OFFERS)) == []
        assert json.loads(_in_firefox_itself(own, SAVED)) == []
    finally:
        own.stop()
