"""Fixtures of the server-side suite: a real OCSP/CRL server for the test PKI, verifiers."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone

import pytest

from server.verify import Verifier
from tests.testbed.pki import CARD_TYPE_POLICIES
from tests.testbed.revocation import RevocationServer


@pytest.fixture(scope="session")
def revocation_server(pki, revocation_port):
    with RevocationServer(pki, revocation_port) as server:
        yield server


@pytest.fixture
def responder(revocation_server):
    """The revocation server, back to correct answers and zero hits for each test."""
    revocation_server.reset()
    yield revocation_server
    revocation_server.reset()


@pytest.fixture
def anchors(pki):
    return [pki.root_cert, pki.ca_cert]


@pytest.fixture
def verifier(anchors):
    """Revocation off: for the tests of the other steps. Told the test PKI's card types,
    as a production verifier is told IGC-Santé's."""
    return Verifier(anchors, revocation="off", card_type_policies=CARD_TYPE_POLICIES)


@pytest.fixture
def nonce() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def just_now() -> datetime:
    return datetime.now(timezone.utc) - timedelta(seconds=1)
