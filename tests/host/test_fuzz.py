"""Odd requests of every kind, framed correctly, thrown at one real host process: each
gets exactly one answer (a result or a §7 error, never anything else), nothing reaches
stderr as a traceback, and the host is still serving at the end."""

from __future__ import annotations

import json
import struct

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.host.conftest import ORIGIN, new_nonce
from tests.testbed.hostproc import HostProcess

COMMANDS = ["status", "watch", "unwatch", "list-certificates", "authenticate", "cancel"]
ARGUMENT_NAMES = ["waitForCardMs", "challengeNonce", "origin", "certificateId", "pin",
                  "requestId", "extra", "\ud800", "é\udfff"]  # keys errors name back
# Values that break naive code: wrong types, edges, huge and nested values, lone
# surrogates, NUL, control characters, non-ASCII digits.
odd_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(-2**70, 2**70), st.sampled_from([0, -1, 120_000, 120_001]),
    st.floats(allow_nan=False), st.text(max_size=80),
    st.sampled_from(["", "\ud800", "\x00", "١٢٣٤", "12 34", "1234\n", "https://evil.example",
                     ORIGIN, ORIGIN + "/", "HTTPS://LOCALHOST:8443", "a" * 64, "A" * 64,
                     "=" * 44, new_nonce(), "0" * 200]))


def requests(certificate_ids: list[str]):
    """Requests mixing the odd with the real: real certificate ids and the right code
    porteur, so that some reach the card."""
    scalars = st.one_of(odd_scalars, st.sampled_from(certificate_ids), st.just("1234"))
    values = st.recursive(scalars, lambda c: st.lists(c, max_size=3)
                          | st.dictionaries(st.text(max_size=5), c, max_size=3), max_leaves=6)
    # authenticate arguments where each field is right half of the time
    near_valid = st.fixed_dictionaries({
        "challengeNonce": st.one_of(st.builds(new_nonce), values),
        "origin": st.one_of(st.just(ORIGIN), values),
        "certificateId": st.one_of(st.sampled_from(certificate_ids), values),
        "pin": st.one_of(st.sampled_from(["1234", "0000", None]), values)})
    return st.fixed_dictionaries(
        {"command": st.one_of(st.sampled_from(COMMANDS), st.text(max_size=10), odd_scalars)},
        optional={"arguments": st.one_of(st.dictionaries(st.sampled_from(ARGUMENT_NAMES), values,
                                                         max_size=5), values, near_valid),
                  "extra": values, "\udc80": values})


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.data())
def test_odd_requests_each_get_one_answer_and_the_host_lives_on(host_env, pki, data):
    certificate_ids = [h.certificate_id for h in pki.holders.values()]
    batch = data.draw(st.lists(requests(certificate_ids), min_size=40, max_size=40))
    valid_at = data.draw(st.integers(0, len(batch)))
    batch.insert(valid_at, {"command": "authenticate", "arguments": {
        "challengeNonce": new_nonce(), "origin": ORIGIN, "certificateId": pki.holders["dupont"].certificate_id,
        "pin": "1234"}})
    with HostProcess(host_env) as h:
        ids = []
        for i, message in enumerate(batch):
            rid = f"f{i}"
            body = json.dumps({"id": rid, **message}).encode()
            h.write(struct.pack("=I", len(body)) + body)
            ids.append(rid)
        answers = [h.response(rid, timeout=10) for rid in ids]
        for answer in answers:
            assert set(answer) in ({"id", "result"}, {"id", "error"}), answer
            if "error" in answer:
                assert answer["error"]["code"].startswith("ERR_CPS_"), answer
                assert answer["error"]["message"], answer
        assert all(h.responses[rid].empty() for rid in ids)  # exactly one each
        assert "token" in answers[valid_at]["result"], answers[valid_at]  # amid it all, a login works
        assert h.request("status")["result"]["protocol"] == 1
        assert "Traceback" not in h.stderr_text()



@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.one_of(odd_scalars, st.text(min_size=1, max_size=70)), min_size=30, max_size=30))
def test_odd_ids_each_get_one_answer_matched_when_echoable(host_env, ids):
    with HostProcess(host_env) as h:
        for rid in ids:
            body = json.dumps({"id": rid, "command": "status"}).encode()
            h.write(struct.pack("=I", len(body)) + body)
        assert h.request("status", timeout=5)["result"]["protocol"] == 1  # after all: in order
        matched = [rid for rid in ids if isinstance(rid, str) and 1 <= len(rid) <= 64
                   and not any(0xD800 <= ord(c) <= 0xDFFF for c in rid)]
        for rid in set(matched):
            assert h.responses[rid].qsize() == matched.count(rid)
        assert h.unmatched.qsize() == len(ids) - len(matched)
        while not h.unmatched.empty():
            assert h.unmatched.get()["error"]["code"] == "ERR_CPS_INVALID_REQUEST"
        assert "Traceback" not in h.stderr_text()
