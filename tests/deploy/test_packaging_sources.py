"""What cannot be built or run here (the Windows MSI, the macOS pkg, Windows policies) is
checked by parsing it: the WiX source, the CI workflow, the pkg recipe, the .reg and JSON
policy templates, against the same sources the host uses (host/registration.py,
host/manifests.py, extension/ids.json, extension/managed_schema.json)."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path, PureWindowsPath

import pytest
import yaml

from host import HOST_NAME
from host.config import PRODUCTION_ORIGINS
from host.manifests import INSTALLED_HOST, chromium_ids, extension_ids
from host.registration import BROWSERS, FAMILY, windows_key
from tests.testbed.hostproc import REPO, SOURCE_HOST

WXS = REPO / "packaging" / "wix" / "cpsbridge.wxs"
NS = {"w": "http://wixtoolset.org/schemas/v4/wxs"}
POLICIES = REPO / "manifests" / "policies"
IDS = extension_ids()


def build_module():
    spec = importlib.util.spec_from_file_location("cpsbridge_build", REPO / "build.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def component(root: ET.Element, cid: str) -> ET.Element:
    found = root.find(f".//w:Component[@Id='{cid}']", NS)
    assert found is not None, f"no component {cid} in {WXS}"
    return found


def registry_values(comp: ET.Element) -> set[tuple[str, str, str]]:
    return {(v.get("Key").lower(), v.get("Name") or "", v.get("Value"))
            for v in comp.findall("w:RegistryValue", NS)}


def parse_reg(path: Path) -> dict[str, dict[str, str]]:
    """A .reg file as {key: {name: value}} (strings only, which is all ours hold)."""
    raw = path.read_bytes()
    assert raw.startswith(b"\xff\xfe"), "regedit files are UTF-16 with a BOM"
    lines = raw.decode("utf-16").split("\r\n")
    assert lines[0] == "Windows Registry Editor Version 5.00"
    out: dict[str, dict[str, str]] = {}
    key = None
    for line in lines[1:]:
        if line.startswith("["):
            key = line.strip("[]")
            out[key] = {}
        elif line:
            name, value = line.split("=", 1)
            out[key][json.loads(name)] = json.loads(value)  # same escaping as JSON strings
    return out


@pytest.fixture(scope="module")
def wix() -> ET.Element:
    return ET.parse(WXS).getroot()


def test_msi_installs_the_host_where_the_windows_manifests_point(wix):
    """The manifests and the host share the install folder, whatever it is (INSTALLFOLDER may
    be changed, on any drive): the manifests name the host by its file name, relative to their
    own folder, which Chrome and Firefox accept on Windows."""
    std = wix.find(".//w:StandardDirectory[@Id='ProgramFiles64Folder']", NS)
    assert std.find("w:Directory[@Id='INSTALLFOLDER']", NS).get("Name") == "CPS Bridge"
    group = wix.find(".//w:ComponentGroup[@Id='HostFiles']", NS)
    assert group.get("Directory") == component(wix, "Manifests").get("Directory") == "INSTALLFOLDER"
    assert group.find("w:Files", NS).get("Include") == "$(var.HostDir)\\**"
    assert INSTALLED_HOST["windows"] == "cpsbridge-host.exe"
    assert not PureWindowsPath(INSTALLED_HOST["windows"]).is_absolute()
    assert "C:\\" not in json.dumps(INSTALLED_HOST["windows"])


def test_msi_writes_the_documented_hklm_key_of_every_browser(wix, tmp_path):
    values = registry_values(component(wix, "BrowserRegistration"))
    expected = {(windows_key(b, system=True).split("\\", 1)[1].lower(), "",
                 f"[INSTALLFOLDER]{HOST_NAME}.{FAMILY[b]}.json") for b in BROWSERS}
    assert values == expected
    assert {v.get("Root") for v in component(wix, "BrowserRegistration").findall("w:RegistryValue", NS)} == {"HKLM"}
    # The manifest files it installs are the ones `build.py manifests` renders for Windows.
    build_module().build_manifests(None)
    for f in component(wix, "Manifests").findall("w:File", NS):
        built = REPO / "dist" / "manifests" / "windows" / f.get("Name")
        assert f.get("Source") == f"$(var.ManifestDir)\\{f.get('Name')}"
        assert json.loads(built.read_text())["path"] == INSTALLED_HOST["windows"]


def reg_values(reg: dict[str, dict[str, str]]) -> set[tuple[str, str, str]]:
    return {(k.split("\\", 1)[1].lower(), n, v)
            for k, values in reg.items() for n, v in values.items()}


@pytest.mark.parametrize("browser, comp", [("chrome", "ChromePolicies"), ("edge", "EdgePolicies"),
                                           ("firefox", "FirefoxPolicies")])
def test_msi_policies_are_those_of_the_reg_templates(wix, browser, comp):
    """Every value, ExtensionSettings and managed storage (3rdparty) included."""
    reg = parse_reg(POLICIES / "windows" / f"{browser}.reg")
    assert registry_values(component(wix, comp)) == reg_values(reg)
    assert any("\\3rdparty\\" in k for k in reg)
    keypaths = [v for v in component(wix, comp).findall("w:RegistryValue", NS) if v.get("KeyPath")]
    assert len(keypaths) == 1 and {v.get("Root") for v in component(wix, comp)} == {"HKLM"}


def test_windows_firefox_policies_are_those_of_policies_json():
    """What the .reg (and so the MSI) writes is what policies.json says, once Firefox has read
    the registry (host.diagnose reads it the same way)."""
    from host.diagnose import registry_policies

    reg = parse_reg(POLICIES / "windows" / "firefox.reg")
    tree: dict = {}
    prefix = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Mozilla\\Firefox"
    for key, values in reg.items():
        node = tree
        for part in [p for p in key[len(prefix):].split("\\") if p]:
            node = node.setdefault(part, {})
        node.update(values)
    policies = json.loads((POLICIES / "firefox" / "policies.json").read_text())["policies"]
    assert registry_policies(tree, "firefox") == policies


def _ids_with_stores(tmp_path: Path, chrome: str | None, edge: str | None) -> Path:
    """A copy of extension/ (ids and managed schema) with the stores' ids filled in."""
    ext = tmp_path / "extension"
    ext.mkdir()
    ids = dict(IDS, chromeWebStore=chrome, edgeAddons=edge)
    (ext / "ids.json").write_text(json.dumps(ids))
    shutil.copy(REPO / "extension" / "managed_schema.json", ext / "managed_schema.json")
    return ext


