"""`cpsbridge-host install|uninstall`: real files in a temporary HOME (and a staging root)
for Linux; for Windows and macOS, the computed plan of files and registry keys (no registry
or Mac here: that plan is what the Windows code writes, key by key)."""

from __future__ import annotations

import io
import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from host import HOST_NAME, __version__
from host.manifests import chromium_ids, extension_ids, render
from host.registration import (BROWSERS, Context, RegistrationError, carry_out, keys_naming,
                               manifest_dirs, plan, source_launcher, windows_key,
                               windows_manifest_path)
from tests.testbed.hostproc import REPO, SOURCE_HOST, one_shot

IDS = extension_ids()
USER_FILES = {
    "chrome": ".config/google-chrome/NativeMessagingHosts",
    "chromium": ".config/chromium/NativeMessagingHosts",
    "edge": ".config/microsoft-edge/NativeMessagingHosts",
    "brave": ".config/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": ".mozilla/native-messaging-hosts",
}


def user_env(home: Path, path: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env["HOME"] = str(home)
    if path is not None:
        env["PATH"] = path
    return env


def run_host(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([*SOURCE_HOST, *args], env=env, cwd=REPO, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize("browser", BROWSERS)
def test_user_install_writes_the_manifest_where_the_browser_looks_and_uninstall_removes_it(
        tmp_path, browser):
    env = user_env(tmp_path)
    r = run_host(env, "install", "--user", "--browser", browser)
    assert r.returncode == 0, r.stderr
    manifest_file = tmp_path / USER_FILES[browser] / f"{HOST_NAME}.json"
    manifest = json.loads(manifest_file.read_text())
    launcher = Path(manifest["path"])
    assert manifest["name"] == HOST_NAME and manifest["type"] == "stdio"
    if browser == "firefox":
        assert manifest["allowed_extensions"] == [IDS["firefox"]]
    else:  # the key's id, and each store's once it is known
        assert set(manifest["allowed_origins"]) == {f"chrome-extension://{i}/"
                                                   for i in chromium_ids(IDS)}
        assert f"chrome-extension://{IDS['chromium']}/" in manifest["allowed_origins"]
    assert launcher.is_file() and os.access(launcher, os.X_OK)
    assert str(manifest_file) in r.stdout and "écrit" in r.stdout

    again = run_host(env, "install", "--user", "--browser", browser)
    assert again.returncode == 0 and again.stdout.count("déjà à jour") == 2
    assert json.loads(manifest_file.read_text()) == manifest

    gone = run_host(env, "uninstall", "--user", "--browser", browser)
    assert gone.returncode == 0 and "supprimé" in gone.stdout
    assert not manifest_file.exists()
    assert launcher.exists()  # it may still serve the other browsers
    assert "absent" in run_host(env, "uninstall", "--user", "--browser", browser).stdout


def test_the_registered_launcher_is_a_working_host(tmp_path, host_env):
    env = dict(host_env, HOME=str(tmp_path))
    env.pop("XDG_CONFIG_HOME")
    assert run_host(env, "install", "--user", "--browser", "chromium").returncode == 0
    manifest = json.loads((tmp_path / USER_FILES["chromium"] / f"{HOST_NAME}.json").read_text())
    frames, code, _ = one_shot(env, {"id": "s", "command": "status"}, command=[manifest["path"]])
    assert code == 0 and frames[0]["result"]["version"] == "1.2.0"


PROFILES = {"chrome": ".config/google-chrome", "chromium": ".config/chromium",
            "edge": ".config/microsoft-edge", "brave": ".config/BraveSoftware/Brave-Browser",
            "firefox": ".mozilla"}


def test_uninstall_all_removes_every_file_it_wrote_and_the_folders_it_made(tmp_path):
    env = user_env(tmp_path, path=str(tmp_path / "no-bin"))
    for profile in PROFILES.values():  # every browser has been used by this user
        (tmp_path / profile).mkdir(parents=True)
    before = sorted(p for p in tmp_path.rglob("*"))
    assert run_host(env, "install", "--user").returncode == 0
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) == len(BROWSERS) + 1  # a manifest each, and the launcher
    r = run_host(env, "uninstall", "--user")
    assert r.returncode == 0, r.stderr
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]
    # The NativeMessagingHosts folders and ~/.local/share/cpsbridge are gone; the browsers'
    # own folders stay (and ~/.local/share, which is not ours either).
    assert sorted(p for p in tmp_path.rglob("*") if p not in before) == \
        [tmp_path / ".local", tmp_path / ".local/share"]
    assert "Dossier " + str(tmp_path / ".local/share/cpsbridge") + " : supprimé (vide)" in r.stdout


def test_install_for_every_browser_skips_those_this_user_does_not_have(tmp_path):
    (tmp_path / ".config/chromium").mkdir(parents=True)
    env = user_env(tmp_path, path=str(tmp_path / "no-bin"))  # no browser program either
    r = run_host(env, "install", "--user")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / USER_FILES["chromium"] / f"{HOST_NAME}.json").is_file()
    for browser in ("chrome", "edge", "brave", "firefox"):
        assert not (tmp_path / PROFILES[browser]).exists(), browser  # not created
        assert f"--browser {browser}" in r.stdout
    assert "Google Chrome : ignoré" in r.stdout
    # Named explicitly, a browser is registered even without its folder.
    r = run_host(env, "install", "--user", "--browser", "edge")
    assert r.returncode == 0 and (tmp_path / USER_FILES["edge"] / f"{HOST_NAME}.json").is_file()
    # A browser whose program is installed but never started is registered too.
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "google-chrome").write_text("#!/bin/sh\n")
    (bin_dir / "google-chrome").chmod(0o755)
    r = run_host(user_env(tmp_path, path=str(bin_dir)), "install", "--user")
    assert (tmp_path / USER_FILES["chrome"] / f"{HOST_NAME}.json").is_file(), r.stdout
    # Nobody at all: nothing written, said plainly, and a status a script can tell (5).
    home = tmp_path / "empty"
    r = run_host(user_env(home, path=str(tmp_path / "no-bin")), "install", "--user")
    assert r.returncode == 5 and "Aucun navigateur trouvé" in r.stdout
    assert not home.exists()


