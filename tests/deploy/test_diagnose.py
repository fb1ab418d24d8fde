"""`cpsbridge-host diagnose --json` against real set-ups, each broken in one place: PC/SC
service, reader, card, PKCS#11 module, certificates, manifests, policies, origins, site."""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

from tests.testbed.hostproc import REPO, SOURCE_HOST
from tests.testbed.pcsc import ATR_CPS3, ATR_VITALE, VirtualCard
from tests.testbed.pki import HolderSpec
from tests.testbed.site import SiteProcess
from tests.testbed.softcard import make_cards

SOON = HolderSpec("bientot", "899700777777", "LEGRAND", "MARIE", "Sage-femme", "CPS",
                  token_serial="2900995272", valid_days=(-300, 10))


@pytest.fixture(scope="module")
def site(pki_dir, tmp_path_factory):
    with SiteProcess(tmp_path_factory.mktemp("site"), pki_dir / "trust") as s:
        yield s


@pytest.fixture(scope="module")
def one_card(pki, tmp_path_factory):
    """A store with dupont's card only (the shared one also holds an expired card)."""
    return make_cards(tmp_path_factory.mktemp("hsm-dupont"), pki, ["dupont"])


@pytest.fixture(scope="module")
def soon_card(pki, tmp_path_factory):
    if "bientot" not in pki.holders:
        pki.issue(SOON)
    return make_cards(tmp_path_factory.mktemp("hsm-soon"), pki, ["bientot"])


@pytest.fixture
def cps3(pcscd):
    card = VirtualCard(ATR_CPS3).insert(pcscd, 0)
    yield card
    card.remove()


@pytest.fixture
def env(one_card, pcscd, site, tmp_path) -> dict[str, str]:
    """A workstation where everything is in place (once the test registers the host)."""
    e = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    e.update(one_card.env())
    e.update(pcscd.env)
    e["HOME"] = str(tmp_path / "home")
    e["CPSBRIDGE_ALLOWED_ORIGINS"] = site.origin
    e["CPSBRIDGE_SYSTEM_CONFIG"] = str(tmp_path / "no-system-config.json")
    e["REQUESTS_CA_BUNDLE"] = str(site.ca_cert_path)
    return e


