"""Step 5 over real HTTP: the test PKI's AIA/CDP point at tests.testbed.revocation's server."""

from __future__ import annotations

from datetime import timedelta

import pytest

from server.verify import Verifier
from tests.server.tokens import ORIGIN, make_token

# Generous for a local responder on a loaded CI machine; the "slow" responder waits longer.
TIMEOUT = 3.0


def _verify(v: Verifier, pki, nonce, just_now, slug="dupont", cert=None):
    h = pki.holders[slug]
    return v.verify(make_token(h.auth_key, cert or h.auth_cert, nonce), ORIGIN, nonce, just_now)


@pytest.fixture
def hard(anchors):
    return Verifier(anchors, revocation="hard", http_timeout=TIMEOUT)


@pytest.fixture
def soft(anchors):
    return Verifier(anchors, revocation="soft", http_timeout=TIMEOUT)


@pytest.mark.parametrize("mode", ["good", "by-name", "delegated", "no-nonce"])
def test_good_ocsp_answer(pki, responder, hard, nonce, just_now, mode):
    responder.ocsp_mode = mode
    out = _verify(hard, pki, nonce, just_now)
    assert out.valid, out.detail
    assert responder.hits["ocsp"] == 1 and responder.hits["crl"] == 0


def test_ocsp_requests_carry_a_fresh_nonce(pki, responder, anchors, nonce, just_now):
    v = Verifier(anchors, revocation="hard", revocation_cache_ttl=timedelta(0))
    for _ in range(3):
        assert _verify(v, pki, nonce, just_now).valid
    assert len(responder.nonces) == 3
    assert all(n and len(n) >= 16 for n in responder.nonces)
    assert len(set(responder.nonces)) == 3


def test_revoked_by_ocsp(pki, responder, hard, soft, nonce, just_now):
    responder.revoke(pki.holders["dupont"].auth_cert)
    responder.crl_mode = "missing"  # OCSP alone decides
    assert _verify(hard, pki, nonce, just_now).reason == "CERT_REVOKED"
    assert _verify(soft, pki, nonce, just_now).reason == "CERT_REVOKED"
    assert responder.hits["crl"] == 0
    assert _verify(hard, pki, nonce, just_now, slug="martin").valid  # others are not revoked


def test_revoked_comes_before_bad_signature(pki, responder, hard, nonce, just_now):
    h = pki.holders["dupont"]
    responder.revoke(h.auth_cert)
    token = make_token(h.auth_key, h.auth_cert, nonce, signed_origin="https://evil.example")
    assert hard.verify(token, ORIGIN, nonce, just_now).reason == "CERT_REVOKED"


def test_unknown_is_decisive(pki, responder, hard, soft, nonce, just_now):
    """A signed 'unknown' means the CA does not know the certificate: no CRL can vouch for it,
    and soft-fail does not excuse it."""
    responder.ocsp_mode = "unknown"
    assert _verify(hard, pki, nonce, just_now).reason == "REVOCATION_UNKNOWN"
    assert _verify(soft, pki, nonce, just_now).reason == "REVOCATION_UNKNOWN"
    assert responder.hits["crl"] == 0


@pytest.mark.parametrize("mode", ["stale", "wrong-signer", "forged", "rogue-delegated",
                                  "wrong-nonce",
                                  "try-later",
                                  "http-500", "drop", "slow"])
def test_untrustworthy_or_absent_ocsp_falls_back_to_the_crl(pki, responder, hard, nonce,
                                                            just_now, mode):
    responder.ocsp_mode = mode
    responder.slow_seconds = TIMEOUT + 1.0  # beyond the verifier's timeout
    responder.revoke(pki.holders["martin"].auth_cert)
    assert _verify(hard, pki, nonce, just_now).valid
    assert _verify(hard, pki, nonce, just_now, slug="martin").reason == "CERT_REVOKED"
    assert responder.hits["crl"] == 1  # fetched once, then cached


