"""`cpsbridge-host diagnose [--json] [--hors-ligne] [--root DIR]`: what stands between this
workstation and a card login, for IT and support, in French.

Each check gives a status (ok, info, avertissement, erreur), one sentence, and when
something is wrong the fix in one sentence. The exit status is 1 when at least one problem
blocks a login (an `erreur`), else 0. The checks follow the path of a login: configuration,
PC/SC and the card, the PKCS#11 module and the certificates, each browser's manifest and
policies, whether the extension is installed and enabled in the user's profiles of each
browser that has our manifest (`extension.<browser>`, read by host.browser_profiles), the
allowed origins and the site, and where the log is.
"""

from __future__ import annotations

import json
import ntpath
import os
import plistlib
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path, PurePosixPath
from typing import Any

from host import DEB_PACKAGE, HOST_NAME, __version__, config
from host.browser_profiles import ABSENT, DISABLED, ENABLED, read_profiles, user_name
from host.command_line import FrenchArgumentParser
from host.manifests import chromium_ids, extension_ids
from host.origins import OriginError, normalize_written_origin
from host.registration import (BROWSERS, FAMILY, LABEL, WINDOWS_POLICY_KEYS, Context,
                               deb_architecture, deb_file_name, hive_and_subkey,
                               manifest_dirs, package_files, packaging, sandbox_note,
                               sandbox_refusal, windows_key)

EXPIRY_WARNING = timedelta(days=30)
STATUS_LABEL = {"ok": "OK", "info": "INFO", "warning": "ATTENTION", "error": "ERREUR"}

# Managed policy folders (Linux) and preference domains (macOS) of Chromium browsers.
CHROMIUM_POLICY_DIRS = {"chrome": "/etc/opt/chrome/policies/managed",
                        "chromium": "/etc/chromium/policies/managed",
                        "edge": "/etc/opt/edge/policies/managed",
                        "brave": "/etc/brave/policies/managed"}
# Chrome's list policies renamed in Chrome 86, by their old names (still read when the new
# name is not set: components/policy's deprecated-policy mapping).
LEGACY_POLICY_NAMES = {"NativeMessagingBlocklist": "NativeMessagingBlacklist",
                       "NativeMessagingAllowlist": "NativeMessagingWhitelist",
                       "ExtensionInstallBlocklist": "ExtensionInstallBlacklist",
                       "ExtensionInstallAllowlist": "ExtensionInstallWhitelist"}
MACOS_DOMAINS = {"chrome": "com.google.Chrome", "chromium": "org.chromium.Chromium",
                 "edge": "com.microsoft.Edge", "brave": "com.brave.Browser"}
# Where IT finds the policy templates: the repository's folder, and where the .deb puts it.
POLICY_TEMPLATES = ("du dossier manifests/policies (que le paquet .deb installe dans "
                    "/usr/share/cpsbridge/policies)")
# ExtensionSettings installation modes that install the extension at the browser's start.
INSTALLED_MODES = ("force_installed", "normal_installed")
# Where the user enables an installed extension, and where to get it.
EXTENSIONS_PAGE = {"chrome": "chrome://extensions", "chromium": "chrome://extensions",
                   "edge": "edge://extensions", "brave": "brave://extensions",
                   "firefox": "about:addons"}
STORE = {"chrome": "le Chrome Web Store", "chromium": "le Chrome Web Store",
         "edge": "Edge Add-ons", "brave": "le Chrome Web Store", "firefox": "addons.mozilla.org"}
# The entry of extension/ids.json that holds the id the store of STORE gave (null: the
# extension is not published there yet). Firefox keeps one id everywhere.
STORE_ID = {"chrome": "chromeWebStore", "chromium": "chromeWebStore", "edge": "edgeAddons",
            "brave": "chromeWebStore", "firefox": "firefox"}
# The deployment guide, as the .deb installs it (build.py deb), and in the sources.
INSTALLED_GUIDE = "/usr/share/doc/cpsbridge/DEPLOYMENT.md"
SOURCE_GUIDE = "docs/DEPLOYMENT.md"
# Where the guide describes the system configuration file, per platform (§ 9, point 2, the
# checklist, names the file of each system).
CONFIG_SECTIONS = {"win32": "§ 3 (point 4) et § 9 (point 2)", "darwin": "§ 9 (point 2)",
                   "linux": "§ 4 (point 2) et § 9 (point 2)"}
FIREFOX_POLICY_KEY = WINDOWS_POLICY_KEYS["firefox"]  # GPO, and the MSI's Policies feature
# Where each browser looks for the key naming a host manifest on Windows, in its order:
# (system, registry view). Chromium (native_process_launcher_win.cc): HKCU then HKLM, each in
# the 32-bit view (WOW6432Node) then the 64-bit one. Firefox (NativeManifests.sys.mjs): HKCU
# (64-bit), then HKLM 32-bit, then HKLM 64-bit.
WINDOWS_LOOKUP = {"chromium": [(False, 32), (False, 64), (True, 32), (True, 64)],
                  "firefox": [(False, 64), (True, 32), (True, 64)]}
FIREFOX_POLICY_FILES = {
    "linux": ["/etc/firefox/policies/policies.json", "/etc/firefox-esr/policies/policies.json",
              "/usr/lib/firefox-esr/distribution/policies.json",
              "/usr/lib/firefox/distribution/policies.json"],
    "darwin": ["/Applications/Firefox.app/Contents/Resources/distribution/policies.json"],
    "win32": ["C:\\Program Files\\Mozilla Firefox\\distribution\\policies.json"],
}


@dataclass
class Check:
    id: str
    status: str  # ok, info, warning, error
    message: str
    fix: str | None = None
    details: dict = field(default_factory=dict)

    @property
    def blocking(self) -> bool:
        return self.status == "error"


