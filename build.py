#!/usr/bin/env python3
"""CPS Bridge build: one small CLI, one sub-command per artefact.

    python build.py errors            extension/src/errors.js (+ the page library's messages)
                                      from host/errors.json (both committed)
    python build.py extension         release archives (reproducible) in dist/extension/:
                                      cpsbridge-chromium.zip (with the key: the key's id, for
                                      self-hosting), cpsbridge-chromium-store.zip (without it:
                                      the Chrome Web Store and Edge Add-ons refuse `key`) and
                                      cpsbridge-firefox.xpi
    python build.py extension --dev   unpacked development builds: dist/extension-dev/chromium/
                                      and dist/extension-dev/firefox/ (also allow https://localhost
                                      and https://127.0.0.1 on any port)
    python build.py host [--if-stale] the frozen host (PyInstaller one-folder, console):
                                      dist/host/cpsbridge-host
    python build.py manifests         host manifests per OS (dist/manifests/) and the policy
                                      templates (dist/policies/)
    python build.py policies          manifests/policies/ and the MSI's policy components
                                      from extension/ids.json (committed)
    python build.py deb               dist/cpsbridge_<version>_<arch>.deb
    python build.py                   every step registered with `in_all=True`, in order
                                      (extension, host, manifests, deb)

On a fresh Debian, `python` is the project's: `./run setup`, then `.venv/bin/python build.py`.

Adding a sub-command: write a function taking the parsed arguments, decorate it with
`@command("name", help=..., in_all=...)`, and, when it takes options, an `options(parser)`
function passed as `configure=`. Each sub-command lives in its own section of this file.
"""

from __future__ import annotations

import argparse
import functools
import io
import json
import os
import shutil
import stat
import struct
import sys
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent
DIST = ROOT / "dist"


# -- the CLI ---------------------------------------------------------------------------------

@dataclass
class Command:
    name: str
    run: Callable[[argparse.Namespace], None]
    help: str
    configure: Callable[[argparse.ArgumentParser], None] | None
    in_all: bool


COMMANDS: dict[str, Command] = {}


def command(name: str, *, help: str, configure=None, in_all: bool = False):
    def register(fn):
        COMMANDS[name] = Command(name, fn, help, configure, in_all)
        return fn
    return register


