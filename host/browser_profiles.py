"""Whether the CPS Bridge extension is installed and enabled in this user's browser profiles.

Read from the files the browsers keep, never from the browsers themselves (diagnose runs
with them closed, or open):
- Chromium family: each profile folder of the user data folder (Default, Profile 1…), its
  `Preferences` and `Secure Preferences` (`extensions.settings.<id>`; Chromium on Linux
  writes it in the first, Chrome may keep it in the second, whose values it protects on
  Windows and macOS). An entry is an
  installed extension; `disable_reasons` (a list of reasons, an int bit mask in older
  versions) or `state` 0 (older versions) says it is disabled.
- Firefox: the profiles that `profiles.ini` names, their `extensions.json` (`addons`: `id`,
  `active`, `userDisabled`, `appDisabled`). A temporary add-on (about:debugging, WebDriver)
  is never written there.

Every read is guarded: a file that is missing, unreadable, not UTF-8 or of another shape
than expected counts as "our extension not found there", never as an exception.
"""

from __future__ import annotations

import configparser
import getpass
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from host.manifests import chromium_ids
from host.registration import FAMILY, Context, manifest_dirs

ABSENT, ENABLED, DISABLED = "absent", "enabled", "disabled"

# Under %LOCALAPPDATA% on Windows: each Chromium browser's user data folder.
WINDOWS_USER_DATA = {"chrome": ("Google", "Chrome", "User Data"),
                     "chromium": ("Chromium", "User Data"),
                     "edge": ("Microsoft", "Edge", "User Data"),
                     "brave": ("BraveSoftware", "Brave-Browser", "User Data")}
# Profile folders of the browser's own (profile picker, guest session): never a user's.
CHROMIUM_OWN_PROFILES = {"System Profile", "Guest Profile"}
CHROMIUM_PREFERENCES = ("Preferences", "Secure Preferences")
# Firefox packaged as a Snap or a Flatpak keeps its profiles in its own folder of the home.
FIREFOX_SANDBOXED = (("snap", "firefox", "common", ".mozilla", "firefox"),
                     (".var", "app", "org.mozilla.firefox", ".mozilla", "firefox"))


@dataclass(frozen=True)
class Profile:
    name: str  # the profile's folder name (Default, Profile 1, abcd1234.default-release)
    state: str  # ABSENT, ENABLED or DISABLED


@dataclass
class BrowserProfiles:
    browser: str
    folders: list[str] = field(default_factory=list)  # where profiles were looked for
    profiles: list[Profile] = field(default_factory=list)

    def named(self, state: str) -> list[str]:
        """The names of the profiles where our extension is in `state`."""
        return [p.name for p in self.profiles if p.state == state]


def user_name(ctx: Context) -> str | None:
    """Who the profiles read belong to: the login name, as getpass finds it, looked up in
    ctx.env first (tests give another environment)."""
    for key in ("LOGNAME", "USER", "LNAME", "USERNAME"):
        if ctx.env.get(key):
            return ctx.env[key]
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no name for this uid
        return None


# -- where the profiles are ------------------------------------------------------------------
# The folders are read on the machine diagnose runs on: they are joined with its own Path
# (tests point LOCALAPPDATA, APPDATA or HOME at a temporary folder, whatever ctx.platform).

def _local_appdata(ctx: Context) -> Path:
    return Path(ctx.env.get("LOCALAPPDATA") or Path(ctx.home, "AppData", "Local"))


def _roaming_appdata(ctx: Context) -> Path:
    return Path(ctx.env.get("APPDATA") or Path(ctx.home, "AppData", "Roaming"))


def chromium_user_data(browser: str, ctx: Context) -> list[Path]:
    """The user data folder(s) of a Chromium browser: the parent of the user-level manifest
    folder (…/NativeMessagingHosts) on Linux and macOS, under %LOCALAPPDATA% on Windows."""
    if ctx.windows:
        return [_local_appdata(ctx).joinpath(*WINDOWS_USER_DATA[browser])]
    return [Path(PurePosixPath(d).parent) for d in manifest_dirs(browser, False, ctx)]


def firefox_roots(ctx: Context) -> list[Path]:
    """The folders that may hold Firefox's profiles.ini: on Linux the `firefox` folder beside
    each user-level manifest folder (~/.mozilla/native-messaging-hosts → ~/.mozilla/firefox),
    then those of a Snap or Flatpak Firefox."""
    if ctx.windows:
        return [_roaming_appdata(ctx) / "Mozilla" / "Firefox"]
    if ctx.platform == "darwin":
        return [Path(ctx.home, "Library", "Application Support", "Firefox")]
    roots = [Path(PurePosixPath(d).parent / "firefox")
             for d in manifest_dirs("firefox", False, ctx)]
    roots += [Path(ctx.home, *parts) for parts in FIREFOX_SANDBOXED]
    return list(dict.fromkeys(roots))


# -- guarded reads ------------------------------------------------------------------------------

def _json(path: Path) -> object:
    """The JSON in `path`, or None when it cannot be read as UTF-8 JSON."""
    try:
        return json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        return None


