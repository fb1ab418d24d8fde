"""Host configuration (§8): defaults, then the system file, then the user file, then the
environment; later wins.

Files are JSON objects with the keys of `Settings`. They are validated here by hand, not
with pydantic, because the host reads its configuration on every start and `status` must
answer in a few tens of milliseconds; the checks are the same a model would make, and
each message names the file and the key.
"""

from __future__ import annotations

import os
import sys

from host.json_codec import loads
from host.origins import OriginError, normalize_written_origin

# Paths are strings joined with os.path: pathlib and dataclasses would add ~10 ms to
# every start of the host.
_join = os.path.join

PRODUCTION_ORIGINS = ["https://trajectoire.sante-ra.fr"]
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
# The spellings Python's logging also takes, so that an administrator's habit is not an error.
_LEVEL_ALIASES = {"WARN": "WARNING", "FATAL": "CRITICAL"}


def default_modules(platform: str = sys.platform) -> list[str]:
    """Cryptolib CPS first (per OS), then OpenSC's module."""
    if platform.startswith("win"):
        system32 = os.environ.get("SystemRoot", "C:\\Windows") + "\\System32"
        return [system32 + "\\cps3_pkcs11_w64.dll", system32 + "\\opensc-pkcs11.dll",
                "C:\\Program Files\\OpenSC Project\\OpenSC\\pkcs11\\opensc-pkcs11.dll"]
    if platform == "darwin":
        return ["/usr/local/lib/libcps3_pkcs11_osx.dylib",
                "/Library/OpenSC/lib/opensc-pkcs11.so", "/usr/local/lib/opensc-pkcs11.so"]
    return ["/usr/lib64/libcps3_pkcs11_lux.so", "/opt/santesocial/CPS/lib/libcps3_pkcs11_lux.so",
            "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so", "/usr/lib/opensc-pkcs11.so",
            "/usr/lib64/opensc-pkcs11.so"]


def _home() -> str:
    return os.path.expanduser("~")


def windows_install_folder(env) -> str:
    """Where the MSI installs the host, and the system-wide files beside it: ProgramW6432 is
    the 64-bit Program Files, even seen from a 32-bit Python."""
    import ntpath  # only asked for Windows paths

    base = env.get("ProgramW6432") or env.get("ProgramFiles") or "C:\\Program Files"
    return ntpath.normpath(ntpath.join(base, "CPS Bridge"))


def system_config_path(platform: str = sys.platform) -> str:
    if "CPSBRIDGE_SYSTEM_CONFIG" in os.environ:
        return os.environ["CPSBRIDGE_SYSTEM_CONFIG"]
    if platform.startswith("win"):
        # Beside the host in the install folder, which only administrators may write to: in
        # %ProgramData% any user may create files, hence choose pkcs11Modules for everyone.
        return windows_install_folder(os.environ) + "\\config.json"
    if platform == "darwin":
        return "/Library/Application Support/CPS Bridge/config.json"
    return "/etc/cpsbridge/config.json"


def user_config_path(platform: str = sys.platform) -> str:
    if "CPSBRIDGE_USER_CONFIG" in os.environ:
        return os.environ["CPSBRIDGE_USER_CONFIG"]
    if platform.startswith("win"):
        return _join(os.environ.get("APPDATA") or _join(_home(), "AppData", "Roaming"),
                     "CPS Bridge", "config.json")
    if platform == "darwin":
        return _join(_home(), "Library", "Application Support", "CPS Bridge", "config.json")
    return _join(os.environ.get("XDG_CONFIG_HOME") or _join(_home(), ".config"), "cpsbridge", "config.json")


def default_log_dir(platform: str = sys.platform) -> str:
    if platform.startswith("win"):
        return _join(os.environ.get("LOCALAPPDATA") or _join(_home(), "AppData", "Local"),
                     "CPS Bridge", "Logs")
    if platform == "darwin":
        return _join(_home(), "Library", "Logs", "CPS Bridge")
    return _join(os.environ.get("XDG_STATE_HOME") or _join(_home(), ".local", "state"), "cpsbridge")


