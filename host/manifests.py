"""Host manifests, rendered from one template per browser family (manifests/templates)."""

from __future__ import annotations

import json
import sys
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import Literal

Family = Literal["chromium", "firefox"]

# Where the packages (.deb, MSI, macOS pkg) install the frozen host: the manifests they
# ship name these paths.
INSTALLED_HOST = {
    "linux": "/opt/cpsbridge/cpsbridge-host",
    "windows": "C:\\Program Files\\CPS Bridge\\cpsbridge-host.exe",
    "macos": "/Library/Application Support/CPS Bridge/cpsbridge-host",
}


def _resource_root() -> Path:
    # Frozen (PyInstaller) builds carry the templates and ids beside the executable.
    base = getattr(sys, "_MEIPASS", None)
    return Path(base) if base else Path(__file__).resolve().parents[1]


def extension_ids() -> dict:
    return json.loads((_resource_root() / "extension" / "ids.json").read_text("utf-8"))


def render(family: Family, host_path: str | Path, extra_ids: list[str] | None = None) -> dict:
    """The manifest a browser of `family` needs to start the host at `host_path`."""
    if not (PurePosixPath(host_path).is_absolute() or PureWindowsPath(host_path).is_absolute()):
        # Chrome and Firefox on Linux and macOS refuse a relative `path` (the host never starts).
        raise ValueError(f"host path must be absolute: {host_path}")
    ids = extension_ids()
    text = (_resource_root() / "manifests" / "templates" / f"{family}.json").read_text("utf-8")
    if family == "chromium":
        origins = sorted({f"chrome-extension://{i}/" for i in [ids["chromium"], ids["edge"],
                                                               *(extra_ids or [])]})
        text = text.replace("{{ALLOWED_ORIGINS}}", json.dumps(origins))
    else:
        text = text.replace("{{ALLOWED_EXTENSIONS}}",
                            json.dumps(sorted({ids["firefox"], *(extra_ids or [])})))
    text = text.replace("{{HOST_PATH}}", json.dumps(str(host_path))[1:-1])
    return json.loads(text)
