"""`extension.<browser>` in `cpsbridge-host diagnose`: is the CPS Bridge extension installed
and enabled in the user's browser profiles (host/browser_profiles.py)?

With the real browsers: Chromium (Playwright, /usr/bin/chromium) and Firefox ESR (WebDriver
BiDi) install the extension in a profile, the user disables it on the browser's own page
(chrome://extensions, about:addons), and diagnose reads what the browser wrote. Then the
reading of files of every odd shape, the folders of each system, and the policies that
install the extension, without a browser.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from host.browser_profiles import (ABSENT, DISABLED, ENABLED, chromium_user_data,
                                   firefox_profile_dirs, firefox_roots, read_profiles)
from host.manifests import chromium_ids, extension_ids
from host.registration import Context
from tests.deploy.test_diagnose import (FIREFOX_ID, bare_env, by_id, cps3,  # noqa: F401
                                        diagnose, install, one_card, write_json)
from tests.testbed.browser import (FIREFOX, ChromiumBrowser, FirefoxBrowser,
                                   build_dev_extension)
from tests.testbed.hostproc import REPO

IDS = extension_ids()
CHROMIUM_ID = IDS["chromium"]
# A browser start, a page of the browser's own and a diagnose or two, on a shared machine.
BROWSER_TEST = [pytest.mark.browser, pytest.mark.timeout(300)]


def mark_browser(test):
    for mark in BROWSER_TEST:
        test = mark(test)
    return test


@pytest.fixture(scope="module")
def dev_extension(tmp_path_factory) -> dict[str, Path]:
    return build_dev_extension(tmp_path_factory.mktemp("extension-dev"))


@pytest.fixture(scope="module")
def firefox_xpi(tmp_path_factory) -> Path:
    """The release .xpi (build.py extension), as addons.mozilla.org or a policy installs it."""
    out = tmp_path_factory.mktemp("extension-release")
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "extension", "--out", str(out)],
                       cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return out / "cpsbridge-firefox.xpi"


@pytest.fixture
def card_env(one_card, pcscd, cps3, tmp_path) -> dict[str, str]:  # noqa: F811
    """A workstation where everything else is in place (software card in the private pcscd,
    production origins, no site check): the extension is the only thing left to say."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env.update(one_card.env())
    env.update(pcscd.env)
    env["HOME"] = str(tmp_path / "home")
    env["CPSBRIDGE_SYSTEM_CONFIG"] = str(tmp_path / "no-system-config.json")
    return env


def checked(env: dict[str, str], *args: str) -> tuple[dict, dict[str, dict]]:
    code, doc = diagnose(env, "--hors-ligne", *args)
    checks = by_id(doc)
    assert not [i for i in checks if i.endswith(".inattendu")], doc["blocking"]
    return doc, checks


# -- real browsers ---------------------------------------------------------------------------

@mark_browser
def test_chromium_enabled_then_disabled_on_chrome_extensions(card_env, dev_extension, tmp_path):
    """Chromium loads the unpacked extension in its profile; the user data folder is where
    diagnose looks (~/.config/chromium: a link to the browser's profile folder, which the
    testbed names itself). Chromium writes `extensions.settings.<id>` in `Preferences` (not
    `Secure Preferences`) with `disable_reasons: []`; the switch of chrome://extensions,
    clicked here, makes it `[1]` (disabled by the user)."""
    browser = ChromiumBrowser(tmp_path / "chromium", dev_extension["chromium"], None)
    browser.profile.mkdir(parents=True)
    home = Path(card_env["HOME"])
    (home / ".config").mkdir(parents=True)
    (home / ".config" / "chromium").symlink_to(browser.profile, target_is_directory=True)
    install(card_env)  # the manifest in ~/.config/chromium/NativeMessagingHosts: served
    with browser:
        assert browser.extension_id() == CHROMIUM_ID
    doc, checks = checked(card_env)
    check = checks["extension.chromium"]
    assert check["status"] == "ok", check
    assert check["message"] == ("Chromium : extension CPS Bridge installée et activée "
                                "(profil Default).")
    assert check["details"]["profiles"] == [{"name": "Default", "state": ENABLED}]
    assert doc["blocking"] == []

    with browser:
        page = browser.context.new_page()
        page.goto("chrome://extensions/")
        toggle = page.locator(f"extensions-item#{CHROMIUM_ID} cr-toggle#enableToggle")
        assert toggle.evaluate("t => t.checked") is True
        toggle.click()
        deadline = time.monotonic() + 15
        while toggle.evaluate("t => t.checked"):
            assert time.monotonic() < deadline, "the switch of chrome://extensions stayed on"
            page.wait_for_timeout(100)
    written = json.loads((browser.profile / "Default" / "Preferences").read_text("utf-8"))
    assert written["extensions"]["settings"][CHROMIUM_ID]["disable_reasons"], \
        "Chromium records a disabled extension with its reasons"
    doc, checks = checked(card_env)
    check = checks["extension.chromium"]
    assert check["status"] == "warning", check
    assert "installée mais désactivée (profil Default)" in check["message"]
    assert "chrome://extensions" in check["fix"]
    assert doc["blocking"] == []  # said, never blocking: the card login may use another browser


