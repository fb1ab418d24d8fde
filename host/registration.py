"""`cpsbridge-host install|uninstall`: register the host with each browser.

    cpsbridge-host install   [--user|--system] [--browser chrome|chromium|edge|brave|firefox|all]
                             [--host-path PATH] [--extension-id ID]... [--root DIR] [--force]
                             [--dry-run]
    cpsbridge-host uninstall [--user|--system] [--browser …] [--root DIR] [--force] [--dry-run]

A browser finds a native host through a manifest file in a fixed folder (Linux, macOS) or
through a registry key whose default value is the manifest's path (Windows). The plan of
files and keys is computed first (`plan()`), for any platform, then carried out; both
commands are idempotent and say what they did, in French, on stdout. Per user, `install`
for every browser registers only the browsers this user has (their own folder, or their
program, is there): it never creates ~/.config/google-chrome for a Chrome that is not
installed. `uninstall` removes the folders of ours it leaves empty, never a browser's own.

`--root DIR` lays the system files out under DIR instead of / (packaging: build.py stages
the .deb with it): --host-path is then the target system's path, whose file must already be
under DIR, and each line of output names the file under DIR. Browsers packaged as a Snap
or a Flatpak run in a sandbox that cannot start a program of the host system; they are
refused with a clear message, except Firefox: as a Snap it starts hosts through the desktop
portal (xdg-desktop-portal's WebExtensions support), which reads the usual manifest
folders, and as a Flatpak through xdg-native-messaging-proxy when present.

System manifests that the installed Debian package owns are neither overwritten nor
removed (dpkg would then restore or miss them) unless `--force` is given: exit status 4.
Per user, `install` exits 5 when no browser got a manifest (none found, or all refused).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import ntpath
import os
import posixpath
import shlex
import shutil
import sys
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath, PureWindowsPath

from host import DEB_PACKAGE, HOST_NAME
from host.command_line import FrenchArgumentParser, os_error
from host.config import windows_install_folder
from host.manifests import id_family, render

BROWSERS = ("chrome", "chromium", "edge", "brave", "firefox")
FAMILY = {"chrome": "chromium", "chromium": "chromium", "edge": "chromium", "brave": "chromium",
          "firefox": "firefox"}
LABEL = {"chrome": "Google Chrome", "chromium": "Chromium", "edge": "Microsoft Edge",
         "brave": "Brave", "firefox": "Firefox"}

# Registry keys (under HKCU or HKLM) whose default value names the manifest file.
WINDOWS_KEYS = {
    "chrome": r"Software\Google\Chrome\NativeMessagingHosts",
    "chromium": r"Software\Chromium\NativeMessagingHosts",
    "edge": r"Software\Microsoft\Edge\NativeMessagingHosts",
    "brave": r"Software\BraveSoftware\Brave-Browser\NativeMessagingHosts",
    "firefox": r"Software\Mozilla\NativeMessagingHosts",
}
# Registry keys (under HKLM, or HKCU for a user's) where each browser reads its policies:
# diagnose reads them, build.py writes the .reg and MSI templates for them.
WINDOWS_POLICY_KEYS = {
    "chrome": r"SOFTWARE\Policies\Google\Chrome",
    "chromium": r"SOFTWARE\Policies\Chromium",
    "edge": r"SOFTWARE\Policies\Microsoft\Edge",
    "brave": r"SOFTWARE\Policies\BraveSoftware\Brave",
    "firefox": r"SOFTWARE\Policies\Mozilla\Firefox",
}
# Folders where each browser looks for manifests: (system, user relative to the config base).
LINUX_SYSTEM = {
    "chrome": ["/etc/opt/chrome/native-messaging-hosts"],
    "chromium": ["/etc/chromium/native-messaging-hosts"],
    "edge": ["/etc/opt/edge/native-messaging-hosts"],
    "brave": ["/etc/brave/native-messaging-hosts"],
    "firefox": ["/usr/lib/mozilla/native-messaging-hosts"],
}
LIB64_MOZILLA = "/usr/lib64/mozilla/native-messaging-hosts"  # Firefox of Fedora, openSUSE
LINUX_USER = {  # relative to $XDG_CONFIG_HOME (default ~/.config)
    "chrome": "google-chrome/NativeMessagingHosts",
    "chromium": "chromium/NativeMessagingHosts",
    "edge": "microsoft-edge/NativeMessagingHosts",
    "brave": "BraveSoftware/Brave-Browser/NativeMessagingHosts",
}
# A browser's own folder for a user (its profile), relative to the same bases: its being
# there tells that the browser is used, and it is never removed.
LINUX_PROFILE = {"chrome": "google-chrome", "chromium": "chromium", "edge": "microsoft-edge",
                 "brave": "BraveSoftware/Brave-Browser"}
MACOS_PROFILE = {"chrome": "Google/Chrome", "chromium": "Chromium", "edge": "Microsoft Edge",
                 "brave": "BraveSoftware/Brave-Browser", "firefox": "Firefox"}
MACOS_APPS = {"chrome": "Google Chrome.app", "chromium": "Chromium.app",
              "edge": "Microsoft Edge.app", "brave": "Brave Browser.app", "firefox": "Firefox.app"}
# Parents of the Linux system manifest folders that a system install may have had to create,
# and that uninstall removes once empty (/etc and /usr/lib themselves never). /etc/opt, the
# parent of /etc/opt/chrome and /etc/opt/edge, is absent from a fresh Debian: install makes it.
LINUX_SYSTEM_PARENTS = ("/etc/opt/chrome", "/etc/chromium", "/etc/opt/edge", "/etc/brave",
                        "/usr/lib/mozilla", "/etc/opt")
MACOS_SYSTEM = {
    "chrome": "/Library/Google/Chrome/NativeMessagingHosts",
    "chromium": "/Library/Application Support/Chromium/NativeMessagingHosts",
    "edge": "/Library/Microsoft/Edge/NativeMessagingHosts",
    "brave": "/Library/Application Support/BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "/Library/Application Support/Mozilla/NativeMessagingHosts",
}
MACOS_USER = {  # relative to ~/Library/Application Support
    "chrome": "Google/Chrome/NativeMessagingHosts",
    "chromium": "Chromium/NativeMessagingHosts",
    "edge": "Microsoft Edge/NativeMessagingHosts",
    "brave": "BraveSoftware/Brave-Browser/NativeMessagingHosts",
    "firefox": "Mozilla/NativeMessagingHosts",
}
# How to tell a browser's packaging on Linux.
NATIVE_BINARIES = {
    "chrome": ["google-chrome", "google-chrome-stable"],
    "chromium": ["chromium", "chromium-browser"],
    "edge": ["microsoft-edge", "microsoft-edge-stable"],
    "brave": ["brave-browser", "brave"],
    "firefox": ["firefox", "firefox-esr"],
}
SNAPS = {"chromium": "chromium", "brave": "brave", "firefox": "firefox"}
FLATPAKS = {"chrome": "com.google.Chrome", "chromium": "org.chromium.Chromium",
            "edge": "com.microsoft.Edge", "brave": "com.brave.Browser",
            "firefox": "org.mozilla.firefox"}
# Flatpak Firefox reaches host programs through this portal helper, when present.
NATIVE_MESSAGING_PROXY = ["/usr/libexec/xdg-native-messaging-proxy",
                          "/usr/lib/xdg-native-messaging-proxy"]
# Where dpkg lists the files the Debian package (DEB_PACKAGE, build.py deb) installed.
DPKG_INFO = "/var/lib/dpkg/info"
DPKG_STATUS = "/var/lib/dpkg/status"  # each package's stanza: its Version, Architecture…
# Mode of the folders a system install creates, whatever the umask (0000 gave 0777 folders).
SYSTEM_DIR_MODE = 0o755
# Mode of the folders a per-user install creates (~/.mozilla, ~/.config, ~/.config/chromium…):
# the browsers make their own folders 0700, and one we create first stays as we made it.
USER_DIR_MODE = 0o700
EXIT_REFUSED_BROWSER = 3
EXIT_PACKAGE_FILES = 4
# Per user, no browser got a manifest (none found, or every one refused): a script must be
# able to tell that from success. Not for --system, which registers every browser, present
# or not (except a refused Snap or Flatpak).
EXIT_NO_BROWSER = 5


class RegistrationError(Exception):
    """A problem a person can fix; the message says what and how, in French."""


@dataclass(frozen=True)
class Context:
    """Where things are: the platform, the user's folders, the system root."""

    platform: str = sys.platform
    env: dict[str, str] = field(default_factory=lambda: dict(os.environ))
    root: str = "/"
    # The OEM code page cmd.exe reads a batch file in (Windows): the system's, or a test's.
    oem_codepage: str | None = None

    @property
    def windows(self) -> bool:
        return self.platform.startswith("win")

    def batch_encoding(self) -> str:
        if self.oem_codepage:
            return self.oem_codepage
        if sys.platform.startswith("win"):
            import ctypes

            return f"cp{ctypes.windll.kernel32.GetOEMCP()}"
        return "cp850"  # a Windows plan made elsewhere (tests): western Europe's default

    @property
    def home(self) -> str:
        if self.windows:
            return self.env.get("USERPROFILE") or os.path.expanduser("~")
        return self.env.get("HOME") or os.path.expanduser("~")

    def config_base(self) -> str:
        return self.env.get("XDG_CONFIG_HOME") or str(PurePosixPath(self.home, ".config"))

    def data_base(self) -> str:
        return self.env.get("XDG_DATA_HOME") or str(PurePosixPath(self.home, ".local", "share"))

    def on_disk(self, path: str) -> Path:
        """A system path under --root (user paths are never re-rooted)."""
        if self.root in ("", "/") or self.windows:
            return Path(path)
        return Path(self.root) / path.lstrip("/")