def test_uninstall_leaves_a_folder_that_holds_something_else(tmp_path):
    env = user_env(tmp_path)
    assert run_host(env, "install", "--user", "--browser", "chrome").returncode == 0
    other = tmp_path / USER_FILES["chrome"] / "com.example.other.json"
    other.write_text("{}")
    r = run_host(env, "uninstall", "--user", "--browser", "chrome")
    assert r.returncode == 0 and other.is_file()
    assert not (tmp_path / USER_FILES["chrome"] / f"{HOST_NAME}.json").exists()


def test_firefox_keeping_its_profile_in_xdg_folders_gets_the_manifest_there_too(tmp_path):
    env = user_env(tmp_path)
    env["XDG_CONFIG_HOME"] = str(tmp_path / "cfg")
    (tmp_path / "cfg" / "mozilla").mkdir(parents=True)
    assert run_host(env, "install", "--user", "--browser", "firefox").returncode == 0
    assert (tmp_path / "cfg/mozilla/native-messaging-hosts" / f"{HOST_NAME}.json").is_file()
    assert (tmp_path / ".mozilla/native-messaging-hosts" / f"{HOST_NAME}.json").is_file()


def test_a_snap_browser_is_refused_clearly_and_nothing_is_written(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    # Ubuntu's /usr/bin/chromium-browser: a script that starts the Snap.
    wrapper = bin_dir / "chromium-browser"
    wrapper.write_text("#!/bin/sh\nexec /snap/bin/chromium \"$@\"\n")
    wrapper.chmod(0o755)
    env = user_env(tmp_path / "home", path=str(bin_dir))
    r = run_host(env, "install", "--user", "--browser", "chromium")
    assert r.returncode == 3
    assert "Chromium : refusé" in r.stdout and "Snap" in r.stdout
    assert not (tmp_path / "home" / USER_FILES["chromium"]).exists()
    # Every browser asked, and the only one this user has is refused: no manifest, status 5.
    r = run_host(env, "install", "--user")
    assert r.returncode == 5 and "Aucun navigateur utilisable" in r.stdout, r.stdout
    assert not (tmp_path / "home" / USER_FILES["chromium"]).exists()
    # With every browser asked, the others this user has are still registered and the
    # command succeeds.
    (tmp_path / "home" / PROFILES["chrome"]).mkdir(parents=True)
    r = run_host(env, "install", "--user")
    assert r.returncode == 0 and "Chromium : refusé" in r.stdout
    assert (tmp_path / "home" / USER_FILES["chrome"] / f"{HOST_NAME}.json").is_file()


def test_a_flatpak_browser_is_refused(tmp_path):
    home = tmp_path / "home"
    (home / ".local/share/flatpak/app/org.mozilla.firefox").mkdir(parents=True)
    r = run_host(user_env(home, path=str(tmp_path)), "install", "--user", "--browser", "firefox")
    assert r.returncode == 3 and "Flatpak" in r.stdout
    assert not (home / USER_FILES["firefox"]).exists()


def test_system_install_under_a_staging_root(tmp_path):
    host = tmp_path / "root/opt/cpsbridge/cpsbridge-host"
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)  # install refuses a host the browsers could not start
    env = user_env(tmp_path)
    r = run_host(env, "install", "--system", "--root", str(tmp_path / "root"),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 0, r.stderr
    for d in ("etc/opt/chrome/native-messaging-hosts", "etc/chromium/native-messaging-hosts",
              "etc/opt/edge/native-messaging-hosts", "etc/brave/native-messaging-hosts",
              "usr/lib/mozilla/native-messaging-hosts"):
        m = json.loads((tmp_path / "root" / d / f"{HOST_NAME}.json").read_text())
        assert m["path"] == "/opt/cpsbridge/cpsbridge-host"
    r = run_host(env, "uninstall", "--system", "--root", str(tmp_path / "root"))
    assert r.returncode == 0
    assert not list((tmp_path / "root/etc").rglob("*.json"))
    # The folders the install made are gone too, /etc/opt included; /etc and /usr/lib stay.
    left = sorted(p.relative_to(tmp_path / "root").as_posix()
                  for p in (tmp_path / "root").rglob("*") if p.is_dir())
    assert left == ["etc", "opt", "opt/cpsbridge", "usr", "usr/lib"], left


def test_install_extension_id_adds_a_store_id_to_the_manifests(tmp_path):
    env = user_env(tmp_path)
    store_id = "abcdefghijklmnopabcdefghijklmnop"  # what a store would assign (made up here)
    r = run_host(env, "install", "--user", "--browser", "chrome", "--extension-id", store_id,
                 "--extension-id", "hopital@example.fr")
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / USER_FILES["chrome"] / f"{HOST_NAME}.json").read_text())
    assert f"chrome-extension://{store_id}/" in manifest["allowed_origins"]
    assert f"chrome-extension://{IDS['chromium']}/" in manifest["allowed_origins"]
    r = run_host(env, "install", "--user", "--browser", "firefox", "--extension-id", store_id,
                 "--extension-id", "hopital@example.fr")
    manifest = json.loads((tmp_path / USER_FILES["firefox"] / f"{HOST_NAME}.json").read_text())
    assert manifest["allowed_extensions"] == sorted([IDS["firefox"], "hopital@example.fr"])
    # A malformed id (a letter past p, a URL) is refused in French, and nothing is written.
    for bad in ("abcdefghijklmnopabcdefghijklmnoz", f"chrome-extension://{store_id}/", "x"):
        r = run_host(user_env(tmp_path / "other"), "install", "--user", "--browser", "chrome",
                     "--extension-id", bad)
        assert r.returncode == 2 and "identifiant d'extension invalide" in r.stderr, r.stderr
        assert "Traceback" not in r.stderr and not (tmp_path / "other").exists()