class Diagnosis:
    def __init__(self, ctx: Context, online: bool, registry=None):
        self.ctx = ctx
        self.online = online
        # What is read from the Windows registry: tests give another object with the same
        # two methods as WindowsRegistryReader.
        if registry is None and ctx.windows:
            registry = WindowsRegistryReader()
        self.registry = registry
        self.checks: list[Check] = []
        self.settings = config.Settings()
        self.policy_origins: dict[str, list[str]] = {}  # browser -> origins from managed storage
        self.served: list[str] = []  # browsers that have a manifest of ours: the extension runs there
        self.forced: dict[str, bool] = {}  # browser -> a policy installs the extension
        self.ids = extension_ids()

    def add(self, id: str, status: str, message: str, fix: str | None = None, **details) -> Check:
        check = Check(id, status, message, fix, details)
        self.checks.append(check)
        return check

    def _platform(self) -> str:
        return "win32" if self.ctx.windows else ("darwin" if self.ctx.platform == "darwin"
                                                 else "linux")

    def guide(self, sections: str) -> str:
        """« guide de déploiement, § 6 — where it is »: the .deb installs the guide, the MSI
        and the pkg do not."""
        where = f"{SOURCE_GUIDE} dans les sources de CPS Bridge"
        if self._platform() == "linux":
            where = f"{INSTALLED_GUIDE}, ou {where}"
        return f"guide de déploiement, {sections} — {where}"

    # -- configuration ---------------------------------------------------------------------

    def configuration(self) -> None:
        try:
            self.settings = config.load()
        except config.ConfigError as exc:
            self.add("config", "error", str(exc),
                     f"Corrigez ou supprimez le fichier {exc.source}. Clés et valeurs admises : "
                     + self.guide(CONFIG_SECTIONS[self._platform()]) + ".",
                     source=exc.source, key=exc.key)
            return
        sources = ["valeurs par défaut" if s == "defaults" else s for s in self.settings.sources]
        self.add("config", "ok", "Configuration lue : " + ", ".join(sources) + ".",
                 sources=list(self.settings.sources))
        self._former_windows_config()

    def _former_windows_config(self) -> None:
        """Earlier versions read the Windows system file from %ProgramData%, where every user
        may create files; it is no longer read: say so rather than let its settings vanish."""
        if not self.ctx.windows or "CPSBRIDGE_SYSTEM_CONFIG" in os.environ:
            return
        former = ntpath.join(self.ctx.env.get("ProgramData", "C:\\ProgramData"), "CPS Bridge",
                             "config.json")
        if os.path.isfile(former):
            now = config.system_config_path(self.ctx.platform)
            self.add("config.ancien", "warning", f"Le fichier {former} n'est plus lu : la "
                     f"configuration pour tous les utilisateurs est {now}, dans un dossier que "
                     "seuls les administrateurs peuvent modifier.",
                     f"En administrateur, reportez son contenu dans {now} puis supprimez {former}.",
                     path=former, current=now)

    # -- PC/SC and the card ------------------------------------------------------------------

    def _pcsc_fix(self) -> str:
        if self.ctx.windows:
            return ("Démarrez le service Windows « Carte à puce » (SCardSvr) : "
                    "`sc config SCardSvr start= auto` puis `sc start SCardSvr`.")
        if self.ctx.platform == "darwin":
            return "Débranchez et rebranchez le lecteur, puis redémarrez le Mac si rien ne change."
        return ("Installez et démarrez le service pcscd : `sudo apt install pcscd` puis "
                "`sudo systemctl enable --now pcscd.socket`.")

    def pcsc(self) -> None:
        from host.errors import CpsError

        try:
            from host.pcsc import Pcsc

            reader = Pcsc()
            try:
                readers = reader.readers()
            finally:
                reader.close()
        except (CpsError, ImportError) as exc:
            self.add("pcsc.service", "error", "Le service des cartes à puce (PC/SC) ne répond pas.",
                     self._pcsc_fix(), error=getattr(exc, "details", {}).get("pcsc", str(exc)))
            return
        self.add("pcsc.service", "ok", "Le service des cartes à puce (PC/SC) répond.")
        if not readers:
            self.add("pcsc.readers", "error", "Aucun lecteur de carte n'est détecté.",
                     "Branchez le lecteur de carte CPS (et installez son pilote s'il en demande un).")
            return
        self.add("pcsc.readers", "ok", f"{len(readers)} lecteur(s) : "
                 + ", ".join(r.name for r in readers) + ".",
                 readers=[r.to_status() for r in readers])
        cards = [r for r in readers if r.card_present]
        if not cards:
            self.add("pcsc.card", "error", "Aucune carte dans les lecteurs.",
                     "Insérez la carte CPS, puce vers le haut, dans le lecteur.")
            return
        cps = [r for r in cards if (r.card_type or "").startswith("CPS")]
        seen = "; ".join(f"{r.name} : {r.card_type} (ATR {r.atr.hex().upper() if r.atr else '?'})"
                         for r in cards)
        if not cps:
            self.add("pcsc.card", "error", f"Carte présente mais ce n'est pas une carte CPS : {seen}.",
                     "Retirez cette carte (carte Vitale ou autre) et insérez la carte CPS.",
                     cards=[r.to_status() for r in cards])
            return
        self.add("pcsc.card", "ok", f"Carte CPS présente : {seen}.",
                 cards=[r.to_status() for r in cards])

    # -- PKCS#11 module, tokens, certificates ----------------------------------------------------

    def pkcs11(self) -> None:
        from host.errors import CpsError
        from host.modules import first_usable
        from host.pkcs11_info import module_info

        modules = self.settings.pkcs11Modules
        path = first_usable(modules)
        if path is None:
            self.add("pkcs11.module", "error", "Aucun module PKCS#11 utilisable parmi : "
                     + ", ".join(modules) + ".",
                     "Installez la Cryptolib CPS (ANS, esante.gouv.fr), ou indiquez le chemin du "
                     "module dans pkcs11Modules du fichier de configuration.", tried=modules)
            return
        from host.pkcs11_card import Pkcs11Card

        card = Pkcs11Card(self.settings)
        try:
            certificates = card.list_certificates()
        except CpsError as err:
            if err.code == "ERR_CPS_PKCS11_UNAVAILABLE":
                self.add("pkcs11.module", "error", f"Le module {path} ne se charge pas.",
                         "Réinstallez la Cryptolib CPS (version 64 bits) ou choisissez un autre "
                         "module dans pkcs11Modules.", module=path, **err.details)
            else:
                self.add("pkcs11.tokens", "error", f"Lecture de la carte impossible ({err.code}).",
                         "Retirez et réinsérez la carte, puis relancez le diagnostic.",
                         module=path, code=err.code)
            return
        info = module_info(card.module_path or path) or {}
        self.add("pkcs11.module", "ok", f"Module PKCS#11 chargé : {card.module_path} "
                 f"({info.get('manufacturer', '?')}, {info.get('description', '?')} "
                 f"{info.get('version', '?')}, Cryptoki {info.get('cryptoki', '?')}).",
                 module=card.module_path, info=info)
        tokens = self._tokens(card.module_path)
        if not tokens:
            self.add("pkcs11.tokens", "error", "Le module ne voit aucune carte.",
                     "Insérez la carte CPS ; si elle est déjà insérée, vérifiez que la Cryptolib CPS "
                     "est celle qui correspond au lecteur et redémarrez le poste.")
            return
        self.add("pkcs11.tokens", "ok", "Carte(s) vue(s) par le module : " + ", ".join(tokens) + ".",
                 tokens=tokens)
        if not certificates:
            self.add("certificates", "error", "Aucun certificat d'authentification sur la carte.",
                     "Cette carte ne permet pas de se connecter : demandez une carte CPS valide à "
                     "l'ANS ou à votre référent.")
            return
        for cert in certificates:
            self._certificate(cert)
        if not self.settings.cardTypePolicies:
            self.add("cardtypes", "info", "Types de carte non configurés : les cartes apparaissent "
                     "comme « UNKNOWN » (la connexion n'en dépend pas).",
                     "Facultatif : ajoutez cardTypePolicies (OID des gabarits de certificats de "
                     "l'ANS → CPS, CPE…) au fichier de configuration système.")

    def _tokens(self, module_path: str | None) -> list[str]:
        try:
            import pkcs11
            from pkcs11 import TokenFlag

            lib = pkcs11.lib(module_path)
            labels = []
            for slot in lib.get_slots(token_present=True):
                try:
                    token = slot.get_token()
                except Exception:
                    continue
                if token.flags & TokenFlag.TOKEN_INITIALIZED:
                    labels.append(token.label.strip())
            return labels
        except Exception:
            return []

    def _certificate(self, cert) -> None:
        holder = cert.holder
        who = " ".join(x for x in (holder.get("title"), holder.get("givenName"),
                                   holder.get("familyName")) if x) or holder.get("idNat", "?")
        number = holder.get("rpps") or holder.get("adeli") or holder.get("idNat", "")
        ident = f"{who} ({holder.get('idType', '?')} {number}, carte {holder.get('cardType', '?')})"
        details = {"certificateId": cert.certificate_id, "holder": holder, "notAfter": cert.not_after,
                   "token": cert.token_label, "pin": cert.pin.status}
        not_after = datetime.fromisoformat(cert.not_after.replace("Z", "+00:00"))
        now = datetime.now(timezone.utc)
        cid = f"certificate.{cert.certificate_id[:16]}"
        if not_after <= now:
            self.add(cid, "error", f"Certificat de {ident} expiré le {not_after:%d/%m/%Y}.",
                     "Demandez le renouvellement de la carte CPS (ANS, esante.gouv.fr).", **details)
            return
        if cert.pin.status == "locked":
            self.add(cid, "error", f"Carte de {ident} : code porteur bloqué.",
                     "Débloquez la carte avec son code de déblocage (PUK) dans l'outil de gestion "
                     "de la Cryptolib CPS.", **details)
            return
        notes = []
        status = "ok"
        if not_after - now <= EXPIRY_WARNING:
            status = "warning"
            notes.append(f"expire dans {(not_after - now).days} jour(s)")
        if cert.pin.status in ("countLow", "finalTry"):
            status = "warning"
            notes.append("dernier essai du code porteur" if cert.pin.status == "finalTry"
                         else "code porteur déjà refusé au moins une fois")
        message = f"Certificat de {ident}, valable jusqu'au {not_after:%d/%m/%Y}"
        message += (" : " + ", ".join(notes) + ".") if notes else ", code porteur ok."
        fix = None
        if status == "warning":
            fix = ("Demandez dès maintenant le renouvellement de la carte CPS." if "expire" in message
                   else "Saisissez le code porteur avec soin : la carte se bloque après trois erreurs.")
        self.add(cid, status, message, fix, **details)

    # -- browsers: manifests and policies ---------------------------------------------------------

    def _manifest_locations(self, browser: str) -> list[tuple[str, str]]:
        """(level, manifest path) where the browser would find ours, in the browser's order."""
        if self.ctx.windows:
            return windows_manifest_locations(browser, self.registry)
        found = []
        for system in (False, True):
            level = "système" if system else "utilisateur"
            for d in manifest_dirs(browser, system, self.ctx):
                name = str(PurePosixPath(d, f"{HOST_NAME}.json"))
                p = self.ctx.on_disk(name) if system else Path(name)
                try:
                    present = p.is_file()
                except OSError as exc:  # Python 3.11 raises for a folder it may not enter
                    # The browser cannot read it either, and goes on to the next folder
                    # (Chrome's PathExists, Firefox's per-file try): not blocking by itself.
                    self.add(f"browser.{browser}.illisible", "warning",
                             f"{LABEL[browser]} : impossible de savoir s'il y a un manifeste "
                             f"{p} ({exc.__class__.__name__}) ; le navigateur ne peut pas le "
                             "lire non plus et passe à l'emplacement suivant.",
                             f"Vérifiez les droits de {p.parent} et des dossiers au-dessus : "
                             "l'utilisateur doit pouvoir les lire (un dossier créé par une "
                             "commande lancée avec sudo appartient à root).",
                             manifest=str(p), level=level, exception=exc.__class__.__name__)
                    continue
                if present:
                    found.append((level, str(p)))
        return found

    def _manifest_problem(self, browser: str, path: str, system: bool = False) -> str | None:
        """What makes the manifest at `path` unusable, or None. `system`: a system manifest,
        whose executable is a file of the system looked at, so under --root (a user's
        manifest, like the user's files, is never re-rooted)."""
        try:
            data = json.loads(Path(path).read_text("utf-8"))
        except (OSError, ValueError) as exc:
            return f"le manifeste {path} est illisible ({exc.__class__.__name__})"
        if not isinstance(data, dict) or data.get("name") != HOST_NAME or data.get("type") != "stdio":
            return f"le manifeste {path} ne décrit pas {HOST_NAME}"
        # Each field's type is checked before use: the browsers refuse a manifest whose
        # fields have the wrong type, and diagnose must say so, not fail on it.
        given = data.get("path", "")
        if not isinstance(given, str):
            return f"le manifeste {path} donne un « path » qui n'est pas un chemin ({_shape(given)})"
        exe = manifest_executable(path, given, self.ctx.windows)
        if given and exe is None:
            return (f"le manifeste {path} donne un chemin relatif ({given}), que les navigateurs "
                    "refusent ici")
        on_disk = (self.ctx.on_disk(exe) if system else Path(exe)) if exe else None
        if on_disk is None or not os.path.isfile(on_disk):  # never raises (Path.is_file may)
            return f"le manifeste {path} désigne un exécutable absent : {exe or '(vide)'}"
        if not os.access(on_disk, os.X_OK):
            return f"le manifeste {path} désigne un fichier qui n'est pas exécutable : {exe}"
        key = "allowed_extensions" if FAMILY[browser] == "firefox" else "allowed_origins"
        allowed = data.get(key, [])
        if not (isinstance(allowed, list) and all(isinstance(x, str) for x in allowed)):
            return (f"le manifeste {path} donne un « {key} » qui n'est pas une liste de textes "
                    f"({_shape(allowed)}) : le navigateur le refuse")
        if FAMILY[browser] == "firefox":
            if self.ids["firefox"] not in allowed:
                return f"le manifeste {path} n'autorise pas l'extension {self.ids['firefox']}"
        else:
            wanted = {f"chrome-extension://{i}/" for i in chromium_ids(self.ids)}
            if not wanted <= set(allowed):
                return f"le manifeste {path} n'autorise pas l'extension CPS Bridge (" + \
                    ", ".join(sorted(wanted)) + ")"
        return None

    def _manifest_fix(self, level: str, path: str) -> str:
        """How to repair the manifest the browser reads, by who put it there."""
        if level == "utilisateur":
            # Read before the system one: rewriting the system manifest would change nothing.
            return ("Dans la session de l'utilisateur (sans droits administrateur), relancez "
                    "`cpsbridge-host install --user` pour réécrire ce manifeste, ou "
                    "`cpsbridge-host uninstall --user` pour le retirer : le navigateur lira "
                    "alors celui du système.")
        if not self.ctx.windows and path in {str(self.ctx.on_disk(f))
                                             for f in package_files(self.ctx)}:
            # install --system refuses to touch the package's files (exit 4); an edited
            # manifest is a modified conffile, which only --force-confask offers to replace.
            # Installed from a .deb file (§ 4), `apt install --reinstall cpsbridge` has
            # nothing to download and does nothing: the file is named first.
            reinstall = "sudo apt install --reinstall -o Dpkg::Options::=--force-confask"
            deb = deb_file_name(deb_architecture(self.ctx))
            return (f"Ce manifeste appartient au paquet {DEB_PACKAGE} : depuis le dossier où "
                    f"se trouve son fichier .deb, réinstallez-le avec `{reinstall} ./{deb}` et "
                    "acceptez la version du paquet pour ce fichier (si le paquet vient d'un "
                    f"dépôt APT de l'établissement : `{reinstall} {DEB_PACKAGE}`).")
        return ("Relancez `cpsbridge-host install --system` en administrateur pour réécrire "
                "le manifeste.")

    def browsers(self) -> None:
        for browser in BROWSERS:  # one browser's failure leaves the others checked
            self._guarded(f"browser.{browser}", lambda b=browser: self.browser(b))

    def browser(self, browser: str) -> None:
        kind = packaging(browser, self.ctx)
        cid = f"browser.{browser}"
        label = LABEL[browser]
        refusal = sandbox_refusal(browser, kind, self.ctx)
        if refusal:
            self.add(cid, "error", refusal.split(" : ")[0] + ".", refusal.split(" : ", 1)[1],
                     packaging=kind)
            return
        note = sandbox_note(browser, kind)
        if note:  # accepted, but through the desktop portal
            self.add(f"sandbox.{browser}", "warning", *note, packaging=kind)
        found = self._manifest_locations(browser)
        policy = self._chromium_policy(browser) if FAMILY[browser] == "chromium" else \
            self._firefox_policy()
        status = "error" if kind is not None else "warning"
        if kind is not None or found:
            for reason in policy.get("blocks", []):
                self.add(f"policy.{browser}", status, f"{label} : {reason}.",
                         "Faites corriger la stratégie d'entreprise (GPO, /etc/…/policies) : "
                         f"voir les modèles {POLICY_TEMPLATES}.",
                         source=policy.get("source"))
        self.forced[browser] = bool(policy.get("forced"))
        if found:
            self.served.append(browser)
        if not found:
            if kind is None:
                self.add(cid, "info", f"{label} n'est pas installé ; pas de manifeste.")
            else:
                self.add(cid, "error", f"{label} est installé mais ne trouve pas le module "
                         f"CPS Bridge (aucun manifeste {HOST_NAME}).",
                         "Lancez `cpsbridge-host install --system` en administrateur "
                         "(ou `cpsbridge-host install --user`).", packaging=kind)
            return
        if policy.get("blocked_user_level"):  # only system manifests count then
            usable = [f for f in found if f[0] == "système"]
        else:
            usable = found
        if usable:
            level, path = usable[0]  # the browser uses the first one it finds
            problem = self._manifest_problem(browser, path, system=level == "système")
            fix = self._manifest_fix(level, path)
        else:
            level, path = found[0]
            problem = ("la stratégie NativeMessagingUserLevelHosts interdit le manifeste "
                       f"utilisateur {path}")
            fix = ("Relancez `cpsbridge-host install --system` en administrateur : seul un "
                   "manifeste système est lu sous cette stratégie.")
        if problem:
            self.add(cid, status, f"{label} : {problem}.", fix, manifest=path, level=level,
                     packaging=kind)
        else:
            self.add(cid, "ok", f"{label} : manifeste ({level}) {path} correct.",
                     manifest=path, level=level, packaging=kind)

    def _shaped(self, browser: str, source: str | None, where: str, value: object,
                kind: type) -> bool:
        """Whether a policy value is absent or has the shape the browser's schema wants.
        Chrome and Firefox validate policies and leave out one of the wrong shape: it then
        blocks and allows nothing, which is worth saying (and must not stop diagnose)."""
        if value is None or isinstance(value, kind):
            return True
        wanted = "un objet" if kind is dict else "une liste"
        origin = source or "stratégie d'entreprise"
        self.add(f"policy.{browser}.forme", "warning", f"{LABEL[browser]} : la stratégie "
                 f"{where} n'a pas la forme attendue ({wanted}, trouvé : {_shape(value)}) ; le "
                 "navigateur n'en tient pas compte.",
                 f"Corrigez-la ({origin}) d'après les modèles {POLICY_TEMPLATES}.",
                 policy=where, source=source)
        return False

    def _typed(self, browser: str, source: str | None, where: str, value: object,
               kind: type) -> Any:
        """`value` when it has the wanted shape, else an empty one (and a finding)."""
        return value if value is not None and self._shaped(browser, source, where, value, kind) \
            else kind()

    def _extension_settings(self, browser: str, source: str | None, value: object) -> dict:
        """ExtensionSettings, keeping only the entries that are objects, as the browsers do."""
        settings = self._typed(browser, source, "ExtensionSettings", value, dict)
        return {k: v for k, v in settings.items()
                if self._shaped(browser, source, f"ExtensionSettings[{json.dumps(k)}]", v, dict)}

    def _managed_origins(self, browser: str, source: str | None, where: str,
                         managed: dict) -> None:
        """The extension's managed `allowedOrigins`, kept for origins()."""
        value = managed.get("allowedOrigins")
        if value is not None and self._shaped(browser, source, f"{where}.allowedOrigins",
                                              value, list):
            known = self.policy_origins.setdefault(browser, [])
            known += [o for o in value if o not in known]

    def _chromium_policy(self, browser: str) -> dict:
        policies, source = _chromium_policies(browser, self.ctx, self.registry)

        def in_force(name: str) -> str:
            """The name the browser reads: a list policy renamed in Chrome 86 (…Blacklist,
            …Whitelist) is still honoured under its old name when the new one is not set,
            and legacy hospital GPOs still write the old one."""
            old = LEGACY_POLICY_NAMES.get(name)
            return old if old and name not in policies and old in policies else name

        def listed(name: str) -> list:
            name = in_force(name)
            return self._typed(browser, source, name, policies.get(name), list)

        blocks = []
        blocklist, allowlist = listed("NativeMessagingBlocklist"), listed("NativeMessagingAllowlist")
        if ("*" in blocklist or HOST_NAME in blocklist) and HOST_NAME not in allowlist:
            blocks.append(f"la stratégie {in_force('NativeMessagingBlocklist')} bloque "
                          f"{HOST_NAME} (ajoutez-le à {in_force('NativeMessagingAllowlist')})")
        settings = self._extension_settings(browser, source, policies.get("ExtensionSettings"))
        forcelist = listed("ExtensionInstallForcelist")
        install_allow, install_block = listed("ExtensionInstallAllowlist"), \
            listed("ExtensionInstallBlocklist")

        def blocked(ext_id: str) -> bool:
            mine = settings.get(ext_id) or {}
            forced = any(str(e).split(";")[0] == ext_id for e in forcelist)
            allowed = forced or ext_id in install_allow or \
                mine.get("installation_mode") in ("allowed", "force_installed", "normal_installed")
            return mine.get("installation_mode") == "blocked" or (not allowed and (
                ext_id in install_block or "*" in install_block
                or (settings.get("*") or {}).get("installation_mode") == "blocked"))

        # The extension has one id per channel (the key's, each store's): blocked when every
        # one of them is (a hospital allows the one it deploys).
        ext_ids = chromium_ids(self.ids)
        forced = any(str(e).split(";")[0] in ext_ids for e in forcelist) or any(
            (settings.get(i) or {}).get("installation_mode") in INSTALLED_MODES for i in ext_ids)
        if all(blocked(i) for i in ext_ids):
            blocks.append("une stratégie d'entreprise interdit l'extension " + ", ".join(ext_ids))
        third = self._typed(browser, source, "3rdparty", policies.get("3rdparty"), dict)
        stores = self._typed(browser, source, "3rdparty.extensions", third.get("extensions"), dict)
        for ext_id in ext_ids:
            where = f"3rdparty.extensions.{ext_id}"
            self._managed_origins(browser, source, where,
                                  self._typed(browser, source, where, stores.get(ext_id), dict))
        return {"blocks": blocks, "source": source, "forced": forced,
                "blocked_user_level": policies.get("NativeMessagingUserLevelHosts") is False}

    def _firefox_policy(self) -> dict:
        policies, source = _firefox_policies(self.ctx, self.registry)
        ext_id = self.ids["firefox"]
        settings = self._extension_settings("firefox", source, policies.get("ExtensionSettings"))
        mine = settings.get(ext_id) or {}
        blocks = []
        if mine.get("installation_mode") == "blocked" or (
                not mine and (settings.get("*") or {}).get("installation_mode") == "blocked"):
            blocks.append(f"la stratégie ExtensionSettings interdit l'extension {ext_id}")
        third = self._typed("firefox", source, "3rdparty", policies.get("3rdparty"), dict)
        stores = self._typed("firefox", source, "3rdparty.Extensions", third.get("Extensions"), dict)
        where = f"3rdparty.Extensions.{ext_id}"
        self._managed_origins("firefox", source, where,
                              self._typed("firefox", source, where, stores.get(ext_id), dict))
        return {"blocks": blocks, "source": source,
                "forced": mine.get("installation_mode") in INSTALLED_MODES}

    # -- the extension in the user's profiles --------------------------------------------------

    def extensions(self) -> None:
        for browser in self.served:  # where the host is registered, the extension must be too
            self._guarded(f"extension.{browser}", lambda b=browser: self.extension(b))

    def extension(self, browser: str) -> None:
        found = read_profiles(browser, self.ctx, self.ids)
        label, cid, forced = LABEL[browser], f"extension.{browser}", self.forced.get(browser)
        name = user_name(self.ctx)
        who = (f"l'utilisateur {name} ({self.ctx.home})" if name
               else f"l'utilisateur du dossier {self.ctx.home}")
        enabled, disabled = found.named(ENABLED), found.named(DISABLED)
        details = {"profiles": [asdict(p) for p in found.profiles], "folders": found.folders,
                   "user": name, "forced": bool(forced)}
        if enabled:
            self.add(cid, "ok", f"{label} : extension CPS Bridge installée et activée "
                     f"({_profiles(enabled)})"
                     + (f", désactivée ({_profiles(disabled)})" if disabled else "") + ".",
                     **details)
        elif disabled:
            self.add(cid, "warning", f"{label} : extension CPS Bridge installée mais désactivée "
                     f"({_profiles(disabled)}) : rien ne se passera au clic sur la tuile "
                     "« S'identifier par carte CPS ».",
                     f"Dans la session du praticien, activez-la dans {EXTENSIONS_PAGE[browser]} "
                     "(interrupteur de l'extension CPS Bridge), puis rechargez la page "
                     "ViaTrajectoire.", **details)
        elif not found.profiles:
            self.add(cid, "info", f"{label} : aucun profil de {who} : le navigateur n'a pas "
                     "encore été démarré par cet utilisateur"
                     + (" ; une stratégie d'entreprise y installera l'extension CPS Bridge "
                        "d'office au premier démarrage." if forced else
                        ", l'extension CPS Bridge n'a pas pu être recherchée."), **details)
        elif forced:
            self.add(cid, "info", f"{label} : extension CPS Bridge pas encore présente dans "
                     f"{_the_profiles(found.named(ABSENT))} de {who}, mais une stratégie "
                     "d'entreprise l'installe d'office : elle sera installée au prochain démarrage "
                     "du navigateur.", **details)
        else:
            if self.ids.get(STORE_ID[browser]):
                how = (f"Installez l'extension CPS Bridge depuis {STORE[browser]} ou d'office "
                       f"par stratégie d'entreprise ({self.guide('§ 6')})")
            else:  # null in extension/ids.json: nothing to find in that store
                how = (f"L'extension CPS Bridge n'est pas encore publiée sur {STORE[browser]} : "
                       f"installez-la d'office par stratégie d'entreprise ({self.guide('§ 6')})")
            self.add(cid, "warning", f"{label} : extension CPS Bridge absente "
                     f"{_of_profiles(found.named(ABSENT))} de {who} : rien ne se passera au "
                     "clic sur la tuile « S'identifier par carte CPS » dans ce navigateur.",
                     f"{how} ; si ce diagnostic n'a pas été lancé dans la session du praticien, "
                     "relancez-le dans celle-ci.", **details)

    # -- origins, site, log ---------------------------------------------------------------------

    def origins(self) -> None:
        origins = self.settings.allowedOrigins
        self.add("origins", "info", "Origines autorisées par le module : " + ", ".join(origins) + ".",
                 allowedOrigins=origins)
        # The page origins the extension could ask for (config has normalised them; wss,
        # which the host also takes, is no page's origin).
        host = [c for c in map(_canonical, origins) if c]
        # Every browser the extension runs in, with its policy's origins or none at all.
        for browser in dict.fromkeys([*self.policy_origins, *self.served]):
            given = self.policy_origins.get(browser, [])
            label = LABEL[browser]
            managed, invalid = [], []
            for o in given:
                (managed if _canonical(o) else invalid).append(_canonical(o) or o)
            if invalid:
                self.add(f"origins.{browser}.invalide", "warning", f"{label} : dans la stratégie "
                         "de l'extension, allowedOrigins contient des valeurs qui ne sont pas des "
                         "origines https : " + ", ".join(json.dumps(o, ensure_ascii=False, default=str)
                                                         for o in invalid)
                         + " ; l'extension les ignore.",
                         "Écrivez chaque origine sous la forme https://hôte[:port], sans chemin.",
                         invalid=invalid)
            missing = [o for o in managed if o not in host]
            if missing:
                self.add(f"origins.{browser}", "warning", f"{label} : la stratégie de "
                         "l'extension autorise " + ", ".join(missing) + " que le module refusera.",
                         "Ajoutez ces origines à allowedOrigins dans la configuration du module.",
                         missing=missing)
            # The extension allows its production origins plus the managed ones
            # (extension/src/origins.js): a host origin outside both gets no request.
            refused = [o for o in host if o not in set(config.PRODUCTION_ORIGINS) | set(managed)]
            if refused:
                self.add(f"origins.{browser}.module", "warning", f"{label} : le module autorise "
                         + ", ".join(refused) + " que " + ("la stratégie de l'extension n'autorise "
                         "pas" if browser in self.policy_origins else "l'extension n'autorise pas "
                         "(aucune stratégie allowedOrigins)") + " : l'extension refusera ces sites.",
                         "Ajoutez ces origines à allowedOrigins dans la stratégie de l'extension "
                         "(ou retirez-les de la configuration du module) : les deux listes "
                         "doivent être les mêmes.", hostOnly=refused)

    def site(self) -> None:
        if not self.online:
            self.add("site", "info", "Accès au site non vérifié (--hors-ligne).")
            return
        import requests

        reached, failures = [], {}
        for origin in self.settings.allowedOrigins:
            try:
                r = requests.get(origin + "/", timeout=5, allow_redirects=False,
                                 verify=_ca_bundle())
                reached.append(f"{origin} (HTTP {r.status_code})")
            except requests.exceptions.SSLError:
                failures[origin] = "certificat TLS refusé, proxy avec inspection TLS ?"
            except requests.exceptions.RequestException as exc:
                failures[origin] = exc.__class__.__name__
        if reached:
            status = "ok" if not failures else "warning"
            message = "Site joignable : " + ", ".join(reached) + "."
            if failures:
                message += " Injoignable : " + ", ".join(f"{o} ({w})" for o, w in failures.items()) + "."
            self.add("site", status, message, "Vérifiez le proxy et le pare-feu pour ces adresses."
                     if failures else None, failures=failures)
        else:
            self.add("site", "error", "Aucune origine autorisée n'est joignable : "
                     + ", ".join(f"{o} ({w})" for o, w in failures.items()) + ".",
                     "Vérifiez la connexion réseau, le proxy (HTTPS_PROXY) et le pare-feu du poste.",
                     failures=failures)

    def log(self) -> None:
        path = self.settings.log_path
        exists = os.path.isfile(path)
        size = os.path.getsize(path) if exists else 0
        self.add("log", "info", f"Journal du module : {path}"
                 + (f" ({size} octets)." if exists else " (pas encore écrit)."), path=path)

    def host(self) -> None:
        frozen = getattr(sys, "frozen", False)
        where = sys.executable if frozen else f"{sys.executable} -m host (sources)"
        self.add("host", "info", f"Module CPS Bridge {__version__} : {where}.",
                 executable=sys.executable, frozen=bool(frozen))

    def _guarded(self, name: str, check: Callable[[], None]) -> None:
        """Run one check; an exception nobody foresaw (a file of an odd shape, a library's
        own failure) becomes one `error` line naming the check, so that the rest of the
        report, and the --json document, are still there."""
        try:
            check()
        except Exception as exc:  # noqa: BLE001 - whatever it is, it must not end the report
            self.add(f"{name}.inattendu", "error", f"Le contrôle « {name} » s'est arrêté sur une "
                     f"erreur inattendue ({exc.__class__.__name__} : {str(exc)[:200]}) : son "
                     "résultat est inconnu ; les autres contrôles sont valables.",
                     "Transmettez ce rapport complet au support de CPS Bridge.",
                     check=name, exception=exc.__class__.__name__)

    def run(self) -> list[Check]:
        for name, check in (("host", self.host), ("config", self.configuration),
                            ("pcsc", self.pcsc), ("pkcs11", self.pkcs11),
                            ("browsers", self.browsers), ("extensions", self.extensions),
                            ("origins", self.origins),
                            ("site", self.site), ("log", self.log)):
            self._guarded(name, check)
        return self.checks