# -- where each browser looks --------------------------------------------------------------

def manifest_dirs(browser: str, system: bool, ctx: Context) -> list[str]:
    """Folders (Linux, macOS) where `browser` looks for host manifests, at this level."""
    p = ctx.platform
    if p == "darwin":
        if system:
            return [MACOS_SYSTEM[browser]]
        return [str(PurePosixPath(ctx.home, "Library", "Application Support", MACOS_USER[browser]))]
    if system:
        dirs = list(LINUX_SYSTEM[browser])
        if browser == "firefox" and _lib64_mozilla_in_use(ctx):
            dirs.append(LIB64_MOZILLA)  # Fedora, openSUSE
        return dirs
    if browser == "firefox":
        dirs = [str(PurePosixPath(ctx.home, ".mozilla", "native-messaging-hosts"))]
        xdg = PurePosixPath(ctx.config_base(), "mozilla")
        if Path(xdg).is_dir():  # a Firefox that keeps its profile in the XDG folders
            dirs.append(str(xdg / "native-messaging-hosts"))
        return dirs
    return [str(PurePosixPath(ctx.config_base(), LINUX_USER[browser]))]


def _lib64_mozilla_in_use(ctx: Context) -> bool:
    """Firefox reads /usr/lib64/mozilla only where it is built so (Fedora, openSUSE: their
    mozilla-filesystem package makes the folder). Debian has /usr/lib64 (the loader) but its
    Firefox reads /usr/lib/mozilla only: a file there would be one no browser reads and no
    package removes."""
    lib64 = ctx.on_disk("/usr/lib64/mozilla")
    if not lib64.is_dir():
        return False
    try:  # /usr/lib64/mozilla -> /usr/lib/mozilla: the same folder, written once
        return lib64.resolve() != ctx.on_disk("/usr/lib/mozilla").resolve()
    except OSError:
        return True


