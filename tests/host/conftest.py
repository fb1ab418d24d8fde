from __future__ import annotations

import base64
import os

import pytest

from tests.testbed.hostproc import HostProcess

ORIGIN = "https://localhost:8443"


def new_nonce() -> str:
    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
def host(host_env):
    with HostProcess(host_env) as h:
        yield h


def auth_args(certificate_id: str, pin: str | None = "1234", origin: str = ORIGIN,
              nonce: str | None = None) -> dict:
    args = {"challengeNonce": nonce or new_nonce(), "origin": origin, "certificateId": certificate_id}
    if pin is not None:
        args["pin"] = pin
    return args