def test_bad_input_gets_a_french_message_and_a_status_never_a_traceback(tmp_path):
    env = user_env(tmp_path)
    r = run_host(env, "install", "--user", "--host-path", str(tmp_path / "missing"))
    assert r.returncode == 1 and "introuvable" in r.stderr and "Traceback" not in r.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env["XDG_CONFIG_HOME"] = str(blocker)  # a folder that cannot be made
    before = sorted(tmp_path.rglob("*"))
    r = run_host(env, "install", "--user", "--browser", "chrome")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.strip() == (f"Erreur : {blocker}/google-chrome : un élément du chemin est un "
                                "fichier, pas un dossier. Rien n'a été écrit.")
    # Neither the launcher, written first, nor the folders made for it are left behind.
    assert sorted(tmp_path.rglob("*")) == before and "écrit" not in r.stdout
    r = run_host(env, "install", "--browser", "opera")
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert r.stderr.splitlines()[-1] == (
        "Erreur : --browser : valeur inconnue 'opera' (valeurs possibles : 'chrome', 'chromium', "
        "'edge', 'brave', 'firefox', 'all'). Aide : cpsbridge-host install --help")
    assert r.stderr.startswith("utilisation : cpsbridge-host install")


def test_a_host_path_that_is_not_executable_is_refused_and_nothing_is_written(tmp_path):
    """The browsers could not start it: refused as a missing file is (code 1), in French,
    with the fix, before anything is written."""
    host = tmp_path / "cpsbridge-host"
    host.write_text("#!/bin/sh\n")
    host.chmod(0o644)
    env = user_env(tmp_path / "home")
    r = run_host(env, "install", "--user", "--browser", "firefox", "--host-path", str(host))
    assert r.returncode == 1 and "n'est pas exécutable" in r.stderr, r.stdout + r.stderr
    assert "chmod 755" in r.stderr and "Traceback" not in r.stderr
    assert not (tmp_path / "home").exists()
    host.chmod(0o755)
    r = run_host(env, "install", "--user", "--browser", "firefox", "--host-path", str(host))
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "home" / USER_FILES["firefox"] / f"{HOST_NAME}.json").is_file()


def test_uninstall_leaves_a_file_that_is_not_ours(tmp_path):
    env = user_env(tmp_path)
    foreign = tmp_path / USER_FILES["chrome"] / f"{HOST_NAME}.json"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"name": "something.else"}')
    r = run_host(env, "uninstall", "--user", "--browser", "chrome")
    assert "laissé en place" in r.stdout and foreign.exists()


# -- Windows and macOS: the computed plan (no registry, no Mac on this machine) --------------

WIN_ENV = {"ProgramData": "C:\\ProgramData", "ProgramFiles": "C:\\Program Files",
           "LOCALAPPDATA": "C:\\Users\\dr\\AppData\\Local", "USERPROFILE": "C:\\Users\\dr"}
WIN_HOST = "C:\\Program Files\\CPS Bridge\\cpsbridge-host.exe"


@pytest.mark.parametrize("system, hive, base", [
    # System-wide: beside the host in the install folder (administrators only), where the MSI
    # puts them too; never %ProgramData%, where every user may create files.
    (True, "HKLM", "C:\\Program Files\\CPS Bridge"),
    (False, "HKCU", "C:\\Users\\dr\\AppData\\Local\\CPS Bridge\\NativeMessagingHosts"),
])
def test_windows_plan_names_the_documented_registry_keys(system, hive, base):
    p = plan(list(BROWSERS), system, Context(platform="win32", env=WIN_ENV), WIN_HOST)
    keys = {s.target: s.content for s in p.steps if s.kind == "registry"}
    chromium_manifest = f"{base}\\{HOST_NAME}.chromium.json"
    firefox_manifest = f"{base}\\{HOST_NAME}.firefox.json"
    assert keys == {
        f"{hive}\\Software\\Google\\Chrome\\NativeMessagingHosts\\{HOST_NAME}": chromium_manifest,
        f"{hive}\\Software\\Chromium\\NativeMessagingHosts\\{HOST_NAME}": chromium_manifest,
        f"{hive}\\Software\\Microsoft\\Edge\\NativeMessagingHosts\\{HOST_NAME}": chromium_manifest,
        f"{hive}\\Software\\BraveSoftware\\Brave-Browser\\NativeMessagingHosts\\{HOST_NAME}":
            chromium_manifest,
        f"{hive}\\Software\\Mozilla\\NativeMessagingHosts\\{HOST_NAME}": firefox_manifest,
    }
    files = {s.target: json.loads(s.content) for s in p.steps if s.kind == "file"}
    # Beside the host (system): its file name, which the browsers take from the manifest's
    # folder; elsewhere (per user): the host's absolute path.
    named = "cpsbridge-host.exe" if system else WIN_HOST
    assert files[chromium_manifest] == render("chromium", named, windows=True)
    assert files[firefox_manifest]["path"] == named