def windows_base(system: bool, ctx: Context) -> str:
    """Our folder on Windows. System-wide: the install folder under %ProgramFiles%, which only
    administrators may write to (in %ProgramData% every user may create files, so any user
    could plant a manifest or a config naming their own program for everyone). Per user:
    %LOCALAPPDATA%\\CPS Bridge."""
    if system:
        return windows_install_folder(ctx.env)
    local = ctx.env.get("LOCALAPPDATA") or str(PureWindowsPath(ctx.home, "AppData", "Local"))
    return str(PureWindowsPath(local, "CPS Bridge"))


def windows_manifest_path(browser: str, system: bool, ctx: Context) -> str:
    """Windows keeps manifests anywhere; the registry names them. One file per family, shared
    by Chrome, Chromium, Edge and Brave. System-wide beside the host, as the MSI lays them
    out (packaging/wix/cpsbridge.wxs), so that both name the same files."""
    name = f"{HOST_NAME}.{FAMILY[browser]}.json"
    if system:
        return str(PureWindowsPath(windows_base(True, ctx), name))
    return str(PureWindowsPath(windows_base(False, ctx), "NativeMessagingHosts", name))


def windows_key(browser: str, system: bool) -> str:
    return ("HKLM" if system else "HKCU") + "\\" + WINDOWS_KEYS[browser] + "\\" + HOST_NAME


def same_windows_path(path: str) -> str:
    """A Windows path in the form that compares: case and separators do not count there."""
    return ntpath.normcase(ntpath.normpath(path))


def windows_manifest_host_path(manifest: str, host_path: str) -> str:
    """The `path` a Windows manifest gives: the executable's file name when it sits beside the
    manifest (the install folder, which may be moved or be on another drive: Chrome and
    Firefox resolve a relative path from the manifest's folder), else its absolute path."""
    here = ntpath.dirname(same_windows_path(manifest))
    there = ntpath.dirname(same_windows_path(host_path))
    if ntpath.isabs(host_path) and there == here:
        return ntpath.basename(host_path)
    return host_path


def our_windows_manifests(system: bool, ctx: Context) -> set[str]:
    """Our manifest files at this level, as a registry value names them (case and separators
    normalised): a key whose value is another file is not ours to delete."""
    return {same_windows_path(windows_manifest_path(b, system, ctx))
            for b in BROWSERS}


# -- which browsers a user has ---------------------------------------------------------------

def profile_dirs(browser: str, ctx: Context) -> list[str]:
    """The browser's own folders for this user (Linux, macOS): one of them exists once the
    browser has run. Never created nor removed by us."""
    if ctx.platform == "darwin":
        return [str(PurePosixPath(ctx.home, "Library", "Application Support",
                                  MACOS_PROFILE[browser]))]
    if browser == "firefox":
        return [str(PurePosixPath(ctx.home, ".mozilla")),
                str(PurePosixPath(ctx.config_base(), "mozilla"))]
    return [str(PurePosixPath(ctx.config_base(), LINUX_PROFILE[browser]))]


def browser_present(browser: str, ctx: Context) -> bool:
    """Whether this user has `browser`: its folder exists, or its program is installed (a
    browser not yet started has no folder, and would lose the host)."""
    if any(Path(d).is_dir() for d in profile_dirs(browser, ctx)):
        return True
    if ctx.platform == "darwin":
        return any(Path(base, MACOS_APPS[browser]).is_dir()
                   for base in ("/Applications", str(PurePosixPath(ctx.home, "Applications"))))
    return packaging(browser, ctx) is not None


def browsers_to_register(requested: str, system: bool, ctx: Context) -> tuple[list[str], list[str]]:
    """(browsers to register, browsers left out). A browser named with --browser is always
    registered. For all browsers: system-wide every one (a browser installed later finds the
    host; the folders are under /etc, /usr/lib, Program Files), per user on Linux and macOS
    only those this user has, so as not to create their folders in the user's home."""
    if requested != "all":
        return [requested], []
    if system or ctx.windows:
        return list(BROWSERS), []
    present = [b for b in BROWSERS if browser_present(b, ctx)]
    return present, [b for b in BROWSERS if b not in present]


# -- how a browser is packaged (Linux) -----------------------------------------------------

def _is_snap_wrapper(path: str) -> bool:
    """Ubuntu ships /usr/bin/chromium-browser and /usr/bin/firefox as scripts that start the Snap."""
    if os.path.realpath(path).startswith("/snap/"):
        return True
    try:
        if os.path.getsize(path) > 65536:
            return False
        with open(path, "rb") as f:
            return b"/snap/bin/" in f.read()
    except OSError:
        return False


def packaging(browser: str, ctx: Context) -> str | None:
    """"native", "snap", "flatpak", or None when the browser is not found (Linux only)."""
    if ctx.windows or ctx.platform == "darwin":
        return "native"
    search = ctx.env.get("PATH", os.defpath)
    snap_wrapper = False
    for name in NATIVE_BINARIES[browser]:
        found = shutil.which(name, path=search)
        if found:
            if _is_snap_wrapper(found):
                snap_wrapper = True
                continue
            return "native"
    snap = SNAPS.get(browser)
    if snap_wrapper or (snap and ctx.on_disk(f"/snap/{snap}").is_dir()):
        return "snap"
    app = FLATPAKS[browser]
    if ctx.on_disk(f"/var/lib/flatpak/app/{app}").is_dir() or \
            Path(ctx.data_base(), "flatpak", "app", app).is_dir():
        return "flatpak"
    return None


