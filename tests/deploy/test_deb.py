"""The Debian package on this (throwaway) test machine: `dpkg -i`, the manifests where the
browsers look, headless Chromium with the extension talking to the installed host through
the system manifest, `diagnose` from the installed host, `install|uninstall --system`
leaving dpkg's files alone, then `dpkg -r` removes the host and `dpkg -P` the conffiles.

The package is purged again whatever happens, so the machine's browsers are left as they
were."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from host import HOST_NAME, __version__
from host.manifests import extension_ids
from tests.deploy.test_packaging_sources import build_module
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


def known_to_dpkg() -> bool:
    """Installed, or removed with its conffiles left (state config-files)."""
    r = subprocess.run(["dpkg-query", "-W", "-f=${Status}", PACKAGE], capture_output=True,
                       text=True)
    return r.returncode == 0 and "not-installed" not in r.stdout and r.stdout.strip() != ""


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
        if known_to_dpkg():  # purge: the conffiles of /etc go too
            subprocess.run(["dpkg", "-P", PACKAGE], capture_output=True, timeout=300)


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


def test_the_package_depends_on_the_glibc_its_libraries_need(deb, frozen_host):
    depends = subprocess.run(["dpkg-deb", "-f", str(deb), "Depends"], capture_output=True,
                             text=True, check=True).stdout
    found = re.search(r"libc6 \(>= ([0-9.]+)\)", depends)
    assert found, depends
    # The highest GLIBC_x.y the packaged ELF files need (libpython: 2.35 on Debian 12).
    needed = build_module().glibc_needed(frozen_host.parent)
    assert found.group(1) == needed
    glibc = subprocess.run(["dpkg-query", "-W", "-f=${Version}", "libc6"], capture_output=True,
                           text=True, check=True).stdout
    assert subprocess.run(["dpkg", "--compare-versions", glibc, "ge", needed]).returncode == 0


def test_the_package_marks_its_etc_files_as_conffiles_and_has_a_copyright_file(deb, tmp_path):
    subprocess.run(["dpkg-deb", "-R", str(deb), str(tmp_path / "x")], check=True)
    conffiles = (tmp_path / "x/DEBIAN/conffiles").read_text().split()
    etc = sorted("/" + p.relative_to(tmp_path / "x").as_posix()
                 for p in (tmp_path / "x/etc").rglob("*") if p.is_file())
    assert conffiles == etc and len(etc) == 4  # the Chromium family's manifests
    copyright = (tmp_path / "x/usr/share/doc/cpsbridge/copyright").read_text()
    assert copyright.startswith(
        "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/")
    assert "Upstream-Name: CPS Bridge" in copyright and "pyscard" in copyright
    assert "OpenSSL" in copyright and "PSF-2.0" in copyright


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


def test_install_and_uninstall_system_leave_the_package_files_alone(installed_deb):
    """On a machine with the .deb: `install --system` has nothing to change, writes no
    /usr/lib64/mozilla file (Debian's Firefox never reads it, no package would remove it);
    `uninstall --system` and an install naming another host refuse to touch dpkg's files."""
    lib64 = Path("/usr/lib64/mozilla")
    had_lib64 = lib64.exists()
    manifests = {p: Path(p).read_bytes() for p in installed_deb if p.endswith(f"{HOST_NAME}.json")}
    try:
        r = subprocess.run(["/usr/bin/cpsbridge-host", "install", "--system"], capture_output=True,
                           text=True, timeout=60)
        assert r.returncode == 0, r.stdout + r.stderr
        assert "écrit" not in r.stdout.replace("déjà à jour", ""), r.stdout
        assert had_lib64 or not lib64.exists()
        r = subprocess.run(["/usr/bin/cpsbridge-host", "uninstall", "--system"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 4 and "appartiennent au paquet cpsbridge" in r.stderr, r.stderr
        r = subprocess.run(["/usr/bin/cpsbridge-host", "install", "--system", "--browser",
                            "chromium", "--host-path", "/usr/bin/cpsbridge-host"],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 4 and MANIFESTS["chromium"] in r.stderr, r.stderr
        assert {p: Path(p).read_bytes() for p in manifests} == manifests
    finally:
        if not had_lib64 and lib64.exists():  # what the unfixed host wrote there
            subprocess.run(["rm", "-rf", str(lib64)], check=False)


def test_dpkg_r_removes_the_host_and_purge_the_conffiles(installed_deb):
    conffiles = subprocess.run(["dpkg-query", "-W", "-f=${Conffiles}", PACKAGE],
                               capture_output=True, text=True, check=True).stdout.split()[::2]
    assert conffiles and all(c.startswith("/etc/") for c in conffiles)
    r = subprocess.run(["dpkg", "-r", PACKAGE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert not installed()
    left = sorted(f for f in installed_deb if Path(f).is_file() or Path(f).is_symlink())
    assert left == sorted(conffiles), left  # `apt remove` keeps an administrator's /etc files
    assert not Path("/opt/cpsbridge").exists()
    r = subprocess.run(["dpkg", "-P", PACKAGE], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    left = [f for f in installed_deb if Path(f).is_file() or Path(f).is_symlink()]
    assert left == [], left


def test_the_package_carries_the_deployment_guide_where_diagnose_points(deb, tmp_path):
    """diagnose's fixes and the policy templates' README send IT to the guide: the package
    installs it (/usr/share/doc/cpsbridge/DEPLOYMENT.md), as docs/DEPLOYMENT.md is."""
    from host.diagnose import INSTALLED_GUIDE

    listing = subprocess.run(["dpkg-deb", "-c", str(deb)], capture_output=True, text=True,
                             check=True).stdout
    assert f".{INSTALLED_GUIDE}\n" in listing, listing
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "x")], check=True, timeout=120)
    guide = tmp_path / "x" / INSTALLED_GUIDE.lstrip("/")
    assert guide.read_bytes() == (REPO / "docs" / "DEPLOYMENT.md").read_bytes()