@pytest.mark.parametrize("env, host, system, expected", [
    # The install folder moved to another drive (ProgramW6432 names it): still beside the host.
    (dict(WIN_ENV, ProgramW6432="D:\\Programmes"), "D:\\Programmes\\CPS Bridge\\cpsbridge-host.exe",
     True, "cpsbridge-host.exe"),
    # Case and separators do not count on Windows.
    (WIN_ENV, "c:/program files/cps bridge/cpsbridge-host.exe", True, "cpsbridge-host.exe"),
    # The host elsewhere: its absolute path, whatever the level.
    (WIN_ENV, "E:\\Outils\\cpsbridge-host.exe", True, "E:\\Outils\\cpsbridge-host.exe"),
    (WIN_ENV, "E:\\Outils\\cpsbridge-host.exe", False, "E:\\Outils\\cpsbridge-host.exe"),
])
def test_windows_manifests_name_the_host_relatively_only_beside_it(env, host, system, expected):
    p = plan(["edge", "firefox"], system, Context(platform="win32", env=env), host)
    paths = {json.loads(s.content)["path"] for s in p.steps if s.kind == "file"}
    assert paths == {expected}
    with pytest.raises(ValueError):  # Linux and macOS browsers refuse a relative path
        render("chromium", "cpsbridge-host.exe")


def test_macos_plan_uses_the_documented_folders():
    ctx = Context(platform="darwin", env={"HOME": "/Users/dr"})
    system = {s.target for s in plan(list(BROWSERS), True, ctx, "/Applications/x").steps}
    user = {s.target for s in plan(["chrome", "firefox"], False, ctx, "/Applications/x").steps}
    name = f"{HOST_NAME}.json"
    assert system == {f"/Library/Google/Chrome/NativeMessagingHosts/{name}",
                      f"/Library/Application Support/Chromium/NativeMessagingHosts/{name}",
                      f"/Library/Microsoft/Edge/NativeMessagingHosts/{name}",
                      f"/Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts/{name}",
                      f"/Library/Application Support/Mozilla/NativeMessagingHosts/{name}"}
    assert user == {f"/Users/dr/Library/Application Support/Google/Chrome/NativeMessagingHosts/{name}",
                    f"/Users/dr/Library/Application Support/Mozilla/NativeMessagingHosts/{name}"}


def test_dry_run_changes_nothing(tmp_path):
    r = run_host(user_env(tmp_path), "install", "--user", "--dry-run")
    assert r.returncode == 0 and "serait écrit" in r.stdout and "(simulation)" in r.stdout
    assert not any(tmp_path.rglob("*.json"))
    assert sys.platform.startswith("linux")  # this suite runs the Linux paths for real


def test_windows_system_files_are_where_the_msi_puts_them_never_in_programdata():
    ctx = Context(platform="win32", env=dict(WIN_ENV, ProgramW6432="D:\\Programmes"))
    p = plan(list(BROWSERS), True, ctx, None)  # from source: the launcher too
    targets = [s.target for s in p.steps if s.kind == "file"]
    assert targets and all(t.startswith("D:\\Programmes\\CPS Bridge\\") for t in targets), targets
    assert not any("ProgramData" in s.target or "ProgramData" in s.content for s in p.steps)
    # The MSI names [INSTALLFOLDER]<name>.<family>.json: the same files.
    assert windows_manifest_path("edge", True, Context(platform="win32", env=WIN_ENV)) == \
        f"C:\\Program Files\\CPS Bridge\\{HOST_NAME}.chromium.json"


# -- Windows: Chrome, Chromium, Edge and Brave share one manifest file --------------------------

class FakeRegistry:
    """The four calls carry_out makes, on a dict (no registry on this machine): a key mapped
    to None has no default value."""

    def __init__(self, values: dict[str, str | None]):
        self.values = dict(values)

    def read(self, key: str) -> str | None:
        return self.values.get(key)

    def exists(self, key: str) -> bool:
        return key in self.values

    def write(self, key: str, value: str) -> None:
        self.values[key] = value

    def delete(self, key: str) -> None:
        del self.values[key]


def test_keys_naming_compares_windows_paths_and_leaves_out_removed_keys():
    shared = "C:\\Users\\dr\\AppData\\Local\\CPS Bridge\\NativeMessagingHosts\\x.chromium.json"
    values = {"HKCU\\a": shared, "HKCU\\b": shared.upper(), "HKCU\\c": "C:\\other.json",
              "HKLM\\d": None}
    assert keys_naming(shared, values) == ["HKCU\\a", "HKCU\\b"]
    assert keys_naming(shared, values, gone=["HKCU\\a"]) == ["HKCU\\b"]
    assert keys_naming(shared, values, gone=["HKCU\\a", "HKCU\\b"]) == []


