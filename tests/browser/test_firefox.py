"""The browser scenarios in Firefox ESR (raw WebDriver BiDi over a websocket)."""

FAMILY = "firefox"

from tests.browser.scenarios import *  # noqa: E402,F401,F403
