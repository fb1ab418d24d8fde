"""Step 4: full path validation to the configured trust anchors (signatures, names, CA
constraints, validity of every certificate), never a match on names alone."""

from __future__ import annotations

import logging
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.x509.oid import AuthorityInformationAccessOID
from cryptography.x509.verification import (ExtensionPolicy, PolicyBuilder, Store,
                                            VerificationError)

from server.verify.fetch import http_get
from server.verify.outcome import Rejected

log = logging.getLogger(__name__)

# The IGC-Santé CAs (see its README for names and digests).
DEFAULT_TRUST_DIR = Path(__file__).resolve().parents[1] / "trust" / "igc-sante"
# What a card login trusts in production: the chain of a CPS card's authentication
# certificate, AC IGC-SANTE FORT PERSONNES under AC RACINE IGC-SANTE FORT. The folder's other
# CAs (STANDARD, ELEMENTAIRE, ORGANISATIONS) issue software and server certificates, which
# need no card: trusting them would let those log in "by card".
CARD_TRUST_FILES: tuple[Path, ...] = (DEFAULT_TRUST_DIR / "ACR_FORT_20130625.cer",
                                      DEFAULT_TRUST_DIR / "AC_FORT_PERSONNES_20130625.cer")
CERT_SUFFIXES = (".pem", ".crt", ".cer", ".der")
MAX_CA_CERT_BYTES = 64 * 1024
_CACHE_LIMIT = 10_000
# With fetching on, the caIssuers URLs come from a certificate not yet trusted: whoever made
# it chooses where the server sends requests. So at most this many per certificate, and a
# URL that failed is not tried again for a while (one request per minute at most).
MAX_CA_ISSUERS_FETCHED = 2
FAILED_URL_MEMORY = 60.0  # seconds
_monotonic = time.monotonic  # a module attribute, so that tests can move time on


def _load_file(path: Path) -> list[x509.Certificate]:
    data = path.read_bytes()
    if b"-----BEGIN CERTIFICATE-----" in data:
        return x509.load_pem_x509_certificates(data)
    return [x509.load_der_x509_certificate(data)]


def card_trust_anchors() -> list[x509.Certificate]:
    """The production trust anchors of a card login (CARD_TRUST_FILES)."""
    return [anchor for path in CARD_TRUST_FILES for anchor in load_trust_anchors(path)]


def load_trust_anchors(path: Path | str) -> list[x509.Certificate]:
    """CA certificates from a folder of PEM/DER files (.pem .crt .cer .der; other files, such
    as a README, are ignored) or from one such file. Raises ValueError naming the problem."""
    path = Path(path)
    if path.is_dir():
        files = sorted(p for p in path.iterdir()
                       if p.is_file() and p.suffix.lower() in CERT_SUFFIXES)
    elif path.is_file():
        files = [path]
    else:
        raise ValueError(f"trust anchors: {path} is neither a folder nor a file")
    anchors: dict[bytes, x509.Certificate] = {}
    for file in files:
        try:
            certs = _load_file(file)
        except (OSError, ValueError) as e:
            raise ValueError(f"trust anchors: {file} is not a readable PEM/DER certificate "
                             f"({e})") from None
        for cert in certs:
            try:
                ca = cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
            except x509.ExtensionNotFound:
                ca = False
            if not ca:
                raise ValueError(f"trust anchors: {file} holds a certificate that is not a CA "
                                 f"({cert.subject.rfc4514_string()})")
            anchors[cert.fingerprint(_sha256())] = cert
    if not anchors:
        raise ValueError(f"trust anchors: no CA certificate found in {path} "
                         f"(expected {', '.join(CERT_SUFFIXES)} files)")
    return list(anchors.values())


def _sha256():
    from cryptography.hazmat.primitives import hashes
    return hashes.SHA256()


def _ca_issuer_urls(cert: x509.Certificate) -> list[str]:
    """The first MAX_CA_ISSUERS_FETCHED http(s) caIssuers URLs (others, such as ldap://,
    would not be fetched anyway, so they do not use up the allowance)."""
    try:
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    except (x509.ExtensionNotFound, ValueError):
        return []
    urls = [d.access_location.value for d in aia
            if d.access_method == AuthorityInformationAccessOID.CA_ISSUERS
            and isinstance(d.access_location, x509.UniformResourceIdentifier)
            and d.access_location.value.lower().startswith(("http://", "https://"))]
    return urls[:MAX_CA_ISSUERS_FETCHED]