def sandbox_refusal(browser: str, kind: str | None, ctx: Context) -> str | None:
    """Why the host cannot work with this browser's packaging, or None."""
    if kind not in ("snap", "flatpak"):
        return None
    name = "Snap" if kind == "snap" else "Flatpak"
    if browser == "firefox" and kind == "snap":
        return None  # the desktop portal starts the host (see sandbox_note)
    if browser == "firefox" and any(ctx.on_disk(p).exists() for p in NATIVE_MESSAGING_PROXY):
        return None  # Flatpak: the proxy starts the host outside the sandbox
    return (f"{LABEL[browser]} est installé en {name} : ce bac à sable ne peut pas lancer le "
            f"module CPS Bridge. Installez {LABEL[browser]} depuis le paquet .deb/.rpm de "
            "l'éditeur (ou de la distribution), puis relancez cette commande.")


def sandbox_note(browser: str, kind: str | None) -> tuple[str, str] | None:
    """What to know about a sandboxed browser that is accepted: (what happens, what to do if
    it fails), said by install and by diagnose; None when there is nothing to know."""
    if browser == "firefox" and kind == "snap":
        return ("Firefox est installé en Snap : il lance le module CPS Bridge par le portail du "
                "bureau (xdg-desktop-portal avec la prise en charge des WebExtensions, présente "
                "sur Ubuntu 22.04 et suivantes), qui lit les manifestes aux emplacements "
                "habituels.",
                "Si Firefox ne trouve pas le module, mettez à jour xdg-desktop-portal ou "
                "installez Firefox depuis le paquet .deb de Mozilla.")
    return None


# -- the plan --------------------------------------------------------------------------------

@dataclass
class Step:
    browser: str  # a browser, or "" for what every browser shares (the source launcher)
    kind: str  # "file" or "registry"
    target: str  # a file path, or a registry key with its hive
    content: str = ""  # the file's text, or the key's default value
    executable: bool = False
    encoding: str = "utf-8"  # of the file; a batch file's is the OEM code page


@dataclass
class Plan:
    steps: list[Step] = field(default_factory=list)
    refused: dict[str, str] = field(default_factory=dict)  # browser -> why
    notes: dict[str, tuple[str, str]] = field(default_factory=dict)  # browser -> sandbox_note
    system: bool = False


def source_launcher(system: bool, ctx: Context, repo: str | None = None,
                    python: str | None = None) -> tuple[str, str]:
    """Run from source, the host needs an executable for the manifests to name: a small
    launcher that starts this interpreter on this checkout. (path, text). On Windows, a
    batch file: cmd.exe reads it in the OEM code page (850 in France), so it is written in
    that (`Step.encoding`); `install` refuses a path that code page cannot spell."""
    repo = repo or str(Path(__file__).resolve().parents[1])
    python = python or sys.executable
    if ctx.windows:
        path = str(PureWindowsPath(windows_base(system, ctx), "cpsbridge-host.bat"))
        # A batch file expands %…%: a literal % is written %%. Paths cannot hold a ".
        repo_bat, python_bat = repo.replace("%", "%%"), python.replace("%", "%%")
        return path, ("@echo off\r\nrem CPS Bridge host from a source checkout (written by "
                      f'`install`)\r\nset "PYTHONPATH={repo_bat}"\r\n"{python_bat}" -m host %*\r\n')
    base = "/usr/local/lib/cpsbridge" if system else str(PurePosixPath(ctx.data_base(), "cpsbridge"))
    path = str(PurePosixPath(base, "cpsbridge-host"))
    # shlex.quote: a checkout under "l'hôpital" or with spaces still starts.
    return path, ("#!/bin/sh\n# CPS Bridge host from a source checkout (written by `install`)\n"
                  f"PYTHONPATH={shlex.quote(repo)} exec {shlex.quote(python)} -m host \"$@\"\n")


def default_host_path() -> str | None:
    """The frozen executable when frozen; None from source (a launcher is written)."""
    return sys.executable if getattr(sys, "frozen", False) else None


def manifest_text(browser: str, host_path: str, extra_ids: Iterable[str] = (),
                  windows: bool = False) -> str:
    manifest = render(FAMILY[browser], host_path, list(extra_ids), windows=windows)
    return json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"


def absolute_host_path(host_path: str, ctx: Context) -> str:
    """The browsers start the host by the manifest's `path`, which must be absolute (Linux,
    macOS): a relative --host-path is taken from the current folder, as a shell would."""
    if ctx.windows:
        return host_path if ntpath.isabs(host_path) else ntpath.abspath(host_path)
    if os.path.isabs(host_path):
        return host_path  # kept as given: a stable symlink (/usr/bin/…) stays one
    return str(Path(host_path).resolve())


