"""Step 5: is the certificate revoked? OCSP from the AIA (with a nonce; the answer's
signature, certificate id and freshness checked), else the CRL from the CDP (signature and
freshness checked; a complete, direct CRL only). Trustworthy answers are cached until their
nextUpdate, at most `ttl`.

Statuses: GOOD, REVOKED, UNKNOWN (a correctly signed OCSP answer saying the CA does not
know this certificate: decisive, never overridden by a CRL, which only lists revocations)
and UNAVAILABLE (no trustworthy answer from any source)."""

from __future__ import annotations

import logging
import os
import threading
from datetime import datetime, timedelta
from enum import Enum

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from cryptography.x509.oid import (AuthorityInformationAccessOID, ExtendedKeyUsageOID,
                                   ExtensionOID)

from server.verify.fetch import http_get, http_post

log = logging.getLogger(__name__)

MAX_OCSP_BYTES = 64 * 1024
MAX_CRL_BYTES = 64 * 1024 * 1024
# An OCSP answer without nextUpdate is accepted only this soon after its thisUpdate.
OCSP_MAX_AGE_WITHOUT_NEXT_UPDATE = timedelta(minutes=15)


class Status(str, Enum):
    GOOD = "good"
    REVOKED = "revoked"
    UNKNOWN = "unknown"
    UNAVAILABLE = "unavailable"


class Untrustworthy(Exception):
    """An answer that cannot be relied on (bad signature, stale, wrong certificate...)."""


def _uris(values) -> list[str]:
    return [v.value for v in values if isinstance(v, x509.UniformResourceIdentifier)]


def ocsp_urls(cert: x509.Certificate) -> list[str]:
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return _uris(d.access_location for d in aia
                 if d.access_method == AuthorityInformationAccessOID.OCSP)


def crl_urls(cert: x509.Certificate) -> list[str]:
    try:
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    return [u for point in cdp for u in _uris(point.full_name or [])]


def _verify_signed(public_key, signature: bytes, data: bytes, algorithm) -> None:
    """Raises Untrustworthy unless `signature` by `public_key` over `data` verifies."""
    if algorithm is None:
        raise Untrustworthy("unsupported signature algorithm")
    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            public_key.verify(signature, data, padding.PKCS1v15(), algorithm)
        elif isinstance(public_key, ec.EllipticCurvePublicKey):
            public_key.verify(signature, data, ec.ECDSA(algorithm))
        else:
            raise Untrustworthy(f"unsupported key {type(public_key).__name__}")
    except InvalidSignature:
        raise Untrustworthy("signature does not verify") from None