@pytest.mark.parametrize("dry_run", [False, True])
def test_windows_uninstall_of_one_browser_keeps_the_manifest_the_others_still_use(
        tmp_path, monkeypatch, dry_run):
    # Windows paths are plain file names here: on_disk() leaves them relative to tmp_path.
    monkeypatch.chdir(tmp_path)
    ctx = Context(platform="win32", env=WIN_ENV)
    installed = plan(list(BROWSERS), False, ctx, WIN_HOST)
    registry = FakeRegistry({s.target: s.content for s in installed.steps if s.kind == "registry"})
    shared = windows_manifest_path("chrome", False, ctx)
    Path(shared).write_text(next(s.content for s in installed.steps if s.target == shared))

    out = io.StringIO()
    carry_out(plan(["chrome"], False, ctx, WIN_HOST), ctx, remove=True, dry_run=dry_run, out=out,
              registry=registry)
    kept = [line for line in out.getvalue().splitlines() if shared in line]
    assert len(kept) == 1 and "laissé en place, encore désigné par" in kept[0], out.getvalue()
    for browser in ("chromium", "edge", "brave"):
        assert windows_key(browser, False) in kept[0]
    assert windows_key("chrome", False) not in kept[0]
    assert Path(shared).is_file()
    assert (windows_key("chrome", False) in registry.values) is dry_run

    # Every browser at once (uninstall --browser all): kept while a key names it, then removed.
    out = io.StringIO()
    carry_out(plan(list(BROWSERS), False, ctx, WIN_HOST), ctx, remove=True, dry_run=dry_run,
              out=out, registry=registry)
    lines = [line.rsplit(" : ", 1)[1] for line in out.getvalue().splitlines()
             if f"{shared} : " in line]
    removed = "serait supprimé" if dry_run else "supprimé"
    assert removed in lines, out.getvalue()
    first = lines.index(removed)
    assert all(x.startswith("laissé en place") for x in lines[:first]), lines
    assert not any(x.startswith("laissé en place") for x in lines[first:]), lines
    assert Path(shared).is_file() is dry_run
    if not dry_run:
        assert registry.values == {}


# -- Linux system install: folders, modes, the Debian package's own files ---------------------