def plan(browsers: list[str], system: bool, ctx: Context, host_path: str | None,
         check_sandbox: bool = True, extra_ids: Iterable[str] = ()) -> Plan:
    """Every file and key `install` would write for `browsers` (`uninstall` removes them).
    `extra_ids`: extension ids the manifests allow besides the known ones (--extension-id)."""
    out = Plan(system=system)
    if host_path is None:
        launcher, text = source_launcher(system, ctx)
        out.steps.append(Step("", "file", launcher, text, executable=True,
                              encoding=ctx.batch_encoding() if ctx.windows else "utf-8"))
        host_path = launcher
    for browser in browsers:
        if check_sandbox:
            kind = packaging(browser, ctx)
            why = sandbox_refusal(browser, kind, ctx)
            if why:
                out.refused[browser] = why
                continue
            note = sandbox_note(browser, kind)
            if note:
                out.notes[browser] = note
        if ctx.windows:
            manifest = windows_manifest_path(browser, system, ctx)
            text = manifest_text(browser, windows_manifest_host_path(manifest, host_path),
                                 extra_ids, windows=True)
            out.steps.append(Step(browser, "file", manifest, text))
            out.steps.append(Step(browser, "registry", windows_key(browser, system), manifest))
            continue
        text = manifest_text(browser, host_path, extra_ids)
        for d in manifest_dirs(browser, system, ctx):
            out.steps.append(Step(browser, "file", str(PurePosixPath(d, f"{HOST_NAME}.json")), text))
    return out


# -- carrying it out -------------------------------------------------------------------------

def _up_to_date(step: Step, ctx: Context) -> bool:
    path = ctx.on_disk(step.target)
    try:
        return path.is_file() and path.read_bytes() == step.content.encode(step.encoding)
    except (OSError, UnicodeEncodeError):
        return False


def _make_dirs(folder: Path, mode: int | None) -> list[Path]:
    """mkdir -p; the folders it creates get `mode` rather than what the umask leaves.
    Existing folders are left as they are (never chmod a folder we did not make). Returns
    the folders it made, outermost first."""
    missing = []
    while not os.path.lexists(folder) and folder.parent != folder:
        missing.append(folder)
        folder = folder.parent
    made = []
    for d in reversed(missing):
        d.mkdir(exist_ok=True)
        made.append(d)
        if mode is not None:
            os.chmod(d, mode)
    return made


class NothingWritten(Exception):
    """Install stopped while preparing its files, before any was put in place; what it had
    begun (folders, temporary files) is undone. `cause`: the OSError that stopped it."""

    def __init__(self, cause: OSError):
        super().__init__(str(cause))
        self.cause = cause


def _check_spellable(p: Plan) -> None:
    """A file its encoding cannot hold (a Windows batch file, in the OEM code page, naming a
    folder with a character outside it) would start nothing: refused before any write."""
    for step in p.steps:
        try:
            step.content.encode(step.encoding)
        except UnicodeEncodeError as exc:
            raise RegistrationError(
                f"le lanceur {step.target} ne peut pas écrire « {exc.object[exc.start:exc.end]} » "
                f"dans le jeu de caractères de l'invite de commandes ({step.encoding}), et ne "
                "lancerait rien. Installez plutôt le module autonome (cpsbridge-host.exe), ou "
                "placez les sources et Python dans des dossiers dont le chemin s'en passe. "
                "Rien n'a été écrit.") from None


def _prepare_files(p: Plan, ctx: Context, dry_run: bool) -> dict[str, Path]:
    """Every file install must change, written next to its place as `<name>.tmp`: the
    target -> its temporary file. A folder that cannot be made, a disk that is full, a
    right that is missing all show here, and then nothing is left behind: a launcher
    without its manifests, or half the browsers declared, would be a state nobody chose."""
    if dry_run:
        return {}
    mode = None if ctx.windows else (SYSTEM_DIR_MODE if p.system else USER_DIR_MODE)
    ready: dict[str, Path] = {}
    made: list[Path] = []
    try:
        for step in p.steps:
            if step.kind != "file" or step.target in ready or _up_to_date(step, ctx):
                continue
            path = ctx.on_disk(step.target)
            made += _make_dirs(path.parent, mode)  # Windows folders inherit their ACL
            tmp = path.with_name(path.name + ".tmp")
            ready[step.target] = tmp
            # Bytes: Windows text mode would turn the batch file's \r\n into \r\r\n.
            tmp.write_bytes(step.content.encode(step.encoding))
            os.chmod(tmp, 0o755 if step.executable else 0o644)  # explicit: not the umask's
    except OSError as exc:
        for tmp in ready.values():
            tmp.unlink(missing_ok=True)
        for folder in reversed(made):
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise NothingWritten(exc) from exc
    return ready


def _put_in_place(step: Step, ready: dict[str, Path], ctx: Context, dry_run: bool) -> str:
    tmp = ready.pop(step.target, None)
    if tmp is None:
        return "serait écrit" if dry_run and not _up_to_date(step, ctx) else "déjà à jour"
    os.replace(tmp, ctx.on_disk(step.target))
    return "écrit"


def _ours(path: Path) -> bool:
    """Only our own files are removed: a manifest naming our host, or our launcher."""
    try:
        # A launcher may be in an OEM code page (Windows): its mark is ASCII, read as such.
        text = path.read_bytes().decode("utf-8", "replace")
    except OSError:
        return False
    if path.suffix == ".json":
        try:
            return json.loads(text).get("name") == HOST_NAME
        except (ValueError, AttributeError):
            return False
    return "CPS Bridge" in text


def _remove_file(step: Step, ctx: Context, dry_run: bool) -> str:
    path = ctx.on_disk(step.target)
    if not path.exists():
        return "absent, rien à faire"
    if not _ours(path):
        return "laissé en place : ce fichier n'est pas celui de CPS Bridge"
    if dry_run:
        return "serait supprimé"
    path.unlink()
    return "supprimé"