def _shape(value: object) -> str:
    """A JSON value as IT would name it in a message: its kind and a short excerpt."""
    kind = ("un booléen" if isinstance(value, bool) else "un nombre"
            if isinstance(value, (int, float)) else "un texte" if isinstance(value, str)
            else "une liste" if isinstance(value, list) else "un objet"
            if isinstance(value, dict) else "null" if value is None else type(value).__name__)
    text = json.dumps(value, ensure_ascii=False, default=str)
    return f"{kind} {text[:60]}{'…' if len(text) > 60 else ''}"


def _profiles(names: list[str]) -> str:
    """Profile folder names as a message gives them: « profil Default », « profils A, B »."""
    return ("profil " if len(names) == 1 else "profils ") + ", ".join(names)


def _the_profiles(names: list[str]) -> str:
    """« le profil Default », « les profils A, B »."""
    return ("le profil " if len(names) == 1 else "les profils ") + ", ".join(names)


def _of_profiles(names: list[str]) -> str:
    """« du profil Default », « des profils A, B »."""
    return ("du profil " if len(names) == 1 else "des profils ") + ", ".join(names)


def _canonical(origin: object) -> str | None:
    """An origin of the extension's policy as the host compares it, or None when the
    extension would ignore it. Written as config reads it (one final slash is no path: the
    extension accepts that spelling too). Only https: the extension takes no wss."""
    try:
        canonical = normalize_written_origin(origin)  # type: ignore[arg-type] - it refuses non-str
    except OriginError:
        return None
    return canonical if canonical.startswith("https://") else None