def test_store_ids_once_known_go_into_every_policy_and_the_msi(tmp_path, monkeypatch):
    """The Chrome Web Store and Edge Add-ons assign their own ids (not the key's): once
    filled in extension/ids.json, each browser's templates force-install that id from that
    store, and the MSI's components still carry the .reg values (ids made up here)."""
    build = build_module()
    cws, edge_id = "a" * 16 + "b" * 16, "c" * 16 + "d" * 16
    monkeypatch.setattr(build, "EXTENSION", _ids_with_stores(tmp_path, cws, edge_id))
    files = build.policy_files()
    chrome = json.loads(files["linux/chrome.json"])
    assert chrome["ExtensionInstallForcelist"] == [
        f"{cws};https://clients2.google.com/service/update2/crx"]
    assert set(chrome["ExtensionSettings"]) == {cws}  # never the key's id from the store
    assert set(chrome["3rdparty"]["extensions"]) == {IDS["chromium"], cws}
    edge = json.loads(files["linux/edge.json"])
    assert edge["ExtensionInstallForcelist"] == [
        f"{edge_id};https://edge.microsoft.com/extensionwebstorebase/v1/crx"]
    assert set(edge["3rdparty"]["extensions"]) == {IDS["chromium"], edge_id}
    wix = ET.fromstring(build.wxs_text())
    for browser, comp in (("chrome", "ChromePolicies"), ("edge", "EdgePolicies"),
                          ("firefox", "FirefoxPolicies")):
        path = tmp_path / f"{browser}.reg"
        path.write_bytes(files[f"windows/{browser}.reg"])
        assert registry_values(component(wix, comp)) == reg_values(parse_reg(path))
    settings = [v for v in component(wix, "ChromePolicies") if v.get("Name") == "ExtensionSettings"]
    assert json.loads(settings[0].get("Value")) == chrome["ExtensionSettings"]
    # The host manifests allow them too.
    assert chromium_ids(json.loads((tmp_path / "extension/ids.json").read_text())) == \
        [IDS["chromium"], cws, edge_id]


