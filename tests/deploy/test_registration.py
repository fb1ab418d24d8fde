"""`cpsbridge-host install|uninstall`: real files in a temporary HOME (and a staging root)
for Linux; for Windows and macOS, the computed plan of files and registry keys (no registry
or Mac here: that plan is what the Windows code writes, key by key)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from host import HOST_NAME
from host.manifests import extension_ids, render
from host.registration import BROWSERS, Context, plan
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
    else:
        assert set(manifest["allowed_origins"]) == {f"chrome-extension://{IDS['chromium']}/",
                                                   f"chrome-extension://{IDS['edge']}/"}
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


def test_uninstall_all_removes_every_file_it_wrote(tmp_path):
    env = user_env(tmp_path)
    assert run_host(env, "install", "--user").returncode == 0
    written = sorted(p for p in tmp_path.rglob("*") if p.is_file())
    assert len(written) == len(BROWSERS) + 1  # a manifest each, and the launcher
    assert run_host(env, "uninstall", "--user").returncode == 0
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]


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
    # With every browser asked, the others are still registered and the command succeeds.
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


def test_bad_input_gets_a_french_message_and_a_status_never_a_traceback(tmp_path):
    env = user_env(tmp_path)
    r = run_host(env, "install", "--user", "--host-path", str(tmp_path / "missing"))
    assert r.returncode == 1 and "introuvable" in r.stderr and "Traceback" not in r.stderr
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    env["XDG_CONFIG_HOME"] = str(blocker)  # a folder that cannot be made
    r = run_host(env, "install", "--user", "--browser", "chrome")
    assert r.returncode == 1 and "Erreur" in r.stderr and "Traceback" not in r.stderr
    r = run_host(env, "install", "--browser", "opera")
    assert r.returncode == 2 and "Traceback" not in r.stderr


def test_uninstall_leaves_a_file_that_is_not_ours(tmp_path):
    env = user_env(tmp_path)
    foreign = tmp_path / USER_FILES["chrome"] / f"{HOST_NAME}.json"
    foreign.parent.mkdir(parents=True)
    foreign.write_text('{"name": "something.else"}')
    r = run_host(env, "uninstall", "--user", "--browser", "chrome")
    assert "laissé en place" in r.stdout and foreign.exists()


# -- Windows and macOS: the computed plan (no registry, no Mac on this machine) --------------

WIN_ENV = {"ProgramData": "C:\\ProgramData", "LOCALAPPDATA": "C:\\Users\\dr\\AppData\\Local",
           "USERPROFILE": "C:\\Users\\dr"}
WIN_HOST = "C:\\Program Files\\CPS Bridge\\cpsbridge-host.exe"


@pytest.mark.parametrize("system, hive, base", [
    (True, "HKLM", "C:\\ProgramData\\CPS Bridge\\NativeMessagingHosts"),
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
    assert files[chromium_manifest] == render("chromium", WIN_HOST)
    assert files[firefox_manifest]["path"] == WIN_HOST


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