def _ca_bundle() -> str | bool:
    """The authorities to check the site with: those named by REQUESTS_CA_BUNDLE or
    SSL_CERT_FILE, else the system's (Linux) so that a hospital's own CA (TLS-inspecting
    proxy) is trusted as the browsers trust it, else requests' own bundle."""
    if os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE"):
        return True  # requests reads these itself
    for path in (os.environ.get("SSL_CERT_FILE", ""), "/etc/ssl/certs/ca-certificates.crt",
                 "/etc/pki/tls/certs/ca-bundle.crt"):
        if os.path.isfile(path):
            return path
    return True


# -- policy sources -----------------------------------------------------------------------------

def _chromium_policies(browser: str, ctx: Context, registry=None) -> tuple[dict, str | None]:
    if ctx.windows:
        # User policies first, then machine policies, which win (as Chrome merges them).
        keys = [f"{hive}\\{WINDOWS_POLICY_KEYS[browser]}" for hive in ("HKCU", "HKLM")]
        return _registry_layers(keys, "chromium", registry)
    if ctx.platform == "darwin":
        path = Path(f"/Library/Managed Preferences/{MACOS_DOMAINS[browser]}.plist")
        try:
            data = plistlib.loads(path.read_bytes())
        except (OSError, plistlib.InvalidFileException, ValueError):
            return {}, None
        return (data, str(path)) if isinstance(data, dict) else ({}, None)
    folder = ctx.on_disk(CHROMIUM_POLICY_DIRS[browser])
    merged: dict = {}
    for f in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        try:
            data = json.loads(f.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            merged.update(data)
    return merged, str(folder) if merged else None


def _firefox_policies(ctx: Context, registry=None) -> tuple[dict, str | None]:
    platform = "win32" if ctx.windows else ("darwin" if ctx.platform == "darwin" else "linux")
    policies: dict = {}
    source: str | None = None
    for path in FIREFOX_POLICY_FILES[platform]:
        p = ctx.on_disk(path)
        try:
            data = json.loads(p.read_text("utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and isinstance(data.get("policies"), dict):
            policies, source = data["policies"], str(p)
            break
    if not ctx.windows:
        return policies, source
    # Windows: the registry's policies (GPO, the MSI's Policies feature) come on top of
    # policies.json, user ones first, then the machine's, which win (Firefox's
    # WindowsGPOPoliciesProvider and CombinedProvider).
    keys = [f"{hive}\\{FIREFOX_POLICY_KEY}" for hive in ("HKCU", "HKLM")]
    from_registry, where = _registry_layers(keys, "firefox", registry)
    if not from_registry:
        return policies, source
    return {**policies, **from_registry}, ", ".join(x for x in (source, where) if x)


def _registry_layers(keys: list[str], family: str, registry) -> tuple[dict, str | None]:
    """The policies under `keys`, later ones winning, and where they were found."""
    merged: dict = {}
    found = []
    for key in keys:
        raw = registry.tree(key) if registry is not None else None
        if raw:
            merged.update(registry_policies(raw, family))
            found.append(key)
    return merged, ", ".join(found) or None


def registry_policies(raw: dict, family: str) -> dict:
    """A policy key as read from the registry ({name: value, or a dict for a subkey}) made
    into what the browsers make of it, the shape of the JSON policy files: a key of numbered
    values or subkeys is a list; ExtensionSettings is a JSON string (REG_SZ, or REG_MULTI_SZ
    lines); Chrome keeps an extension's managed storage under 3rdparty\\extensions\\<id>\\policy,
    Firefox under 3rdparty\\Extensions\\<id>."""
    def walk(node):
        if isinstance(node, dict):
            if node and all(k.isdigit() for k in node):
                return [walk(node[k]) for k in sorted(node, key=int)]
            return {k: walk(v) for k, v in node.items()}
        return node

    tree = walk(raw)
    if not isinstance(tree, dict):
        return {}
    settings = tree.get("ExtensionSettings")
    if isinstance(settings, list):  # REG_MULTI_SZ: one JSON text in lines
        settings = "\n".join(str(x) for x in settings)
    if isinstance(settings, str):
        try:
            tree["ExtensionSettings"] = json.loads(settings)
        except ValueError:
            tree["ExtensionSettings"] = {}
    if family == "chromium":
        third = tree.get("3rdparty")  # a value of that name rather than a key: left as is
        extensions = third.get("extensions") if isinstance(third, dict) else None
        if isinstance(extensions, dict):
            for ext_id, entry in extensions.items():
                if isinstance(entry, dict) and isinstance(entry.get("policy"), dict):
                    extensions[ext_id] = entry["policy"]
    return tree


def windows_manifest_locations(browser: str, registry) -> list[tuple[str, str]]:
    """(level, manifest path) named by our keys, in the order the browser reads them."""
    found: list[tuple[str, str]] = []
    for system, view in WINDOWS_LOOKUP[FAMILY[browser]]:
        path = None if registry is None else registry.default(windows_key(browser, system), view)
        level = "système" if system else "utilisateur"
        if isinstance(path, str) and path and (level, path) not in found:
            found.append((level, path))
    return found


def manifest_executable(manifest: str, given: str, windows: bool) -> str | None:
    """The executable a manifest's `path` names. On Windows a relative path is taken from the
    manifest's folder, as Chrome and Firefox do (the MSI's manifests name the host so); on
    Linux and macOS the browsers refuse it: None."""
    if not given:
        return None
    if windows:
        return given if ntpath.isabs(given) else ntpath.join(ntpath.dirname(manifest), given)
    return given if os.path.isabs(given) else None


class WindowsRegistryReader:
    """What diagnose reads from the registry ("HKLM\\…" or "HKCU\\…")."""

    @staticmethod
    def _access(view: int) -> int:
        import winreg  # only reached on Windows

        return winreg.KEY_READ | (winreg.KEY_WOW64_32KEY if view == 32 else winreg.KEY_WOW64_64KEY)

    def _open(self, key: str, view: int):
        import winreg

        hive, sub = hive_and_subkey(key)
        return winreg.OpenKey(hive, sub, 0, self._access(view))

    def default(self, key: str, view: int) -> str | None:
        """The default value of `key` in the 32- or 64-bit view of the registry."""
        import winreg

        try:
            with self._open(key, view) as k:
                return winreg.QueryValueEx(k, "")[0]
        except OSError:
            return None

    def tree(self, key: str) -> dict | None:
        """Values and subkeys under `key` (64-bit view, where GPO and the 64-bit MSI write),
        as nested dicts; None when the key is absent."""
        import winreg

        def walk(handle) -> dict:
            out: dict = {}
            i = 0
            while True:
                try:
                    name, value, _ = winreg.EnumValue(handle, i)
                except OSError:
                    break
                out[name] = value
                i += 1
            i = 0
            while True:
                try:
                    child = winreg.EnumKey(handle, i)
                except OSError:
                    break
                with winreg.OpenKey(handle, child, 0, self._access(64)) as h:
                    out[child] = walk(h)
                i += 1
            return out

        try:
            with self._open(key, 64) as k:
                return walk(k)
        except OSError:
            return None


# -- the command --------------------------------------------------------------------------------

def _encodes(text: str, out) -> bool:
    """Whether `out` can write `text` as it is (its encoding has every character)."""
    try:
        text.encode(getattr(out, "encoding", None) or "utf-8")
    except (UnicodeEncodeError, LookupError):
        return False
    return True


def _tolerant_stdout() -> None:
    """Windows gives a redirected stdout the ANSI code page (cp1252), which has no "→":
    a character the encoding lacks becomes "?" rather than a UnicodeEncodeError that loses
    the report after its first lines. The encoding itself is kept: it is the one the
    reader (console, file, PowerShell) expects."""
    reconfigure = getattr(sys.stdout, "reconfigure", None)
    if reconfigure is not None:
        try:
            reconfigure(errors="replace")
        except (ValueError, OSError):  # closed, or a stream that cannot change
            pass


def report_text(checks: list[Check], out=None) -> None:
    out = out or sys.stdout
    arrow = "→" if _encodes("→", out) else "->"  # "?" would read as a question
    print(f"CPS Bridge {__version__} — diagnostic du poste ({sys.platform})", file=out)
    for c in checks:
        print(f"[{STATUS_LABEL[c.status]:9}] {c.message}", file=out)
        if c.fix and c.status in ("warning", "error"):
            print(f"{'':12}{arrow} {c.fix}", file=out)
    blocking = [c for c in checks if c.blocking]
    if blocking:
        print(f"\nRésultat : {len(blocking)} problème(s) empêchent la connexion par carte CPS.", file=out)
    else:
        print("\nRésultat : rien n'empêche la connexion par carte CPS.", file=out)


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """While the checks run, fd 1 and sys.stdout go to stderr, as host.framing.guard_stdout
    does for frames: a C library that prints there (pyscard: "Failed to dlopen
    libpcsclite.so.1…") would otherwise land in the middle of the --json report, which is
    written afterwards on the real stdout."""
    try:
        sys.stdout.flush()
        saved = os.dup(1)
    except (AttributeError, OSError, ValueError):  # no stdout at all: nothing to protect
        saved = None
    if saved is None:
        yield
        return
    real = sys.stdout
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    try:
        yield
    finally:
        _flush_c_stdio()  # what C code buffered goes to stderr too, not after the report
        sys.stdout = real
        os.dup2(saved, 1)
        os.close(saved)


def _flush_c_stdio() -> None:
    if sys.platform.startswith("win"):
        return  # pyscard talks to winscard.dll there and prints nothing
    try:
        import ctypes

        ctypes.CDLL(None).fflush(None)
    except (OSError, AttributeError):
        pass


def main(argv: list[str]) -> int:
    parser = FrenchArgumentParser(prog="cpsbridge-host diagnose",
                                     description="Diagnostic du poste pour la connexion par carte CPS.")
    parser.add_argument("--json", action="store_true", help="résultat en JSON (pour les outils)")
    parser.add_argument("--hors-ligne", "--offline", dest="offline", action="store_true",
                        help="ne pas tester l'accès au site")
    parser.add_argument("--root", default="/", help="racine où lire les fichiers système")
    try:
        args = parser.parse_args(argv[1:])
    except SystemExit as exc:
        return int(exc.code or 0) and 2
    _tolerant_stdout()
    with _stdout_to_stderr():
        checks = Diagnosis(Context(root=args.root), online=not args.offline).run()
    blocking = [c.id for c in checks if c.blocking]
    if args.json:
        doc = {"version": __version__, "platform": sys.platform, "ok": not blocking,
               "blocking": blocking,
               "checks": [dict(asdict(c), blocking=c.blocking) for c in checks]}
        text = json.dumps(doc, ensure_ascii=False, indent=2)
        if not _encodes(text, sys.stdout):  # \uXXXX escapes: exact, and JSON in any encoding
            text = json.dumps(doc, ensure_ascii=True, indent=2)
        print(text)
    else:
        report_text(checks)
    return 1 if blocking else 0