def test_firefox_lib64_folder_only_where_that_layout_is_in_use(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib64").mkdir(parents=True)  # Debian: /usr/lib64 holds the loader only
    debian = manifest_dirs("firefox", True, Context(platform="linux", root=str(root)))
    assert debian == ["/usr/lib/mozilla/native-messaging-hosts"]
    (root / "usr/lib64/mozilla").mkdir()  # Fedora, openSUSE: mozilla-filesystem makes it
    fedora = manifest_dirs("firefox", True, Context(platform="linux", root=str(root)))
    assert fedora == ["/usr/lib/mozilla/native-messaging-hosts",
                      "/usr/lib64/mozilla/native-messaging-hosts"]


def test_system_install_under_debian_layout_writes_no_lib64_manifest(tmp_path):
    root = tmp_path / "root"
    (root / "usr/lib64").mkdir(parents=True)
    (root / "opt/cpsbridge").mkdir(parents=True)
    (root / "opt/cpsbridge/cpsbridge-host").write_text("#!/bin/sh\n")
    (root / "opt/cpsbridge/cpsbridge-host").chmod(0o755)
    r = run_host(user_env(tmp_path), "install", "--system", "--root", str(root),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 0, r.stderr
    assert (root / "usr/lib/mozilla/native-messaging-hosts" / f"{HOST_NAME}.json").is_file()
    assert not (root / "usr/lib64/mozilla").exists()


def test_system_folders_and_files_get_explicit_modes_whatever_the_umask(tmp_path):
    root = tmp_path / "root"
    env = user_env(tmp_path)
    r = subprocess.run([*SOURCE_HOST, "install", "--system", "--root", str(root)], env=env,
                       cwd=REPO, capture_output=True, text=True, timeout=60,
                       preexec_fn=lambda: os.umask(0))
    assert r.returncode == 0, r.stderr
    made = [p for p in root.rglob("*")]
    assert any(p.name == f"{HOST_NAME}.json" for p in made)
    for p in made:
        mode = stat.S_IMODE(p.stat().st_mode)
        if p.is_dir():
            assert mode == 0o755, (p, oct(mode))
        elif p.name == "cpsbridge-host":  # the source launcher
            assert mode == 0o755, (p, oct(mode))
        else:
            assert mode == 0o644, (p, oct(mode))


def _package_root(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A root laid out as the .deb installs it, with dpkg's list of the package's files."""
    root = tmp_path / "root"
    host = root / "opt/cpsbridge/cpsbridge-host"
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)  # install refuses a host the browsers could not start
    env = user_env(tmp_path)
    r = run_host(env, "install", "--system", "--root", str(root),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 0, r.stderr
    owned = sorted("/" + p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "cpsbridge.list").write_text("/.\n/etc\n" + "\n".join(owned) + "\n")
    return root, env


def test_uninstall_system_refuses_to_delete_the_package_manifests(tmp_path):
    root, env = _package_root(tmp_path)
    before = sorted(root.rglob("*.json"))
    r = run_host(env, "uninstall", "--system", "--root", str(root))
    assert r.returncode == 4, r.stdout + r.stderr
    assert "appartiennent au paquet cpsbridge" in r.stderr and "apt purge cpsbridge" in r.stderr
    assert "--force" in r.stderr and "Traceback" not in r.stderr
    assert sorted(root.rglob("*.json")) == before  # nothing removed
    r = run_host(env, "uninstall", "--system", "--root", str(root), "--dry-run")
    assert r.returncode == 4
    r = run_host(env, "uninstall", "--system", "--root", str(root), "--force")
    assert r.returncode == 0, r.stderr
    assert not list(root.rglob("*.json"))


def test_install_system_refuses_to_overwrite_the_package_manifests(tmp_path):
    root, env = _package_root(tmp_path)
    manifest = root / "etc/chromium/native-messaging-hosts" / f"{HOST_NAME}.json"
    text = manifest.read_text()
    # The same content as the package's: nothing to write, nothing refused.
    r = run_host(env, "install", "--system", "--root", str(root),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 0 and "déjà à jour" in r.stdout, r.stderr
    # Another host (here: a source checkout's launcher) would replace the package's files.
    r = run_host(env, "install", "--system", "--root", str(root), "--browser", "chromium")
    assert r.returncode == 4 and "appartiennent au paquet cpsbridge" in r.stderr
    assert str(manifest.relative_to(root)) in r.stderr
    assert manifest.read_text() == text
    assert not (root / "usr/local/lib/cpsbridge").exists()  # nothing at all was written
    r = run_host(env, "install", "--system", "--root", str(root), "--browser", "chromium",
                 "--force")
    assert r.returncode == 0 and manifest.read_text() != text


# -- --host-path and the source launcher --------------------------------------------------------

def test_a_relative_host_path_is_written_absolute(tmp_path):
    work = tmp_path / "work"
    (work / "dist/host").mkdir(parents=True)
    exe = work / "dist/host/cpsbridge-host"
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    env = user_env(tmp_path / "home")
    r = subprocess.run([*SOURCE_HOST, "install", "--user", "--browser", "firefox",
                        "--host-path", "dist/host/cpsbridge-host"],
                       env=dict(env, PYTHONPATH=str(REPO)), cwd=work, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    written = tmp_path / "home" / USER_FILES["firefox"] / f"{HOST_NAME}.json"
    assert json.loads(written.read_text())["path"] == str(exe.resolve())
    with pytest.raises(ValueError):
        render("firefox", "dist/host/cpsbridge-host")
    r = run_host(env, "install", "--system", "--root", str(tmp_path / "root"),
                 "--host-path", "opt/cpsbridge-host")
    assert r.returncode == 1 and "chemin absolu" in r.stderr


def test_the_source_launcher_quotes_a_path_with_an_apostrophe_and_a_space(tmp_path):
    checkout = tmp_path / "src l'hôpital $x"
    shutil.copytree(REPO / "host", checkout / "host",
                    ignore=shutil.ignore_patterns("__pycache__"))
    (checkout / "extension").mkdir()
    shutil.copy(REPO / "extension" / "ids.json", checkout / "extension" / "ids.json")
    shutil.copytree(REPO / "manifests" / "templates", checkout / "manifests" / "templates")
    env = user_env(tmp_path / "home")
    r = subprocess.run([str(REPO / ".venv/bin/python"), "-m", "host", "install", "--user",
                        "--browser", "firefox"], env=env, cwd=checkout, capture_output=True,
                       text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    written = tmp_path / "home" / USER_FILES["firefox"] / f"{HOST_NAME}.json"
    launcher = Path(json.loads(written.read_text())["path"])
    assert str(checkout) in launcher.read_text() or "l'\"'\"'hôpital" in launcher.read_text()
    v = subprocess.run([str(launcher), "--version"], env=env, capture_output=True, text=True,
                       timeout=60)
    assert v.returncode == 0 and __version__ in v.stderr, v.stderr
    # The host it started is the one of that checkout.
    where = subprocess.run([str(launcher), "diagnose", "--json", "--hors-ligne"], env=env,
                           capture_output=True, text=True, timeout=120)
    host_check = json.loads(where.stdout)["checks"][0]
    assert host_check["details"]["executable"] == str(REPO / ".venv/bin/python")
    # The Windows batch file escapes what cmd would expand.
    _, bat = source_launcher(False, Context(platform="win32", env=WIN_ENV),
                             repo="C:\\Users\\dr\\100% l'hôpital", python="C:\\Python\\python.exe")
    assert 'set "PYTHONPATH=C:\\Users\\dr\\100%% l\'hôpital"' in bat


def _windows_launcher_install(tmp_path, monkeypatch, python: str):
    """Install from source for Firefox on a Windows plan, carried out in tmp_path (Windows
    paths are plain file names here), the interpreter at `python`."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "executable", python)
    ctx = Context(platform="win32", env=WIN_ENV, oem_codepage="cp850")
    out = io.StringIO()
    carry_out(plan(["firefox"], False, ctx, None), ctx, remove=False, dry_run=False, out=out,
              registry=FakeRegistry({}))
    return ctx, out.getvalue()


def test_the_windows_source_launcher_is_written_in_the_oem_code_page(tmp_path, monkeypatch):
    """cmd.exe reads a batch file in the OEM code page (850 in France): « Hélène » written in
    UTF-8 would read « H├⌐l├¿ne », a folder that does not exist."""
    python = "C:\\Users\\Hélène\\Python\\python.exe"
    ctx, said = _windows_launcher_install(tmp_path, monkeypatch, python)
    launcher = Path(source_launcher(False, ctx)[0])
    raw = launcher.read_bytes()
    assert b'"C:\\Users\\H\x82l\x8ane\\Python\\python.exe" -m host %*\r\n' in raw, raw
    assert b"\r\r\n" not in raw and raw.count(b"\r\n") == raw.count(b"\n")
    # Written again: recognised as up to date, byte for byte.
    _, again = _windows_launcher_install(tmp_path, monkeypatch, python)
    assert f"{launcher} : déjà à jour" in again, again
    # And recognised as ours by uninstall, which removes it.
    carry_out(plan(["firefox"], False, ctx, None), ctx, remove=True, dry_run=False,
              out=io.StringIO(), registry=FakeRegistry({windows_key("firefox", False): "x"}))
    assert not launcher.exists()


def test_a_windows_launcher_the_code_page_cannot_spell_is_refused_before_any_write(
        tmp_path, monkeypatch):
    with pytest.raises(RegistrationError) as refused:
        _windows_launcher_install(tmp_path, monkeypatch, "C:\\Users\\王芳\\python.exe")
    assert "« 王芳 »" in str(refused.value) and "cp850" in str(refused.value)
    assert "cpsbridge-host.exe" in str(refused.value) and "Rien n'a été écrit" in str(refused.value)
    assert list(tmp_path.iterdir()) == []


# -- Firefox as a Snap: accepted (desktop portal), with a note -----------------------------------

def _snap_firefox_path(tmp_path: Path) -> str:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    wrapper = bin_dir / "firefox"  # Ubuntu's /usr/bin/firefox: a script that starts the Snap
    wrapper.write_text("#!/bin/sh\nexec /snap/bin/firefox \"$@\"\n")
    wrapper.chmod(0o755)
    return str(bin_dir)


def test_a_snap_firefox_is_accepted_with_a_note_and_gets_the_usual_manifest(tmp_path):
    env = user_env(tmp_path / "home", path=_snap_firefox_path(tmp_path))
    r = run_host(env, "install", "--user", "--browser", "firefox")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "refusé" not in r.stdout
    assert "Firefox : à savoir." in r.stdout and "Snap" in r.stdout and "portail" in r.stdout
    manifest = tmp_path / "home" / USER_FILES["firefox"] / f"{HOST_NAME}.json"
    assert json.loads(manifest.read_text())["name"] == HOST_NAME
    # diagnose: a warning about the portal, not a blocking error.
    d = run_host(env, "diagnose", "--json", "--hors-ligne")
    checks = {c["id"]: c for c in json.loads(d.stdout)["checks"]}
    assert checks["browser.firefox"]["status"] == "ok", checks["browser.firefox"]
    assert checks["sandbox.firefox"]["status"] == "warning"
    assert "xdg-desktop-portal" in checks["sandbox.firefox"]["message"]
    assert "browser.firefox" not in json.loads(d.stdout)["blocking"]


def test_windows_uninstall_deletes_only_the_keys_naming_our_manifests(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    ctx = Context(platform="win32", env=WIN_ENV)
    ours = windows_manifest_path("chrome", False, ctx)
    registry = FakeRegistry({
        windows_key("chrome", False): ours.upper(),  # ours (case does not count)
        windows_key("edge", False): "C:\\Autre\\fr.viatrajectoire.cpsbridge.json",  # not ours
        windows_key("brave", False): None,  # a key of our name without a value
    })
    out = io.StringIO()
    carry_out(plan(list(BROWSERS), False, ctx, WIN_HOST), ctx, remove=True, dry_run=False,
              out=out, registry=registry)
    lines = dict(line.split(" : ", 2)[1:] for line in out.getvalue().splitlines()
                 if " : clé de registre " in line)
    lines = {k.removeprefix("clé de registre "): v for k, v in lines.items()}
    assert lines[windows_key("chrome", False)] == "supprimée"
    assert lines[windows_key("edge", False)].startswith("laissée en place : elle désigne C:\\Autre")
    assert lines[windows_key("brave", False)] == "supprimée (clé sans valeur)"
    assert lines[windows_key("firefox", False)] == "absente, rien à faire"
    assert registry.values == {
        windows_key("edge", False): "C:\\Autre\\fr.viatrajectoire.cpsbridge.json"}


class RefusingRegistry(FakeRegistry):
    """A key HKLM that only an administrator may change: winreg raises PermissionError with
    no file name."""

    def write(self, key: str, value: str) -> None:
        raise PermissionError(13, "Accès refusé")

    def delete(self, key: str) -> None:
        raise PermissionError(13, "Accès refusé")


@pytest.mark.parametrize("remove", [False, True])
def test_a_registry_permission_error_says_which_key_and_what_to_do(tmp_path, monkeypatch, remove):
    monkeypatch.chdir(tmp_path)
    ctx = Context(platform="win32", env=WIN_ENV)
    p = plan(["chrome", "firefox"], True, ctx, WIN_HOST)  # Chrome's key refused: Firefox's
    key = windows_key("chrome", True)                      # file is still to be put in place
    registry = RefusingRegistry({key: windows_manifest_path("chrome", True, ctx)} if remove else {})
    with pytest.raises(RegistrationError) as err:
        carry_out(p, ctx, remove=remove, dry_run=False, out=io.StringIO(), registry=registry)
    message = str(err.value)
    assert key in message and "None" not in message
    assert ("supprimer" if remove else "modifier") in message
    assert "administrateur" in message and "--user" in message
    assert not list(tmp_path.rglob("*.tmp"))  # files (written here, in cwd) left whole


def test_user_folders_we_create_are_private_and_existing_ones_keep_their_mode(tmp_path):
    """The browsers make ~/.mozilla, ~/.config/chromium… 0700; one we create first keeps the
    mode we give it, so it must be theirs, whatever the umask. A folder already there is the
    user's: never changed."""
    home = tmp_path / "home"
    (home / ".mozilla").mkdir(parents=True)
    (home / ".mozilla").chmod(0o755)  # the user's own, as it is
    env = user_env(home, path=str(tmp_path / "no-bin"))
    for browser in ("chromium", "firefox"):
        r = subprocess.run([*SOURCE_HOST, "install", "--user", "--browser", browser], env=env,
                           cwd=REPO, capture_output=True, text=True, timeout=60,
                           preexec_fn=lambda: os.umask(0o022))
        assert r.returncode == 0, r.stderr
    made = [".config", ".config/chromium", USER_FILES["chromium"], USER_FILES["firefox"],
            ".local", ".local/share", ".local/share/cpsbridge"]
    for folder in made:
        assert stat.S_IMODE((home / folder).stat().st_mode) == 0o700, folder
    assert stat.S_IMODE((home / ".mozilla").stat().st_mode) == 0o755


# -- --root: where the executable must be, and what the output names ---------------------------

def test_with_root_the_host_must_be_under_root_and_every_line_names_the_file_on_disk(tmp_path):
    """`install --system --root DIR` (build.py deb stages the package so): --host-path is the
    target system's path, looked for under DIR, and the error says where it looked; each
    line gives the file under DIR, never a bare /etc/… that reads as this machine's."""
    root = tmp_path / "root"
    env = user_env(tmp_path)
    r = run_host(env, "install", "--system", "--root", str(root),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert (f"introuvable sous {root} : {root}/opt/cpsbridge/cpsbridge-host"
            in r.stderr), r.stderr
    host = root / "opt/cpsbridge/cpsbridge-host"
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o644)
    r = run_host(env, "install", "--system", "--root", str(root),
                 "--host-path", "/opt/cpsbridge/cpsbridge-host")
    assert r.returncode == 1 and f"chmod 755 {host}" in r.stderr, r.stderr
    host.chmod(0o755)
    for args, done in ((["--dry-run"], "serait écrit"), ([], "écrit"), ([], "déjà à jour")):
        r = run_host(env, "install", "--system", "--root", str(root),
                     "--host-path", "/opt/cpsbridge/cpsbridge-host", *args)
        assert r.returncode == 0, r.stderr
        lines = [line for line in r.stdout.splitlines() if line.endswith(f" : {done}")]
        assert len(lines) == 5, r.stdout
        for line in lines:
            assert f" : {root}/" in line, line
        assert (f"Google Chrome : {root}/etc/opt/chrome/native-messaging-hosts/{HOST_NAME}.json"
                f" : {done}") in lines
        assert f"sous {root}" in r.stdout.splitlines()[0]
    r = run_host(env, "uninstall", "--system", "--root", str(root))
    assert r.returncode == 0, r.stderr
    assert (f"Firefox : {root}/usr/lib/mozilla/native-messaging-hosts/{HOST_NAME}.json"
            " : supprimé") in r.stdout
    assert f"Dossier {root}/etc/opt/chrome : supprimé (vide)" in r.stdout
    for bare in (" : /etc/", " : /usr/", "Dossier /etc", "Dossier /usr"):
        assert bare not in r.stdout, r.stdout


def test_uninstall_system_removes_an_empty_etc_opt_never_a_full_one(tmp_path):
    """/etc/opt is the parent of /etc/opt/chrome and /etc/opt/edge: a system install on a
    machine without it (Debian) creates it, and uninstall removes it once empty, as it does
    /etc/chromium or /usr/lib/mozilla. A folder that holds anything else stays."""
    root = tmp_path / "root"
    host = root / "opt/cpsbridge/cpsbridge-host"
    host.parent.mkdir(parents=True)
    host.write_text("#!/bin/sh\n")
    host.chmod(0o755)
    env = user_env(tmp_path)
    install = ["install", "--system", "--root", str(root),
               "--host-path", "/opt/cpsbridge/cpsbridge-host"]
    assert run_host(env, *install).returncode == 0
    assert (root / "etc/opt").is_dir()
    r = run_host(env, "uninstall", "--system", "--root", str(root))
    assert r.returncode == 0, r.stderr
    assert f"Dossier {root}/etc/opt : supprimé (vide)" in r.stdout
    assert not (root / "etc/opt").exists() and (root / "etc").is_dir()
    # Something else in /etc/opt (another program's folder): /etc/opt stays, and it.
    assert run_host(env, *install).returncode == 0
    (root / "etc/opt/autre").mkdir()
    (root / "etc/opt/autre/fichier").write_text("x")
    r = run_host(env, "uninstall", "--system", "--root", str(root))
    assert r.returncode == 0, r.stderr
    assert (root / "etc/opt/autre/fichier").read_text() == "x"
    assert not (root / "etc/opt/chrome").exists() and not (root / "etc/opt/edge").exists()
    assert "etc/opt : supprimé" not in r.stdout