class Settings:
    """The effective configuration; `sources` says where it came from (for diagnose)."""

    __slots__ = ("pkcs11Modules", "allowedOrigins", "logLevel", "logFile", "cardTypePolicies", "sources")

    def __init__(self, pkcs11Modules: list[str] | None = None, allowedOrigins: list[str] | None = None,
                 logLevel: str = "INFO", logFile: str | None = None,
                 cardTypePolicies: dict[str, str] | None = None, sources: tuple[str, ...] = ("defaults",)):
        self.pkcs11Modules = list(pkcs11Modules) if pkcs11Modules is not None else default_modules()
        self.allowedOrigins = list(allowedOrigins) if allowedOrigins is not None else list(PRODUCTION_ORIGINS)
        self.logLevel = logLevel
        self.logFile = logFile  # None: host.log in the per-user log folder
        self.cardTypePolicies = dict(cardTypePolicies or {})  # policy OID -> card type
        self.sources = sources

    def replace(self, **changes) -> "Settings":
        values = {name: getattr(self, name) for name in self.__slots__}
        values.update(changes)
        return Settings(**values)

    @property
    def log_path(self) -> str:
        return self.logFile or _join(default_log_dir(), "host.log")

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__slots__}


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
            out.append(normalize_written_origin(v))
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
            level = value.strip().upper() if isinstance(value, str) else None
            level = _LEVEL_ALIASES.get(level, level)
            if level not in LOG_LEVELS:
                raise ConfigError(source, key, f"une valeur parmi {', '.join(LOG_LEVELS)} est attendue")
            changes[key] = level
        elif key == "logFile":
            if value is not None and (not isinstance(value, str) or not value):
                raise ConfigError(source, key, "un chemin de fichier est attendu")
            changes[key] = value
        elif key == "cardTypePolicies":
            from host.holder import CARD_TYPES, is_card_type_table, is_oid

            if not is_card_type_table(value):
                # The same check as the verifier's; then which key, when one is the culprit
                # (the guide's « <OID …> », copied as it is).
                bad = [k for k in value if not is_oid(k)] if isinstance(value, dict) else []
                if bad:
                    raise ConfigError(source, key, f"{bad[0]!r} n'est pas un OID de politique "
                                      "de certification (des nombres séparés par des points, "
                                      "par exemple 1.2.250.1.71.1.2.1)")
                raise ConfigError(source, key, "un objet OID -> " + "/".join(CARD_TYPES) + " est attendu")
            changes[key] = dict(value)
        else:
            raise ConfigError(source, key, "clé inconnue")
    return settings.replace(**changes, sources=settings.sources + (source,))


def _read_file(path: str) -> object | None:
    try:
        with open(path, encoding="utf-8") as f:
            text = f.read()
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(path, None, f"lecture impossible ({exc.__class__.__name__})") from None
    try:
        return loads(text)
    except ValueError as exc:
        raise ConfigError(path, None, f"JSON invalide ({exc})") from None


def load(environ: dict[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    settings = Settings()
    for path in (system_config_path(), user_config_path()):
        data = _read_file(path)
        if data is not None:
            settings = _apply(settings, data, path)
    from_env: dict = {}  # variable -> (key, value)
    if env.get("CPSBRIDGE_PKCS11_MODULE"):
        from_env["CPSBRIDGE_PKCS11_MODULE"] = ("pkcs11Modules", [env["CPSBRIDGE_PKCS11_MODULE"]])
    if "CPSBRIDGE_ALLOWED_ORIGINS" in env:
        from_env["CPSBRIDGE_ALLOWED_ORIGINS"] = ("allowedOrigins", [
            o.strip() for o in env["CPSBRIDGE_ALLOWED_ORIGINS"].split(",") if o.strip()])
    if env.get("CPSBRIDGE_LOG_LEVEL"):
        from_env["CPSBRIDGE_LOG_LEVEL"] = ("logLevel", env["CPSBRIDGE_LOG_LEVEL"])
    for variable, (key, value) in from_env.items():
        # Named by the variable IT set, not by the key it stands for.
        source = f"variable d'environnement {variable}"
        try:
            settings = _apply(settings, {key: value}, source)
        except ConfigError as exc:
            raise ConfigError(source, None, exc.problem) from None
    return settings
