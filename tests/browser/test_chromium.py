"""The browser scenarios in headless Chromium (Playwright, /usr/bin/chromium), and what only
Chromium does: an MV3 service worker that the browser stops."""

import pytest

FAMILY = "chromium"

from tests.browser.scenarios import *  # noqa: E402,F401,F403
from tests.browser.scenarios import (PIN, TILE, TILE_STATUS, choose, logout,  # noqa: E402
                                     open_home, type_pin, wait_logged_in)


def _worker_targets(cdp) -> list[dict]:
    return [t for t in cdp.send("Target.getTargets")["targetInfos"]
            if t["type"] == "service_worker" and "chrome-extension://" in t["url"]]


@pytest.mark.browser
def test_service_worker_stopped_then_woken(browser, site, fresh_host, dupont,
                                         dupont_account):
    """Chromium stops idle MV3 workers: the port goes with the worker (the host sees EOF and
    exits), and the next page request wakes the worker, which opens a new port."""
    tab = open_home(browser, site)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    assert fresh_host.running(), "the page with the tile opened the port"
    cdp = browser.context.new_cdp_session(tab.page)
    for target in _worker_targets(cdp):
        cdp.send("Target.closeTarget", {"targetId": target["targetId"]})
    tab.wait(lambda: not _worker_targets(cdp), "the worker to stop")
    tab.wait(lambda: not fresh_host.running(), "the host to exit with the port", timeout=15)

    tab.goto(site.url)
    tab.wait_text(TILE_STATUS, "détectée", timeout=60)
    assert _worker_targets(cdp), "the page's request woke the worker"
    tab.click(TILE)
    dialog = browser.wait_dialog()
    choose(dialog, dupont)
    type_pin(dialog, PIN)
    wait_logged_in(tab)
    logout(tab)
    tab.close()