@pytest.mark.parametrize("chrome, edge", [("A_RENSEIGNER", None), (None, "x" * 32),
                                          ("ojnpopkpgdnmkpgbnihogpenoomlejc", None)])
def test_a_store_id_left_as_a_placeholder_or_malformed_stops_the_build(tmp_path, monkeypatch,
                                                                       chrome, edge):
    build = build_module()
    monkeypatch.setattr(build, "EXTENSION", _ids_with_stores(tmp_path, chrome, edge))
    with pytest.raises(SystemExit) as err:
        build.policy_files()
    assert "32 letters a-p" in str(err.value)


def test_the_workflow_builds_the_msi_on_a_windows_runner_and_the_pkg_on_a_mac():
    doc = yaml.safe_load((REPO / ".github" / "workflows" / "packages.yml").read_text())
    msi = doc["jobs"]["windows-msi"]
    assert msi["runs-on"].startswith("windows")
    script = "\n".join(s.get("run", "") for s in msi["steps"])
    assert "python build.py host" in script and "python build.py manifests" in script
    assert "wix build packaging\\wix\\cpsbridge.wxs" in script
    assert "--global wix --version 5." in script  # <Files> (harvesting) needs WiX v5
    assert "-d HostDir=dist\\host" in script and "-d ManifestDir=dist\\manifests\\windows" in script
    pkg = doc["jobs"]["macos-pkg"]
    assert pkg["runs-on"].startswith("macos")
    assert "sh packaging/macos/build-pkg.sh" in "\n".join(s.get("run", "") for s in pkg["steps"])


def test_the_macos_recipe_is_valid_shell_installing_where_the_manifests_point():
    script = REPO / "packaging" / "macos" / "build-pkg.sh"
    assert subprocess.run(["sh", "-n", str(script)]).returncode == 0
    text = script.read_text()
    assert f'HOST_DIR="{INSTALLED_HOST["macos"].rsplit("/", 1)[0]}"' in text
    assert 'install --system --root "$STAGE" --host-path "$HOST_DIR/cpsbridge-host"' in text
    assert "pkgbuild" in text and '--identifier "$IDENTIFIER"' in text


def test_the_ids_keep_the_keys_id_apart_from_each_stores():
    """extension/ids.json: the key's id (unpacked, self-hosted builds) is the one its key
    gives; each store's id is its own entry, null until the extension is published there."""
    build = build_module()
    assert build.derived_chromium_id(IDS["chromiumKey"]) == IDS["chromium"]
    assert "edge" not in IDS  # the old entry that gave Edge the key's id
    for store in ("chromeWebStore", "edgeAddons"):
        assert store in IDS and (IDS[store] is None or len(IDS[store]) == 32)
    assert chromium_ids(IDS)[0] == IDS["chromium"]


def test_the_deployment_guide_says_what_it_must_set_for_a_store_build():
    text = (REPO / "docs" / "DEPLOYMENT.md").read_text()
    for needed in ("chromeWebStore", "edgeAddons", "--extension-id",
                   "install --system --extension-id", "ExtensionInstallForcelist", "INSTALLFOLDER"):
        assert needed in text, needed


def test_policy_templates_are_generated_from_the_ids_and_up_to_date():
    assert build_module().policies_up_to_date() == [], "run `python build.py policies`"
    templates = {"chrome": json.loads((POLICIES / "linux" / "chrome.json").read_text()),
                 "edge": json.loads((POLICIES / "linux" / "edge.json").read_text())}
    for browser, store, url in (("chrome", "chromeWebStore", "https://clients2.google.com/"),
                                ("edge", "edgeAddons", "https://edge.microsoft.com/")):
        policy = templates[browser]
        assert policy["NativeMessagingAllowlist"] == [HOST_NAME]
        if IDS[store] is None:  # not published there: nothing is forced from that store
            assert "ExtensionInstallForcelist" not in policy and "ExtensionSettings" not in policy
        else:
            (forced,) = policy["ExtensionInstallForcelist"]
            assert forced.startswith(f"{IDS[store]};{url}")
            assert set(policy["ExtensionSettings"]) == {IDS[store]}
        # Never the key's id from a store: no store has it.
        assert IDS["chromium"] not in json.dumps(policy.get("ExtensionInstallForcelist", []))
    firefox = json.loads((POLICIES / "firefox" / "policies.json").read_text())["policies"]
    assert firefox["ExtensionSettings"][IDS["firefox"]]["installation_mode"] == "force_installed"


