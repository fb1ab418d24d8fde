"""The challenge store: issue, one-time consume, lifetime, and atomicity under concurrency
(threads, and several processes on one SQLite file)."""

from __future__ import annotations

import base64
import multiprocessing
import queue
import sqlite3
import threading
from collections import Counter
from datetime import timedelta

import pytest

from server.challenges import ChallengeError, SqliteChallengeStore
from server.verify import Verifier
from tests.server import workers
from tests.server.tokens import ORIGIN, make_token
from tests.testbed.pki import der


@pytest.fixture
def store(tmp_path):
    return SqliteChallengeStore(tmp_path / "challenges.sqlite3")


def _age(store: SqliteChallengeStore, nonce: str, seconds: float) -> None:
    """Make a stored challenge older (instead of waiting)."""
    with sqlite3.connect(store.path) as db:
        db.execute("UPDATE challenges SET issued_at = issued_at - ? WHERE nonce = ?",
                   (seconds, nonce))


def test_nonce_is_32_random_bytes_in_base64(store):
    nonces = {store.issue("s").nonce for _ in range(100)}
    assert len(nonces) == 100
    for n in nonces:
        assert len(n) == 44 and len(base64.b64decode(n, validate=True)) == 32


def test_consume_once(store):
    ch = store.issue("session-A")
    got = store.consume("session-A", ch.nonce)
    assert (got.nonce, got.session_id, got.issued_at) == (ch.nonce, "session-A", ch.issued_at)
    with pytest.raises(ChallengeError) as e:
        store.consume("session-A", ch.nonce)
    assert e.value.reason == "NONCE_UNKNOWN"


def test_never_issued(store):
    with pytest.raises(ChallengeError) as e:
        store.consume("session-A", base64.b64encode(b"\0" * 32).decode())
    assert e.value.reason == "NONCE_UNKNOWN"


def test_other_session_is_refused_and_burns_the_nonce(store):
    ch = store.issue("session-A")
    with pytest.raises(ChallengeError) as e:
        store.consume("session-B", ch.nonce)
    assert e.value.reason == "NONCE_UNKNOWN"
    with pytest.raises(ChallengeError) as e:
        store.consume("session-A", ch.nonce)
    assert e.value.reason == "NONCE_UNKNOWN"


def test_lifetime_is_five_minutes(store):
    assert store.lifetime == timedelta(minutes=5)
    fresh, old = store.issue("s"), store.issue("s")
    _age(store, fresh.nonce, 290)
    _age(store, old.nonce, 310)
    assert store.consume("s", fresh.nonce)
    with pytest.raises(ChallengeError) as e:
        store.consume("s", old.nonce)
    assert e.value.reason == "NONCE_EXPIRED"
    with pytest.raises(ChallengeError) as e:  # consumed even though expired
        store.consume("s", old.nonce)
    assert e.value.reason == "NONCE_UNKNOWN"


def test_store_is_shared_through_the_file(tmp_path):
    a = SqliteChallengeStore(tmp_path / "c.db")
    b = SqliteChallengeStore(tmp_path / "c.db")
    ch = a.issue("s")
    assert b.consume("s", ch.nonce).nonce == ch.nonce


def test_bad_arguments(store):
    with pytest.raises(ValueError, match="session_id must be a non-empty string"):
        store.issue("")
    with pytest.raises(ChallengeError) as refused:
        store.consume("s", "")
    assert refused.value.reason == "NONCE_UNKNOWN"


# -- with the verifier -------------------------------------------------------------------

def _token(pki, nonce):
    h = pki.holders["dupont"]
    return make_token(h.auth_key, h.auth_cert, nonce)


def test_verify_with_store(pki, anchors, store):
    v = Verifier(anchors, revocation="off")
    ch = store.issue("sess")
    out = v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce, store)
    assert out.valid, out.detail
    again = v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce, store)
    assert again.reason == "NONCE_UNKNOWN"


def test_verify_with_store_reasons(pki, anchors, store):
    v = Verifier(anchors, revocation="off")
    ch = store.issue("sess")
    assert v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "other", ch.nonce,
                               store).reason == "NONCE_UNKNOWN"
    ch = store.issue("sess")
    _age(store, ch.nonce, 400)
    assert v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce,
                               store).reason == "NONCE_EXPIRED"


def test_the_shorter_of_the_verifiers_and_the_stores_lifetimes_decides(pki, anchors, tmp_path):
    """A relying party may shorten the 5 minutes of §6 on either side; verify_with_store used
    to judge the age by the store's lifetime alone."""
    short = Verifier(anchors, revocation="off", nonce_lifetime=timedelta(minutes=1))
    store = SqliteChallengeStore(tmp_path / "default.db")
    ch = store.issue("sess")
    _age(store, ch.nonce, 120)
    assert short.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce,
                                   store).reason == "NONCE_EXPIRED"
    plain = Verifier(anchors, revocation="off")
    shorter = SqliteChallengeStore(tmp_path / "short.db", lifetime=timedelta(minutes=1))
    ch = shorter.issue("sess")
    _age(shorter, ch.nonce, 120)
    assert plain.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce,
                                   shorter).reason == "NONCE_EXPIRED"
    ch = store.issue("sess")
    _age(store, ch.nonce, 50)
    assert short.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce, store).valid


@pytest.mark.parametrize("lifetime", [timedelta(minutes=5, seconds=1), timedelta(0),
                                      timedelta(seconds=-1), 300])
