"""The Debian package on this (throwaway) test machine: `dpkg -i`, the manifests where the
browsers look, headless Chromium with the extension talking to the installed host through
the system manifest, `diagnose` from the installed host, then `dpkg -r` removes everything.

The package is removed again whatever happens, so the machine's browsers are left as they
were."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host import HOST_NAME, __version__
from host.manifests import extension_ids
from tests.testbed.browser import CHROMIUM, CHROMIUM_ARGS, build_dev_extension
from tests.testbed.hostproc import REPO

PACKAGE = "cpsbridge"
INSTALLED_HOST = "/opt/cpsbridge/cpsbridge-host"
MANIFESTS = {
    "chrome": "/etc/opt/chrome/native-messaging-hosts",
    "chromium": "/etc/chromium/native-messaging-hosts",
    "edge": "/etc/opt/edge/native-messaging-hosts",
    "brave": "/etc/brave/native-messaging-hosts",
    "firefox": "/usr/lib/mozilla/native-messaging-hosts",
}


def installed() -> bool:
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True, text=True)
    return "install ok installed" in r.stdout


@pytest.fixture(scope="module")
def deb(frozen_host) -> Path:
    for tool in ("dpkg-deb", "dpkg"):
        assert any(Path(d, tool).exists() for d in os.get_exec_path()), \
            f"{tool} is missing (Debian package dpkg-dev; ./run setup installs it)"
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "deb"], cwd=REPO,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    out = REPO / "dist" / f"{PACKAGE}_{__version__}_amd64.deb"
    assert out.is_file(), r.stderr[-2000:]
    return out


def _dpkg_install(deb: Path) -> None:
    r = subprocess.run(["dpkg", "-i", str(deb)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"dpkg -i failed:\n{r.stdout}\n{r.stderr}"


@pytest.fixture(scope="module")
def _module_install(deb) -> list[str]:
    """Installed for the module, removed at its end whatever happens: the files it installed."""
    assert not installed(), (f"the package {PACKAGE} is already installed on this machine: "
                             f"remove it first (dpkg -r {PACKAGE})")
    try:
        _dpkg_install(deb)
        files = subprocess.run(["dpkg", "-L", PACKAGE], capture_output=True, text=True,
                               check=True).stdout.split("\n")
        yield [f for f in files if f]
    finally:
        if installed():
            subprocess.run(["dpkg", "-r", PACKAGE], capture_output=True, timeout=300)


@pytest.fixture
def installed_deb(_module_install, deb) -> list[str]:
    """The package's files, installed again if a test before this one removed it."""
    if not installed():
        _dpkg_install(deb)
    return _module_install


def test_the_package_depends_on_pcscd_and_installs_the_host_under_opt(deb):
    info = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True,
                          text=True, check=True).stdout
    assert "pcscd" in info
    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    assert f".{INSTALLED_HOST}\n" in listing
    assert "./usr/bin/cpsbridge-host -> /opt/cpsbridge/cpsbridge-host" in listing


def test_installed_manifests_are_where_the_browsers_look(installed_deb):
    ids = extension_ids()
    for browser, folder in MANIFESTS.items():
        path = Path(folder) / f"{HOST_NAME}.json"
        assert str(path) in installed_deb
        manifest = json.loads(path.read_text())
        assert manifest["path"] == INSTALLED_HOST
        if browser == "firefox":
            assert manifest["allowed_extensions"] == [ids["firefox"]]
        else:
            assert f"chrome-extension://{ids['chromium']}/" in manifest["allowed_origins"]
    r = subprocess.run(["/usr/bin/cpsbridge-host", "--version"], capture_output=True, text=True)
    assert r.returncode == 0 and __version__ in r.stderr and r.stdout == ""


def test_installed_diagnose_finds_the_system_manifests(installed_deb, host_env):
    r = subprocess.run(["/usr/bin/cpsbridge-host", "diagnose", "--json", "--hors-ligne"],
                       env=host_env, capture_output=True, text=True, timeout=120)
    checks = {c["id"]: c for c in json.loads(r.stdout)["checks"]}
    for browser in ("chromium", "firefox"):
        assert checks[f"browser.{browser}"]["status"] == "ok", checks[f"browser.{browser}"]
        assert checks[f"browser.{browser}"]["details"]["level"] == "système"


@pytest.mark.browser
def test_headless_chromium_talks_to_the_installed_host(installed_deb, host_env, pki, tmp_path):
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing (Debian package chromium)"
    ext = build_dev_extension(tmp_path / "ext")["chromium"]
    profile = tmp_path / "profile"  # no NativeMessagingHosts here: the system manifest is used
    env = dict(host_env, HOME=str(tmp_path / "home"))
    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, headless=True, env=env,
            args=["--headless=new", *CHROMIUM_ARGS, f"--disable-extensions-except={ext}",
                  f"--load-extension={ext}"])
        try:
            workers = [w for w in ctx.service_workers if "chrome-extension://" in w.url]
            sw = workers[0] if workers else ctx.wait_for_event("serviceworker", timeout=30000)
            ask = ("m => chrome.runtime.sendNativeMessage('%s', m)" % HOST_NAME)
            status = sw.evaluate(ask, {"id": "s1", "command": "status"})
            listed = sw.evaluate(ask, {"id": "l1", "command": "list-certificates"})
        finally:
            ctx.close()
    assert status["result"]["version"] == __version__
    assert status["result"]["pcsc"]["available"] is True
    ids = {c["certificateId"] for c in listed["result"]["certificates"]}
    assert pki.holders["dupont"].certificate_id in ids
    log = Path(env["HOME"]) / ".local/state/cpsbridge/host.log"
    assert not log.exists() or "Traceback" not in log.read_text()


def test_dpkg_r_removes_everything(installed_deb):
    r = subprocess.run(["dpkg", "-r", PACKAGE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not installed()
    left = [f for f in installed_deb if Path(f).is_file() or Path(f).is_symlink()]
    assert left == [], left
    assert not Path("/opt/cpsbridge").exists()