@pytest.mark.parametrize("ocsp_mode", ["stale", "forged", "http-500", "drop"])
@pytest.mark.parametrize("crl_mode", ["stale", "wrong-signer", "missing", "garbage"])
def test_no_trustworthy_answer(pki, responder, hard, soft, anchors, nonce, just_now,
                               ocsp_mode, crl_mode):
    responder.ocsp_mode, responder.crl_mode = ocsp_mode, crl_mode
    assert _verify(hard, pki, nonce, just_now).reason == "REVOCATION_UNKNOWN"
    assert _verify(soft, pki, nonce, just_now).valid           # soft-fail accepts
    off = Verifier(anchors, revocation="off")
    hits = sum(responder.hits.values())
    assert _verify(off, pki, nonce, just_now).valid
    assert sum(responder.hits.values()) == hits                 # off asks nobody


def test_unreachable_server(pki, anchors, nonce, just_now):
    """A PKI whose AIA/CDP name a port where nothing listens: connections are refused."""
    from tests.conftest import free_port
    from tests.testbed import pki as testbed_pki

    nowhere = testbed_pki.TestPKI.create(f"http://127.0.0.1:{free_port()}")
    h = nowhere.holders["dupont"]
    hard = Verifier([nowhere.root_cert, nowhere.ca_cert], revocation="hard", http_timeout=TIMEOUT)
    soft = Verifier([nowhere.root_cert, nowhere.ca_cert], revocation="soft", http_timeout=TIMEOUT)
    token = make_token(h.auth_key, h.auth_cert, nonce)
    assert hard.verify(token, ORIGIN, nonce, just_now).reason == "REVOCATION_UNKNOWN"
    assert soft.verify(token, ORIGIN, nonce, just_now).valid


def test_ocsp_answers_are_cached(pki, responder, hard, nonce, just_now):
    for _ in range(5):
        assert _verify(hard, pki, nonce, just_now).valid
    assert responder.hits["ocsp"] == 1
    responder.revoke(pki.holders["dupont"].auth_cert)  # the cache lasts until its TTL
    assert _verify(hard, pki, nonce, just_now).valid


def test_cache_lifetime_is_configurable(pki, responder, anchors, nonce, just_now):
    v = Verifier(anchors, revocation="hard", revocation_cache_ttl=timedelta(0))
    assert _verify(v, pki, nonce, just_now).valid
    responder.revoke(pki.holders["dupont"].auth_cert)
    assert _verify(v, pki, nonce, just_now).reason == "CERT_REVOKED"
    assert responder.hits["ocsp"] == 2


