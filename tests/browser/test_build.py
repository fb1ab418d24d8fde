"""build.py's extension steps: one source, each browser's manifest, development origins only
in a development build, reproducible release archives, generated errors up to date."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def build(*args: str) -> None:
    r = subprocess.run([sys.executable, str(REPO / "build.py"), *args], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


def archive(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as z:
        return {n: z.read(n) for n in z.namelist()}


def test_release_archives_are_reproducible(tmp_path):
    build("extension", "--out", str(tmp_path / "a"))
    build("extension", "--out", str(tmp_path / "b"))
    for name in ("cpsbridge-chromium.zip", "cpsbridge-chromium-store.zip", "cpsbridge-firefox.xpi"):
        a, b = (tmp_path / d / name for d in ("a", "b"))
        assert a.read_bytes() == b.read_bytes(), f"{name} differs between two builds"


def test_release_manifests_and_contents(tmp_path):
    build("extension", "--out", str(tmp_path))
    ids = json.loads((REPO / "extension" / "ids.json").read_text())
    chromium = archive(tmp_path / "cpsbridge-chromium.zip")
    firefox = archive(tmp_path / "cpsbridge-firefox.xpi")
    cm, fm = json.loads(chromium["manifest.json"]), json.loads(firefox["manifest.json"])
    assert cm["manifest_version"] == fm["manifest_version"] == 3
    assert cm["background"] == {"service_worker": "src/background.js", "type": "module"}
    assert cm["key"] == ids["chromiumKey"]
    assert cm["storage"] == {"managed_schema": "managed_schema.json"}
    assert fm["background"] == {"scripts": ["src/background.js"], "type": "module"}
    assert fm["browser_specific_settings"]["gecko"]["id"] == "cpsbridge@viatrajectoire.fr"
    # addons.mozilla.org takes no new version without it: the extension sends nothing away.
    assert fm["browser_specific_settings"]["gecko"]["data_collection_permissions"] == {"required": ["none"]}
    assert "key" not in fm and "service_worker" not in fm["background"]
    assert cm["default_locale"] == "fr" and "nativeMessaging" in cm["permissions"]
    # The key fixes the Chromium id that the host manifests allow.
    digest = hashlib.sha256(base64.b64decode(cm["key"])).hexdigest()[:32]
    assert "".join(chr(ord("a") + int(c, 16)) for c in digest) == ids["chromium"]
    for files in (chromium, firefox):
        info = files["src/build-info.js"].decode()
        assert "dev: false" in info and "localhost" not in info
        assert not any(n.startswith(("test/", "node_modules/", "page/")) for n in files)
        assert "package.json" not in files and "manifest.base.json" not in files
        for needed in ("_locales/fr/messages.json", "_locales/en/messages.json",
                       "dialog/dialog.html", "content/content.js", "src/errors.js"):
            assert needed in files
        # no development origin anywhere in a release build
        assert not any(b"localhost" in v or b"127.0.0.1" in v for v in files.values())


def test_the_store_archive_is_the_release_without_the_key(tmp_path):
    """The Chrome Web Store and Edge Add-ons refuse a manifest with `key`; they give their
    own id. Nothing else may differ from what was tested as the release."""
    build("extension", "--out", str(tmp_path))
    release = archive(tmp_path / "cpsbridge-chromium.zip")
    store = archive(tmp_path / "cpsbridge-chromium-store.zip")
    manifest, with_key = (json.loads(a["manifest.json"]) for a in (store, release))
    assert "key" not in manifest
    assert with_key.pop("key") and with_key == manifest
    assert {n: v for n, v in release.items() if n != "manifest.json"} == \
        {n: v for n, v in store.items() if n != "manifest.json"}


def test_development_build_allows_localhost(tmp_path):
    build("extension", "--dev", "--out", str(tmp_path))
    for family in ("chromium", "firefox"):
        info = (tmp_path / family / "src" / "build-info.js").read_text()
        assert "dev: true" in info
        assert '"https://localhost", "https://127.0.0.1"' in info
        assert (tmp_path / family / "manifest.json").exists()


def test_generated_errors_are_up_to_date():
    sys.path.insert(0, str(REPO))
    try:
        import build as build_module
    finally:
        sys.path.remove(str(REPO))
    assert build_module.errors_up_to_date() == [], "run `python build.py errors`"


def test_every_icon_the_manifests_name_is_a_png_of_its_size(tmp_path):
    """A browser refuses to load an extension whose manifest names an icon it cannot read."""
    import struct
    import zlib

    build("extension", "--out", str(tmp_path))
    for name in ("cpsbridge-chromium.zip", "cpsbridge-firefox.xpi"):
        files = archive(tmp_path / name)
        manifest = json.loads(files["manifest.json"])
        named = {**manifest["icons"], **manifest["action"]["default_icon"]}
        assert sorted(manifest["icons"], key=int) == ["16", "32", "48", "128"]
        for size, path in named.items():
            png = files[path]
            assert png[:8] == b"\x89PNG\r\n\x1a\n", path
            width, height, depth, colour = struct.unpack(">IIBB", png[16:26])
            assert (width, height, depth, colour) == (int(size), int(size), 8, 6), path
            idat_length = struct.unpack(">I", png[33:37])[0]
            assert png[37:41] == b"IDAT"
            pixels = zlib.decompress(png[41:41 + idat_length])
            assert len(pixels) == int(size) * (1 + 4 * int(size)), path
            n = int(size)
            rows = [pixels[r * (1 + 4 * n):(r + 1) * (1 + 4 * n)] for r in range(n)]
            assert all(row[0] == 0 for row in rows)  # no filter: each row as drawn
            opaque = sum(alpha == 255 for row in rows for alpha in row[4::4])
            assert 0.4 < opaque / (n * n) < 0.8, path  # the card, on a transparent ground