def test_no_lifetime_longer_than_the_contracts_five_minutes(anchors, tmp_path, lifetime):
    with pytest.raises(ValueError, match=r"at most 0:05:00 \(PROTOCOL.md §6 step 2\)"):
        Verifier(anchors, revocation="off", nonce_lifetime=lifetime)
    with pytest.raises(ValueError, match=r"at most 0:05:00 \(PROTOCOL.md §6 step 2\)"):
        SqliteChallengeStore(tmp_path / "c.db", lifetime=lifetime)


def test_nonce_is_consumed_whatever_the_outcome(pki, anchors, store):
    v = Verifier(anchors, revocation="off")
    ch = store.issue("sess")
    bad = {**_token(pki, ch.nonce), "format": "nope"}
    assert v.verify_with_store(bad, ORIGIN, "sess", ch.nonce, store).reason == "TOKEN_MALFORMED"
    assert v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce,
                               store).reason == "NONCE_UNKNOWN"
    ch = store.issue("sess")
    wrong = make_token(pki.holders["dupont"].auth_key, pki.holders["dupont"].auth_cert,
                       ch.nonce, signed_origin="https://evil.example")
    assert v.verify_with_store(wrong, ORIGIN, "sess", ch.nonce,
                               store).reason == "SIGNATURE_INVALID"
    assert v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce,
                               store).reason == "NONCE_UNKNOWN"


def test_a_nonce_without_utf8_form_is_unknown_with_the_store(pki, anchors, store):
    """Never issued (the store issues base64), so nothing to consume: NONCE_UNKNOWN, after
    TOKEN_MALFORMED in the §6 order; the store's SQLite is not asked to encode it."""
    v = Verifier(anchors, revocation="off")
    ch = store.issue("sess")
    for bad in ["\ud800", ch.nonce + "\udfff"]:
        out = v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", bad, store)
        assert (out.valid, out.reason) == (False, "NONCE_UNKNOWN"), out.detail
        bad_token = {**_token(pki, ch.nonce), "format": "x"}
        assert v.verify_with_store(bad_token, ORIGIN, "sess", bad,
                                   store).reason == "TOKEN_MALFORMED"
    assert v.verify_with_store(_token(pki, ch.nonce), ORIGIN, "sess", ch.nonce, store).valid


@pytest.mark.parametrize("certificate", ["***not base64***",
                                         base64.b64encode(b"not a certificate").decode()],
                         ids=["base64", "der"])
@pytest.mark.parametrize("nonce_state", ["never-issued", "other-session", "expired"])
def test_undecodable_certificate_is_malformed_whatever_the_nonce(pki, anchors, store,
                                                                 certificate, nonce_state):
    """§6 step 1 (the certificate decodes) comes before step 2, here too; and the nonce is
    consumed all the same."""
    v = Verifier(anchors, revocation="off")
    if nonce_state == "never-issued":
        nonce = base64.b64encode(b"\1" * 32).decode()
    else:
        nonce = store.issue("sess").nonce
        if nonce_state == "expired":
            _age(store, nonce, 400)
    session = "other" if nonce_state == "other-session" else "sess"
    bad = {**_token(pki, nonce), "unverifiedCertificate": certificate}
    out = v.verify_with_store(bad, ORIGIN, session, nonce, store)
    assert (out.valid, out.reason) == (False, "TOKEN_MALFORMED"), out.detail
    assert v.verify_with_store(_token(pki, nonce), ORIGIN, "sess", nonce,
                               store).reason == "NONCE_UNKNOWN"  # consumed


def test_expired_nonce_comes_before_an_expired_certificate(pki, anchors, store):
    v = Verifier(anchors, revocation="off")
    h = pki.holders["expire"]
    ch = store.issue("sess")
    _age(store, ch.nonce, 400)
    assert v.verify_with_store(make_token(h.auth_key, h.auth_cert, ch.nonce), ORIGIN, "sess",
                               ch.nonce, store).reason == "NONCE_EXPIRED"


# -- concurrency -------------------------------------------------------------------------

PRESENTATIONS = 50


def test_fifty_threads_one_acceptance(pki, anchors, store):
    v = Verifier(anchors, revocation="off")
    ch = store.issue("sess")
    token = _token(pki, ch.nonce)
    barrier = threading.Barrier(PRESENTATIONS)
    results: queue.Queue = queue.Queue()

    def one() -> None:
        barrier.wait()
        results.put(v.verify_with_store(token, ORIGIN, "sess", ch.nonce, store).reason
                    or "ACCEPTED")

    threads = [threading.Thread(target=one) for _ in range(PRESENTATIONS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seen = Counter(results.get_nowait() for _ in range(PRESENTATIONS))
    assert seen == {"ACCEPTED": 1, "NONCE_UNKNOWN": PRESENTATIONS - 1}


def test_fifty_presentations_from_five_processes_one_acceptance(pki, anchors, tmp_path):
    db = tmp_path / "shared.sqlite3"
    ch = SqliteChallengeStore(db).issue("sess")
    token = _token(pki, ch.nonce)
    ctx = multiprocessing.get_context("spawn")
    processes, per_process = 5, PRESENTATIONS // 5
    barrier = ctx.Barrier(PRESENTATIONS)
    results = ctx.Queue()
    children = [ctx.Process(target=workers.present,
                            args=(str(db), [der(a) for a in anchors], token, ORIGIN, "sess",
                                  ch.nonce, per_process, barrier, results))
                for _ in range(processes)]
    for c in children:
        c.start()
    seen = Counter(results.get(timeout=60) for _ in range(PRESENTATIONS))
    for c in children:
        c.join(timeout=30)
        assert c.exitcode == 0
    assert seen == {"ACCEPTED": 1, "NONCE_UNKNOWN": PRESENTATIONS - 1}