def test_no_revocation_urls(pki, responder, anchors, nonce, just_now):
    """A certificate without AIA/CDP cannot be checked: hard refuses, soft accepts."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    h = pki.holders["dupont"]
    builder = x509.CertificateBuilder(
        issuer_name=h.auth_cert.issuer, subject_name=h.auth_cert.subject,
        public_key=h.auth_key.public_key(), serial_number=x509.random_serial_number(),
        not_valid_before=h.auth_cert.not_valid_before_utc,
        not_valid_after=h.auth_cert.not_valid_after_utc,
        extensions=[e for e in h.auth_cert.extensions
                    if not isinstance(e.value, (x509.AuthorityInformationAccess,
                                                x509.CRLDistributionPoints))])
    cert = builder.sign(pki.ca_key, hashes.SHA256())
    hard = Verifier(anchors, revocation="hard")
    soft = Verifier(anchors, revocation="soft")
    assert _verify(hard, pki, nonce, just_now, cert=cert).reason == "REVOCATION_UNKNOWN"
    assert _verify(soft, pki, nonce, just_now, cert=cert).valid
    assert sum(responder.hits.values()) == 0


def _crl(pki, extensions=(), entries=()) -> bytes:
    """A CRL of the test CA, correctly signed and fresh, with these (extension, critical)
    pairs, listing `entries`: (serial, [(entry extension, critical)])."""
    from datetime import datetime, timezone

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    now = datetime.now(timezone.utc)
    builder = (x509.CertificateRevocationListBuilder().issuer_name(pki.ca_cert.subject)
               .last_update(now - timedelta(minutes=1)).next_update(now + timedelta(days=1))
               .add_extension(x509.CRLNumber(7), critical=False))
    for extension, critical in extensions:
        builder = builder.add_extension(extension, critical=critical)
    for serial, entry_extensions in entries:
        entry = (x509.RevokedCertificateBuilder().serial_number(serial)
                 .revocation_date(now - timedelta(days=1)))
        for extension, critical in entry_extensions:
            entry = entry.add_extension(extension, critical=critical)
        builder = builder.add_revoked_certificate(entry.build())
    return builder.sign(pki.ca_key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)


def _partial_crls():
    from cryptography import x509

    def idp(**flags):
        fields = dict(full_name=None, relative_name=None, only_contains_user_certs=False,
                      only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
                      only_contains_attribute_certs=False)
        return x509.IssuingDistributionPoint(**{**fields, **flags})

    other_ca = x509.DirectoryName(x509.Name.from_rfc4514_string("CN=Another CA"))
    return {
        "delta": ([(x509.DeltaCRLIndicator(6), True)], ()),
        "delta-noncritical": ([(x509.DeltaCRLIndicator(6), False)], ()),
        "ca-only": ([(idp(only_contains_ca_certs=True), True)], ()),
        "partition": ([(idp(full_name=[x509.UniformResourceIdentifier(
            "http://127.0.0.1/crl/partition-1.crl")]), True)], ()),
        "some-reasons": ([(idp(only_some_reasons=frozenset(
            {x509.ReasonFlags.key_compromise})), True)], ()),
        "indirect": ([(idp(indirect_crl=True), True)],
                     [(12345, [(x509.CertificateIssuer([other_ca]), True)])]),
        "unknown-critical": ([(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), True)], ()),
        "unknown-critical-entry": ([], [(12345, [(x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.99999.2"), b"\x05\x00"), True)])]),
    }


@pytest.mark.parametrize("kind", list(_partial_crls()))
def test_a_crl_that_is_not_a_complete_list_is_no_answer(pki, responder, hard, soft, nonce,
                                                       just_now, monkeypatch, kind):
    """Not listed in a delta CRL, a partition, a CA-only or some-reasons CRL, an indirect CRL
    or a CRL with a critical extension we do not process does not mean "good": such a CRL is
    no trustworthy answer (RFC 5280 §5.2, §5.3), as if there were none."""
    extensions, entries = _partial_crls()[kind]
    monkeypatch.setattr(responder, "crl", lambda: _crl(pki, extensions, entries))
    responder.ocsp_mode = "http-500"  # the CRL alone decides
    assert _verify(hard, pki, nonce, just_now).reason == "REVOCATION_UNKNOWN"
    assert _verify(soft, pki, nonce, just_now).valid  # soft-fail, as with no CRL at all
    assert responder.hits["crl"] == 2  # each verifier did read the CRL


def _complete_crls(pki):
    """CRLs that do list all the issuer's revocations for a card's certificate: one with a
    non-critical extension we do not know; the way many CAs mark their full CRL, an
    issuingDistributionPoint naming only the location the certificate's CDP gives, or
    saying end-entity certificates only (RFC 5280 §6.3.3 b.2)."""
    from cryptography import x509

    here = [x509.UniformResourceIdentifier(pki.crl_url)]
    idp = dict(full_name=None, relative_name=None, only_contains_user_certs=False,
               only_contains_ca_certs=False, only_some_reasons=None, indirect_crl=False,
               only_contains_attribute_certs=False)
    return {
        "unknown-noncritical": (x509.UnrecognizedExtension(
            x509.ObjectIdentifier("1.3.6.1.4.1.99999.1"), b"\x05\x00"), False),
        "idp-this-location": (x509.IssuingDistributionPoint(**{**idp, "full_name": here}), True),
        "idp-end-entity-only": (x509.IssuingDistributionPoint(
            **{**idp, "full_name": here, "only_contains_user_certs": True}), True),
    }


@pytest.mark.parametrize("kind", ["unknown-noncritical", "idp-this-location", "idp-end-entity-only"])
def test_a_complete_crl_is_read(pki, responder, hard, nonce, just_now, monkeypatch, kind):
    from cryptography import x509

    martin = pki.holders["martin"].auth_cert.serial_number
    monkeypatch.setattr(responder, "crl", lambda: _crl(
        pki, [_complete_crls(pki)[kind]],
        [(martin, [(x509.CRLReason(x509.ReasonFlags.key_compromise), False)])]))
    responder.ocsp_mode = "http-500"
    assert _verify(hard, pki, nonce, just_now).valid
    assert _verify(hard, pki, nonce, just_now, slug="martin").reason == "CERT_REVOKED"