def _subfolders(folder: Path) -> list[Path]:
    try:
        return sorted(p for p in folder.iterdir() if p.is_dir())
    except OSError:  # absent, not a folder, not ours to read
        return []


def _is_file(path: Path) -> bool:
    try:
        return path.is_file()
    except OSError:  # Python 3.11 raises for a folder it may not enter
        return False


# -- Chromium -----------------------------------------------------------------------------------

def _chromium_entry(profile: Path, ext_id: str) -> dict | None:
    """extensions.settings.<ext_id> from both preference files, merged (each may hold part
    of it); None when neither has it."""
    merged: dict | None = None
    for name in CHROMIUM_PREFERENCES:
        data = _json(profile / name)
        extensions = data.get("extensions") if isinstance(data, dict) else None
        settings = extensions.get("settings") if isinstance(extensions, dict) else None
        entry = settings.get(ext_id) if isinstance(settings, dict) else None
        if isinstance(entry, dict):
            merged = {**(merged or {}), **entry}
    return merged


def _chromium_disabled(entry: dict) -> bool:
    reasons = entry.get("disable_reasons")
    if isinstance(reasons, bool):  # not a shape Chromium writes: no reason given
        reasons = None
    if isinstance(reasons, int) and reasons != 0:  # a bit mask (older versions)
        return True
    if isinstance(reasons, list) and reasons:  # reason codes (1: by the user)
        return True
    state = entry.get("state")
    return isinstance(state, int) and not isinstance(state, bool) and state == 0


def chromium_profile_state(profile: Path, ext_ids: list[str]) -> str:
    """Our extension in one Chromium profile folder: enabled when one of our ids is,
    disabled when one is installed but none enabled, else absent."""
    found = [entry for entry in (_chromium_entry(profile, i) for i in ext_ids) if entry is not None]
    if any(not _chromium_disabled(entry) for entry in found):
        return ENABLED
    return DISABLED if found else ABSENT


def chromium_profiles(browser: str, ctx: Context, ext_ids: list[str]) -> BrowserProfiles:
    result = BrowserProfiles(browser)
    for user_data in chromium_user_data(browser, ctx):
        result.folders.append(str(user_data))
        for profile in _subfolders(user_data):
            if profile.name in CHROMIUM_OWN_PROFILES or not _is_file(profile / "Preferences"):
                continue
            result.profiles.append(Profile(profile.name,
                                           chromium_profile_state(profile, ext_ids)))
    return result


# -- Firefox ------------------------------------------------------------------------------------

def firefox_profile_dirs(root: Path) -> list[Path]:
    """The profile folders profiles.ini names (sections Profile0, Profile1…: Path, relative
    to `root` when IsRelative=1); none when it is missing or unreadable."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string((root / "profiles.ini").read_text("utf-8"))
    except (OSError, ValueError, configparser.Error):  # ValueError: not UTF-8
        return []
    found: list[Path] = []
    for section in parser.sections():
        if not section.startswith("Profile"):
            continue
        path = parser.get(section, "Path", fallback="").strip()
        if not path:
            continue
        if parser.get(section, "IsRelative", fallback="0").strip() == "1":
            folder = root.joinpath(*path.split("/"))  # written with "/" on every system
        else:
            folder = Path(path)
        if folder not in found:
            found.append(folder)
    return found


def firefox_profile_state(profile: Path, addon_id: str) -> str:
    """Our add-on in one Firefox profile: enabled when an entry of extensions.json with our
    id is active (and disabled neither by the user nor by Firefox), disabled when entries
    are there but none is, else absent."""
    data = _json(profile / "extensions.json")
    addons = data.get("addons") if isinstance(data, dict) else None
    mine = [a for a in addons if isinstance(a, dict) and a.get("id") == addon_id] \
        if isinstance(addons, list) else []
    if any(a.get("active") is True and a.get("userDisabled") is not True
           and a.get("appDisabled") is not True for a in mine):
        return ENABLED
    return DISABLED if mine else ABSENT


def firefox_profiles(ctx: Context, addon_id: str) -> BrowserProfiles:
    result = BrowserProfiles("firefox")
    seen: set[Path] = set()
    for root in firefox_roots(ctx):
        result.folders.append(str(root))
        for profile in firefox_profile_dirs(root):
            if profile in seen:  # an absolute Path named by two profiles.ini
                continue
            seen.add(profile)
            try:
                if not profile.is_dir():
                    continue  # named in profiles.ini, but gone: Firefox would recreate it
            except OSError:
                continue
            result.profiles.append(Profile(profile.name, firefox_profile_state(profile, addon_id)))
    return result


def read_profiles(browser: str, ctx: Context, ids: dict) -> BrowserProfiles:
    """Our extension in each of this user's profiles of `browser`; `ids`: the extension's
    identities (extension/ids.json, host.manifests.extension_ids)."""
    if FAMILY[browser] == "firefox":
        return firefox_profiles(ctx, ids["firefox"])
    return chromium_profiles(browser, ctx, chromium_ids(ids))
