"""What the verifier reads from a holder certificate, and step 3: valid now, and an
authentication certificate.

Everything here depends on the certificate's bytes alone, so `CertificateCache` keeps it per
certificate: a practitioner logging in again costs a dictionary look-up, not a parse. Cached
facts are not trust: the chain, revocation and signature are still checked every time."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from host.identity import Holder, holder_of
from server.verify.outcome import Rejected
from server.verify.token import b64decode

_CACHE_LIMIT = 10_000


@dataclass(frozen=True)
class CertificateFacts:
    der: bytes
    certificate: x509.Certificate
    fingerprint: str                    # lower-case hex SHA-256 of the DER
    public_key: object
    not_before: datetime
    not_after: datetime
    usage_problem: Rejected | None      # why it is no authentication certificate, if so
    holder: Holder | None = field(default=None)
    holder_problem: str | None = None


def read_certificate(certificate_b64: str, policies: dict[str, str] | None) -> CertificateFacts:
    der = b64decode(certificate_b64, "unverifiedCertificate")
    try:
        cert = x509.load_der_x509_certificate(der)
        public_key = cert.public_key()  # an unsupported key type fails here, not at step 6
        not_before, not_after = cert.not_valid_before_utc, cert.not_valid_after_utc
        # cryptography decodes these lazily; a field that does not decode is step 1's
        # business, not an exception in a later step.
        cert.issuer, cert.subject, cert.extensions  # noqa: B018
    except Exception as e:  # noqa: BLE001 - cryptography raises several kinds on bad DER
        # (ValueError, InvalidVersion, UnsupportedAlgorithm...): all mean "does not decode".
        raise Rejected("TOKEN_MALFORMED", f"unverifiedCertificate is not a certificate: {e}") \
            from None
    if cert.serial_number <= 0:
        # RFC 5280 §4.1.2.2; cryptography still reads such a certificate (with a warning)
        # but its later releases refuse it: the same answer whatever the version.
        raise Rejected("TOKEN_MALFORMED",
                       "unverifiedCertificate: its serial number is not positive (RFC 5280)")
    if not der.endswith(_whole_bytes_bit_string(cert.signature)):
        # The one field the CA's signature does not cover and the chain check does not read:
        # a signature BIT STRING declaring unused bits decodes to the same signature bytes,
        # so the same certificate would pass under a second encoding (another fingerprint).
        raise Rejected("TOKEN_MALFORMED",
                       "unverifiedCertificate: its signature BIT STRING declares unused bits")
    try:
        check_usage(cert)
        usage_problem = None
    except Rejected as e:
        usage_problem = e
    try:
        holder, holder_problem = holder_of(cert, policies), None
    except ValueError as e:
        holder, holder_problem = None, str(e)
    return CertificateFacts(der, cert, hashlib.sha256(der).hexdigest(), public_key,
                            not_before, not_after, usage_problem, holder, holder_problem)


def _whole_bytes_bit_string(value: bytes) -> bytes:
    """The DER of a BIT STRING holding `value`, no unused bits (X.509's signatureValue)."""
    n = len(value) + 1
    size = n.to_bytes((n.bit_length() + 7) // 8, "big")
    length = bytes([n]) if n < 0x80 else bytes([0x80 | len(size)]) + size
    return b"\x03" + length + b"\x00" + value


class CertificateCache:
    def __init__(self, policies: dict[str, str] | None = None):
        self._policies = policies
        self._lock = threading.Lock()
        self._facts: dict[str, CertificateFacts] = {}

    def get(self, certificate_b64: str) -> CertificateFacts:
        facts = self._facts.get(certificate_b64)
        if facts is None:
            facts = read_certificate(certificate_b64, self._policies)
            with self._lock:
                if len(self._facts) >= _CACHE_LIMIT:
                    self._facts.clear()
                self._facts[certificate_b64] = facts
        return facts


def check_dates(facts: CertificateFacts, now: datetime, skew: timedelta) -> None:
    if now + skew < facts.not_before:
        raise Rejected("CERT_NOT_YET_VALID", f"notBefore {facts.not_before:%Y-%m-%dT%H:%M:%SZ}")
    if now - skew > facts.not_after:
        raise Rejected("CERT_EXPIRED", f"notAfter {facts.not_after:%Y-%m-%dT%H:%M:%SZ}")


def _extension(cert: x509.Certificate, kind):
    try:
        return cert.extensions.get_extension_for_class(kind).value
    except x509.ExtensionNotFound:
        return None
    except ValueError as e:  # a duplicated or undecodable extension
        raise Rejected("CERT_WRONG_USAGE", f"unreadable extensions: {e}") from None


def check_usage(cert: x509.Certificate) -> None:
    """keyUsage must name digitalSignature. A nonRepudiation-only certificate (the card's
    signature certificate) therefore fails, and so does a CA or a non-client EKU."""
    usage = _extension(cert, x509.KeyUsage)
    if usage is None:
        raise Rejected("CERT_WRONG_USAGE", "no keyUsage")
    if not usage.digital_signature:
        raise Rejected("CERT_WRONG_USAGE",
                       "nonRepudiation-only (signature) certificate" if usage.content_commitment
                       else "keyUsage lacks digitalSignature")
    constraints = _extension(cert, x509.BasicConstraints)
    if constraints is not None and constraints.ca:
        raise Rejected("CERT_WRONG_USAGE", "a CA certificate")
    eku = _extension(cert, x509.ExtendedKeyUsage)
    if eku is not None and not ({ExtendedKeyUsageOID.CLIENT_AUTH,
                                  ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE} & set(eku)):
        raise Rejected("CERT_WRONG_USAGE", "extendedKeyUsage lacks clientAuth")