def install(env: dict[str, str]) -> None:
    r = subprocess.run([*SOURCE_HOST, "install", "--user"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def diagnose(env: dict[str, str], *args: str) -> tuple[int, dict]:
    r = subprocess.run([*SOURCE_HOST, "diagnose", "--json", *args], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr
    return r.returncode, json.loads(r.stdout)


def by_id(doc: dict) -> dict[str, dict]:
    return {c["id"]: c for c in doc["checks"]}


def errors(doc: dict) -> set[str]:
    return {c["id"] for c in doc["checks"] if c["status"] == "error"}


def test_a_working_workstation_has_nothing_blocking(env, cps3, pki):
    install(env)
    code, doc = diagnose(env)
    checks = by_id(doc)
    assert (code, doc["ok"], doc["blocking"]) == (0, True, []), doc["blocking"]
    assert checks["pcsc.card"]["details"]["cards"][0]["cardType"] == "CPS3"
    module = checks["pkcs11.module"]
    assert module["details"]["info"]["manufacturer"].startswith("SoftHSM")
    cert = checks[f"certificate.{pki.holders['dupont'].certificate_id[:16]}"]
    assert cert["status"] == "ok" and "DUPONT" in cert["message"] and "carte CPS" in cert["message"]
    assert cert["details"]["pin"] == "ok"
    assert "cardtypes" not in checks  # the test PKI's card types are configured
    for browser in ("chromium", "firefox"):  # the two installed on this machine
        assert checks[f"browser.{browser}"]["status"] == "ok"
        assert checks[f"browser.{browser}"]["details"]["level"] == "utilisateur"
    assert checks["site"]["status"] == "ok"
    assert checks["origins"]["details"]["allowedOrigins"] == [env["CPSBRIDGE_ALLOWED_ORIGINS"]]
    assert checks["log"]["details"]["path"].startswith(env["HOME"])
    assert checks["host"]["details"]["frozen"] is False and "1.2.0" in checks["host"]["message"]


def test_no_pcsc_service(env, tmp_path):
    install(env)
    env["PCSCLITE_CSOCK_NAME"] = str(tmp_path / "no-pcscd.comm")
    code, doc = diagnose(env)
    assert code == 1 and "pcsc.service" in errors(doc)
    assert "pcscd" in by_id(doc)["pcsc.service"]["fix"]


def test_pcsc_service_without_any_reader(env, tmp_path):
    from tests.testbed.pcsc import Pcscd

    install(env)
    with Pcscd(readers=0, workdir=tmp_path / "pcscd-empty") as empty:
        env.update(empty.env)
        code, doc = diagnose(env)
    checks = by_id(doc)
    assert code == 1 and checks["pcsc.service"]["status"] == "ok"
    assert errors(doc) == {"pcsc.readers"} and "Branchez le lecteur" in checks["pcsc.readers"]["fix"]


def test_reader_without_card(env):
    install(env)
    code, doc = diagnose(env)
    assert code == 1 and errors(doc) == {"pcsc.card"}
    assert "Insérez la carte CPS" in by_id(doc)["pcsc.card"]["fix"]


def test_a_carte_vitale_is_not_a_cps_card(env, pcscd):
    install(env)
    card = VirtualCard(ATR_VITALE).insert(pcscd, 1)
    try:
        code, doc = diagnose(env)
    finally:
        card.remove()
    check = by_id(doc)["pcsc.card"]
    assert code == 1 and check["status"] == "error" and "VITALE" in check["message"]


def test_no_pkcs11_module(env, cps3, tmp_path):
    install(env)
    env["CPSBRIDGE_PKCS11_MODULE"] = str(tmp_path / "libcps3_pkcs11_lux.so")
    code, doc = diagnose(env)
    assert code == 1 and errors(doc) == {"pkcs11.module"}
    assert "Cryptolib CPS" in by_id(doc)["pkcs11.module"]["fix"]


def test_module_without_any_card(env, cps3, tmp_path):
    install(env)
    empty = tmp_path / "softhsm-empty"
    (empty / "tokens").mkdir(parents=True)
    (empty / "softhsm2.conf").write_text(f"directories.tokendir = {empty / 'tokens'}\n"
                                         "objectstore.backend = file\nlog.level = ERROR\n")
    env["SOFTHSM2_CONF"] = str(empty / "softhsm2.conf")
    code, doc = diagnose(env)
    assert code == 1 and errors(doc) == {"pkcs11.tokens"}
    # The module loads and sees no card (not "Lecture de la carte impossible (ERR_…)").
    tokens = by_id(doc)["pkcs11.tokens"]
    assert tokens["message"] == "Le module ne voit aucune carte."
    assert tokens["fix"].startswith("Insérez la carte CPS")


def test_card_types_not_configured_are_said_without_blocking(env, cps3, pki):
    install(env)
    env = {k: v for k, v in env.items() if k != "CPSBRIDGE_USER_CONFIG"}  # no cardTypePolicies
    env["XDG_CONFIG_HOME"] = env["HOME"] + "/.config"
    code, doc = diagnose(env)
    checks = by_id(doc)
    assert (code, doc["blocking"]) == (0, []), doc["blocking"]
    assert checks["cardtypes"]["status"] == "info" and "cardTypePolicies" in checks["cardtypes"]["fix"]
    cert = checks[f"certificate.{pki.holders['dupont'].certificate_id[:16]}"]
    assert "carte UNKNOWN" in cert["message"]


def test_expired_and_soon_expiring_certificates(env, cps3, cards, soon_card, pki):
    install(env)
    env.update(cards.env())  # the shared store holds an expired card among others
    code, doc = diagnose(env)
    expired = by_id(doc)[f"certificate.{pki.holders['expire'].certificate_id[:16]}"]
    assert code == 1 and expired["status"] == "error" and "expiré" in expired["message"]
    env.update(soon_card.env())
    code, doc = diagnose(env)
    soon = by_id(doc)[f"certificate.{pki.holders['bientot'].certificate_id[:16]}"]
    assert code == 0 and soon["status"] == "warning" and "expire dans" in soon["message"]


def test_no_manifest_then_a_manifest_naming_a_missing_program(env, cps3):
    code, doc = diagnose(env)
    assert code == 1 and errors(doc) == {"browser.chromium", "browser.firefox"}
    assert "install" in by_id(doc)["browser.chromium"]["fix"]
    install(env)
    launcher = Path(env["HOME"]) / ".local/share/cpsbridge/cpsbridge-host"
    launcher.unlink()
    code, doc = diagnose(env)
    assert errors(doc) == {"browser.chromium", "browser.firefox"}
    assert "exécutable absent" in by_id(doc)["browser.firefox"]["message"]


def test_a_manifest_that_does_not_allow_the_extension(env, cps3):
    install(env)
    path = Path(env["HOME"]) / ".config/chromium/NativeMessagingHosts/fr.viatrajectoire.cpsbridge.json"
    manifest = json.loads(path.read_text())
    manifest["allowed_origins"] = ["chrome-extension://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa/"]
    path.write_text(json.dumps(manifest))
    code, doc = diagnose(env)
    assert errors(doc) == {"browser.chromium"}
    assert "n'autorise pas" in by_id(doc)["browser.chromium"]["message"]


def test_policies_that_block_native_hosts_or_the_extension(env, cps3, tmp_path):
    install(env)
    root = tmp_path / "root"
    managed = root / "etc/chromium/policies/managed"
    managed.mkdir(parents=True)
    (managed / "hopital.json").write_text(json.dumps({
        "NativeMessagingBlocklist": ["*"], "NativeMessagingUserLevelHosts": False,
        "3rdparty": {"extensions": {"ojnpopkpgdnmkpgbnihogpenoomlejcb": {
            "allowedOrigins": ["https://autre.example.fr"]}}}}))
    firefox = root / "etc/firefox/policies"
    firefox.mkdir(parents=True)
    (firefox / "policies.json").write_text(json.dumps({"policies": {"ExtensionSettings": {
        "*": {"installation_mode": "blocked"}}}}))
    code, doc = diagnose(env, "--root", str(root))
    checks = by_id(doc)
    assert code == 1
    assert errors(doc) == {"browser.chromium", "policy.chromium", "policy.firefox"}
    assert "NativeMessagingUserLevelHosts" in checks["browser.chromium"]["message"]
    assert "NativeMessagingBlocklist" in checks["policy.chromium"]["message"]
    assert "ExtensionSettings" in checks["policy.firefox"]["message"]
    assert checks["origins.chromium"]["details"]["missing"] == ["https://autre.example.fr"]


def test_site_unreachable(env, cps3):
    install(env)
    env["CPSBRIDGE_ALLOWED_ORIGINS"] = "https://127.0.0.1:9"  # discard port: nothing listens
    for name in [k for k in env if k.lower() in ("https_proxy", "http_proxy", "all_proxy")]:
        del env[name]  # a proxy of the machine would turn the refusal into a ProxyError
    code, doc = diagnose(env)
    assert code == 1 and errors(doc) == {"site"}
    site = by_id(doc)["site"]
    assert site["message"] == ("Aucune origine autorisée n'est joignable : "
                               "https://127.0.0.1:9 (ConnectionError).")
    assert site["details"] == {"failures": {"https://127.0.0.1:9": "ConnectionError"}}
    assert site["fix"].startswith("Vérifiez la connexion réseau, le proxy (HTTPS_PROXY)")


def test_a_broken_config_file_is_named_without_a_traceback(env, cps3, tmp_path):
    install(env)
    bad = tmp_path / "config.json"
    bad.write_text('{"allowedOrigins": "not a list"}')
    env["CPSBRIDGE_USER_CONFIG"] = str(bad)
    code, doc = diagnose(env)
    assert code == 1 and "config" in errors(doc)
    assert str(bad) in by_id(doc)["config"]["message"]


def test_text_report_is_in_french_with_fixes(env, tmp_path):
    env["PCSCLITE_CSOCK_NAME"] = str(tmp_path / "no-pcscd.comm")
    r = subprocess.run([*SOURCE_HOST, "diagnose", "--hors-ligne"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1
    assert "[ERREUR   ] Le service des cartes à puce (PC/SC) ne répond pas." in r.stdout
    assert "→ Installez et démarrez le service pcscd" in r.stdout
    assert "problème(s) empêchent la connexion" in r.stdout


@pytest.mark.parametrize("which", ["source", "frozen"])
def test_json_stays_json_when_the_pcsc_library_cannot_load(which, tmp_path, request):
    """pyscard prints "Failed to dlopen libpcsclite.so.1…" on stdout (fd 1) when the library is
    unloadable: that goes to stderr, the report alone to stdout."""
    broken = tmp_path / "lib"
    broken.mkdir()
    (broken / "libpcsclite.so.1").write_bytes(b"")  # "file too short" for the loader
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), LD_LIBRARY_PATH=str(broken),
               CPSBRIDGE_SYSTEM_CONFIG=str(tmp_path / "none.json"))
    command = SOURCE_HOST if which == "source" else [str(request.getfixturevalue("frozen_host"))]
    r = subprocess.run([*command, "diagnose", "--json", "--hors-ligne"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    doc = json.loads(r.stdout)  # the whole of stdout
    assert "Failed to dlopen" in r.stderr  # the message is not lost: it is on stderr
    assert r.returncode == 1 and "pcsc.service" in doc["blocking"]
    assert "Traceback" not in r.stderr
    # The text report too stays on stdout, and only it.
    t = subprocess.run([*command, "diagnose", "--hors-ligne"], env=env, cwd=REPO,
                       capture_output=True, text=True, timeout=120)
    assert t.stdout.startswith("CPS Bridge ") and "Failed to dlopen" not in t.stdout


def test_a_former_windows_config_in_programdata_is_reported_not_read(tmp_path, monkeypatch):
    """Windows-only logic, run here on the computed paths: the old %ProgramData% file (where any
    user may write) is no longer read, and diagnose says where the file now belongs."""
    from host.diagnose import Diagnosis
    from host.registration import Context

    monkeypatch.delenv("CPSBRIDGE_SYSTEM_CONFIG", raising=False)
    monkeypatch.setenv("ProgramW6432", "C:\\Program Files")
    data = str(tmp_path / "ProgramData")
    ctx = Context(platform="win32", env={"ProgramData": data, "USERPROFILE": "C:\\Users\\dr"})
    d = Diagnosis(ctx, online=False)
    d._former_windows_config()
    assert d.checks == []
    Path(data + "\\CPS Bridge\\config.json").write_text("{}")  # that name, on this machine
    d._former_windows_config()
    (check,) = d.checks
    assert (check.id, check.status) == ("config.ancien", "warning")
    assert "n'est plus lu" in check.message
    assert "C:\\Program Files\\CPS Bridge\\config.json" in check.fix


# -- Windows: the registry, read through a fake (no registry on this machine) ------------------

class FakeRegistryReader:
    """The two calls diagnose makes: default values by (key, view), policy trees by key."""

    def __init__(self, defaults: dict | None = None, trees: dict | None = None):
        self.defaults = defaults or {}
        self.trees = trees or {}

    def default(self, key: str, view: int) -> str | None:
        return self.defaults.get((key, view))

    def tree(self, key: str) -> dict | None:
        return self.trees.get(key)


WIN_CTX_ENV = {"ProgramFiles": "C:\\Program Files", "USERPROFILE": "C:\\Users\\dr",
               "LOCALAPPDATA": "C:\\Users\\dr\\AppData\\Local"}


def _tree_of_reg(name: str) -> dict:
    """A policy .reg template of ours as the registry holds it once imported (or written by
    the MSI's Policies feature): nested keys and values under the browser's policy key."""
    from tests.deploy.test_packaging_sources import POLICIES, parse_reg

    reg = parse_reg(POLICIES / "windows" / name)
    base = {"chrome.reg": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome",
            "firefox.reg": "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox"}[name]
    tree: dict = {}
    for key, values in reg.items():
        assert key.startswith(base), key
        node = tree
        for part in [p for p in key[len(base):].split("\\") if p]:
            node = node.setdefault(part, {})
        node.update(values)
    return tree


def test_windows_manifest_keys_are_read_in_both_views_in_each_browsers_order(monkeypatch):
    from host.diagnose import Diagnosis
    from host.registration import Context, windows_key

    monkeypatch.delenv("CPSBRIDGE_SYSTEM_CONFIG", raising=False)
    user = "C:\\Users\\dr\\AppData\\Local\\CPS Bridge\\NativeMessagingHosts\\x.chromium.json"
    wow = "C:\\Program Files (x86)\\CPS Bridge\\x.chromium.json"  # WOW6432Node: 32-bit view
    native = "D:\\CPS Bridge\\x.chromium.json"
    reader = FakeRegistryReader(defaults={
        (windows_key("chrome", False), 32): user, (windows_key("chrome", False), 64): user,
        (windows_key("chrome", True), 32): wow, (windows_key("chrome", True), 64): native,
        (windows_key("firefox", True), 32): wow.replace("chromium", "firefox"),
    })
    d = Diagnosis(Context(platform="win32", env=WIN_CTX_ENV), online=False, registry=reader)
    # Chrome: HKCU then HKLM, 32-bit view first; HKCU\Software is one key in both views.
    assert d._manifest_locations("chrome") == [("utilisateur", user), ("système", wow),
                                               ("système", native)]
    assert d._manifest_locations("firefox") == [("système", wow.replace("chromium", "firefox"))]
    assert d._manifest_locations("edge") == []


def test_windows_policies_are_read_from_the_registry_for_firefox_too(tmp_path, monkeypatch):
    """What the MSI's Policies feature and a GPO write: HKLM\\SOFTWARE\\Policies\\Mozilla\\Firefox
    for Firefox, Chrome's key for Chrome; machine policies win over the user's."""
    from host.config import PRODUCTION_ORIGINS
    from host.diagnose import Diagnosis
    from host.registration import Context

    monkeypatch.chdir(tmp_path)  # no policies.json under "C:\Program Files\…" here
    monkeypatch.delenv("CPSBRIDGE_SYSTEM_CONFIG", raising=False)
    firefox_key = "HKLM\\SOFTWARE\\Policies\\Mozilla\\Firefox"
    chrome_key = "HKLM\\SOFTWARE\\Policies\\Google\\Chrome"
    reader = FakeRegistryReader(trees={firefox_key: _tree_of_reg("firefox.reg"),
                                       chrome_key: _tree_of_reg("chrome.reg")})
    ctx = Context(platform="win32", env=WIN_CTX_ENV)
    d = Diagnosis(ctx, online=False, registry=reader)
    firefox = d._firefox_policy()
    assert firefox["blocks"] == [] and firefox_key in firefox["source"]
    assert d.policy_origins["firefox"] == PRODUCTION_ORIGINS  # 3rdparty\Extensions\<id>
    chrome = d._chromium_policy("chrome")
    assert chrome["blocks"] == [] and chrome["source"] == chrome_key
    assert d.policy_origins["chrome"] == PRODUCTION_ORIGINS  # 3rdparty\extensions\<id>\policy

    # A user policy that blocks every add-on, a machine one that allows ours: the machine wins.
    reader.trees["HKCU\\SOFTWARE\\Policies\\Mozilla\\Firefox"] = {
        "ExtensionSettings": json.dumps({"*": {"installation_mode": "blocked"}})}
    assert Diagnosis(ctx, online=False, registry=reader)._firefox_policy()["blocks"] == []
    # A GPO blocking them all for the machine (REG_MULTI_SZ JSON, as the ADMX writes it).
    reader.trees[firefox_key] = {
        "ExtensionSettings": ['{"*": {', '"installation_mode": "blocked"}}']}
    blocks = Diagnosis(ctx, online=False, registry=reader)._firefox_policy()["blocks"]
    assert len(blocks) == 1 and "ExtensionSettings" in blocks[0]
    # Chrome: a machine blocklist of every native host.
    reader.trees[chrome_key] = {"NativeMessagingBlocklist": {"1": "*"}}
    blocks = Diagnosis(ctx, online=False, registry=reader)._chromium_policy("chrome")["blocks"]
    assert len(blocks) == 1 and "NativeMessagingBlocklist" in blocks[0]


def test_a_windows_manifest_naming_the_host_relatively_is_checked_beside_it(tmp_path, monkeypatch):
    """The MSI's manifests name `cpsbridge-host.exe`, which the browsers take from the
    manifest's folder: diagnose looks there (Windows paths are plain file names here)."""
    from host.diagnose import Diagnosis, manifest_executable
    from host.manifests import render
    from host.registration import Context

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("CPSBRIDGE_SYSTEM_CONFIG", raising=False)
    manifest = "D:\\CPS\\fr.viatrajectoire.cpsbridge.chromium.json"
    exe = "D:\\CPS\\cpsbridge-host.exe"
    Path(manifest).write_text(json.dumps(render("chromium", "cpsbridge-host.exe", windows=True)))
    Path("cpsbridge-host.exe").write_text("")  # in the current folder: not the one that counts
    d = Diagnosis(Context(platform="win32", env=WIN_CTX_ENV), online=False,
                  registry=FakeRegistryReader())
    assert d._manifest_problem("chrome", manifest).endswith(f"exécutable absent : {exe}")
    Path(exe).write_text("")
    os.chmod(exe, 0o755)
    assert d._manifest_problem("chrome", manifest) is None
    # Linux and macOS: a relative path is refused by the browsers, and said so.
    assert manifest_executable("/etc/x/m.json", "cpsbridge-host", windows=False) is None
    assert manifest_executable("/etc/x/m.json", "/opt/h", windows=False) == "/opt/h"


# -- robustness: odd files, unforeseen failures, any stdout encoding ----------------------------

FIREFOX_ID = "cpsbridge@viatrajectoire.fr"


def bare_env(tmp_path: Path) -> dict[str, str]:
    """A workstation with nothing in place: quick to diagnose (PC/SC and PKCS#11 fail at
    once), with a blocking problem and its fix in every report."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env.update(HOME=str(tmp_path / "home"), PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"),
               CPSBRIDGE_SYSTEM_CONFIG=str(tmp_path / "none.json"),
               CPSBRIDGE_PKCS11_MODULE=str(tmp_path / "libcps3_pkcs11_lux.so"))
    return env


def write_json(path: Path, data: object) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data))
    return path


def manifest(path: object, **fields: object) -> dict:
    return {"name": "fr.viatrajectoire.cpsbridge", "description": "CPS Bridge", "type": "stdio",
            "path": path, **fields}


def an_executable(tmp_path: Path) -> str:
    exe = tmp_path / "bin" / "cpsbridge-host"
    exe.parent.mkdir(parents=True, exist_ok=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    return str(exe)


def test_fields_of_the_wrong_type_are_findings_never_a_traceback(tmp_path):
    """Manifests and policies as someone may have edited them: each wrong type is a finding
    with its fix, and the JSON report is whole."""
    env = bare_env(tmp_path)
    home, root = tmp_path / "home", tmp_path / "root"
    exe = an_executable(tmp_path)
    firefox = write_json(home / ".mozilla/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json",
                         manifest(exe, allowed_extensions=5))
    write_json(home / ".config/chromium/NativeMessagingHosts/fr.viatrajectoire.cpsbridge.json",
               manifest(5, allowed_origins=["chrome-extension://ojnpopkpgdnmkpgbnihogpenoomlejcb/"]))
    write_json(root / "etc/chromium/policies/managed/hopital.json", {"ExtensionSettings": ["x"]})
    write_json(root / "etc/firefox/policies/policies.json",
               {"policies": {"ExtensionSettings": {FIREFOX_ID: "blocked"}}})
    code, doc = diagnose(env, "--hors-ligne", "--root", str(root))
    checks = by_id(doc)
    assert code == 1 and not [i for i in checks if i.endswith(".inattendu")], doc["blocking"]
    assert "« allowed_extensions » qui n'est pas une liste" in checks["browser.firefox"]["message"]
    assert "« path » qui n'est pas un chemin (un nombre 5)" in checks["browser.chromium"]["message"]
    for browser in ("chromium", "firefox"):
        assert "ExtensionSettings" in checks[f"policy.{browser}.forme"]["message"]
        assert checks[f"policy.{browser}.forme"]["fix"]
    # A string where Firefox wants a list is refused by Firefox, even if it holds the id.
    write_json(firefox, manifest(exe, allowed_extensions="x" + FIREFOX_ID))
    code, doc = diagnose(env, "--hors-ligne")
    assert by_id(doc)["browser.firefox"]["status"] != "ok"
    assert "pas une liste de textes (un texte" in by_id(doc)["browser.firefox"]["message"]


def test_an_unreadable_manifest_folder_is_a_finding(tmp_path, monkeypatch):
    """Python 3.11's Path.is_file() raises PermissionError for a folder it may not enter
    (made here by a patch: the tests may run as root, whom chmod does not stop)."""
    from host.diagnose import Diagnosis
    from host.registration import Context

    home = tmp_path / "home"
    blocked = home / ".mozilla/native-messaging-hosts"
    real_is_file = Path.is_file

    def is_file(self: Path) -> bool:
        if self.parent == blocked:
            raise PermissionError(13, "Permission denied", str(self))
        return real_is_file(self)

    monkeypatch.setattr(Path, "is_file", is_file)
    d = Diagnosis(Context(platform="linux", env={"HOME": str(home), "PATH": ""},
                          root=str(tmp_path / "root")), online=False)
    assert d._manifest_locations("firefox") == []
    (check,) = [c for c in d.checks if c.id == "browser.firefox.illisible"]
    assert check.status == "warning" and "PermissionError" in check.message
    assert str(blocked) in check.fix


def test_an_unforeseen_failure_is_one_error_line_and_the_report_goes_on(tmp_path, monkeypatch):
    from host.diagnose import Diagnosis
    from host.registration import Context

    def boom(self, *a) -> None:  # pcsc(self), browser(self, browser)
        raise RuntimeError("imprévu")

    monkeypatch.setattr(Diagnosis, "pcsc", boom)
    monkeypatch.setattr(Diagnosis, "pkcs11", lambda self: None)
    monkeypatch.setattr(Diagnosis, "browser", boom)  # one browser's check
    monkeypatch.setenv("CPSBRIDGE_SYSTEM_CONFIG", str(tmp_path / "none.json"))
    d = Diagnosis(Context(platform="linux", env={"HOME": str(tmp_path), "PATH": ""},
                          root=str(tmp_path)), online=False)
    checks = {c.id: c for c in d.run()}
    failed = checks["pcsc.inattendu"]
    assert failed.status == "error" and "« pcsc »" in failed.message
    assert "RuntimeError" in failed.message and failed.details["exception"] == "RuntimeError"
    # Each browser is checked on its own (each failing on the injected error, not on a
    # stub that does not fit); and what follows is still there.
    assert {f"browser.{b}.inattendu" for b in ("chrome", "firefox")} <= set(checks)
    for id, check in checks.items():
        if id.startswith("browser.") and id.endswith(".inattendu"):
            assert check.details == {"check": id.removesuffix(".inattendu"),
                                     "exception": "RuntimeError"}, check.details
            assert "(RuntimeError : imprévu)" in check.message
    assert {"host", "config", "origins", "site", "log"} <= set(checks)


@pytest.mark.parametrize("encoding", ["cp1252", "ascii"])
def test_the_report_survives_any_stdout_encoding(encoding, tmp_path):
    """Windows gives a redirected stdout cp1252, which has no "→"."""
    env = dict(bare_env(tmp_path), PYTHONIOENCODING=encoding)
    t = subprocess.run([*SOURCE_HOST, "diagnose", "--hors-ligne"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
    assert b"Traceback" not in t.stderr, t.stderr.decode(errors="replace")
    text = t.stdout.decode(encoding)

    def shown(s: str) -> str:  # as that encoding shows it: "?" for what it lacks
        return s.encode(encoding, "replace").decode(encoding)

    assert t.returncode == 1 and shown("problème(s) empêchent la connexion") in text
    assert shown("\n            -> Installez et démarrez le service pcscd") in text  # not "?"
    j = subprocess.run([*SOURCE_HOST, "diagnose", "--json", "--hors-ligne"], env=env, cwd=REPO,
                       capture_output=True, timeout=120)
    doc = json.loads(j.stdout.decode(encoding))  # valid, and exact: escapes where needed
    assert j.returncode == 1 and "pcsc.service" in doc["blocking"]
    assert by_id(doc)["pcsc.service"]["message"] == \
        "Le service des cartes à puce (PC/SC) ne répond pas."


def test_the_fix_for_a_broken_manifest_depends_on_who_put_it_there(tmp_path):
    """A user's manifest is read first: fixed with --user. One of the .deb is not touched by
    install --system (exit 4): reinstall the package. Else install --system."""
    env = bare_env(tmp_path)
    home, root = tmp_path / "home", tmp_path / "root"
    gone = str(tmp_path / "gone/cpsbridge-host")
    write_json(home / ".mozilla/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json",
               manifest(gone, allowed_extensions=[FIREFOX_ID]))
    chromium = "/etc/chromium/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json"
    origins = ["chrome-extension://ojnpopkpgdnmkpgbnihogpenoomlejcb/"]
    write_json(root / chromium.lstrip("/"), manifest(gone, allowed_origins=origins))
    write_json(root / "etc/opt/edge/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json",
               manifest(gone, allowed_origins=origins))
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "cpsbridge.list").write_text(f"/.\n/etc\n{chromium}\n")
    code, doc = diagnose(env, "--hors-ligne", "--root", str(root))
    checks = by_id(doc)
    assert checks["browser.firefox"]["details"]["level"] == "utilisateur"
    assert "install --user" in checks["browser.firefox"]["fix"]
    assert "uninstall --user" in checks["browser.firefox"]["fix"]
    assert "apt install --reinstall" in checks["browser.chromium"]["fix"]
    assert "install --system" not in checks["browser.chromium"]["fix"]
    assert "install --system" in checks["browser.edge"]["fix"]


def test_origins_are_compared_both_ways_in_canonical_form(monkeypatch):
    from host import config
    from host.diagnose import Diagnosis
    from host.registration import Context

    d = Diagnosis(Context(platform="linux", env={"HOME": "/nonexistent"}), online=False)
    d.settings = config.Settings(allowedOrigins=["https://trajectoire.sante-ra.fr",
                                                 "https://recette.viatrajectoire.fr"])
    d.policy_origins = {"chrome": ["https://Trajectoire.sante-ra.fr/", "https://autre.example.fr",
                                   "trajectoire.sante-ra.fr", 5]}
    d.origins()
    checks = {c.id: c for c in d.checks}
    assert checks["origins.chrome"].details["missing"] == ["https://autre.example.fr"]
    assert checks["origins.chrome.module"].details["hostOnly"] == ["https://recette.viatrajectoire.fr"]
    assert checks["origins.chrome.invalide"].details["invalid"] == ["trajectoire.sante-ra.fr", 5]
    assert all(c.status == "warning" and c.fix for c in checks.values() if c.id != "origins")
    # Both lists the same, written differently: nothing to say.
    d.checks, d.policy_origins = [], {"chrome": ["https://RECETTE.viatrajectoire.fr:443"]}
    d.origins()
    assert [c.id for c in d.checks] == ["origins"]
    # A browser the extension runs in with no policy at all: only the production origins.
    d.checks, d.policy_origins, d.served = [], {}, ["firefox"]
    d.origins()
    checks = {c.id: c for c in d.checks}
    assert checks["origins.firefox.module"].details["hostOnly"] == ["https://recette.viatrajectoire.fr"]
    assert "aucune stratégie" in checks["origins.firefox.module"].message
    # wss, which the host takes, is no page's origin: nothing for the extension to allow.
    d.settings = config.Settings(allowedOrigins=["https://trajectoire.sante-ra.fr",
                                                 "wss://trajectoire.sante-ra.fr"])
    d.checks = []
    d.origins()
    assert [c.id for c in d.checks] == ["origins"]


def test_a_manifest_naming_a_file_without_the_execute_bit_says_so(tmp_path, monkeypatch):
    from host.diagnose import Diagnosis
    from host.registration import Context

    exe = Path(an_executable(tmp_path))
    exe.chmod(0o644)
    path = write_json(tmp_path / "m.json", manifest(str(exe), allowed_extensions=[FIREFOX_ID]))
    d = Diagnosis(Context(platform="linux", env={"HOME": str(tmp_path)}), online=False)
    assert d._manifest_problem("firefox", str(path)).endswith(f"n'est pas exécutable : {exe}")
    exe.chmod(0o755)
    assert d._manifest_problem("firefox", str(path)) is None


def test_the_old_chrome_policy_names_are_read_when_the_new_ones_are_not_set(tmp_path):
    """Legacy GPOs still write NativeMessagingBlacklist/Whitelist and
    ExtensionInstallBlacklist/Whitelist, which Chrome honours when the new name is not set."""
    from host.diagnose import Diagnosis
    from host.manifests import chromium_ids
    from host.registration import Context

    root = tmp_path / "root"
    policy = root / "etc/chromium/policies/managed/gpo.json"
    ctx = Context(platform="linux", env={"HOME": str(tmp_path / "home")}, root=str(root))

    def blocks(policies: dict) -> list[str]:
        write_json(policy, policies)
        return Diagnosis(ctx, online=False)._chromium_policy("chromium")["blocks"]

    host_blocks = blocks({"NativeMessagingBlacklist": ["*"]})
    assert len(host_blocks) == 1 and "NativeMessagingBlacklist" in host_blocks[0]
    assert blocks({"NativeMessagingBlacklist": ["*"],
                   "NativeMessagingWhitelist": ["fr.viatrajectoire.cpsbridge"]}) == []
    ext_blocks = blocks({"ExtensionInstallBlacklist": ["*"]})
    assert len(ext_blocks) == 1 and "interdit l'extension" in ext_blocks[0]
    assert blocks({"ExtensionInstallBlacklist": ["*"],
                   "ExtensionInstallWhitelist": chromium_ids()}) == []
    # Both names set: the browser reads the new one only.
    assert blocks({"NativeMessagingBlocklist": [], "NativeMessagingBlacklist": ["*"]}) == []


def test_with_root_a_system_manifests_executable_is_looked_for_under_the_root(tmp_path):
    """`diagnose --root DIR` on a staged package: the system manifest names
    /opt/cpsbridge/cpsbridge-host, which is under DIR, not on this machine."""
    env = bare_env(tmp_path)
    root = tmp_path / "root"
    exe = "/opt/cpsbridge/cpsbridge-host"
    write_json(root / "usr/lib/mozilla/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json",
               manifest(exe, allowed_extensions=[FIREFOX_ID]))
    code, doc = diagnose(env, "--hors-ligne", "--root", str(root))
    assert f"exécutable absent : {exe}" in by_id(doc)["browser.firefox"]["message"]
    staged = root / exe.lstrip("/")
    staged.parent.mkdir(parents=True)
    staged.write_text("#!/bin/sh\n")
    staged.chmod(0o644)
    code, doc = diagnose(env, "--hors-ligne", "--root", str(root))
    assert f"n'est pas exécutable : {exe}" in by_id(doc)["browser.firefox"]["message"]
    staged.chmod(0o755)
    code, doc = diagnose(env, "--hors-ligne", "--root", str(root))
    assert by_id(doc)["browser.firefox"]["status"] == "ok"


# -- what the fixes tell IT to run or read --------------------------------------------------------

def test_a_package_manifest_is_fixed_from_the_deb_file_and_from_a_repository(tmp_path):
    """Installed from a .deb file (§ 4), `apt install --reinstall cpsbridge` finds nothing to
    download and changes nothing (exit 0): the fix names the file, as build.py names it,
    for the version and architecture of the installed package (build.py names it by the same
    function: tests/deploy/test_build_checks.py); the package-name form is for an APT
    repository."""
    from host import __version__
    from host.diagnose import Diagnosis
    from host.registration import Context

    root = tmp_path / "root"
    chromium = "/etc/chromium/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json"
    info = root / "var/lib/dpkg/info"
    info.mkdir(parents=True)
    (info / "cpsbridge.list").write_text(f"/.\n/etc\n{chromium}\n")
    (root / "var/lib/dpkg/status").write_text(
        "Package: pcscd\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1\n\n"
        "Package: cpsbridge\nStatus: install ok installed\nArchitecture: arm64\n"
        f"Version: {__version__}\n")
    d = Diagnosis(Context(platform="linux", env={"HOME": str(tmp_path)}, root=str(root)),
                  online=False)
    fix = d._manifest_fix("système", str(root / chromium.lstrip("/")))
    file_form = ("`sudo apt install --reinstall -o Dpkg::Options::=--force-confask "
                 f"./cpsbridge_{__version__}_arm64.deb`")
    assert file_form in fix, fix
    assert ("`sudo apt install --reinstall -o Dpkg::Options::=--force-confask cpsbridge`"
            in fix) and "dépôt APT" in fix
    assert fix.index(file_form) < fix.index("dépôt APT")
    # Without dpkg's record of it: the architecture dpkg gives this machine.
    (root / "var/lib/dpkg/status").unlink()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    assert f"./cpsbridge_{__version__}_{arch}.deb`" in d._manifest_fix(
        "système", str(root / chromium.lstrip("/")))


def _guide_item(section: int, item: int) -> str:
    """The text of item `item` of section `section` of docs/DEPLOYMENT.md."""
    import re

    text = (REPO / "docs" / "DEPLOYMENT.md").read_text("utf-8")
    part = re.search(rf"^## {section}\. .*?(?=^## )", text, re.M | re.S).group(0)
    found = re.search(rf"^{item}\. .*?(?=^\d+\. |\Z)", part, re.M | re.S)
    assert found, (section, item)
    return found.group(0)


@pytest.mark.parametrize("platform", ["linux", "win32", "darwin"])
def test_a_config_error_names_the_sections_of_the_guide_that_exist(tmp_path, monkeypatch,
                                                                      platform):
    """No « § configuration » in the guide: the fix names the sections where the system
    configuration file is described, and where the guide is on this machine."""
    import re

    from host.diagnose import Diagnosis
    from host.registration import Context

    bad = tmp_path / "config.json"
    bad.write_text('{"allowedOrigins": "not a list"}')
    monkeypatch.setenv("CPSBRIDGE_SYSTEM_CONFIG", str(tmp_path / "none.json"))
    monkeypatch.setenv("CPSBRIDGE_USER_CONFIG", str(bad))
    d = Diagnosis(Context(platform=platform, env={"HOME": str(tmp_path),
                                                  "USERPROFILE": str(tmp_path)}),
                  online=False, registry=FakeRegistryReader())
    d.configuration()
    (check,) = d.checks
    assert check.status == "error" and str(bad) in check.fix
    assert "§ configuration" not in check.fix
    sections = re.findall(r"§ (\d+) \(point (\d+)\)", check.fix)
    assert sections, check.fix
    for section, item in sections:
        assert "config.json" in _guide_item(int(section), int(item)), (section, item)
    assert "docs/DEPLOYMENT.md" in check.fix
    assert ("/usr/share/doc/cpsbridge/DEPLOYMENT.md" in check.fix) is (platform == "linux")


def _without_the_extension(home: Path, browser: str) -> None:
    folder = {"chromium": ".config/chromium", "edge": ".config/microsoft-edge",
              "chrome": ".config/google-chrome"}[browser]
    write_json(home / folder / "Default" / "Preferences", {"extensions": {"settings": {}}})


@pytest.mark.parametrize("browser, store", [("chromium", "le Chrome Web Store"),
                                            ("edge", "Edge Add-ons")])
def test_the_extension_fix_says_when_its_store_does_not_have_it_yet(tmp_path, browser, store):
    """extension/ids.json has null for a store where the extension is not published: no
    « installez-la depuis le Chrome Web Store » then, but the policy install of § 6 and
    where the guide is; once the store's id is known, the store."""
    from host.diagnose import Diagnosis
    from host.manifests import extension_ids
    from host.registration import Context

    home = tmp_path / "home"
    _without_the_extension(home, browser)
    entry = "edgeAddons" if browser == "edge" else "chromeWebStore"
    ctx = Context(platform="linux", env={"HOME": str(home), "PATH": ""})

    def fix(store_id: str | None) -> str:
        d = Diagnosis(ctx, online=False)
        d.ids = dict(extension_ids(), **{entry: store_id})
        d.extension(browser)
        (check,) = d.checks
        assert check.status == "warning", check
        return check.fix

    unpublished = fix(None)
    assert f"pas encore publiée sur {store}" in unpublished, unpublished
    assert "Installez l'extension CPS Bridge depuis" not in unpublished
    assert "stratégie d'entreprise" in unpublished and "§ 6" in unpublished
    assert "/usr/share/doc/cpsbridge/DEPLOYMENT.md" in unpublished
    assert "docs/DEPLOYMENT.md" in unpublished
    published = fix("abcdefghijklmnopabcdefghijklmnop")
    assert f"Installez l'extension CPS Bridge depuis {store}" in published, published
    assert "pas encore publiée" not in published
    assert "/usr/share/doc/cpsbridge/DEPLOYMENT.md" in published
