"""build.py's checks that do not need a package: line ends of the generated files it compares
byte for byte (a Windows checkout with core.autocrlf=true), and the glibc the frozen host
needs (read from its ELF files, for the .deb's Depends)."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.deploy.test_packaging_sources import build_module
from tests.testbed.hostproc import REPO

POLICIES = REPO / "manifests" / "policies"


def _git(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid",
                           "-c", "init.defaultBranch=main", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60, check=True)


def test_gitattributes_keep_the_compared_files_lf_and_the_reg_files_as_they_are():
    names = [p.relative_to(REPO).as_posix() for p in sorted(POLICIES.rglob("*")) if p.is_file()]
    names += ["manifests/templates/chromium.json", "host/errors.json", "extension/src/errors.js"]
    out = _git("check-attr", "text", "eol", "--", *names, cwd=REPO).stdout
    for name in names:
        if name.endswith(".reg"):
            assert f"{name}: text: unset" in out, out
        else:
            assert f"{name}: eol: lf" in out, out


def test_a_windows_clone_with_autocrlf_keeps_the_policies_up_to_date(tmp_path):
    """The Windows CI job's situation, here: a clone made with core.autocrlf=true."""
    origin = tmp_path / "origin"
    shutil.copytree(POLICIES, origin / "manifests" / "policies")
    shutil.copy(REPO / ".gitattributes", origin / ".gitattributes")
    _git("init", "-q", cwd=origin)
    _git("add", "-A", cwd=origin)
    _git("commit", "-q", "-m", "policies", cwd=origin)
    clone = tmp_path / "clone"
    subprocess.run(["git", "-c", "core.autocrlf=true", "clone", "-q", str(origin), str(clone)],
                   check=True, capture_output=True, timeout=60)
    cloned = clone / "manifests" / "policies"
    for p in sorted(cloned.rglob("*")):
        if p.is_file():
            assert p.read_bytes() == (POLICIES / p.relative_to(cloned)).read_bytes(), p


