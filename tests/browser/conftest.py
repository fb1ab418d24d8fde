"""Browser suite: the real extension (development build) in headless Chromium and Firefox
ESR, the real host started by the browser, SoftHSM2 cards or a simulated CPS3 in the private
pcscd, and the reference site over https. One browser per module (its FAMILY), reused by
every test of the module; one site per module."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.testbed.browser import NativeHost, build_dev_extension, launch
from tests.testbed.pages import serve_page
from tests.testbed.site import SiteProcess

OTHER_HOST = "127.0.0.2"  # a loopback address that no build and no host allows


@pytest.fixture(scope="session")
def dev_extension(tmp_path_factory) -> dict[str, Path]:
    return build_dev_extension(tmp_path_factory.mktemp("extension-dev"))


@pytest.fixture(scope="module")
def site(pki_dir, tmp_path_factory):
    with SiteProcess(tmp_path_factory.mktemp("site"), pki_dir / "trust", revocation="off") as s:
        yield s


@pytest.fixture(scope="module")
def browser_host_env(cards, pcscd, site, tmp_path_factory) -> dict[str, str]:
    """What conftest's host_env gives a host, for a whole module (the browser lives that
    long): the software cards, the private pcscd, a temporary HOME, and the site's origin as
    the one allowed origin."""
    home = tmp_path_factory.mktemp("host-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPSBRIDGE_")}
    env.update(cards.env())
    env.update(pcscd.env)
    env["XDG_CONFIG_HOME"] = str(home / ".config")
    env["XDG_STATE_HOME"] = str(home / ".local" / "state")
    env["CPSBRIDGE_SYSTEM_CONFIG"] = str(home / "no-system-config.json")
    env["CPSBRIDGE_ALLOWED_ORIGINS"] = site.origin
    return env


@pytest.fixture(scope="module")
def native_host(browser_host_env, tmp_path_factory) -> NativeHost:
    return NativeHost(tmp_path_factory.mktemp("host"), browser_host_env)


@pytest.fixture(scope="module")
def browser(request, dev_extension, native_host, tmp_path_factory):
    family = request.module.FAMILY
    b = launch(family, tmp_path_factory.mktemp(family), dev_extension[family], native_host)
    yield b
    b.stop()


@pytest.fixture
def fresh_host(native_host):
    """Each test starts with no host running: the extension (re)connects on its own."""
    native_host.set_override(None)
    native_host.stop_running()
    yield native_host
    native_host.set_override(None)
    native_host.stop_running()


OTHER_PAGE = ("<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
              "<title>Autre site</title><script src='/cpsbridge.js'></script></head>"
              "<body><section data-cpsbridge-tile><button id='tuile-cps'>CPS</button>"
              "</section><p>Un site qui n'est pas ViaTrajectoire.</p></body></html>")


@pytest.fixture(scope="module")
def other_origins(site):
    """An https page on https://127.0.0.2:PORT (not allowed) and an http page on
    http://127.0.0.1:PORT (not secure)."""
    https = serve_page(OTHER_PAGE, OTHER_HOST, site.data_dir / "tls-cert.pem",
                       site.data_dir / "tls-key.pem")
    plain = serve_page(OTHER_PAGE)
    yield {"https": f"https://{OTHER_HOST}:{https.server_address[1]}/",
           "http": f"http://127.0.0.1:{plain.server_address[1]}/"}
    https.shutdown()
    plain.shutdown()


# Records, in window.answers, every message the extension posts to the page (what is not a
# request), for tests that talk to the extension by raw window.postMessage (PROTOCOL §9).
CACHEABLE_PAGE = ("<!doctype html><html lang='fr'><head><meta charset='utf-8'>"
                  "<title>Page en cache</title><script>window.answers = [];"
                  "addEventListener('message', (e) => { const d = e.data;"
                  " if (e.source === window && d && typeof d === 'object' && 'cpsbridge' in d"
                  " && d.cpsbridge !== 'request') answers.push(d); });</script></head>"
                  "<body><p>Une page que le navigateur peut garder en cache.</p></body></html>")


@pytest.fixture(scope="module")
def cacheable_page(site):
    """An https page on https://localhost:PORT (not the site's port: an origin the dev build
    allows, that the host allows once a test adds it) served without Cache-Control, unlike
    the site (no-store): the browser may keep it in its back/forward cache."""
    server = serve_page(CACHEABLE_PAGE, "127.0.0.1", site.data_dir / "tls-cert.pem",
                        site.data_dir / "tls-key.pem")
    yield f"https://localhost:{server.server_address[1]}/"
    server.shutdown()
