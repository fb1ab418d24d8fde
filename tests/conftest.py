"""Fixtures shared by every suite: the test PKI, software cards, a private pcscd."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
from hypothesis import settings

from tests.testbed.pki import TestPKI
from tests.testbed.softcard import SoftHsm, make_cards

# The simulated CPS3 (tests/testbed/cardsim): insert_card, cardsim_env, simulated_card.
pytest_plugins = ["tests.testbed.cardsim.fixtures"]

# No per-example time limit: speed is the benchmarks' business, and on a loaded CI machine
# a pause of the whole VM would otherwise fail a property that holds.
settings.register_profile("cpsbridge", deadline=None)
settings.load_profile("cpsbridge")

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "test-artifacts"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def revocation_port() -> int:
    """The port the test PKI's OCSP/CRL URLs point at; the verifier's tests serve there."""
    return free_port()


@pytest.fixture(scope="session")
def pki(revocation_port: int) -> TestPKI:
    return TestPKI.create(f"http://127.0.0.1:{revocation_port}")


@pytest.fixture(scope="session")
def pki_dir(pki: TestPKI, tmp_path_factory) -> Path:
    return pki.write(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="session")
def cards(pki: TestPKI, tmp_path_factory) -> SoftHsm:
    """Every holder of the test bed on its own SoftHSM2 token."""
    return make_cards(tmp_path_factory.mktemp("softhsm"), pki)


@pytest.fixture(scope="session")
def pcscd(tmp_path_factory):
    from tests.testbed.pcsc import Pcscd

    with Pcscd(workdir=tmp_path_factory.mktemp("pcscd")) as daemon:
        yield daemon


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def host_env(cards: SoftHsm, pcscd, tmp_path) -> dict[str, str]:
    """The environment of a host process that sees the software cards, the private pcscd,
    allows the test origin, and keeps its config and logs in a temporary HOME."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CPSBRIDGE_")}
    env.update(cards.env())
    env.update(pcscd.env)
    env["HOME"] = str(tmp_path / "home")
    env["XDG_CONFIG_HOME"] = str(tmp_path / "home" / ".config")
    env["XDG_STATE_HOME"] = str(tmp_path / "home" / ".local" / "state")
    env["CPSBRIDGE_ALLOWED_ORIGINS"] = "https://trajectoire.example.test,https://localhost:8443"
    env["CPSBRIDGE_SYSTEM_CONFIG"] = str(tmp_path / "no-system-config.json")
    return env
