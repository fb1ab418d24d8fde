"""Any token, however broken, gets an Outcome: valid, or refused with a §6 reason; never
an exception out of the verifier. Tokens are real ones with one part replaced by
something odd, or odd things of every shape."""

from __future__ import annotations

import base64
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.server.tokens import ORIGIN, make_token

# §6's reasons, as written in PROTOCOL.md (not imported from the verifier, which is under test)
REASONS = {"TOKEN_MALFORMED", "NONCE_UNKNOWN", "NONCE_EXPIRED", "CERT_EXPIRED",
           "CERT_NOT_YET_VALID", "CERT_WRONG_USAGE", "CERT_UNTRUSTED", "CERT_REVOKED",
           "REVOCATION_UNKNOWN", "SIGNATURE_INVALID"}

odd = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats() | st.text(max_size=40)
    | st.binary(max_size=40).map(lambda b: base64.b64encode(b).decode())
    | st.sampled_from(["", "\ud800", "\x00", "====", "RS256", "ES256", "ES384", "PS256", "none",
                       "cpsbridge:1", "cpsbridge:2", "A" * 200_000]),
    lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=8), c, max_size=3),
    max_leaves=6)
FIELDS = ["format", "unverifiedCertificate", "algorithm", "signature", "appVersion"]


def mutated(token: dict):
    return st.one_of(
        st.tuples(st.sampled_from(FIELDS), odd).map(lambda kv: {**token, kv[0]: kv[1]}),
        st.sampled_from(FIELDS).map(lambda k: {f: v for f, v in token.items() if f != k}),
        st.tuples(st.text(max_size=8), odd).map(lambda kv: {**token, kv[0]: kv[1]}),
        st.integers(0, 3000).map(lambda n: {**token, "unverifiedCertificate":
                                            _flip(token["unverifiedCertificate"], n)}),
        st.integers(0, 400).map(lambda n: {**token, "signature": _flip(token["signature"], n)}),
        st.just(json.dumps(token)), st.just(json.dumps(token).encode()),
        st.text(max_size=60), st.binary(max_size=60), odd)


def _flip(b64: str, n: int) -> str:
    raw = bytearray(base64.b64decode(b64))
    raw[n % len(raw)] ^= 0x01 << (n % 8)
    return base64.b64encode(bytes(raw)).decode()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_any_token_gets_an_outcome_never_an_exception(pki, verifier, nonce, just_now, data):
    h = pki.holders[data.draw(st.sampled_from(sorted(pki.holders)))]
    token = data.draw(mutated(make_token(h.auth_key, h.auth_cert, nonce)))
    out = verifier.verify(token, ORIGIN, nonce, just_now)
    if not out.valid:
        assert out.reason in REASONS, out
    json.dumps(out.to_json())  # and it can be told