def hive_and_subkey(key: str):
    """("HKLM\\…" or "HKCU\\…") -> (winreg hive, subkey), for our keys and diagnose's."""
    import winreg  # only reached on Windows

    hive_name, sub = key.split("\\", 1)
    return (winreg.HKEY_LOCAL_MACHINE if hive_name == "HKLM" else winreg.HKEY_CURRENT_USER), sub


class WindowsRegistry:
    """The default values of our keys ("HKLM\\…" or "HKCU\\…"). Tests give carry_out another
    object with the same four methods."""


    def read(self, key: str) -> str | None:
        import winreg

        hive, sub = hive_and_subkey(key)
        try:
            with winreg.OpenKey(hive, sub) as k:
                return winreg.QueryValueEx(k, "")[0]
        except OSError:
            return None

    def exists(self, key: str) -> bool:
        """The key is there, with or without a default value."""
        import winreg

        hive, sub = hive_and_subkey(key)
        try:
            with winreg.OpenKey(hive, sub):
                return True
        except OSError:
            return False

    def write(self, key: str, value: str) -> None:
        import winreg

        hive, sub = hive_and_subkey(key)
        with winreg.CreateKeyEx(hive, sub, 0, winreg.KEY_WRITE) as k:
            winreg.SetValueEx(k, "", 0, winreg.REG_SZ, value)

    def delete(self, key: str) -> None:
        import winreg

        hive, sub = hive_and_subkey(key)
        winreg.DeleteKey(hive, sub)


def _registry(step: Step, remove: bool, dry_run: bool, registry, ours: set[str]) -> str:
    """Write or delete one key. Deleted only when its default value names one of `ours` (our
    manifests at this level), or when it has none (a key of our name left half-written):
    a key naming another file belongs to someone else, and stays."""
    current = registry.read(step.target)
    if remove:
        if not registry.exists(step.target):
            return "absente, rien à faire"
        if current and not (isinstance(current, str)
                            and same_windows_path(current) in ours):
            return (f"laissée en place : elle désigne {current}, qui n'est pas un manifeste "
                    "de CPS Bridge")
        if not dry_run:
            registry.delete(step.target)
        done = "serait supprimée" if dry_run else "supprimée"
        return done if current else done + " (clé sans valeur)"
    if current == step.content:
        return "déjà à jour"
    if not dry_run:
        registry.write(step.target, step.content)
    return "serait écrite" if dry_run else "écrite"


def permission_message(target: str | None, remove: bool, ctx: Context, key: bool = False) -> str:
    """What to say when the system refuses a change: what, and how to get the right
    (winreg's PermissionError names no file: never "None")."""
    what = (f"la clé de registre {target}" if key else (target or "les fichiers du module"))
    verb = "supprimer" if remove else ("modifier" if key else "écrire")
    if ctx.windows:
        how = ("Relancez la commande dans une invite de commandes ouverte en administrateur "
               "(clic droit, « Exécuter en tant qu'administrateur »), ou utilisez --user.")
    else:
        how = "Relancez la commande en administrateur (sudo), ou utilisez --user."
    return f"droits insuffisants pour {verb} {what}. {how}"


def our_windows_keys() -> list[str]:
    """Every registry key of ours: both hives, every browser."""
    return [windows_key(b, system) for system in (True, False) for b in BROWSERS]


def keys_naming(manifest: str, values: dict[str, str | None],
                gone: Iterable[str] = ()) -> list[str]:
    """The keys of `values` (key -> default value) that name `manifest`, leaving out those in
    `gone` (removed, or that a dry run would remove). Windows paths: case does not count."""
    want = same_windows_path(manifest)
    gone = set(gone)
    return [k for k, v in values.items()
            if k not in gone and v and same_windows_path(v) == want]


def carry_out(p: Plan, ctx: Context, remove: bool, dry_run: bool, out=None,
              registry=None) -> None:
    out = sys.stdout if out is None else out  # the one of the time of the call
    steps = list(reversed(p.steps)) if remove else p.steps
    if registry is None and ctx.windows:
        registry = WindowsRegistry()
    ours = our_windows_manifests(p.system, ctx) if ctx.windows else set()
    removed_keys: list[str] = []
    if not remove:
        _check_spellable(p)
    ready = {} if remove else _prepare_files(p, ctx, dry_run)
    try:
        for step in steps:
            who = LABEL.get(step.browser, "Lanceur")
            if step.kind == "registry":
                try:
                    what = _registry(step, remove, dry_run, registry, ours)
                except PermissionError as exc:
                    why = permission_message(step.target, remove, ctx, key=True)
                    raise RegistrationError(why) from exc
                if remove and what.startswith(("supprimée", "serait supprimée")):
                    removed_keys.append(step.target)
                print(f"{who} : clé de registre {step.target} : {what}", file=out)
                continue
            if remove and ctx.windows and step.browser:
                # Chrome, Chromium, Edge and Brave share one manifest: it stays while another
                # key of ours names it, or that browser would lose the host.
                users = keys_naming(step.target, {k: registry.read(k) for k in our_windows_keys()},
                                    removed_keys)
                if users:
                    print(f"{who} : {step.target} : laissé en place, encore désigné par "
                          + ", ".join(users), file=out)
                    continue
            if remove:
                what = _remove_file(step, ctx, dry_run)
            else:
                what = _put_in_place(step, ready, ctx, dry_run)
            # The file on disk: under --root, DIR/etc/…, never a bare /etc/… that would read
            # as this machine's (build.py deb stages the package so).
            print(f"{who} : {ctx.on_disk(step.target)} : {what}", file=out)
    finally:  # a registry key refused midway: no temporary file stays behind
        for tmp in ready.values():
            tmp.unlink(missing_ok=True)
    if remove and not dry_run:
        for folder in folders_to_clean(p, ctx):
            try:
                ctx.on_disk(folder).rmdir()  # only an empty folder goes
            except OSError:
                continue  # absent, not empty (another host's manifest), or not ours to remove
            print(f"Dossier {ctx.on_disk(folder)} : supprimé (vide)", file=out)