def test_managed_storage_in_every_template_fits_the_extension_schema():
    schema = json.loads((REPO / "extension" / "managed_schema.json").read_text())
    stores = [json.loads((POLICIES / "linux" / f"{b}.json").read_text())["3rdparty"]["extensions"]
              [IDS["chromium"]] for b in ("chrome", "edge")]
    stores.append(json.loads((POLICIES / "firefox" / "policies.json").read_text())
                  ["policies"]["3rdparty"]["Extensions"][IDS["firefox"]])
    for store in stores:
        assert set(store) <= set(schema["properties"])
        assert schema["properties"]["allowedOrigins"]["type"] == "array"
        assert store["allowedOrigins"] == PRODUCTION_ORIGINS
    reg = parse_reg(POLICIES / "windows" / "chrome.reg")
    key = (f"HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome\\3rdparty\\extensions\\"
           f"{IDS['chromium']}\\policy\\allowedOrigins")
    assert list(reg[key].values()) == PRODUCTION_ORIGINS
    chrome = json.loads((POLICIES / "linux" / "chrome.json").read_text())
    if "ExtensionSettings" in chrome:  # once the Chrome Web Store id is known
        base = "HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome"
        settings = json.loads(reg[base]["ExtensionSettings"])
        assert settings == chrome["ExtensionSettings"]


def test_diagnose_finds_nothing_wrong_with_our_own_policies_in_place(tmp_path):
    root = tmp_path / "root"
    for folder, template in (("etc/chromium/policies/managed", "linux/chrome.json"),
                             ("etc/opt/edge/policies/managed", "linux/edge.json"),
                             ("etc/firefox/policies", "firefox/policies.json")):
        (root / folder).mkdir(parents=True)
        shutil.copy(POLICIES / template, root / folder / Path(template).name)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env["HOME"] = str(tmp_path / "home")
    r = subprocess.run([*SOURCE_HOST, "diagnose", "--json", "--hors-ligne", "--root", str(root)],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    checks = json.loads(r.stdout)["checks"]
    assert not [c for c in checks if c["id"].startswith(("policy.", "origins."))]
    # …and the same check does see a blocking template (the test can fail).
    (root / "etc/chromium/policies/managed/zz-block.json").write_text(
        json.dumps({"NativeMessagingBlocklist": ["*"], "NativeMessagingAllowlist": []}))
    r = subprocess.run([*SOURCE_HOST, "diagnose", "--json", "--hors-ligne", "--root", str(root)],
                       env=env, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert "policy.chromium" in {c["id"] for c in json.loads(r.stdout)["checks"]}


def test_msi_and_install_system_name_the_same_admin_only_manifests(wix):
    """`install --system` on Windows writes the manifests where the MSI puts them: the install
    folder under Program Files (admin-only), never %ProgramData% (any user may write there)."""
    from host.registration import Context, windows_manifest_path

    comp = component(wix, "Manifests")
    assert comp.get("Directory") == "INSTALLFOLDER"
    folder = wix.find(".//w:StandardDirectory[@Id='ProgramFiles64Folder']/w:Directory", NS)
    ctx = Context(platform="win32", env={"ProgramFiles": "C:\\Program Files",
                                         "ProgramData": "C:\\ProgramData"})
    msi = {str(PureWindowsPath("C:\\Program Files", folder.get("Name"), f.get("Name")))
           for f in comp.findall("w:File", NS)}
    assert msi == {windows_manifest_path(b, True, ctx) for b in BROWSERS}


def test_the_extension_and_the_host_know_the_same_production_origins():
    """The production origin is written twice, in host/config.py and in the extension (no
    build step may be needed to run the extension's sources): they must not drift apart."""
    import re

    source = (Path(__file__).resolve().parents[2] / "extension" / "src" / "origins.js").read_text("utf-8")
    declared = re.search(r"PRODUCTION_ORIGINS = Object\.freeze\(\[([^\]]*)\]\)", source)
    assert declared, "PRODUCTION_ORIGINS not found in extension/src/origins.js"
    assert re.findall(r'"([^"]+)"', declared.group(1)) == PRODUCTION_ORIGINS