def _our_addon(profile: Path) -> list[dict]:
    try:
        data = json.loads((profile / "extensions.json").read_text("utf-8"))
    except (OSError, ValueError):  # not written yet, or being replaced
        return []
    return [a for a in data.get("addons", []) if a.get("id") == FIREFOX_ID]


def _wait_addon(profile: Path, predicate, what: str, timeout: float = 30) -> dict:
    """Firefox saves extensions.json shortly after a change (XPIDatabase's deferred save)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [a for a in _our_addon(profile) if predicate(a)]
        if found:
            return found[0]
        if time.monotonic() > deadline:
            raise TimeoutError(f"extensions.json: {what} within {timeout} s: "
                               f"{_our_addon(profile)}")
        time.sleep(0.2)


@mark_browser
def test_firefox_enabled_then_disabled_on_about_addons(card_env, dev_extension, firefox_xpi,
                                                       tmp_path):
    """Firefox ESR never writes a temporary add-on in extensions.json (XPIDatabase.toJSON
    leaves out the temporary location), and the testbed installs the extension so: it is
    replaced here by the release .xpi installed for good (BiDi webExtension.install with
    moz:permanent; unsigned, which ESR accepts with xpinstall.signatures.required false).
    profiles.ini is Firefox's own (-CreateProfile, in ~/.config/mozilla/firefox for a new
    user of this version). Then the switch of about:addons disables it: `userDisabled`."""
    browser = FirefoxBrowser(tmp_path / "firefox", dev_extension["firefox"], None,
                             prefs={"xpinstall.signatures.required": False})
    install(card_env)
    created = subprocess.run([FIREFOX, "--headless", "-CreateProfile",
                              f"praticien {browser.profile}"],
                             env={**card_env, "MOZ_CRASHREPORTER_DISABLE": "1"},
                             capture_output=True, text=True, timeout=60)
    assert created.returncode == 0, created.stderr
    with browser:
        browser.bidi.send("webExtension.uninstall", {"extension": FIREFOX_ID})
        browser.bidi.send("webExtension.install", {
            "extensionData": {"type": "archivePath", "path": str(firefox_xpi)},
            "moz:permanent": True})
        addon = _wait_addon(browser.profile, lambda a: a.get("active") is True, "active")
        assert addon["location"] == "app-profile" and addon["userDisabled"] is False
        doc, checks = checked(card_env)  # Firefox still open, as on a practitioner's desk
        check = checks["extension.firefox"]
        assert check["status"] == "ok", check
        assert check["message"] == ("Firefox : extension CPS Bridge installée et activée "
                                    f"(profil {browser.profile.name}).")
        # The profiles.ini read is the one Firefox wrote, wherever this version keeps it.
        assert [f for f in check["details"]["folders"] if Path(f, "profiles.ini").is_file()]
        assert doc["blocking"] == []

        tab = browser.open("about:addons")
        tab.wait_for("#category-extension")  # the list of extensions, not the start page
        tab.evaluate("document.querySelector('#category-extension').shadowRoot"
                     ".querySelector('button').click()")
        card = f'addon-card[addon-id="{FIREFOX_ID}"] moz-toggle'
        tab.wait_for(card)
        assert tab.evaluate(f"document.querySelector('{card}').pressed") is True
        tab.evaluate(f"document.querySelector('{card}').shadowRoot.querySelector('button')"
                     ".click()")
        addon = _wait_addon(browser.profile, lambda a: a.get("userDisabled") is True,
                            "userDisabled")
        assert addon["active"] is False
    doc, checks = checked(card_env)
    check = checks["extension.firefox"]
    assert check["status"] == "warning", check
    assert f"installée mais désactivée (profil {browser.profile.name})" in check["message"]
    assert "about:addons" in check["fix"]
    assert doc["blocking"] == []


# -- reading the files, whatever their shape ---------------------------------------------------

def chromium_prefs(folder: Path, name: str, data: object, file: str = "Preferences") -> None:
    (folder / name).mkdir(parents=True, exist_ok=True)
    target = folder / name / file
    if isinstance(data, bytes):
        target.write_bytes(data)
    else:
        target.write_text(json.dumps(data), "utf-8")


def ours(entry: object) -> dict:
    return {"extensions": {"settings": {CHROMIUM_ID: entry}}}


def test_nothing_there_is_no_profile_on_every_system(tmp_path):
    for ctx in (Context(platform="linux", env={"HOME": str(tmp_path / "nobody")}),
                Context(platform="darwin", env={"HOME": str(tmp_path / "nobody")}),
                Context(platform="win32", env={"USERPROFILE": str(tmp_path / "nobody"),
                                               "LOCALAPPDATA": str(tmp_path / "none"),
                                               "APPDATA": str(tmp_path / "none")})):
        for browser in ("chrome", "chromium", "edge", "brave", "firefox"):
            found = read_profiles(browser, ctx, IDS)
            assert found.profiles == [] and found.folders, (ctx.platform, browser)


def test_where_each_system_keeps_the_profiles(tmp_path):
    home = tmp_path / "home"
    linux = Context(platform="linux", env={"HOME": str(home), "XDG_CONFIG_HOME": "/xdg"})
    assert chromium_user_data("chrome", linux) == [Path("/xdg/google-chrome")]
    assert chromium_user_data("brave", linux) == [Path("/xdg/BraveSoftware/Brave-Browser")]
    assert firefox_roots(linux)[0] == home / ".mozilla" / "firefox"
    assert home / "snap/firefox/common/.mozilla/firefox" in firefox_roots(linux)
    (tmp_path / "xdg" / "mozilla").mkdir(parents=True)  # a Firefox using the XDG folders
    xdg = Context(platform="linux", env={"HOME": str(home),
                                         "XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert tmp_path / "xdg" / "mozilla" / "firefox" in firefox_roots(xdg)
    mac = Context(platform="darwin", env={"HOME": str(home)})
    support = home / "Library" / "Application Support"
    assert chromium_user_data("edge", mac) == [support / "Microsoft Edge"]
    assert firefox_roots(mac) == [support / "Firefox"]
    win = Context(platform="win32", env={"LOCALAPPDATA": str(tmp_path / "L"),
                                         "APPDATA": str(tmp_path / "R")})
    assert chromium_user_data("edge", win) == [tmp_path / "L" / "Microsoft" / "Edge" / "User Data"]
    assert chromium_user_data("brave", win) == \
        [tmp_path / "L" / "BraveSoftware" / "Brave-Browser" / "User Data"]
    assert firefox_roots(win) == [tmp_path / "R" / "Mozilla" / "Firefox"]
    # Without the variables: under the user's folder, as Windows lays them out.
    bare = Context(platform="win32", env={"USERPROFILE": str(home)})
    assert chromium_user_data("chrome", bare) == \
        [home / "AppData" / "Local" / "Google" / "Chrome" / "User Data"]
    assert firefox_roots(bare) == [home / "AppData" / "Roaming" / "Mozilla" / "Firefox"]


def test_chromium_preferences_of_every_shape(tmp_path):
    """Windows paths here, to run the same reading there (LOCALAPPDATA: a folder of this
    machine). Each profile is one case; a file that cannot be read is "not found"."""
    data = tmp_path / "Local" / "Google" / "Chrome" / "User Data"
    cases = {
        "Default": (b"{ pas du JSON", ABSENT),
        "Profile 1": ('{"a": "\xe9"}'.encode("latin-1"), ABSENT),  # not UTF-8
        "Profile 2": ({"extensions": []}, ABSENT),
        "Profile 3": ({"extensions": {"settings": [CHROMIUM_ID]}}, ABSENT),
        "Profile 4": (ours("activée"), ABSENT),  # an entry that is not an object
        "Profile 5": ({"extensions": {"settings": {"a" * 32: {}}}}, ABSENT),  # someone else's
        "Profile 6": (ours({"disable_reasons": []}), ENABLED),
        "Profile 7": (ours({"disable_reasons": [1]}), DISABLED),
        "Profile 8": (ours({"disable_reasons": 4}), DISABLED),  # older: a bit mask
        "Profile 9": (ours({"disable_reasons": 0, "state": 1}), ENABLED),
        "Profile 10": (ours({"state": 0}), DISABLED),  # older: state 0 is disabled
        "Profile 11": (ours({"disable_reasons": "beaucoup", "state": "0"}), ENABLED),
        "Profile 12": ([], ABSENT),
    }
    for name, (content, _) in cases.items():
        chromium_prefs(data, name, content)
    # Chrome on Windows keeps extensions.settings in Secure Preferences.
    chromium_prefs(data, "Profile 13", {"browser": {}})
    chromium_prefs(data, "Profile 13", ours({"disable_reasons": []}), "Secure Preferences")
    # Each file may hold part of the entry: both are read.
    chromium_prefs(data, "Profile 14", ours({"path": "x"}))
    chromium_prefs(data, "Profile 14", ours({"disable_reasons": [1]}), "Secure Preferences")
    chromium_prefs(data, "Profile 15", ours({}))
    chromium_prefs(data, "Profile 15", b"\xff\xfe", "Secure Preferences")
    chromium_prefs(data, "System Profile", ours({}))  # the browser's own: not a user's
    (data / "Crashpad").mkdir()  # no Preferences: not a profile
    (data / "Profile 16" / "Preferences").mkdir(parents=True)  # not a file
    (data / "Local State").write_text("{}")
    ctx = Context(platform="win32", env={"LOCALAPPDATA": str(tmp_path / "Local")})
    found = {p.name: p.state for p in read_profiles("chrome", ctx, IDS).profiles}
    expected = {name: state for name, (_, state) in cases.items()}
    expected.update({"Profile 13": ENABLED, "Profile 14": DISABLED, "Profile 15": ENABLED})
    assert found == expected
    # Any of our ids counts (a store's id next to the key's), and one enabled is enough.
    store = "b" * 32
    ids = dict(IDS, chromeWebStore=store)
    chromium_prefs(data, "Profile 7", {"extensions": {"settings": {
        CHROMIUM_ID: {"disable_reasons": [1]}, store: {"disable_reasons": []}}}})
    assert chromium_ids(ids) == [CHROMIUM_ID, store]
    states = {p.name: p.state for p in read_profiles("chrome", ctx, ids).profiles}
    assert states["Profile 7"] == ENABLED


def addons(*entries: object) -> dict:
    return {"schemaVersion": 36, "addons": list(entries)}


def test_firefox_profiles_ini_and_extensions_json_of_every_shape(tmp_path):
    root = tmp_path / "home" / ".mozilla" / "firefox"
    elsewhere = tmp_path / "ailleurs"
    cases = {
        "garbage.default": (b"{ pas du JSON", ABSENT),
        "latin1.default": ('{"addons": "\xe9"}'.encode("latin-1"), ABSENT),
        "dict.default": ({"addons": {FIREFOX_ID: {"active": True}}}, ABSENT),
        "list.default": ([FIREFOX_ID], ABSENT),
        "strings.default": (addons("x", 5, None), ABSENT),
        "other.default": (addons({"id": "autre@exemple.fr", "active": True}), ABSENT),
        "active.default": (addons({"id": FIREFOX_ID, "active": True, "userDisabled": False,
                                   "appDisabled": False}), ENABLED),
        "user.default": (addons({"id": FIREFOX_ID, "active": False, "userDisabled": True}),
                         DISABLED),
        "app.default": (addons({"id": FIREFOX_ID, "active": False, "appDisabled": True}),
                        DISABLED),
        "text.default": (addons({"id": FIREFOX_ID, "active": "true"}), DISABLED),
        "none.default": (None, ABSENT),  # no extensions.json at all
    }
    ini = ["[General]", "StartWithLastProfile=1", ""]
    for i, (name, (content, _)) in enumerate(cases.items()):
        folder = root / "Profiles" / name
        folder.mkdir(parents=True)
        if isinstance(content, bytes):
            (folder / "extensions.json").write_bytes(content)
        elif content is not None:
            (folder / "extensions.json").write_text(json.dumps(content))
        ini += [f"[Profile{i}]", f"Name={name}", "IsRelative=1", f"Path=Profiles/{name}", ""]
    write_json(elsewhere / "extensions.json", addons({"id": FIREFOX_ID, "active": True}))
    ini += ["[Profile90]", "Name=ailleurs", "IsRelative=0", f"Path={elsewhere}", "",
            "[Profile91]", "Name=sans chemin", "IsRelative=1", "",
            "[Profile92]", "Name=disparu", "IsRelative=1", "Path=Profiles/disparu", "",
            "[Install4F96D1932A9F858E]", f"Default=Profiles/{next(iter(cases))}", ""]
    (root / "profiles.ini").write_text("\n".join(ini))
    ctx = Context(platform="linux", env={"HOME": str(tmp_path / "home"), "PATH": ""})
    found = {p.name: p.state for p in read_profiles("firefox", ctx, IDS).profiles}
    expected = {name: state for name, (_, state) in cases.items()}
    expected["ailleurs"] = ENABLED
    assert found == expected  # the section without Path and the missing folder: no profile

    for broken in (b"pas un fichier ini", b"[Profile0]\nPath=\xe9\xff\n", b"[Profile0\n"):
        (root / "profiles.ini").write_bytes(broken)
        assert firefox_profile_dirs(root) == [], broken
    # Repeated sections and keys (Firefox never writes them): the last one, as Firefox reads.
    (root / "profiles.ini").write_text("[Profile0]\nIsRelative=1\nPath=Profiles/list.default\n"
                                       "Path=Profiles/active.default\n[Profile0]\n")
    assert firefox_profile_dirs(root) == [root / "Profiles" / "active.default"]
    (root / "profiles.ini").unlink()
    (root / "profiles.ini").mkdir()  # a folder where the file should be
    assert read_profiles("firefox", ctx, IDS).profiles == []


# -- diagnose: what it says, with and without a policy ------------------------------------------

def profiles_without_the_extension(home: Path) -> None:
    """A Chromium profile and a Firefox profile where the extension is not installed."""
    chromium_prefs(home / ".config" / "chromium", "Default", {"extensions": {"settings": {}}})
    write_json(home / ".mozilla" / "firefox" / "abc.default" / "extensions.json", addons())
    (home / ".mozilla" / "firefox" / "profiles.ini").write_text(
        "[Profile0]\nName=default\nIsRelative=1\nPath=abc.default\n")


def test_no_profile_then_absent_then_installed_by_a_policy(tmp_path):
    env = bare_env(tmp_path)
    home, root = Path(env["HOME"]), tmp_path / "root"
    install(env)  # registers Chromium and Firefox, the two on this machine
    doc, checks = checked(env, "--root", str(root))
    for browser, label in (("chromium", "Chromium"), ("firefox", "Firefox")):
        check = checks[f"extension.{browser}"]
        assert check["status"] == "info", check
        assert check["message"].startswith(f"{label} : aucun profil de l'utilisateur ")
        assert str(home) in check["message"] and "stratégie" not in check["message"]
    assert "extension.edge" not in checks  # no manifest for Edge: nothing to say
    assert not [i for i in doc["blocking"] if i.startswith("extension.")]

    profiles_without_the_extension(home)
    doc, checks = checked(env, "--root", str(root))
    user = env.get("LOGNAME") or env.get("USER")
    for browser, fix in (("chromium", "le Chrome Web Store"), ("firefox", "addons.mozilla.org")):
        check = checks[f"extension.{browser}"]
        assert check["status"] == "warning", check
        assert " de l'utilisateur " in check["message"]
        assert str(home) in check["message"] and (user is None or user in check["message"])
        assert fix in check["fix"] and "docs/DEPLOYMENT.md" in check["fix"]
        assert check["details"]["forced"] is False
    assert "absente du profil Default de l'utilisateur" in checks["extension.chromium"]["message"]
    assert "absente du profil abc.default de" in checks["extension.firefox"]["message"]
    assert not [i for i in doc["blocking"] if i.startswith("extension.")]

    # The policies of our templates install it at the browser's next start.
    write_json(root / "etc/chromium/policies/managed/cpsbridge.json", {
        "ExtensionInstallForcelist": [f"{CHROMIUM_ID};https://intranet.example/updates.xml"]})
    write_json(root / "etc/firefox/policies/policies.json", {"policies": {"ExtensionSettings": {
        FIREFOX_ID: {"installation_mode": "force_installed",
                     "install_url": "https://intranet.example/cpsbridge.xpi"}}}})
    doc, checks = checked(env, "--root", str(root))
    for browser in ("chromium", "firefox"):
        check = checks[f"extension.{browser}"]
        assert check["status"] == "info", check
        assert "stratégie d'entreprise l'installe d'office" in check["message"]
        assert "prochain démarrage" in check["message"] and check["details"]["forced"] is True
    # No profile yet, and a policy: it comes with the first start.
    for folder in (home / ".config" / "chromium" / "Default", home / ".mozilla" / "firefox"):
        shutil.rmtree(folder)
    doc, checks = checked(env, "--root", str(root))
    for browser in ("chromium", "firefox"):
        check = checks[f"extension.{browser}"]
        assert check["status"] == "info", check
        assert "installera l'extension CPS Bridge d'office au premier démarrage" in \
            check["message"]


@pytest.mark.parametrize("policies, forced", [
    ({"ExtensionInstallForcelist": [CHROMIUM_ID]}, True),
    ({"ExtensionInstallForcelist": [f"{CHROMIUM_ID};https://x.example/u.xml"]}, True),
    ({"ExtensionInstallForcelist": ["a" * 32 + ";https://x.example/u.xml"]}, False),
    ({"ExtensionInstallForcelist": "pas une liste"}, False),
    ({"ExtensionSettings": {CHROMIUM_ID: {"installation_mode": "force_installed"}}}, True),
    ({"ExtensionSettings": {CHROMIUM_ID: {"installation_mode": "normal_installed"}}}, True),
    ({"ExtensionSettings": {CHROMIUM_ID: {"installation_mode": "allowed"}}}, False),
    ({"ExtensionSettings": {CHROMIUM_ID: "force_installed"}}, False),
    ({}, False),
])
def test_which_chromium_policies_install_the_extension(policies, forced, tmp_path):
    from host.diagnose import Diagnosis

    root = tmp_path / "root"
    write_json(root / "etc/chromium/policies/managed/gpo.json", policies)
    ctx = Context(platform="linux", env={"HOME": str(tmp_path / "home")}, root=str(root))
    assert Diagnosis(ctx, online=False)._chromium_policy("chromium")["forced"] is forced


@pytest.mark.parametrize("entry, forced", [
    ({"installation_mode": "force_installed", "install_url": "https://x.example/a.xpi"}, True),
    ({"installation_mode": "normal_installed", "install_url": "https://x.example/a.xpi"}, True),
    ({"installation_mode": "allowed"}, False),
    ("force_installed", False),
])
def test_which_firefox_policies_install_the_extension(entry, forced, tmp_path):
    from host.diagnose import Diagnosis

    root = tmp_path / "root"
    write_json(root / "etc/firefox/policies/policies.json",
               {"policies": {"ExtensionSettings": {FIREFOX_ID: entry}}})
    ctx = Context(platform="linux", env={"HOME": str(tmp_path / "home")}, root=str(root))
    assert Diagnosis(ctx, online=False)._firefox_policy()["forced"] is forced


def test_a_failure_while_reading_the_profiles_is_one_line(tmp_path, monkeypatch):
    import host.diagnose
    from host.diagnose import Diagnosis

    def boom(*args: object) -> None:
        raise RuntimeError("imprévu")

    monkeypatch.setattr(host.diagnose, "read_profiles", boom)
    d = Diagnosis(Context(platform="linux", env={"HOME": str(tmp_path)}), online=False)
    d.served = ["chromium", "firefox"]
    d.extensions()
    assert [(c.id, c.status) for c in d.checks] == [("extension.chromium.inattendu", "error"),
                                                    ("extension.firefox.inattendu", "error")]
