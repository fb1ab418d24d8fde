"""The frozen host (PyInstaller) against the same protocol tests as the source host, and
its own commands for people."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from tests.testbed.hostproc import REPO, host_command, one_shot

PROTOCOL_SUITES = ["tests/host/test_process.py", "tests/host/test_cards.py"]


def test_the_frozen_host_passes_the_host_protocol_suites(frozen_host):
    env = dict(os.environ, CPSBRIDGE_TEST_HOST=str(frozen_host))
    r = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                        *PROTOCOL_SUITES], cwd=REPO, env=env, capture_output=True, text=True,
                       timeout=900)
    assert r.returncode == 0, r.stdout[-6000:] + r.stderr[-2000:]
    assert " passed" in r.stdout and "skipped" not in r.stdout


def test_the_suites_pick_the_host_named_by_the_variable(frozen_host, monkeypatch):
    monkeypatch.setenv("CPSBRIDGE_TEST_HOST", str(frozen_host))
    assert host_command() == [str(frozen_host)]


def test_frozen_status_loads_its_data_files(frozen_host, host_env):
    frames, code, stderr = one_shot(host_env, {"id": "s", "command": "nope"}, command=[str(frozen_host)])
    assert code == 0, stderr
    # errors.json comes from the bundle: the French message is there.
    assert frames[0]["error"]["message"].startswith("La demande")


def test_help_and_version_never_touch_stdout(frozen_host):
    for flag in ("--version", "--help"):
        p = subprocess.run([str(frozen_host), flag], capture_output=True, timeout=60)
        assert p.returncode == 0 and p.stdout == b"" and b"cpsbridge-host" in p.stderr


def test_frozen_install_names_itself_in_the_manifests(frozen_host, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CPSBRIDGE_", "XDG_"))}
    env["HOME"] = str(tmp_path)
    r = subprocess.run([str(frozen_host), "install", "--user", "--browser", "firefox"], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    manifest = json.loads((tmp_path / ".mozilla/native-messaging-hosts"
                           / "fr.viatrajectoire.cpsbridge.json").read_text())
    assert manifest["path"] == str(frozen_host)
    assert not (tmp_path / ".local/share/cpsbridge").exists()  # no launcher: the exe is the host


def test_frozen_diagnose_reports_in_json_and_reaches_the_site(frozen_host, host_env, pki_dir,
                                                               tmp_path):
    from tests.testbed.site import SiteProcess

    with SiteProcess(tmp_path / "site", pki_dir / "trust") as site:
        env = dict(host_env, CPSBRIDGE_ALLOWED_ORIGINS=site.origin,
                   REQUESTS_CA_BUNDLE=str(site.ca_cert_path))
        r = subprocess.run([str(frozen_host), "diagnose", "--json"], env=env,
                           capture_output=True, text=True, timeout=120)
    doc = json.loads(r.stdout)
    ids = {c["id"]: c for c in doc["checks"]}
    assert ids["pkcs11.module"]["status"] == "ok"
    assert ids["pcsc.service"]["status"] == "ok"
    assert ids["site"]["status"] == "ok", ids["site"]  # requests and its data are in the bundle
    assert "Traceback" not in r.stderr
    assert r.returncode == (1 if doc["blocking"] else 0)
