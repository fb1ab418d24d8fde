"""Code run in child processes by test_challenges.py (importable under spawn)."""

from __future__ import annotations

import threading

from cryptography import x509

from server.challenges import SqliteChallengeStore
from server.verify import Verifier


def present(db_path: str, anchors_der: list[bytes], token: dict, origin: str, session_id: str,
            nonce: str, threads: int, barrier, results) -> None:
    """`threads` simultaneous presentations of one nonce from this process."""
    store = SqliteChallengeStore(db_path)
    verifier = Verifier([x509.load_der_x509_certificate(d) for d in anchors_der],
                        revocation="off")

    def one() -> None:
        barrier.wait()
        out = verifier.verify_with_store(token, origin, session_id, nonce, store)
        results.put(out.reason or "ACCEPTED")

    workers = [threading.Thread(target=one) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