def folders_to_clean(p: Plan, ctx: Context) -> list[str]:
    """The folders of ours that uninstall removes when it leaves them empty, deepest first:
    those holding our files (manifest folders, the launcher's), and the parents a system
    install may have had to create. Never a browser's own folder (its profile, or the user's
    ~/.config, ~/.mozilla), which only hold ours."""
    path = ntpath if ctx.windows else posixpath
    found: list[str] = []
    for step in p.steps:
        if step.kind != "file":
            continue
        folder = path.dirname(step.target)
        found.append(folder)
        if ctx.windows:
            base = windows_base(p.system, ctx)  # %LOCALAPPDATA%\CPS Bridge, or the install folder
            if ntpath.normcase(folder).startswith(ntpath.normcase(base) + "\\"):
                found.append(base)
        elif p.system and ctx.platform != "darwin":
            found += [d for d in LINUX_SYSTEM_PARENTS if folder.startswith(d + "/")]
    unique = list(dict.fromkeys(found))
    return sorted(unique, key=lambda d: d.count(path.sep), reverse=True)


# -- files of the installed Debian package ----------------------------------------------------

def package_files(ctx: Context) -> set[str]:
    """The paths the cpsbridge package owns, from dpkg's file lists: installed, or removed
    with its /etc conffiles kept (`apt purge` then removes them). None where there is no
    dpkg. Read directly rather than through `dpkg -S`: fast, and --root works."""
    info = ctx.on_disk(DPKG_INFO)
    owned: set[str] = set()
    for lst in (info / f"{DEB_PACKAGE}.list", *sorted(info.glob(f"{DEB_PACKAGE}:*.list"))):
        try:
            lines = lst.read_text("utf-8").splitlines()
        except (OSError, UnicodeDecodeError):
            continue
        owned.update(line.strip() for line in lines if line.strip())
    return owned


def deb_file_name(arch: str, version: str | None = None) -> str:
    """The Debian package's file name, as build.py writes it (dpkg-name's convention)."""
    if version is None:
        from host import __version__ as version
    return f"{DEB_PACKAGE}_{version}_{arch}.deb"


def deb_architecture(ctx: Context) -> str:
    """The architecture of the package's file: the installed package's, from dpkg's status
    (--root works), else the one dpkg gives this machine (what build.py names the .deb by)."""
    try:
        status = ctx.on_disk(DPKG_STATUS).read_text("utf-8", errors="replace")
    except OSError:
        status = ""
    for stanza in status.split("\n\n"):
        fields = dict(line.split(": ", 1) for line in stanza.splitlines() if ": " in line
                      and not line.startswith(" "))
        if fields.get("Package") == DEB_PACKAGE and fields.get("Architecture"):
            return fields["Architecture"].strip()
    import subprocess

    try:
        arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                              timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        arch = ""
    if arch:
        return arch
    import platform

    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "i686": "i386", "i386": "i386",
            "armv7l": "armhf"}.get(machine, machine or "amd64")


def package_conflicts(p: Plan, ctx: Context, remove: bool) -> list[str]:
    """The files of the plan that the package owns and that carrying it out would change
    (install) or delete (uninstall)."""
    if not p.system or ctx.windows:
        return []
    owned = package_files(ctx)
    if not owned:
        return []
    conflicts = []
    for step in p.steps:
        if step.kind != "file" or step.target not in owned:
            continue
        if (ctx.on_disk(step.target).is_file() if remove else not _up_to_date(step, ctx)):
            conflicts.append(step.target)
    return conflicts


# -- the command -----------------------------------------------------------------------------

def _parser(command: str) -> argparse.ArgumentParser:
    p = FrenchArgumentParser(prog=f"cpsbridge-host {command}", description=(
        "Déclare le module CPS Bridge aux navigateurs." if command == "install"
        else "Retire la déclaration du module CPS Bridge des navigateurs."))
    level = p.add_mutually_exclusive_group()
    level.add_argument("--user", action="store_true", help="pour l'utilisateur courant")
    level.add_argument("--system", action="store_true",
                       help="pour tous les utilisateurs (administrateur) ; par défaut en root "
                       "(Linux, macOS ; sous Windows, à donner)")
    p.add_argument("--browser", choices=[*BROWSERS, "all"], default="all",
                   help="navigateur visé (défaut : tous)")
    if command == "install":
        p.add_argument("--host-path", help="exécutable du module à déclarer "
                       "(défaut : cet exécutable ; depuis les sources, un lanceur est écrit)")
        p.add_argument("--extension-id", action="append", default=[], metavar="ID",
                       help="identifiant d'extension à autoriser en plus de ceux de CPS Bridge "
                       "(répétable) : celui que le Chrome Web Store ou Edge Add-ons a attribué "
                       "(32 lettres a à p), ou un identifiant de module Firefox")
    p.add_argument("--root", default="/", help="racine où poser les fichiers système "
                   "(préparation d'un paquet)")
    p.add_argument("--force", action="store_true", help="remplace ou supprime aussi les "
                   f"manifestes installés par le paquet {DEB_PACKAGE} (déconseillé)")
    p.add_argument("--dry-run", action="store_true", help="montre ce qui serait fait, sans rien changer")
    return p