def say(msg: str) -> None:
    print(f"build: {msg}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="build.py", description=__doc__.split("\n\n")[0])
    subs = parser.add_subparsers(dest="command")
    for cmd in COMMANDS.values():
        sub = subs.add_parser(cmd.name, help=cmd.help)
        if cmd.configure:
            cmd.configure(sub)
    args = parser.parse_args(argv)
    if args.command is None:
        for cmd in COMMANDS.values():
            if cmd.in_all:
                say(f"== {cmd.name}")
                cmd.run(subs.choices[cmd.name].parse_args([]))
        return 0
    COMMANDS[args.command].run(args)
    return 0


# -- errors: one source of truth for codes and messages ---------------------------------------

ERRORS_JSON = ROOT / "host" / "errors.json"
ERRORS_JS = ROOT / "extension" / "src" / "errors.js"
# Scripts that cannot import errors.js (a site's page, a content script) carry the messages
# of the codes they raise by themselves, in a generated block; the page library also those
# of the states a page describes from `status` (CpsBridge.message: the site's tile).
EMBEDDED_MESSAGES = {
    ROOT / "extension" / "page" / "cpsbridge.js": (
        "ERR_CPS_EXTENSION_UNAVAILABLE", "ERR_CPS_INSECURE_CONTEXT", "ERR_CPS_USER_TIMEOUT",
        "ERR_CPS_ORIGIN_NOT_ALLOWED", "ERR_CPS_INVALID_REQUEST", "ERR_CPS_INTERNAL",
        "ERR_CPS_NATIVE_UNAVAILABLE", "ERR_CPS_NO_CARD", "ERR_CPS_PIN_LOCKED",
        "ERR_CPS_USER_CANCELLED"),
    ROOT / "extension" / "content" / "content.js": ("ERR_CPS_INVALID_REQUEST", "ERR_CPS_INTERNAL",
                                                    "ERR_CPS_CANCELLED"),
}
PAGE_BEGIN = "// BEGIN GENERATED MESSAGES (python build.py errors; do not edit)"
PAGE_END = "// END GENERATED MESSAGES"


def _error_table() -> dict:
    data = json.loads(ERRORS_JSON.read_text("utf-8"))
    table = {}
    for code, entry in data["codes"].items():
        item = {"source": entry["source"], "fr": entry["fr"], "en": entry["en"]}
        if entry.get("variants"):
            item["variants"] = entry["variants"]
        table[code] = item
    return table


def errors_js_text() -> str:
    body = json.dumps(_error_table(), ensure_ascii=False, indent=2)
    return ("// Generated by `python build.py errors` from host/errors.json: do not edit.\n"
            "// Every error code of CPS Bridge with its French and English messages.\n"
            f"export const ERRORS = Object.freeze({body});\n")


def embedded_messages_text(path: Path) -> str:
    text = path.read_text("utf-8")
    start, end = text.index(PAGE_BEGIN), text.index(PAGE_END)
    indent = text[text.rindex("\n", 0, start) + 1:start]
    table = {c: {"fr": e["fr"], "en": e["en"]} for c, e in _error_table().items()
             if c in EMBEDDED_MESSAGES[path]}
    block = (f"{PAGE_BEGIN}\n{indent}const MESSAGES = "
             + json.dumps(table, ensure_ascii=False, indent=2).replace("\n", "\n" + indent)
             + f";\n{indent}")
    return text[:start] + block + text[end:]


@command("errors", help="generate extension/src/errors.js from host/errors.json")
def build_errors(args: argparse.Namespace) -> None:
    ERRORS_JS.write_text(errors_js_text(), "utf-8")
    say(f"wrote {ERRORS_JS.relative_to(ROOT)}")
    for path in EMBEDDED_MESSAGES:
        path.write_text(embedded_messages_text(path), "utf-8")
        say(f"wrote the messages of {path.relative_to(ROOT)}")


def errors_up_to_date() -> list[str]:
    """The generated files that differ from what host/errors.json gives (empty: all fine)."""
    stale = [] if ERRORS_JS.read_text("utf-8") == errors_js_text() else [str(ERRORS_JS)]
    stale += [str(p) for p in EMBEDDED_MESSAGES if p.read_text("utf-8") != embedded_messages_text(p)]
    return stale


# -- extension: one Manifest V3 source, one manifest per browser family -----------------------

EXTENSION = ROOT / "extension"
# What goes into the extension (the rest of extension/ is tests and tooling).
EXTENSION_PARTS = ("_locales", "src", "content", "dialog", "popup", "managed_schema.json")
ICON_SIZES = (16, 32, 48, 128)
DEV_ORIGINS = ["https://localhost", "https://127.0.0.1"]  # any port
ZIP_TIME = (1980, 1, 1, 0, 0, 0)
# (family, archive, for a store): the store upload differs only by having no `key`.
RELEASE_ARCHIVES = (("chromium", "cpsbridge-chromium.zip", False),
                    ("chromium", "cpsbridge-chromium-store.zip", True),
                    ("firefox", "cpsbridge-firefox.xpi", False))


def extension_manifest(family: str, *, dev: bool, store: bool = False) -> dict:
    """One browser family's manifest. `store`: for upload to the Chrome Web Store or Edge
    Add-ons, which refuse a manifest with `key` and give the extension their own id."""
    ids = json.loads((EXTENSION / "ids.json").read_text("utf-8"))
    manifest = json.loads((EXTENSION / "manifest.base.json").read_text("utf-8"))
    manifest.pop("_comment", None)
    if family == "chromium":
        manifest["background"] = {"service_worker": "src/background.js", "type": "module"}
        if not store:
            manifest["key"] = ids["chromiumKey"]
        manifest["storage"] = {"managed_schema": "managed_schema.json"}
        manifest["minimum_chrome_version"] = "116"
    elif family == "firefox":
        manifest["background"] = {"scripts": ["src/background.js"], "type": "module"}
        # Nothing leaves the browser through the extension: the assertion goes to the page
        # the person logs into, at their click. addons.mozilla.org requires the statement
        # (Firefox >= 140 shows it at install; older ones ignore the key).
        manifest["browser_specific_settings"] = {
            "gecko": {"id": ids["firefox"], "strict_min_version": "128.0",
                      "data_collection_permissions": {"required": ["none"]}}}
    else:
        raise ValueError(family)
    icons = {str(n): f"icons/icon-{n}.png" for n in ICON_SIZES}  # written by extension_files
    manifest["icons"] = icons
    manifest["action"]["default_icon"] = {n: icons[n] for n in ("16", "32")}
    if dev:
        manifest["name"] = manifest["name"] + " (développement)"
    return manifest


def build_info_js(*, dev: bool, family: str) -> str:
    return ("// Written by build.py: what kind of build this is.\n"
            f"export const BUILD = Object.freeze({{dev: {'true' if dev else 'false'}, "
            f"devOrigins: {json.dumps(DEV_ORIGINS if dev else [])}, family: {json.dumps(family)}}});\n")


# -- the icon: a CPS card (blue, with its gold chip), drawn here rather than kept as images,
# so that every size comes from one description and the build needs no image tool.
_CARD_BLUE, _CHIP_GOLD, _LINE_WHITE = (0x1D, 0x4E, 0x89), (0xF0, 0xB4, 0x29), (0xFF, 0xFF, 0xFF)
# (left, top, right, bottom, corner radius) as fractions of the side, and a colour; last on top
_ICON_SHAPES = (((0.04, 0.17, 0.96, 0.83, 0.10), _CARD_BLUE),
                ((0.14, 0.35, 0.40, 0.63, 0.05), _CHIP_GOLD),
                ((0.50, 0.36, 0.86, 0.43, 0.03), _LINE_WHITE),
                ((0.50, 0.55, 0.76, 0.62, 0.03), _LINE_WHITE))


def _inside(x: float, y: float, box: tuple[float, ...]) -> bool:
    left, top, right, bottom, r = box
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + r), right - r)  # nearest point of the inner rectangle
    cy = min(max(y, top + r), bottom - r)
    return (x - cx) ** 2 + (y - cy) ** 2 <= r * r


