"""The whole CPS card login, on the embedded default: `./run demo`.

Makes the test PKI and a software CPS card (Dr Jean DUPONT, code porteur 1234) under
.state/demo/, starts the reference site (https://localhost:PORT), a private pcscd, and
Chromium with the development build of the extension and the real host; then clicks the tile
"S'identifier par carte CPS", types the code porteur in the trusted dialog, and ends logged
in (first card login of a libéral: the account is created from the card, manual II.1).
Headless when there is no display ($DISPLAY unset), printing each step and its screenshots;
a visible browser when there is one (--headless forces headless, --firefox uses Firefox).
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import time
from pathlib import Path

from tests.testbed.browser import (DIALOG_ALERT, NativeHost, TILE, TILE_STATUS, build_dev_extension,
                                   launch, liberal_creation, type_pin)

REPO = Path(__file__).resolve().parents[2]
STATE = REPO / ".state" / "demo"
PIN = "1234"
EMAIL = "jean.dupont@cabinet.example.test"
PASSWORD = "Cabinet2024demo"

_t0 = time.monotonic()


def step(text: str) -> None:
    print(f"[{time.monotonic() - _t0:6.1f} s] {text}", flush=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="./run demo", description=__doc__.split("\n\n")[0])
    ap.add_argument("--headless", action="store_true", help="no browser window even with a display")
    ap.add_argument("--firefox", action="store_true", help="Firefox ESR instead of Chromium")
    ap.add_argument("--keep-open", action="store_true",
                    help="leave the browser open at the end until Enter (with a display)")
    args = ap.parse_args(argv)
    headless = args.headless or not os.environ.get("DISPLAY")
    family = "firefox" if args.firefox else "chromium"

    from tests.testbed.pcsc import Pcscd
    from tests.testbed.pki import TestPKI
    from tests.testbed.site import SiteProcess
    from tests.testbed.softcard import SoftHsm

    shutil.rmtree(STATE, ignore_errors=True)
    STATE.mkdir(parents=True)
    shots = STATE / "screenshots"
    shots.mkdir()

    step("test PKI (an IGC-Santé look-alike) and the software CPS card of Dr Jean DUPONT")
    pki = TestPKI.create("http://127.0.0.1:9")
    pki_dir = pki.write(STATE / "pki")
    cards = SoftHsm.create(STATE / "softhsm")
    label = cards.add_card(pki.holders["dupont"], pin=PIN)
    step(f"  card {label} (code porteur {PIN}) in SoftHSM2 store {cards.root}")

    pcscd = site = browser = None
    try:
        step("private pcscd with two virtual readers")
        pcscd = Pcscd(workdir=STATE / "pcscd").start()

        step("reference site")
        site = SiteProcess(STATE / "site", pki_dir / "trust", revocation="off").start()
        step(f"  {site.url}")

        step("development build of the extension (python build.py extension --dev)")
        ext = build_dev_extension(STATE / "extension")
        env = {**os.environ, **cards.env(), **pcscd.env,
               "CPSBRIDGE_ALLOWED_ORIGINS": site.origin,
               "XDG_CONFIG_HOME": str(STATE / "home" / ".config"),
               "XDG_STATE_HOME": str(STATE / "home" / ".local" / "state"),
               "CPSBRIDGE_SYSTEM_CONFIG": str(STATE / "no-system-config.json")}
        host = NativeHost(STATE / "host", env)
        step(f"  host wrapper {host.wrapper}, allowed origin {site.origin}")

        step(f"{family} ({'headless' if headless else 'visible'}) with the extension and the host")
        browser = launch(family, STATE / family, ext[family], host, headless=headless)

        step("home page: the tile asks the extension for the bridge's status")
        tab = browser.open(site.url)
        status = tab.wait_text(TILE_STATUS, "détectée", timeout=60)
        step(f"  tile: « {status} »")
        step(f"  screenshot {tab.screenshot(shots / '1-accueil.png')}")

        step("click « S'identifier par carte CPS »")
        tab.click(TILE)
        dialog = browser.wait_dialog()
        dialog.wait_for('input[name="pin"]')
        step(f"  trusted dialog: « {dialog.text('h2')} » for {dialog.text('#origin')}")
        step(f"  screenshot {dialog.screenshot(shots / '2-dialogue-code-porteur.png')}")

        step("type the code porteur and « Valider »")
        type_pin(dialog, PIN)
        browser.wait_no_dialog()
        url = tab.wait_url("/connexion/carte-cps/association", timeout=60)
        step(f"  the site verified the card: {url}")

        step("first card login of a libéral: « Créer mon compte de l'espace médecin libéral », "
             "then the account from the card (manual II.1)")
        tab.screenshot(shots / "3-premiere-connexion-carte.png")
        liberal_creation(tab, EMAIL, PASSWORD)
        who = tab.wait_text('[data-testid="utilisateur"]', "DUPONT")
        assert "Vous êtes connecté" in tab.text("body"), tab.text("body")[:500]
        step(f"  logged in: « {who} » — « Vous êtes connecté »")
        step(f"  screenshot {tab.screenshot(shots / '4-connecte.png')}")
        if tab.count(DIALOG_ALERT) and tab.text(DIALOG_ALERT).strip():
            step(f"  (page alert: {tab.text(DIALOG_ALERT)})")
        step(f"done: screenshots in {shots}")
        if args.keep_open and not headless:
            input("Press Enter to close the browser… ")
        return 0
    finally:
        if browser is not None:
            browser.stop()
        if site is not None:
            site.stop()
        if pcscd is not None:
            pcscd.stop()


if __name__ == "__main__":
    sys.exit(main())
