"""The §6 verification, in its order: each step either passes or names its reason code."""

from __future__ import annotations

import logging
import re
from datetime import datetime, timedelta, timezone
from typing import Callable

from cryptography import x509

from host.errors import is_unicode_text
from host.origins import OriginError, normalize_origin
from server.challenges import LIFETIME, ChallengeError, ChallengeStore, check_lifetime
from server.verify.certificate import CertificateCache, CertificateFacts, check_dates
from server.verify.chain import ChainValidator
from server.verify.outcome import Outcome, Rejected, RevocationPolicy
from server.verify.revocation import RevocationChecker, Status
from server.verify.signature import check_signature, signed_message
from server.verify.token import ParsedToken, parse_token

log = logging.getLogger(__name__)

NONCE_LIFETIME = LIFETIME  # §6 step 2: "at most 5 minutes old"
_ORIGIN = re.compile(r"(https|wss)://[^/?#@\s]{1,249}")


def _utcnow() -> datetime:
    return datetime.now(timezone.utc)


class Verifier:
    """Verifies `cpsbridge:1` tokens for one relying party. Thread-safe; keep one per process
    (its caches of validated chains and revocation answers are what makes it fast)."""

    def __init__(self, anchors: list[x509.Certificate],
                 revocation: RevocationPolicy | str = RevocationPolicy.HARD,
                 clock_skew: timedelta = timedelta(seconds=60), http_timeout: float = 5.0,
                 *, nonce_lifetime: timedelta = NONCE_LIFETIME,
                 revocation_cache_ttl: timedelta = timedelta(minutes=10),
                 fetch_intermediates: bool = False,
                 card_type_policies: dict[str, str] | None = None,
                 clock: Callable[[], datetime] = _utcnow):
        self.revocation = RevocationPolicy(revocation)
        self.clock_skew = clock_skew
        self.nonce_lifetime = check_lifetime(nonce_lifetime)
        self._clock = clock
        self._certificates = CertificateCache(card_type_policies)
        self._chains = ChainValidator(list(anchors), http_timeout, fetch_intermediates)
        self._revocation = RevocationChecker(http_timeout, clock_skew, revocation_cache_ttl)

    def verify(self, token: dict | str | bytes, origin: str, nonce: str,
               nonce_issued_at: datetime) -> Outcome:
        """Step 2 checks only the nonce's age: one-time use is the store's job
        (see verify_with_store)."""
        _check_origin(origin)
        try:
            parsed, facts = self._read_token(token)
            self._check_nonce_age(nonce, nonce_issued_at)
            return self._verify_certificate_and_signature(parsed, facts, origin, nonce)
        except Rejected as e:
            return self._refuse(e)

    def verify_with_store(self, token: dict | str | bytes, origin: str, session_id: str,
                          nonce: str, store: ChallengeStore) -> Outcome:
        """Step 2 with the challenge store: the nonce is consumed first, whatever the outcome
        (even for a malformed token), so that it can never be presented twice. Its age is
        judged by this verifier's nonce_lifetime as in verify(), as well as by the store's
        own lifetime: whichever is shorter decides."""
        _check_origin(origin)
        consumed: Rejected | None = None
        try:
            if isinstance(nonce, str) and not is_unicode_text(nonce):
                # Never issued (the store's are base64): nothing to burn, and SQLite would
                # fail to encode it.
                raise ChallengeError("NONCE_UNKNOWN", "nonce is not UTF-8 text")
            challenge = store.consume(session_id, nonce)
        except ChallengeError as e:
            consumed = Rejected(e.reason, str(e))
        try:
            parsed, facts = self._read_token(token)
            if consumed is not None:
                raise consumed
            self._check_nonce_age(nonce, challenge.issued_at)
            return self._verify_certificate_and_signature(parsed, facts, origin, nonce)
        except Rejected as e:
            return self._refuse(e)

    # -- steps ---------------------------------------------------------------------------

    def _read_token(self, token: dict | str | bytes) -> tuple[ParsedToken, CertificateFacts]:
        """Step 1 entire: the fields, and the certificate, which must decode too (§6: "every
        field ... decodes"), so that a token with a broken certificate is TOKEN_MALFORMED
        whatever its nonce. What the certificate says (dates, usage, holder) is only read
        here; it is judged in the later steps, in their order."""
        parsed = parse_token(token)
        return parsed, self._certificates.get(parsed.certificate_b64)

    def _check_nonce_age(self, nonce: str, issued_at: datetime) -> None:
        if not isinstance(nonce, str) or not nonce:
            raise Rejected("NONCE_UNKNOWN", "no nonce")
        if not is_unicode_text(nonce):
            # A lone surrogate: M = H(UTF-8(nonce)) cannot be built (§5), and this server
            # issues base64 nonces, so it never issued this one. Refused here, before the
            # chain and revocation steps fetch anything.
            raise Rejected("NONCE_UNKNOWN", "nonce is not UTF-8 text")
        if issued_at.tzinfo is None:
            raise ValueError("nonce_issued_at must be timezone-aware")
        now = self._clock()
        if issued_at > now + self.clock_skew:
            raise Rejected("NONCE_UNKNOWN", "nonce issued in the future")
        if now - issued_at > self.nonce_lifetime:
            raise Rejected("NONCE_EXPIRED", f"nonce issued at {issued_at.isoformat()}")

    def _verify_certificate_and_signature(self, parsed: ParsedToken, facts: CertificateFacts,
                                          origin: str, nonce: str) -> Outcome:
        now = self._clock()
        check_dates(facts, now, self.clock_skew)                               # step 3
        if facts.usage_problem is not None:
            raise facts.usage_problem
        chain = self._chains.validate(facts.certificate, facts.fingerprint, now,  # step 4
                                      self.clock_skew)
        if self.revocation is not RevocationPolicy.OFF:                        # step 5
            self._check_revocation(facts.certificate, facts.fingerprint, chain[1], now)
        check_signature(facts.public_key, parsed.algorithm, parsed.signature,  # step 6
                        signed_message(origin, nonce, parsed.algorithm))
        if facts.holder is None:
            raise Rejected("CERT_WRONG_USAGE", f"not a holder certificate: {facts.holder_problem}")
        return Outcome.accepted(facts.holder, facts.fingerprint)

    def _check_revocation(self, cert: x509.Certificate, fingerprint: str,
                          issuer: x509.Certificate, now: datetime) -> None:
        status = self._revocation.status(cert, fingerprint, issuer, now)
        if status is Status.REVOKED:
            raise Rejected("CERT_REVOKED", f"serial {cert.serial_number:x}")
        if status is Status.UNKNOWN:
            raise Rejected("REVOCATION_UNKNOWN", "the OCSP responder does not know this certificate")
        if status is Status.UNAVAILABLE:
            if self.revocation is RevocationPolicy.HARD:
                raise Rejected("REVOCATION_UNKNOWN", "no trustworthy OCSP or CRL answer")
            log.warning("revocation of serial %x unchecked (soft-fail): no OCSP or CRL answer",
                        cert.serial_number)

    @staticmethod
    def _refuse(error: Rejected) -> Outcome:
        log.info("token refused: %s", error)
        return Outcome.refused(error)


def _check_origin(origin: str) -> None:
    """The relying party's own origin, from its configuration: a programming error if bad,
    and found before step 1 (not as an encoding error at step 6, after network fetches)."""
    if not isinstance(origin, str) or not _ORIGIN.fullmatch(origin):
        raise ValueError(f"origin must be https://host[:port] with nothing after: {origin!r}")
    if not is_unicode_text(origin):
        raise ValueError(f"origin must be UTF-8 text (M hashes its UTF-8, §5): {origin!r}")
    # The host's own rules (host/origins.py): a port past 65535, a trailing dot or a
    # Unicode host name is no browser's origin, and an upper-case host or the default
    # port is not the form the host signs. Either way no token could ever verify: said
    # at once, rather than as SIGNATURE_INVALID at every login.
    try:
        canonical = normalize_origin(origin)
    except OriginError as e:
        raise ValueError(f"origin must be https://host[:port] with nothing after: {origin!r} "
                         f"({e})") from None
    if canonical != origin:
        raise ValueError(f"origin must be written as browsers serialise it, {canonical!r}: "
                         f"the host signs that form, so no token would verify over {origin!r}")
