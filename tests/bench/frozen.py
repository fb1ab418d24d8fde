"""Frozen host benchmark: cold `status` (spawn -> answer -> exit) of the PyInstaller build
beside the source host's, both measured in this run, interleaved (target: ≤ 1.5×)."""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.bench.host import cold_status
from tests.testbed.hostproc import REPO, SOURCE_HOST
from tests.testbed.softcard import SOFTHSM_MODULE

TARGET = 1.5
FROZEN = REPO / "dist" / "host" / "cpsbridge-host"


def measure(runs: int = 30) -> tuple[float, float]:
    """(frozen, source) median milliseconds of a cold status."""
    work = Path(tempfile.mkdtemp(prefix="cpsbridge-bench-frozen-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPSBRIDGE_")}
    env.update(HOME=str(work), XDG_STATE_HOME=str(work / "state"),
               CPSBRIDGE_PKCS11_MODULE=SOFTHSM_MODULE, SOFTHSM2_CONF=str(work / "none.conf"),
               PCSCLITE_CSOCK_NAME=str(work / "no-pcscd"),
               CPSBRIDGE_SYSTEM_CONFIG=str(work / "none.json"))
    frozen_cmd, source_cmd = [str(FROZEN)], SOURCE_HOST
    for cmd in (frozen_cmd, source_cmd):
        cold_status(env, cmd)  # warm the page cache
    frozen, source = [], []
    for _ in range(runs):
        for cmd, out in ((frozen_cmd, frozen), (source_cmd, source)):
            t = time.perf_counter()
            cold_status(env, cmd)
            out.append(time.perf_counter() - t)
    return statistics.median(frozen) * 1000, statistics.median(source) * 1000


def main() -> int:
    r = subprocess.run([sys.executable, str(REPO / "build.py"), "host", "--if-stale"], cwd=REPO)
    if r.returncode != 0:
        print("python build.py host failed", file=sys.stderr)
        return 1
    frozen, source = measure()
    ratio = frozen / source
    print("\n== host (frozen, PyInstaller) ==")
    print(f"{'measure':28} {'frozen':>10} {'source':>10} {'ratio':>7} {'target':>8}")
    print(f"{'cold status':28} {frozen:8.2f}ms {source:8.2f}ms {ratio:6.2f}× {'≤ %.1f×' % TARGET:>8}"
          f" {'' if ratio <= TARGET else 'MISSED'}")
    print("baseline: the source host (`.venv/bin/python -m host`), same requests, same run")
    return 0 if ratio <= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
