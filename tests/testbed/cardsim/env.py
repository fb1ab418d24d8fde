"""The environment a process needs to read simulated cards through OpenSC."""

from __future__ import annotations

import os
from pathlib import Path

from tests.testbed.pcsc import Pcscd

OPENSC_PKCS11 = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


def require_opensc() -> None:
    if not Path(OPENSC_PKCS11).exists():
        raise RuntimeError(f"OpenSC's PKCS#11 module is missing: {OPENSC_PKCS11} "
                           "(Debian package opensc-pkcs11; ./run setup installs it)")


def opensc_env(pcscd: Pcscd, workdir: Path, debug: bool = False) -> dict[str, str]:
    """Variables for a client of `pcscd` using OpenSC: its own opensc.conf (no file cache,
    so a card swapped between tests is read afresh; debug log in workdir on request)."""
    require_opensc()
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / "opensc-debug.log"
    debug_lines = f'  debug = 3;\n  debug_file = "{log}";\n' if debug else "  debug = 0;\n"
    conf = workdir / "opensc.conf"
    # C_SetPIN(PUK, new PIN) in a session not logged in unblocks the code porteur, as
    # pkcs11-tool --unlock-pin does it (OpenSC's default refuses to unblock).
    conf.write_text("app default {\n" + debug_lines
                    + "  framework pkcs15 {\n    use_file_caching = no;\n  }\n}\n"
                    + "app opensc-pkcs11 {\n  pkcs11 {\n"
                    + "    user_pin_unblock_style = set_pin_in_unlogged_session;\n  }\n}\n")
    return {**pcscd.env, "OPENSC_CONF": str(conf), "CPSBRIDGE_PKCS11_MODULE": OPENSC_PKCS11}


def client_env(pcscd: Pcscd, workdir: Path, debug: bool = False) -> dict[str, str]:
    """os.environ plus opensc_env(): what a child process is started with."""
    return {**os.environ, **opensc_env(pcscd, workdir, debug)}
