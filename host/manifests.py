"""Host manifests, rendered from one template per browser family (manifests/templates)."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

Family = Literal["chromium", "firefox"]

# Where the packages (.deb, MSI, macOS pkg) install the frozen host: the manifests they
# ship name these paths. On Windows the file name alone: the MSI puts the manifests beside
# the host in the install folder, which may be changed at install (INSTALLFOLDER) or sit on
# another drive, and Chrome and Firefox take a relative `path` from the manifest's folder.
INSTALLED_HOST = {
    "linux": "/opt/cpsbridge/cpsbridge-host",
    "windows": "cpsbridge-host.exe",
    "macos": "/Library/Application Support/CPS Bridge/cpsbridge-host",
}

# A Chromium extension id: 32 letters a–p (the first 128 bits of a SHA-256, one letter per
# hex digit). A Firefox add-on id: an e-mail-like name or a {GUID}.
CHROMIUM_ID = re.compile(r"[a-p]{32}")
FIREFOX_ID = re.compile(r"[A-Za-z0-9._+-]+@[A-Za-z0-9.-]+"
                        r"|\{[0-9A-Fa-f]{8}(-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}\}")
# The entries of extension/ids.json that name a Chromium id, and what each one is.
CHROMIUM_ID_ENTRIES = {"chromium": "clé du paquet (non empaqueté, auto-hébergé)",
                       "chromeWebStore": "Chrome Web Store", "edgeAddons": "Edge Add-ons"}


def _resource_root() -> Path:
    # Frozen (PyInstaller) builds carry the templates and ids beside the executable.
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else Path(__file__).resolve().parents[1]


def extension_ids() -> dict:
    return json.loads((_resource_root() / "extension" / "ids.json").read_text("utf-8"))


def id_family(ext_id: str) -> Family | None:
    """Which browser family an extension id belongs to, from its form; None: neither."""
    if CHROMIUM_ID.fullmatch(ext_id):
        return "chromium"
    if FIREFOX_ID.fullmatch(ext_id):
        return "firefox"
    return None


def chromium_ids(ids: dict | None = None) -> list[str]:
    """The known Chromium ids of the extension: the key's, then each store's once it is filled
    in (null: not published there). A malformed one is an error, never silently dropped."""
    ids = extension_ids() if ids is None else ids
    out = []
    for entry in CHROMIUM_ID_ENTRIES:
        value = ids.get(entry)
        if value is None and entry != "chromium":
            continue
        if not isinstance(value, str) or not CHROMIUM_ID.fullmatch(value):
            raise ValueError(f"extension/ids.json: {entry} must be a Chromium extension id "
                             f"(32 letters a-p) or null: {value!r}")
        if value not in out:
            out.append(value)
    return out


def render(family: Family, host_path: str | Path, extra_ids: list[str] | None = None, *,
           windows: bool = False) -> dict:
    """The manifest a browser of `family` needs to start the host at `host_path`, allowing the
    known ids of the extension and `extra_ids` (those of this family). On Windows (`windows`)
    `host_path` may be relative: to the manifest's folder."""
    relative = not (PurePosixPath(host_path).is_absolute()
                    or PureWindowsPath(host_path).is_absolute())
    if relative and not windows:
        # Chrome and Firefox on Linux and macOS refuse a relative `path` (the host never starts).
        raise ValueError(f"host path must be absolute: {host_path}")
    ids = extension_ids()
    extra = [i for i in extra_ids or [] if id_family(i) == family]
    text = (_resource_root() / "manifests" / "templates" / f"{family}.json").read_text("utf-8")
    if family == "chromium":
        origins = sorted({f"chrome-extension://{i}/" for i in [*chromium_ids(ids), *extra]})
        text = text.replace("{{ALLOWED_ORIGINS}}", json.dumps(origins))
    else:
        text = text.replace("{{ALLOWED_EXTENSIONS}}", json.dumps(sorted({ids["firefox"], *extra})))
    text = text.replace("{{HOST_PATH}}", json.dumps(str(host_path))[1:-1])
    return json.loads(text)