class ChainValidator:
    """Validates a leaf against the anchors. Anchors may be roots and/or intermediates (the
    trust folder is expected to hold the intermediates). Only with `fetch_intermediates`,
    when the leaf's issuer is not among them, the intermediate named by the leaf's AIA
    caIssuers is fetched (cached; at most MAX_CA_ISSUERS_FETCHED URLs, failures remembered
    FAILED_URL_MEMORY seconds) and must itself chain to an anchor. Off by default: those
    URLs are chosen by whoever made the certificate, which nothing vouches for yet.

    A successful validation is cached by the leaf's DER digest until the chain's common
    validity window closes: path validation of the same bytes against the same anchors
    cannot change within it, and this keeps repeated logins cheap."""

    def __init__(self, anchors: list[x509.Certificate], http_timeout: float,
                 fetch_intermediates: bool = False):
        if not anchors:
            raise ValueError("no trust anchors")
        self._store = Store(anchors)
        self._anchor_subjects = {a.subject for a in anchors}
        self._timeout = http_timeout
        self._fetch = fetch_intermediates
        self._lock = threading.Lock()
        self._chains: dict[str, tuple[list[x509.Certificate], datetime, datetime]] = {}
        self._intermediates: dict[str, x509.Certificate] = {}
        self._failed: dict[str, float] = {}  # URL -> monotonic time until which it is skipped
        # CA certificates keep the WebPKI profile; the leaf's usage is checked at step 3 by
        # our own IGC-Santé rules (no SAN on a CPS certificate, for instance).
        self._ca_policy = ExtensionPolicy.webpki_defaults_ca()
        self._ee_policy = ExtensionPolicy.permit_all()

    def validate(self, leaf: x509.Certificate, fingerprint: str, now: datetime,
                 skew: timedelta) -> list[x509.Certificate]:
        """The chain, leaf first, anchor last; raises Rejected("CERT_UNTRUSTED").
        `fingerprint` is the SHA-256 of the leaf's DER (the cache key)."""
        key = fingerprint
        hit = self._chains.get(key)
        if hit is not None and hit[1] - skew <= now <= hit[2] + skew:
            return hit[0]
        # Step 3 has accepted `now` within the leaf's dates give or take the skew; validate at
        # the nearest instant inside them so that the skew means the same thing here.
        at = min(max(now, leaf.not_valid_before_utc), leaf.not_valid_after_utc)
        chain = self._build(leaf, at)
        window = (max(c.not_valid_before_utc for c in chain),
                  min(c.not_valid_after_utc for c in chain))
        with self._lock:
            if len(self._chains) >= _CACHE_LIMIT:
                self._chains.clear()
            self._chains[key] = (chain, *window)
        return chain

    def _verify(self, leaf, intermediates, at) -> list[x509.Certificate]:
        verifier = (PolicyBuilder().store(self._store).time(at)
                    .extension_policies(ca_policy=self._ca_policy, ee_policy=self._ee_policy)
                    .build_client_verifier())
        return verifier.verify(leaf, intermediates).chain

    def _build(self, leaf: x509.Certificate, at: datetime) -> list[x509.Certificate]:
        try:
            return self._verify(leaf, [], at)
        except (VerificationError, ValueError, UnsupportedAlgorithm) as e:
            first_error = str(e)
        if not self._fetch or leaf.issuer in self._anchor_subjects:
            raise Rejected("CERT_UNTRUSTED", first_error)
        fetched = [c for c in map(self._intermediate, _ca_issuer_urls(leaf)) if c is not None]
        if not fetched:
            raise Rejected("CERT_UNTRUSTED", f"{first_error}; no intermediate from the AIA")
        try:
            return self._verify(leaf, fetched, at)
        except (VerificationError, ValueError, UnsupportedAlgorithm) as e:
            raise Rejected("CERT_UNTRUSTED", str(e)) from None

    def _intermediate(self, url: str) -> x509.Certificate | None:
        with self._lock:
            if url in self._intermediates:
                return self._intermediates[url]
            if self._failed.get(url, 0.0) > _monotonic():
                return None
        try:
            data = http_get(url, self._timeout, MAX_CA_CERT_BYTES)
            certs = (x509.load_pem_x509_certificates(data) if b"-----BEGIN" in data
                     else [x509.load_der_x509_certificate(data)])
        except Exception as e:  # noqa: BLE001 - network data: any failure means no certificate
            log.warning("caIssuers %s: %s", url, e)
            with self._lock:
                _bound(self._failed)
                self._failed[url] = _monotonic() + FAILED_URL_MEMORY
            return None
        with self._lock:
            _bound(self._intermediates)  # URLs come from untrusted certificates: no growth
            self._intermediates[url] = certs[0]
            self._failed.pop(url, None)
        return certs[0]


def _bound(cache: dict) -> None:
    """Caller holds the lock. Same policy as the other caches: emptied when full."""
    if len(cache) >= _CACHE_LIMIT:
        cache.clear()
