"""The frozen host, built once per test session (reused when dist/host is newer than
every source it is made from)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.testbed.hostproc import REPO


@pytest.fixture(scope="session")
def frozen_host() -> Path:
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "host", "--if-stale"], cwd=REPO,
                       capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, f"python build.py host failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    exe = REPO / "dist" / "host" / "cpsbridge-host"
    assert exe.is_file(), f"{exe} was not built"
    return exe