@functools.lru_cache(maxsize=None)
def icon_png(size: int, samples: int = 4) -> bytes:
    """The icon as an RGBA PNG of size x size pixels, edges smoothed by supersampling."""
    rows = []
    for py in range(size):
        row = bytearray([0])  # PNG filter: none
        for px in range(size):
            colour, covered = (0, 0, 0), 0
            for sy in range(samples):
                for sx in range(samples):
                    x, y = (px + (sx + 0.5) / samples) / size, (py + (sy + 0.5) / samples) / size
                    hit = next((c for box, c in reversed(_ICON_SHAPES) if _inside(x, y, box)), None)
                    if hit is not None:
                        colour = tuple(a + b for a, b in zip(colour, hit))
                        covered += 1
            if covered:
                row += bytes(round(c / covered) for c in colour) + bytes([round(255 * covered / samples ** 2)])
            else:
                row += bytes(4)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", size, size, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header)
            + chunk(b"IDAT", zlib.compress(b"".join(rows), 9)) + chunk(b"IEND", b""))


def extension_files(family: str, *, dev: bool, store: bool = False) -> dict[str, bytes]:
    """Every file of one browser's extension, by archive path."""
    files: dict[str, bytes] = {}
    for part in EXTENSION_PARTS:
        src = EXTENSION / part
        if not src.exists():
            continue
        paths = [src] if src.is_file() else sorted(p for p in src.rglob("*") if p.is_file())
        for p in paths:
            files[p.relative_to(EXTENSION).as_posix()] = p.read_bytes()
    files.update({f"icons/icon-{n}.png": icon_png(n) for n in ICON_SIZES})
    files["src/build-info.js"] = build_info_js(dev=dev, family=family).encode()
    manifest = extension_manifest(family, dev=dev, store=store)
    files["manifest.json"] = (json.dumps(manifest, ensure_ascii=False, indent=2) + "\n").encode()
    return files


