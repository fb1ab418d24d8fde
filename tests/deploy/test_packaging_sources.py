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
from host.manifests import INSTALLED_HOST, extension_ids
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
    std = wix.find(".//w:StandardDirectory[@Id='ProgramFiles64Folder']", NS)
    folder = std.find("w:Directory[@Id='INSTALLFOLDER']", NS).get("Name")
    assert str(PureWindowsPath("C:\\Program Files", folder, "cpsbridge-host.exe")) == INSTALLED_HOST["windows"]
    assert wix.find(".//w:ComponentGroup[@Id='HostFiles']/w:Files", NS).get("Include") == "$(var.HostDir)\\**"


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


@pytest.mark.parametrize("browser, comp", [("chrome", "ChromePolicies"), ("edge", "EdgePolicies")])
def test_msi_policies_are_those_of_the_reg_templates(wix, browser, comp):
    reg = parse_reg(POLICIES / "windows" / f"{browser}.reg")
    from_reg = {(k.split("\\", 1)[1].lower(), n, v) for k, values in reg.items()
                for n, v in values.items() if n != "ExtensionSettings"}
    assert registry_values(component(wix, comp)) == from_reg


def test_msi_firefox_policy_is_that_of_policies_json(wix):
    (_, name, value), = registry_values(component(wix, "FirefoxPolicies"))
    policies = json.loads((POLICIES / "firefox" / "policies.json").read_text())["policies"]
    assert name == "ExtensionSettings" and json.loads(value) == policies["ExtensionSettings"]


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


def test_policy_templates_are_generated_from_the_ids_and_up_to_date():
    assert build_module().policies_up_to_date() == [], "run `python build.py policies`"
    chrome = json.loads((POLICIES / "linux" / "chrome.json").read_text())
    assert chrome["ExtensionInstallForcelist"] == [
        f"{IDS['chromium']};https://clients2.google.com/service/update2/crx"]
    assert chrome["ExtensionSettings"][IDS["chromium"]]["installation_mode"] == "force_installed"
    assert chrome["NativeMessagingAllowlist"] == [HOST_NAME]
    edge = json.loads((POLICIES / "linux" / "edge.json").read_text())
    assert edge["ExtensionInstallForcelist"][0].startswith(IDS["edge"] + ";https://edge.microsoft.com/")
    firefox = json.loads((POLICIES / "firefox" / "policies.json").read_text())["policies"]
    assert firefox["ExtensionSettings"][IDS["firefox"]]["installation_mode"] == "force_installed"


def test_managed_storage_in_every_template_fits_the_extension_schema():
    schema = json.loads((REPO / "extension" / "managed_schema.json").read_text())
    stores = [json.loads((POLICIES / "linux" / f"{b}.json").read_text())["3rdparty"]["extensions"]
              [IDS[b if b == "edge" else "chromium"]] for b in ("chrome", "edge")]
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
    settings = json.loads(reg["HKEY_LOCAL_MACHINE\\SOFTWARE\\Policies\\Google\\Chrome"]["ExtensionSettings"])
    assert settings == json.loads((POLICIES / "linux" / "chrome.json").read_text())["ExtensionSettings"]


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
