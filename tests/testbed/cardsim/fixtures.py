"""Pytest fixtures for suites that need a card OpenSC reads: a simulated CPS3 in the test
bed's private pcscd. On failure, each card's APDU trace (PINs masked) and OpenSC's debug log
go to test-artifacts/cardsim/.

tests/cardsim/conftest.py loads them; another suite gets them with
`pytest_plugins = ["tests.testbed.cardsim.fixtures"]` in the root conftest.py. They need the
root conftest's `pki`, `pcscd` and `artifacts` fixtures."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from tests.testbed.cardsim import SimulatedCps3, opensc_env


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"cardsim_{report.when}", report)


def _failed(node) -> bool:
    return any(getattr(getattr(node, f"cardsim_{when}", None), "failed", False)
               for when in ("setup", "call"))


@pytest.fixture
def cardsim_dir(tmp_path: Path) -> Path:
    return tmp_path / "opensc"


@pytest.fixture
def cardsim_env(pcscd, cardsim_dir: Path) -> dict[str, str]:
    """What a process needs to see the simulated cards through OpenSC (with a debug log,
    kept only when the test fails)."""
    return opensc_env(pcscd, cardsim_dir, debug=True)


@pytest.fixture
def insert_card(pki, pcscd, request, artifacts: Path, cardsim_dir: Path):
    """insert_card(slug="dupont", reader=0, **SimulatedCps3 options) -> SimulatedCps3;
    every card is pulled out at the end of the test."""
    inserted: list[tuple[int, SimulatedCps3]] = []

    def insert(slug: str = "dupont", reader: int = 0, **options) -> SimulatedCps3:
        card = SimulatedCps3(pki.holders[slug], **options)
        card.insert(pcscd, reader)
        inserted.append((reader, card))
        return card

    yield insert
    for _, card in inserted:
        card.remove()
    if _failed(request.node):
        out = artifacts / "cardsim"
        name = re.sub(r"[^\w.-]+", "_", request.node.nodeid)
        for reader, card in inserted:
            card.write_trace(out / f"{name}.reader{reader}.apdu.txt")
        log = cardsim_dir / "opensc-debug.log"
        if log.exists():
            shutil.copy(log, out / f"{name}.opensc-debug.log")


@pytest.fixture
def simulated_card(insert_card, cardsim_env) -> tuple[SimulatedCps3, dict[str, str]]:
    """Dupont's CPS3 (code porteur 1234, PUK 12345678) in reader 0, and the environment of
    an OpenSC client: (card, env)."""
    return insert_card("dupont", 0), cardsim_env