def test_policies_with_crlf_line_ends_are_still_up_to_date(tmp_path, monkeypatch):
    """A clone made before .gitattributes (or by a tool that ignores it): CRLF JSON."""
    build = build_module()
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    for p in copy.rglob("*.json"):
        p.write_bytes(p.read_bytes().replace(b"\n", b"\r\n"))
    monkeypatch.setattr(build, "POLICIES", copy)
    wxs = tmp_path / "cpsbridge.wxs"  # the MSI source, whose policy block is generated too
    wxs.write_bytes(build.WXS.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n"))
    monkeypatch.setattr(build, "WXS", wxs)
    assert build.policies_up_to_date() == []
    # …but a real change is still seen, and the UTF-16 .reg files are compared exactly.
    chrome = copy / "linux" / "chrome.json"
    chrome.write_bytes(chrome.read_bytes().replace(b'"fr.viatrajectoire.cpsbridge"', b'"autre"'))
    reg = copy / "windows" / "edge.reg"
    reg.write_bytes(reg.read_bytes().replace(b"\r\x00\n\x00", b"\n\x00"))
    wxs.write_bytes(wxs.read_bytes().replace(b'Name="1"', b'Name="2"', 1))
    assert sorted(build.policies_up_to_date()) == ["linux/chrome.json",
                                                   "packaging/wix/cpsbridge.wxs",
                                                   "windows/edge.reg"]


def _readelf_glibc(path: Path) -> set[tuple[int, ...]]:
    out = subprocess.run(["readelf", "-V", "-W", str(path)], capture_output=True, text=True,
                         timeout=60).stdout
    need = out.split("Version needs section", 1)
    found = re.findall(r"Name: GLIBC_([0-9.]+)", need[1]) if len(need) == 2 else []
    return {tuple(int(x) for x in v.split(".")) for v in found}


def test_the_elf_reader_finds_the_glibc_versions_readelf_shows(frozen_host):
    assert shutil.which("readelf"), "readelf is missing: install the Debian package binutils"
    build = build_module()
    files = [p for p in sorted(frozen_host.parent.rglob("*"))
             if p.is_file() and not p.is_symlink() and p.read_bytes()[:4] == b"\x7fELF"]
    assert len(files) > 3
    for p in [*files, Path("/bin/ls")]:
        assert build.elf_glibc_versions(p) == _readelf_glibc(p), p
    assert build.elf_glibc_versions(REPO / "build.py") == set()
    highest = max(v for p in files for v in _readelf_glibc(p))
    assert build.glibc_needed(frozen_host.parent) == ".".join(map(str, highest))


def test_the_deployment_guide_runs_build_py_with_the_project_python():
    """On a fresh Debian there is no `python`, and python3 lacks PyInstaller: after
    `./run setup`, the project's own interpreter runs build.py."""
    text = (REPO / "docs" / "DEPLOYMENT.md").read_text()
    assert re.findall(r"(?<![/\w])python3? build\.py", text) == []
    assert ".venv/bin/python build.py deb" in text and "./run setup" in text


def test_the_deployment_guide_gives_commands_that_run_where_it_says():
    """§2: no bare `python` on a fresh Debian, so tests and benches too run with .venv's;
    a host copied to /opt (§4.4) is not on the PATH; a macOS removal forgets the pkg."""
    text = (REPO / "docs" / "DEPLOYMENT.md").read_text()
    assert re.findall(r"`(?:python3?|pytest) ", text) == []
    assert ".venv/bin/python -m pytest tests/deploy" in text
    assert ".venv/bin/python -m tests.bench.frozen" in text
    assert "/opt/cpsbridge/cpsbridge-host diagnose" in text
    script = (REPO / "packaging" / "macos" / "build-pkg.sh").read_text()
    identifier = re.search(r'^IDENTIFIER="([^"]+)"', script, re.M).group(1)
    assert f"sudo pkgutil --forget {identifier}" in text


def test_the_deb_carries_the_deployment_guide_and_staging_names_the_staged_files(
        tmp_path, monkeypatch, capsys):
    """Built around a stand-in for the frozen host (no PyInstaller here): the package installs
    docs/DEPLOYMENT.md as /usr/share/doc/cpsbridge/DEPLOYMENT.md, where diagnose's fixes
    point; its file is named as diagnose names it (host.registration.deb_file_name); and the
    lines of the staging (`install --system --root STAGE`) name the files under the stage,
    never a bare /etc/… that reads as this machine's."""
    import argparse

    from host import __version__
    from host.diagnose import INSTALLED_GUIDE
    from host.registration import deb_file_name

    assert shutil.which("dpkg-deb"), "dpkg-deb is missing (Debian package dpkg-dev)"
    build = build_module()
    host = tmp_path / "host"
    host.mkdir()
    (host / "cpsbridge-host").write_text("#!/bin/sh\n")
    (host / "cpsbridge-host").chmod(0o755)
    stage = tmp_path / "stage" / "cpsbridge"
    monkeypatch.setattr(build, "build_host", lambda args: None)
    monkeypatch.setattr(build, "HOST_DIST", host)
    monkeypatch.setattr(build, "DEB_STAGE", stage)
    build.build_deb(argparse.Namespace(out=tmp_path / "out"))
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    deb = tmp_path / "out" / f"cpsbridge_{__version__}_{arch}.deb"
    assert deb.is_file() and deb.name == deb_file_name(arch)
    subprocess.run(["dpkg-deb", "-x", str(deb), str(tmp_path / "x")], check=True, timeout=60)
    installed = tmp_path / "x" / INSTALLED_GUIDE.lstrip("/")
    assert installed.read_bytes() == (REPO / "docs" / "DEPLOYMENT.md").read_bytes()
    lines = capsys.readouterr().out.splitlines()
    written = [line for line in lines if line.endswith(" : écrit")]
    assert len(written) == 5, lines
    for line in written:
        assert f" : {stage}/" in line, line
    assert f"sous {stage}" in lines[0], lines
