"""Tokens made by the real host on SoftHSM2 cards (through PKCS#11, as in the field) verify,
and only for the origin and nonce they were made for."""

from __future__ import annotations

import base64
import os
from datetime import datetime, timedelta, timezone

import pytest

from server.challenges import SqliteChallengeStore
from server.verify import Verifier
from tests.testbed.hostproc import HostProcess

ORIGIN = "https://localhost:8443"  # allowed in host_env


@pytest.fixture(scope="module")
def host_tokens_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("host-tokens")


def authenticate(host_env, pki, slug: str, nonce: str) -> dict:
    with HostProcess(host_env) as host:
        answer = host.request("authenticate", {
            "challengeNonce": nonce, "origin": ORIGIN,
            "certificateId": pki.holders[slug].certificate_id, "pin": "1234"}, timeout=60)
        assert "result" in answer, (answer, host.stderr_text()[-2000:])
        return answer["result"]["token"]


@pytest.mark.parametrize("slug,algorithms", [("dupont", {"RS256", "PS256"}),
                                             ("robert", {"ES256"})])
def test_real_host_token_verifies(pki, host_env, responder, anchors, tmp_path, slug,
                                  algorithms):
    store = SqliteChallengeStore(tmp_path / "challenges.sqlite3")
    challenge = store.issue("browser-session")
    token = authenticate(host_env, pki, slug, challenge.nonce)
    assert token["algorithm"] in algorithms
    verifier = Verifier(anchors, revocation="hard")
    out = verifier.verify_with_store(token, ORIGIN, "browser-session", challenge.nonce, store)
    assert out.valid, out.detail
    h = pki.holders[slug]
    assert out.fingerprint == h.certificate_id
    assert out.holder.idNat == h.spec.id_nat and out.holder.familyName == h.spec.family
    assert responder.hits["ocsp"] == 1
    # the same token once more: the nonce is spent
    again = verifier.verify_with_store(token, ORIGIN, "browser-session", challenge.nonce, store)
    assert again.reason == "NONCE_UNKNOWN"


def test_real_host_token_is_bound_to_origin_and_nonce(pki, host_env, anchors):
    nonce = base64.b64encode(os.urandom(32)).decode()
    token = authenticate(host_env, pki, "dupont", nonce)
    verifier = Verifier(anchors, revocation="off")
    issued = datetime.now(timezone.utc) - timedelta(seconds=1)
    assert verifier.verify(token, ORIGIN, nonce, issued).valid
    assert verifier.verify(token, "https://trajectoire.example.test", nonce,
                           issued).reason == "SIGNATURE_INVALID"
    other = base64.b64encode(os.urandom(32)).decode()
    assert verifier.verify(token, ORIGIN, other, issued).reason == "SIGNATURE_INVALID"
