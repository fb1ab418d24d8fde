"""Host configuration (§8): defaults, then the system file, then the user file, then the
environment; later wins.

Files are JSON objects with the keys of `Settings`. They are validated here by hand, not
with pydantic, because the host reads its configuration on every start and `status` must
answer in a few tens of milliseconds; the checks are the same a model would make, and
each message names the file and the key.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path

from host.origins import OriginError, normalize_origin

PRODUCTION_ORIGINS = ["https://trajectoire.sante-ra.fr"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def default_modules(platform: str = sys.platform) -> list[str]:
    """Cryptolib CPS first (per OS), then OpenSC's module."""
    if platform.startswith("win"):
        system32 = Path(os.environ.get("SystemRoot", r"C:\Windows")) / "System32"
        return [str(system32 / "cps3_pkcs11_w64.dll"), str(system32 / "opensc-pkcs11.dll"),
                r"C:\Program Files\OpenSC Project\OpenSC\pkcs11\opensc-pkcs11.dll"]
    if platform == "darwin":
        return ["/usr/local/lib/libcps3_pkcs11_osx.dylib",
                "/Library/OpenSC/lib/opensc-pkcs11.so", "/usr/local/lib/opensc-pkcs11.so"]
    return ["/usr/lib64/libcps3_pkcs11_lux.so", "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so",
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so"]


def system_config_path(platform: str = sys.platform) -> Path:
    if "CPSBRIDGE_SYSTEM_CONFIG" in os.environ:
        return Path(os.environ["CPSBRIDGE_SYSTEM_CONFIG"])
    if platform.startswith("win"):
        return Path(os.environ.get("ProgramData", r"C:\ProgramData")) / "CPS Bridge" / "config.json"
    if platform == "darwin":
        return Path("/Library/Application Support/CPS Bridge/config.json")
    return Path("/etc/cpsbridge/config.json")


def user_config_path(platform: str = sys.platform) -> Path:
    if "CPSBRIDGE_USER_CONFIG" in os.environ:
        return Path(os.environ["CPSBRIDGE_USER_CONFIG"])
    home = Path.home()
    if platform.startswith("win"):
        return Path(os.environ.get("APPDATA", home / "AppData" / "Roaming")) / "CPS Bridge" / "config.json"
    if platform == "darwin":
        return home / "Library" / "Application Support" / "CPS Bridge" / "config.json"
    return Path(os.environ.get("XDG_CONFIG_HOME") or home / ".config") / "cpsbridge" / "config.json"


def default_log_dir(platform: str = sys.platform) -> Path:
    home = Path.home()
    if platform.startswith("win"):
        return Path(os.environ.get("LOCALAPPDATA", home / "AppData" / "Local")) / "CPS Bridge" / "Logs"
    if platform == "darwin":
        return home / "Library" / "Logs" / "CPS Bridge"
    return Path(os.environ.get("XDG_STATE_HOME") or home / ".local" / "state") / "cpsbridge"


@dataclass(frozen=True)
class Settings:
    pkcs11Modules: list[str] = field(default_factory=default_modules)
    allowedOrigins: list[str] = field(default_factory=lambda: list(PRODUCTION_ORIGINS))
    logLevel: str = "INFO"
    logFile: str | None = None  # None: host.log in the per-user log folder
    cardTypePolicies: dict[str, str] = field(default_factory=dict)  # policy OID -> card type
    sources: tuple[str, ...] = ("defaults",)

    @property
    def log_path(self) -> Path:
        return Path(self.logFile) if self.logFile else default_log_dir() / "host.log"


class ConfigError(Exception):
    """A configuration that cannot be used; the message names the file and the key."""

    def __init__(self, source: str, key: str | None, problem: str):
        where = f"{source}, clé « {key} »" if key else source
        super().__init__(f"Configuration invalide ({where}) : {problem}")
        self.source, self.key, self.problem = source, key, problem


def _string_list(value, source: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise ConfigError(source, key, "une liste de chaînes non vides est attendue")
    return list(value)


def _origins(values: list[str], source: str, key: str) -> list[str]:
    out = []
    for v in values:
        try:
            out.append(normalize_origin(v))
        except OriginError as exc:
            raise ConfigError(source, key, f"origine refusée {v!r} : {exc}") from None
    return out


def _apply(settings: Settings, data: object, source: str) -> Settings:
    if not isinstance(data, dict):
        raise ConfigError(source, None, "un objet JSON est attendu")
    changes: dict = {}
    for key, value in data.items():
        if key == "pkcs11Modules":
            changes[key] = _string_list(value, source, key)
        elif key == "allowedOrigins":
            changes[key] = _origins(_string_list(value, source, key), source, key)
        elif key == "logLevel":
            if not isinstance(value, str) or value.upper() not in LOG_LEVELS:
                raise ConfigError(source, key, f"une valeur parmi {', '.join(LOG_LEVELS)} est attendue")
            changes[key] = value.upper()
        elif key == "logFile":
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(source, key, "un chemin de fichier est attendu")
            changes[key] = value
        elif key == "cardTypePolicies":
            from host.identity import CARD_TYPES

            if not isinstance(value, dict) or not all(
                    isinstance(k, str) and v in CARD_TYPES for k, v in value.items()):
                raise ConfigError(source, key, "un objet OID -> " + "/".join(CARD_TYPES) + " est attendu")
            changes[key] = dict(value)
        else:
            raise ConfigError(source, key, "clé inconnue")
    return replace(settings, **changes, sources=settings.sources + (source,))


def _read_file(path: Path) -> object | None:
    try:
        text = path.read_text("utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(str(path), None, f"lecture impossible ({exc.__class__.__name__})") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(str(path), None, f"JSON invalide ({exc})") from None


def load(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    settings = Settings()
    for path in (system_config_path(), user_config_path()):
        data = _read_file(path)
        if data is not None:
            settings = _apply(settings, data, str(path))
    from_env: dict = {}
    if env.get("CPSBRIDGE_PKCS11_MODULE"):
        from_env["pkcs11Modules"] = [env["CPSBRIDGE_PKCS11_MODULE"]]
    if "CPSBRIDGE_ALLOWED_ORIGINS" in env:
        from_env["allowedOrigins"] = [o.strip() for o in env["CPSBRIDGE_ALLOWED_ORIGINS"].split(",")
                                      if o.strip()]
    if env.get("CPSBRIDGE_LOG_LEVEL"):
        from_env["logLevel"] = env["CPSBRIDGE_LOG_LEVEL"]
    if from_env:
        settings = _apply(settings, from_env, "variables d'environnement CPSBRIDGE_*")
    return settings
