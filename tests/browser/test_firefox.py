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
