"""The browser scenarios in headless Chromium (Playwright, /usr/bin/chromium)."""

FAMILY = "chromium"

from tests.browser.scenarios import *  # noqa: E402,F401,F403