class RevocationChecker:
    def __init__(self, http_timeout: float, clock_skew: timedelta,
                 ttl: timedelta = timedelta(minutes=10)):
        self._timeout = http_timeout
        self._skew = clock_skew
        self._ttl = ttl
        self._lock = threading.Lock()
        self._ocsp: dict[str, tuple[Status, datetime]] = {}
        self._crls: dict[str, tuple[frozenset[int], datetime]] = {}

    def status(self, cert: x509.Certificate, fingerprint: str, issuer: x509.Certificate,
               now: datetime) -> Status:
        """`fingerprint` (SHA-256 of the certificate's DER) is the cache key."""
        key = fingerprint
        cached = self._ocsp.get(key)
        if cached is not None and now < cached[1]:
            return cached[0]
        for url in ocsp_urls(cert):
            try:
                status, until = self._ask_ocsp(url, cert, issuer, now)
            except Exception as e:  # noqa: BLE001 - whatever the network sent, no answer
                # (FetchError, Untrustworthy, and cryptography's several parse errors)
                log.warning("OCSP %s: %s", url, e)
                continue
            with self._lock:
                self._ocsp[key] = (status, until)
            return status
        for url in crl_urls(cert):
            try:
                revoked = self._crl(url, issuer, now)
            except Exception as e:  # noqa: BLE001 - as for OCSP
                log.warning("CRL %s: %s", url, e)
                continue
            return Status.REVOKED if cert.serial_number in revoked else Status.GOOD
        return Status.UNAVAILABLE

    # -- OCSP ----------------------------------------------------------------------------

    def _ask_ocsp(self, url: str, cert, issuer, now: datetime) -> tuple[Status, datetime]:
        nonce = os.urandom(16)
        request = (ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1())
                   .add_extension(x509.OCSPNonce(nonce), critical=False).build())
        body = http_post(url, request.public_bytes(_DER), "application/ocsp-request",
                         self._timeout, MAX_OCSP_BYTES)
        response = ocsp.load_der_ocsp_response(body)
        if response.response_status != ocsp.OCSPResponseStatus.SUCCESSFUL:
            raise Untrustworthy(f"responder says {response.response_status.name}")
        self._check_responder(response, issuer, now)
        try:
            echoed = response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce
        except x509.ExtensionNotFound:
            echoed = None  # many responders pre-compute answers; freshness is then the guard
        if echoed is not None and echoed != nonce:
            raise Untrustworthy("the answer carries another nonce")
        single = next((r for r in response.responses
                       if r.serial_number == request.serial_number
                       and r.issuer_key_hash == request.issuer_key_hash
                       and r.issuer_name_hash == request.issuer_name_hash), None)
        if single is None:
            raise Untrustworthy("the answer is about another certificate")
        this_update, next_update = single.this_update_utc, single.next_update_utc
        if this_update > now + self._skew:
            raise Untrustworthy(f"thisUpdate {this_update} is in the future")
        if next_update is None:
            next_update = this_update + OCSP_MAX_AGE_WITHOUT_NEXT_UPDATE
        if next_update < now - self._skew:
            raise Untrustworthy(f"stale answer (nextUpdate {next_update})")
        status = {ocsp.OCSPCertStatus.GOOD: Status.GOOD,
                  ocsp.OCSPCertStatus.REVOKED: Status.REVOKED,
                  ocsp.OCSPCertStatus.UNKNOWN: Status.UNKNOWN}[single.certificate_status]
        return status, min(max(next_update, now), now + self._ttl)

    def _check_responder(self, response: ocsp.OCSPResponse, issuer, now: datetime) -> None:
        """Signed by the issuing CA itself, or by a responder certificate that this CA
        issued for OCSP signing (RFC 6960 §4.2.2.2) and that is valid now."""
        signer = None
        for candidate in [issuer, *response.certificates]:
            if response.responder_name is not None:
                named = candidate.subject == response.responder_name
            else:
                named = (x509.SubjectKeyIdentifier.from_public_key(candidate.public_key()).digest
                         == response.responder_key_hash)
            if named:
                signer = candidate
                break
        if signer is None:
            raise Untrustworthy("unknown responder")
        if signer is not issuer:
            try:
                signer.verify_directly_issued_by(issuer)
                eku = signer.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
            except (ValueError, TypeError, InvalidSignature, x509.ExtensionNotFound):
                raise Untrustworthy("responder certificate not issued by the CA for OCSP") \
                    from None
            if ExtendedKeyUsageOID.OCSP_SIGNING not in eku:
                raise Untrustworthy("responder certificate lacks id-kp-OCSPSigning")
            if not (signer.not_valid_before_utc - self._skew <= now
                    <= signer.not_valid_after_utc + self._skew):
                raise Untrustworthy("responder certificate out of date")
        try:
            algorithm = response.signature_hash_algorithm
        except UnsupportedAlgorithm:
            algorithm = None
        _verify_signed(signer.public_key(), response.signature, response.tbs_response_bytes,
                       algorithm)

    # -- CRL -----------------------------------------------------------------------------

    def _crl(self, url: str, issuer: x509.Certificate, now: datetime) -> frozenset[int]:
        with self._lock:
            cached = self._crls.get(url)
        if cached is not None and now < cached[1]:
            return cached[0]
        data = http_get(url, self._timeout, MAX_CRL_BYTES)
        crl = (x509.load_pem_x509_crl(data) if data.lstrip().startswith(b"-----BEGIN")
               else x509.load_der_x509_crl(data))
        if crl.issuer != issuer.subject:
            raise Untrustworthy("CRL from another issuer")
        if not crl.is_signature_valid(issuer.public_key()):
            raise Untrustworthy("CRL signature does not verify")
        if crl.last_update_utc > now + self._skew:
            raise Untrustworthy("CRL thisUpdate is in the future")
        if crl.next_update_utc is None or crl.next_update_utc < now - self._skew:
            raise Untrustworthy(f"stale CRL (nextUpdate {crl.next_update_utc})")
        revoked = _complete_list(crl, url)
        with self._lock:
            self._crls[url] = (revoked, min(max(crl.next_update_utc, now), now + self._ttl))
        return revoked


def _complete_list(crl: x509.CertificateRevocationList, url: str) -> frozenset[int]:
    """The serials a CRL lists, if it covers the holder's certificate whole: "not listed"
    means "good" only then. Raises Untrustworthy for a delta CRL (only what changed since a
    base CRL), a CRL the issuingDistributionPoint narrows to something else (see
    _scope_problem), and a CRL, or an entry, with a critical extension this code does not
    process, which forbids using it at all (RFC 5280 §5.2, §5.3)."""
    for ext in crl.extensions:
        if ext.oid == ExtensionOID.DELTA_CRL_INDICATOR:
            raise Untrustworthy("a delta CRL, not supported")
        if ext.oid == ExtensionOID.ISSUING_DISTRIBUTION_POINT:
            problem = _scope_problem(ext.value, url)
            if problem:
                raise Untrustworthy(f"{problem} (issuingDistributionPoint), not supported")
        elif ext.critical:
            raise Untrustworthy(f"unsupported critical CRL extension {ext.oid.dotted_string}")
    revoked: set[int] = set()
    for entry in crl:
        # e.g. certificateIssuer (indirect CRLs): the entry may be about another CA's
        # certificate with the same serial.
        critical = next((e for e in entry.extensions if e.critical), None)
        if critical is not None:
            raise Untrustworthy(
                f"unsupported critical CRL entry extension {critical.oid.dotted_string}")
        revoked.add(entry.serial_number)
    return frozenset(revoked)


def _scope_problem(idp: x509.IssuingDistributionPoint, url: str) -> str | None:
    """Why a CRL with this issuingDistributionPoint does not cover the holder's certificate
    whole, or None. Many CAs mark their full CRL with one that only names its own location
    (the certificate's CDP we fetched it from) or says "end-entity certificates only": that
    is the complete list for a card's certificate (RFC 5280 §6.3.3 b.2). Another location,
    some reasons only, CA or attribute certificates only, or an indirect CRL is not."""
    if idp.indirect_crl:
        return "an indirect CRL"
    if idp.only_some_reasons:
        return "a CRL of some revocation reasons only"
    if idp.only_contains_ca_certs or idp.only_contains_attribute_certs:
        return "a CRL of CA or attribute certificates only"
    if idp.relative_name is not None:
        return "a CRL named relative to its issuer"
    if idp.full_name is not None and not any(
            isinstance(name, x509.UniformResourceIdentifier) and name.value == url
            for name in idp.full_name):
        return "a CRL of another distribution point"
    return None


_DER = serialization.Encoding.DER