def reproducible_zip(files: dict[str, bytes]) -> bytes:
    """Same files give the same bytes: sorted names, fixed times and modes."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name in sorted(files, key=lambda n: (n != "manifest.json", n)):
            info = zipfile.ZipInfo(name, ZIP_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3
            info.external_attr = (stat.S_IFREG | 0o644) << 16
            z.writestr(info, files[name], compresslevel=9)
    return out.getvalue()


def _extension_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--dev", action="store_true",
                   help="unpacked development build that also allows https://localhost")
    p.add_argument("--out", type=Path, default=None, help="output folder (default dist/…)")


@command("extension", help="build the extension for Chromium and Firefox",
         configure=_extension_options, in_all=True)
def build_extension(args: argparse.Namespace) -> None:
    # The committed errors.js must match host/errors.json; a stale one is a build error.
    stale = errors_up_to_date()
    if stale:
        raise SystemExit(f"out of date: {stale}: run `python build.py errors`")
    if args.dev:
        out = args.out or DIST / "extension-dev"
        for family in ("chromium", "firefox"):
            target = out / family
            if target.exists():
                shutil.rmtree(target)
            for name, data in extension_files(family, dev=True).items():
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
            say(f"development build: {target}")
        return
    out = args.out or DIST / "extension"
    out.mkdir(parents=True, exist_ok=True)
    for family, name, store in RELEASE_ARCHIVES:
        data = reproducible_zip(extension_files(family, dev=False, store=store))
        (out / name).write_bytes(data)
        say(f"release build: {out / name} ({len(data)} bytes)")


# -- host: the frozen native host (PyInstaller, one folder, console build) --------------------
# Never a debug build: the bootloader's debug output goes to stdout, which carries frames.

HOST_DIST = DIST / "host"
HOST_EXE = HOST_DIST / ("cpsbridge-host.exe" if sys.platform.startswith("win") else "cpsbridge-host")
HOST_ENTRY = ROOT / "packaging" / "pyinstaller" / "cpsbridge-host.py"
# The recipe: hidden imports, data files, runtime hooks left out (see its comments).
HOST_SPEC = ROOT / "packaging" / "pyinstaller" / "cpsbridge-host.spec"


def host_sources() -> list[Path]:
    paths = [HOST_ENTRY, HOST_SPEC, ROOT / "requirements.txt"]
    paths += sorted((ROOT / "host").rglob("*.py")) + [ROOT / "host" / "errors.json"]
    paths += sorted((ROOT / "manifests" / "templates").glob("*.json"))
    return paths + [ROOT / "extension" / "ids.json"]


def host_is_stale() -> bool:
    if not HOST_EXE.exists():
        return True
    built = HOST_EXE.stat().st_mtime
    return any(p.stat().st_mtime > built for p in host_sources() if p.exists())


def _host_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--if-stale", action="store_true",
                   help="do nothing when dist/host is newer than every source")


@command("host", help="freeze the native host into dist/host/ (PyInstaller one-folder)",
         configure=_host_options, in_all=True)
def build_host(args: argparse.Namespace) -> None:
    import subprocess

    if getattr(args, "if_stale", False) and not host_is_stale():
        say(f"up to date: {HOST_EXE.relative_to(ROOT)}")
        return
    work = ROOT / "build" / "pyinstaller"
    cmd = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
           "--distpath", str(work / "dist"), "--workpath", str(work / "work"), str(HOST_SPEC)]
    say("PyInstaller: freezing the host")
    r = subprocess.run(cmd, cwd=ROOT)
    if r.returncode != 0:
        raise SystemExit(f"PyInstaller failed (exit {r.returncode})")
    if HOST_DIST.exists():
        shutil.rmtree(HOST_DIST)
    shutil.move(str(work / "dist" / "cpsbridge-host"), str(HOST_DIST))
    say(f"frozen host: {HOST_EXE.relative_to(ROOT)}")


# -- manifests: host manifests per OS, and the enterprise policy templates ---------------------

POLICIES = ROOT / "manifests" / "policies"
CHROME_UPDATE_URL = "https://clients2.google.com/service/update2/crx"
EDGE_UPDATE_URL = "https://edge.microsoft.com/extensionwebstorebase/v1/crx"


def _firefox_install_url(addon_id: str) -> str:
    return f"https://addons.mozilla.org/firefox/downloads/latest/{addon_id}/latest.xpi"


def _check_against_schema(value, schema: dict, where: str) -> None:
    """The managed-storage data must fit extension/managed_schema.json (the one schema)."""
    kind = schema.get("type")
    ok = {"object": dict, "array": list, "string": str}.get(kind)
    if ok is None or not isinstance(value, ok):
        raise SystemExit(f"{where}: {value!r} is not of type {kind} (extension/managed_schema.json)")
    if kind == "object":
        props = schema.get("properties", {})
        for key, item in value.items():
            if key not in props:
                raise SystemExit(f"{where}: {key} is not in extension/managed_schema.json")
            _check_against_schema(item, props[key], f"{where}.{key}")
    if kind == "array":
        for i, item in enumerate(value):
            _check_against_schema(item, schema["items"], f"{where}[{i}]")


def managed_storage() -> dict:
    """What IT gives the extension through managed storage: the allowed origins, to which a
    hospital adds its own (the host's allowedOrigins must list the same)."""
    from host.config import PRODUCTION_ORIGINS

    data = {"allowedOrigins": list(PRODUCTION_ORIGINS)}
    schema = json.loads((EXTENSION / "managed_schema.json").read_text("utf-8"))
    _check_against_schema(data, schema, "managed storage")
    return data


def derived_chromium_id(key_b64: str) -> str:
    """The id Chromium gives an extension whose manifest carries `key`: the first 128 bits of
    the key's SHA-256, one letter a–p per hex digit."""
    import base64
    import hashlib

    digest = hashlib.sha256(base64.b64decode(key_b64)).hexdigest()[:32]
    return "".join(chr(ord("a") + int(c, 16)) for c in digest)


def _ids() -> dict:
    """extension/ids.json, checked: the key's id is the one its key gives, and each store's id
    is either a Chromium id or null (not published there: left out of every policy)."""
    from host.manifests import chromium_ids

    ids = json.loads((EXTENSION / "ids.json").read_text("utf-8"))
    if derived_chromium_id(ids["chromiumKey"]) != ids["chromium"]:
        raise SystemExit("extension/ids.json: 'chromium' is not the id of 'chromiumKey' "
                         f"({derived_chromium_id(ids['chromiumKey'])})")
    try:
        chromium_ids(ids)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    return ids


def _chromium_policy(store_id: str | None, update_url: str, managed_ids: list[str]) -> dict:
    """One Chromium browser's policies. The install policies only for the id its store
    assigned, once known: the key's id is not in any store, and an id forced from a store
    that does not have it installs nothing. Managed storage for every id the extension may
    have here (a self-hosted build keeps the key's id)."""
    from host import HOST_NAME

    policy: dict = {}
    if store_id:
        policy["ExtensionInstallForcelist"] = [f"{store_id};{update_url}"]
        policy["ExtensionSettings"] = {store_id: {"installation_mode": "force_installed",
                                                  "update_url": update_url,
                                                  "toolbar_pin": "force_pinned"}}
    policy["NativeMessagingAllowlist"] = [HOST_NAME]
    policy["3rdparty"] = {"extensions": {i: managed_storage() for i in managed_ids}}
    return policy


def _firefox_policy(addon_id: str) -> dict:
    return {"ExtensionSettings": {addon_id: {"installation_mode": "force_installed",
                                             "install_url": _firefox_install_url(addon_id)}},
            "3rdparty": {"Extensions": {addon_id: managed_storage()}}}


def policies_by_browser() -> dict[str, dict]:
    """The policies of Chrome, Edge and Firefox, from extension/ids.json: the one source of
    the JSON templates, the .reg files and the MSI's Policies feature."""
    ids = _ids()
    chrome_store, edge_store = ids.get("chromeWebStore"), ids.get("edgeAddons")
    managed = lambda store: list(dict.fromkeys(i for i in (ids["chromium"], store) if i))  # noqa: E731
    return {
        "chrome": _chromium_policy(chrome_store, CHROME_UPDATE_URL, managed(chrome_store)),
        "edge": _chromium_policy(edge_store, EDGE_UPDATE_URL, managed(edge_store)),
        "firefox": _firefox_policy(ids["firefox"]),
    }


def registry_values(browser: str, policy: dict) -> list[tuple[str, str, str]]:
    """(key under HKLM, value name, string) of one browser's policies, as the registry holds
    them: a list policy is a subkey of numbered values; ExtensionSettings is a JSON string;
    managed storage is under 3rdparty\\extensions\\<id>\\policy (Chrome, Edge) or
    3rdparty\\Extensions\\<id> (Firefox)."""
    from host.registration import WINDOWS_POLICY_KEYS

    key = WINDOWS_POLICY_KEYS[browser]
    out = []
    if "ExtensionSettings" in policy:
        out.append((key, "ExtensionSettings",
                    json.dumps(policy["ExtensionSettings"], separators=(",", ":"))))
    for name in ("ExtensionInstallForcelist", "NativeMessagingAllowlist"):
        out += [(f"{key}\\{name}", str(i), v) for i, v in enumerate(policy.get(name, []), 1)]
    third = policy.get("3rdparty", {})
    for ext_id, data in third.get("extensions", {}).items():
        for name, items in data.items():
            out += [(f"{key}\\3rdparty\\extensions\\{ext_id}\\policy\\{name}", str(i), v)
                    for i, v in enumerate(items, 1)]
    for ext_id, data in third.get("Extensions", {}).items():
        for name, items in data.items():
            out += [(f"{key}\\3rdparty\\Extensions\\{ext_id}\\{name}", str(i), v)
                    for i, v in enumerate(items, 1)]
    return out


def _reg_string(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _reg_file(values: list[tuple[str, str, str]]) -> bytes:
    """A .reg file (UTF-16 with BOM, CRLF, as regedit writes them), one section per key."""
    lines = ["Windows Registry Editor Version 5.00", ""]
    for key in dict.fromkeys(k for k, _, _ in values):
        lines.append(f"[HKEY_LOCAL_MACHINE\\{key}]")
        lines.extend(f"{_reg_string(n)}={_reg_string(v)}" for k, n, v in values if k == key)
        lines.append("")
    return ("\r\n".join(lines)).encode("utf-16")


def policy_files() -> dict[str, bytes]:
    """manifests/policies/…: generated from extension/ids.json and managed_schema.json."""
    policies = policies_by_browser()
    text = lambda d: (json.dumps(d, ensure_ascii=False, indent=2) + "\n").encode()  # noqa: E731
    return {
        "linux/chrome.json": text(policies["chrome"]),
        "linux/edge.json": text(policies["edge"]),
        "windows/chrome.reg": _reg_file(registry_values("chrome", policies["chrome"])),
        "windows/edge.reg": _reg_file(registry_values("edge", policies["edge"])),
        "windows/firefox.reg": _reg_file(registry_values("firefox", policies["firefox"])),
        "firefox/policies.json": text({"policies": policies["firefox"]}),
    }


# The MSI's Policies feature (packaging/wix/cpsbridge.wxs) holds the values of the .reg files,
# in a block that `build.py policies` writes. Component GUIDs are fixed once and for all.
WXS = ROOT / "packaging" / "wix" / "cpsbridge.wxs"
WXS_BEGIN = "<!-- BEGIN GENERATED POLICIES (python build.py policies; do not edit) -->"
WXS_END = "<!-- END GENERATED POLICIES -->"
WIX_POLICY_COMPONENTS = {"chrome": ("ChromePolicies", "c31e8c8c-b3b9-4718-a484-2d66a0d8b0ed"),
                         "edge": ("EdgePolicies", "142a518a-332f-4385-b079-2c9583ebc27c"),
                         "firefox": ("FirefoxPolicies", "6de8569d-25bd-4652-ac41-e585a77e9408")}


def _wix_value(value: str) -> str:
    """An attribute value of RegistryValue, a Windows Installer "Formatted" string: [...] would
    be read as a property, $(...) and !(...) by WiX itself. None of ours has them; one that
    did would need escaping, so it stops the build rather than install something else."""
    if any(bad in value for bad in ("[", "]", "$(", "!(")):
        raise SystemExit(f"a policy value the MSI would rewrite: {value}")
    for char, entity in (("&", "&amp;"), ('"', "&quot;"), ("<", "&lt;"), (">", "&gt;")):
        value = value.replace(char, entity)
    return value


def wxs_text() -> str:
    """packaging/wix/cpsbridge.wxs with its policy components generated from the same values
    as the .reg files (LF line ends)."""
    text = WXS.read_bytes().decode("utf-8").replace("\r\n", "\n")
    start, end = text.index(WXS_BEGIN), text.index(WXS_END)
    indent = text[text.rindex("\n", 0, start) + 1:start]
    lines = [WXS_BEGIN, "<!-- The values of manifests/policies/windows/chrome.reg, edge.reg "
                        "and firefox.reg. -->"]
    for browser, policy in policies_by_browser().items():
        cid, guid = WIX_POLICY_COMPONENTS[browser]
        lines.append(f'<Component Id="{cid}" Directory="INSTALLFOLDER" Guid="{guid}">')
        for i, (key, name, value) in enumerate(registry_values(browser, policy)):
            lines.append(f'  <RegistryValue Root="HKLM" Key="{_wix_value(key)}" '
                         f'Name="{_wix_value(name)}" Type="string" Value="{_wix_value(value)}"'
                         + (' KeyPath="yes"' if i == 0 else "") + " />")
        lines.append("</Component>")
    return text[:start] + f"\n{indent}".join(lines) + f"\n{indent}" + text[end:]


def same_generated_bytes(name: str, on_disk: bytes, wanted: bytes) -> bool:
    """Byte for byte, except that a text file may have CRLF line ends: a Windows checkout
    with core.autocrlf=true writes them (.gitattributes keeps these files LF, this covers a
    clone made before it). The .reg files are UTF-16 with CRLF by design: exact only."""
    if on_disk == wanted:
        return True
    return not name.endswith(".reg") and on_disk.replace(b"\r\n", b"\n") == wanted


def policies_up_to_date() -> list[str]:
    """The generated files that differ from what extension/ids.json gives: names under
    manifests/policies/, and the MSI source's policy block (empty: all fine)."""
    stale = [name for name, data in policy_files().items()
             if not (POLICIES / name).is_file()
             or not same_generated_bytes(name, (POLICIES / name).read_bytes(), data)]
    if WXS.read_bytes().replace(b"\r\n", b"\n") != wxs_text().encode("utf-8"):
        stale.append("packaging/wix/cpsbridge.wxs")
    return stale


@command("policies", help="generate the enterprise policy templates in manifests/policies/")
def build_policies(args: argparse.Namespace) -> None:
    for name, data in policy_files().items():
        path = POLICIES / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        say(f"wrote {path.relative_to(ROOT)}")
    WXS.write_bytes(wxs_text().encode("utf-8"))
    say(f"wrote the policy components of {WXS.relative_to(ROOT)}")


@command("manifests", help="host manifests per OS into dist/manifests/, policies into dist/policies/",
         in_all=True)
def build_manifests(args: argparse.Namespace) -> None:
    from host import HOST_NAME
    from host.manifests import INSTALLED_HOST, render

    stale = policies_up_to_date()
    if stale:
        raise SystemExit(f"out of date (manifests/policies/, packaging/wix): {stale}: "
                         "run `python build.py policies`")
    for os_name, host_path in INSTALLED_HOST.items():
        for family in ("chromium", "firefox"):
            path = DIST / "manifests" / os_name / f"{HOST_NAME}.{family}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            # Windows: the host's file name, relative to the manifest beside it (the MSI's).
            manifest = render(family, host_path, windows=os_name == "windows")
            path.write_text(json.dumps(manifest, ensure_ascii=False, indent=2) + "\n", "utf-8")
    if (DIST / "policies").exists():
        shutil.rmtree(DIST / "policies")
    shutil.copytree(POLICIES, DIST / "policies")
    say("host manifests: dist/manifests/{linux,macos,windows}/; policies: dist/policies/")


# -- deb: the Debian package (frozen host, system manifests, policy templates) ------------------

from host import DEB_PACKAGE  # noqa: E402 - the name install/uninstall also know
SHT_GNU_VERNEED = 0x6FFFFFFE  # the .gnu.version_r section: symbol versions a file needs
DEB_STAGE = ROOT / "build" / "deb" / DEB_PACKAGE  # the package's tree, before dpkg-deb
# The deployment guide, installed with the package: diagnose's fixes and the policy
# templates' README point to it (host.diagnose.INSTALLED_GUIDE).
DEPLOYMENT_GUIDE = ROOT / "docs" / "DEPLOYMENT.md"


def _deb_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", type=Path, default=None, help="output folder (default dist/)")


def elf_glibc_versions(path: Path) -> set[tuple[int, ...]]:
    """The GLIBC_x.y symbol versions an ELF file needs, read from its version-needed section
    (what `readelf -V` shows); empty for a file that is not ELF. A small reader rather than
    binutils, which the build does not otherwise need."""
    with open(path, "rb") as f:
        if f.read(4) != b"\x7fELF":
            return set()
        data = b"\x7fELF" + f.read()
    wide, order = data[4] == 2, "<" if data[5] == 1 else ">"
    try:
        if wide:
            (shoff,) = struct.unpack_from(order + "Q", data, 0x28)
            shentsize, shnum = struct.unpack_from(order + "HH", data, 0x3A)
            layout = order + "IIQQQQI"
        else:
            (shoff,) = struct.unpack_from(order + "I", data, 0x20)
            shentsize, shnum = struct.unpack_from(order + "HH", data, 0x2E)
            layout = order + "IIIIIII"
        sections = []  # (type, offset, link) of each section header
        for i in range(shnum):
            _, kind, _, _, offset, _, link = struct.unpack_from(layout, data, shoff + i * shentsize)
            sections.append((kind, offset, link))
        found: set[tuple[int, ...]] = set()
        for kind, offset, link in sections:
            if kind != SHT_GNU_VERNEED:
                continue
            strings = sections[link][1]
            need = offset
            while True:  # Elf_Verneed: version, count, file, aux, next (same in 32 and 64 bits)
                _, count, _, aux, nxt = struct.unpack_from(order + "HHIII", data, need)
                entry = need + aux
                for _ in range(count):  # Elf_Vernaux: hash, flags, other, name, next
                    _, _, _, name_at, entry_next = struct.unpack_from(order + "IHHII", data, entry)
                    start = strings + name_at
                    name = data[start:data.index(b"\0", start)].decode("ascii", "replace")
                    if name.startswith("GLIBC_") and name[6:].replace(".", "").isdigit():
                        found.add(tuple(int(x) for x in name[6:].split(".")))
                    entry += entry_next
                if not nxt:
                    break
                need += nxt
        return found
    except (struct.error, ValueError, IndexError) as exc:
        raise SystemExit(f"{path}: unreadable ELF file ({exc})") from exc


def glibc_needed(folder: Path) -> str | None:
    """The highest GLIBC_x.y any ELF file under `folder` needs, as "x.y" (None: no ELF file)."""
    versions = set()
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            versions |= elf_glibc_versions(path)
    return ".".join(map(str, max(versions))) if versions else None


def deb_control(version: str, arch: str, installed_kb: int, glibc: str | None = None) -> str:
    # libc6: the frozen host carries its libpython and libraries, built against the build
    # machine's glibc; an older glibc would fail at start with "GLIBC_x.y not found".
    depends = ([f"libc6 (>= {glibc})"] if glibc else []) + ["pcscd", "libpcsclite1"]
    return (f"Package: {DEB_PACKAGE}\nVersion: {version}\nArchitecture: {arch}\n"
            "Maintainer: CPS Bridge <cpsbridge@viatrajectoire.fr>\n"
            f"Depends: {', '.join(depends)}\nRecommends: opensc-pkcs11\n"
            f"Section: utils\nPriority: optional\nInstalled-Size: {installed_kb}\n"
            "Description: CPS Bridge - connexion par carte CPS a ViaTrajectoire\n"
            " Module natif des extensions CPS Bridge pour Chrome, Chromium, Edge, Brave et\n"
            " Firefox : lit la carte CPS (PC/SC, PKCS#11) et signe le defi de connexion.\n"
            " Outils : cpsbridge-host diagnose, cpsbridge-host install.\n")


# What the frozen host carries besides CPS Bridge, for /usr/share/doc/cpsbridge/copyright:
# (where in dist/host, glob patterns, or None for the modules of the executable's archive; name;
# copyright holders; licence). A part is listed when its files are there.
BUNDLED = [
    ("_internal/libpython3*", "Python", "Python Software Foundation", "PSF-2.0"),
    (None, "PyInstaller bootloader", "PyInstaller Development Team",
     "GPL-2+ with PyInstaller bootloader exception"),
    (None, "requests", "Kenneth Reitz and others", "Apache-2.0"),
    (None, "urllib3", "Andrey Petrov and others", "MIT"),
    (None, "idna", "Kim Davies and others", "BSD-3-clause"),
    ("_internal/smartcard", "pyscard", "Jean-Daniel Aussel, Ludovic Rousseau and others",
     "LGPL-2.1+"),
    ("_internal/pkcs11", "python-pkcs11", "Danielle Madeley and others", "MIT"),
    ("_internal/charset_normalizer", "charset-normalizer", "Ahmed Tahri", "MIT"),
    ("_internal/certifi", "certifi", "Kenneth Reitz (Mozilla CA list)", "MPL-2.0"),
    ("_internal/libssl.so* _internal/libcrypto.so*", "OpenSSL", "The OpenSSL Project Authors",
     "Apache-2.0"),
    ("_internal/libffi.so*", "libffi", "Anthony Green, Red Hat and others", "MIT"),
    ("_internal/libz.so*", "zlib", "Jean-loup Gailly and Mark Adler", "Zlib"),
    ("_internal/libbz2.so*", "bzip2", "Julian R Seward", "bzip2-1.0.6"),
    ("_internal/liblzma.so*", "xz (liblzma)", "Lasse Collin and others", "public-domain"),
]


def deb_copyright(host_dir: Path) -> str:
    """/usr/share/doc/cpsbridge/copyright (machine-readable format 1.0): CPS Bridge, then
    the third-party parts the frozen host carries."""
    out = ["Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/",
           "Upstream-Name: CPS Bridge",
           "Upstream-Contact: CPS Bridge <cpsbridge@viatrajectoire.fr>",
           "Comment: Module natif CPS Bridge pour ViaTrajectoire. Le module figé",
           " (/opt/cpsbridge) embarque les composants tiers listés ci-dessous ; les",
           " licences courantes sont dans /usr/share/common-licenses/.",
           "",
           "Files: *",
           "Copyright: ViaTrajectoire",
           "License: LicenseRef-ViaTrajectoire",
           " Conditions d'utilisation fixées par ViaTrajectoire, éditeur de CPS Bridge.",
           ""]
    in_exe = [b for b in BUNDLED if b[0] is None]
    out += [f"Files: /opt/{DEB_PACKAGE}/cpsbridge-host",
            "Copyright: " + "\n ".join(holder for _, _, holder, _ in in_exe),
            "License: " + " and ".join(licence for _, _, _, licence in in_exe),
            " Programme de démarrage PyInstaller ; son archive contient le code de CPS Bridge",
            " et " + ", ".join(name for _, name, _, _ in in_exe[1:]) + ".", ""]
    for pattern, name, holder, licence in BUNDLED:
        hits = [h for g in (pattern or "").split() for h in sorted(host_dir.glob(g))]
        if hits:
            where = " ".join(f"/opt/{DEB_PACKAGE}/" + h.relative_to(host_dir).as_posix()
                             + ("/*" if h.is_dir() else "") for h in hits)
            out += [f"Files: {where}", f"Copyright: {holder}", f"License: {licence}",
                    f" {name}.", ""]
    return "\n".join(out)


@command("deb", help="build dist/cpsbridge_<version>_<arch>.deb (needs dpkg-deb)",
         configure=_deb_options, in_all=True)
def build_deb(args: argparse.Namespace) -> None:
    import subprocess

    from host import __version__
    from host.manifests import INSTALLED_HOST
    from host.registration import deb_file_name
    from host.registration import main as registration

    if not shutil.which("dpkg-deb"):
        raise SystemExit("dpkg-deb is missing (Debian package dpkg-dev; ./run setup installs it)")
    build_host(argparse.Namespace(if_stale=True))
    stage = DEB_STAGE
    if stage.exists():
        shutil.rmtree(stage)
    host_dir = stage / INSTALLED_HOST["linux"].lstrip("/").rsplit("/", 1)[0]
    shutil.copytree(HOST_DIST, host_dir, symlinks=True)
    (stage / "usr" / "bin").mkdir(parents=True)
    os.symlink(INSTALLED_HOST["linux"], stage / "usr" / "bin" / "cpsbridge-host")
    # The system manifests, laid out by the same code as `cpsbridge-host install --system`
    # (its lines name the files under the stage, not this machine's /etc).
    status = registration(["install", "--system", "--root", str(stage),
                           "--host-path", INSTALLED_HOST["linux"]])
    if status != 0:
        raise SystemExit("staging the system manifests failed")
    shutil.copytree(POLICIES, stage / "usr" / "share" / DEB_PACKAGE / "policies")
    doc = stage / "usr" / "share" / "doc" / DEB_PACKAGE
    doc.mkdir(parents=True)
    (doc / "copyright").write_text(deb_copyright(host_dir), "utf-8")
    shutil.copyfile(DEPLOYMENT_GUIDE, doc / "DEPLOYMENT.md")
    for path in stage.rglob("*"):
        if not path.is_symlink():
            path.chmod(0o755 if path.is_dir() or os.access(path, os.X_OK) else 0o644)
    size_kb = sum(p.stat().st_size for p in stage.rglob("*") if p.is_file() and not p.is_symlink()) // 1024
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    (stage / "DEBIAN").mkdir()
    (stage / "DEBIAN" / "control").write_text(
        deb_control(__version__, arch, size_kb, glibc_needed(host_dir)), "utf-8")
    # Every file under /etc is a conffile (Debian policy 10.7.2): an administrator's edit of a
    # manifest survives upgrades; `apt purge` removes them, `apt remove` keeps them.
    conffiles = sorted("/" + p.relative_to(stage).as_posix() for p in (stage / "etc").rglob("*")
                       if p.is_file() and not p.is_symlink())
    (stage / "DEBIAN" / "conffiles").write_text("".join(f"{c}\n" for c in conffiles), "utf-8")
    out = (args.out or DIST) / deb_file_name(arch, __version__)
    out.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, SOURCE_DATE_EPOCH="315532800")
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", str(stage), str(out)],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    say(f"Debian package: {out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}")


if __name__ == "__main__":
    os.chdir(ROOT)
    sys.exit(main())