def _is_admin() -> bool:
    if sys.platform.startswith("win"):
        return False
    return os.geteuid() == 0


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    try:
        args = _parser(command).parse_args(rest)
    except SystemExit as exc:
        return int(exc.code or 0) and 2
    system = args.system or (not args.user and _is_admin())
    ctx = Context(root=args.root)
    extra_ids = getattr(args, "extension_id", [])
    bad = [i for i in extra_ids if id_family(i) is None]
    if bad:
        print("Erreur : identifiant d'extension invalide : " + ", ".join(bad) + ". Chrome et "
              "Edge : 32 lettres de a à p (celui qu'affiche chrome://extensions ou la page de "
              "l'extension sur la boutique) ; Firefox : nom@domaine ou {GUID}.", file=sys.stderr)
        return 2
    if command == "install":
        browsers, left_out = browsers_to_register(args.browser, system, ctx)
    else:  # uninstall looks everywhere, and creates nothing
        browsers, left_out = (list(BROWSERS) if args.browser == "all" else [args.browser]), []
    host_path = getattr(args, "host_path", None) or default_host_path()
    if host_path is not None:
        if args.root not in ("", "/") and not os.path.isabs(host_path):
            print("Erreur : avec --root, --host-path doit être un chemin absolu (celui du "
                  f"système cible) : {host_path}.", file=sys.stderr)
            return 1
        host_path = absolute_host_path(host_path, ctx)
    rooted = args.root not in ("", "/") and not ctx.windows
    if command == "install" and host_path is not None and not args.dry_run:
        on_disk = str(ctx.on_disk(host_path))
        if not os.path.isfile(on_disk):
            if rooted:  # the target system's path, looked for under DIR
                print(f"Erreur : l'exécutable du module est introuvable sous {args.root} : "
                      f"{on_disk}. Avec --root, --host-path est le chemin sur le système "
                      f"cible ({host_path}) et l'exécutable doit déjà être copié à cet endroit "
                      f"sous {args.root}.", file=sys.stderr)
            else:
                print(f"Erreur : l'exécutable du module est introuvable : {host_path}. "
                      "Indiquez le bon chemin avec --host-path.", file=sys.stderr)
            return 1
        # The browsers would fail to start it, with no word to the user (Windows has no
        # execute bit: any file there may be started).
        if not ctx.windows and not os.access(on_disk, os.X_OK):
            print(f"Erreur : {on_disk} n'est pas exécutable : les navigateurs ne pourraient "
                  "pas le lancer. Donnez-lui le droit d'exécution (`chmod 755 "
                  f"{shlex.quote(on_disk)}`) ou indiquez le bon fichier avec --host-path. "
                  "Rien n'a été écrit.", file=sys.stderr)
            return 1
    remove = command == "uninstall"
    p = plan(browsers, system, ctx, host_path,
             check_sandbox=not remove and args.root in ("", "/"), extra_ids=extra_ids)
    if remove and args.browser != "all":  # the launcher may still serve other browsers
        p.steps = [s for s in p.steps if s.browser]
    level = "tous les utilisateurs" if system else "l'utilisateur courant"
    verb = "Retrait" if remove else "Installation"
    print(f"{verb} de {HOST_NAME} pour {level}"
          + (f", fichiers système sous {args.root}" if rooted and system else "")
          + (" (simulation)" if args.dry_run else ""))
    for browser in left_out:
        print(f"{LABEL[browser]} : ignoré, absent pour cet utilisateur (ni son dossier ni son "
              f"programme) ; `--browser {browser}` le déclare quand même.")
    if not browsers:
        print("Aucun navigateur trouvé pour cet utilisateur : rien n'a été écrit. Lancez une "
              "fois le navigateur, ou nommez-le avec --browser.")
        return EXIT_NO_BROWSER  # only install leaves browsers out
    for browser, why in p.refused.items():
        print(f"{LABEL[browser]} : refusé. {why}")
    for browser, note in p.notes.items():
        print(f"{LABEL[browser]} : à savoir. {' '.join(note)}")
    conflicts = [] if args.force else package_conflicts(p, ctx, remove)
    if conflicts:
        print(f"Erreur : ces manifestes appartiennent au paquet {DEB_PACKAGE} (dpkg) : les "
              + ("supprimer" if remove else "remplacer") + " le rendrait incohérent :\n  "
              + "\n  ".join(str(ctx.on_disk(c)) for c in conflicts) + "\n"
              + (f"Retirez plutôt le paquet (`sudo apt purge {DEB_PACKAGE}`)" if remove else
                 f"Mettez plutôt à jour le paquet {DEB_PACKAGE}")
              + ", ou relancez avec --force pour passer outre. Rien n'a été modifié.",
              file=sys.stderr)
        return EXIT_PACKAGE_FILES
    try:
        carry_out(p, ctx, remove, args.dry_run)
    except RegistrationError as exc:
        print(f"Erreur : {exc}", file=sys.stderr)
        return 1
    except NothingWritten as stop:
        exc = stop.cause
        why = (permission_message(exc.filename, remove, ctx) if isinstance(exc, PermissionError)
               else os_error(exc) + ".")
        print(f"Erreur : {why} Rien n'a été écrit.", file=sys.stderr)
        return 1
    except PermissionError as exc:
        print(f"Erreur : {permission_message(exc.filename, remove, ctx)}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Erreur : {os_error(exc)}.", file=sys.stderr)
        return 1
    if p.refused and args.browser != "all":
        return EXIT_REFUSED_BROWSER
    if not remove and not system and all(b in p.refused for b in browsers):
        print("Aucun navigateur utilisable trouvé pour cet utilisateur : aucun manifeste n'a "
              "été écrit.")
        return EXIT_NO_BROWSER
    return 0
