"""host/certificate.py reads the same fields as `cryptography`, on the test PKI and on
generated certificates; and refuses what is not DER."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from host import certificate
from host.holder import holder_fields
from host.identity import holder_of
from tests.testbed.pki import CARD_TYPE_POLICIES, der

KU_NAMES = certificate.KEY_USAGE_BITS
_KEY = ec.generate_private_key(ec.SECP256R1())


def expected(cert: x509.Certificate) -> dict:
    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
        usage = {n for n, attr in zip(KU_NAMES, ["digital_signature", "content_commitment",
                 "key_encipherment", "data_encipherment", "key_agreement", "key_cert_sign",
                 "crl_sign"]) if getattr(ku, attr)}
        if ku.key_agreement:
            usage |= {n for n, a in (("encipherOnly", "encipher_only"), ("decipherOnly", "decipher_only"))
                      if getattr(ku, a)}
    except x509.ExtensionNotFound:
        usage = None
    try:
        policies = [p.policy_identifier.dotted_string for p in
                    cert.extensions.get_extension_for_class(x509.CertificatePolicies).value]
    except x509.ExtensionNotFound:
        policies = []
    return {"subject": [[(a.oid.dotted_string, str(a.value)) for a in rdn] for rdn in cert.subject.rdns],
            "not_before": cert.not_valid_before_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "not_after": cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "key_usage": usage, "policies": policies}


def read(cert: x509.Certificate) -> dict:
    f = certificate.read(der(cert))
    return {"subject": f.subject, "not_before": f.not_before, "not_after": f.not_after,
            "key_usage": set(f.key_usage) if f.key_usage is not None else None,
            "policies": f.policies}


def test_every_certificate_of_the_test_pki(pki):
    for h in pki.holders.values():
        for cert in filter(None, (h.auth_cert, h.sig_cert)):
            assert read(cert) == expected(cert)
            fields = holder_fields(read(cert)["subject"], read(cert)["policies"], CARD_TYPE_POLICIES)
            spec = h.spec
            assert (fields["idNat"], fields["familyName"], fields["givenName"], fields["title"],
                    fields["cardType"]) == (spec.id_nat, spec.family, spec.given, spec.title,
                                            spec.card_type)
            # the host (its own DER reader) and the verifier (cryptography) name people alike
            assert fields == holder_of(cert, CARD_TYPE_POLICIES).model_dump()
            assert holder_fields(read(cert)["subject"], read(cert)["policies"])["cardType"] == \
                "UNKNOWN", "a card type without a configured table is a guess"
    assert certificate.read(der(pki.holders["robert"].auth_cert)).curve == "secp256r1"
    assert certificate.read(der(pki.holders["dupont"].auth_cert)).key_type == "rsa"
    assert not certificate.read(der(pki.holders["dupont"].sig_cert)).for_authentication
    assert certificate.read(der(pki.holders["dupont"].auth_cert)).for_authentication
    assert certificate.read(der(pki.ca_cert)).key_usage == {"keyCertSign", "cRLSign"}


names = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=16)  # cryptography caps a CN at 64 UTF-8 bytes
usages = st.fixed_dictionaries({k: st.booleans() for k in (
    "digital_signature", "content_commitment", "key_encipherment", "data_encipherment",
    "key_agreement", "key_cert_sign", "crl_sign")})


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(names, names, names, names, st.one_of(st.none(), usages),
       st.lists(st.integers(1, 2**40), max_size=3), st.integers(-20000, 20000), st.booleans())
def test_generated_certificates_read_like_cryptography(cn, sn, gn, title, ku, policy_arcs, days, utc):
    subject = x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, title)]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COMMON_NAME, cn),
                                        x509.NameAttribute(NameOID.SURNAME, sn),
                                        x509.NameAttribute(NameOID.GIVEN_NAME, gn)])])
    start = dt.datetime(2030 if not utc else 2020, 1, 1, tzinfo=dt.timezone.utc) + dt.timedelta(days=days)
    b = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
         .public_key(_KEY.public_key()).serial_number(x509.random_serial_number())
         .not_valid_before(start).not_valid_after(start + dt.timedelta(days=365)))
    if ku is not None:
        b = b.add_extension(x509.KeyUsage(**ku, encipher_only=False, decipher_only=False), critical=True)
    if policy_arcs:
        b = b.add_extension(x509.CertificatePolicies([x509.PolicyInformation(
            x509.ObjectIdentifier(f"1.2.250.{a}"), None) for a in policy_arcs]), critical=False)
    cert = b.sign(_KEY, hashes.SHA256())
    assert read(cert) == expected(cert)


@pytest.mark.parametrize("blob", [b"", b"\x30", b"\x30\x80\x00\x00", b"\x30\x05\x02\x01", b"\x04\x00",
                                  b"\x30\x84\xff\xff\xff\xff", b"not a certificate at all"])
def test_garbage_is_refused_cleanly(blob):
    with pytest.raises(certificate.CertificateError):
        certificate.read(blob)


@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_certificate_error(blob):
    try:
        certificate.read(blob)
    except certificate.CertificateError:
        pass


def test_truncations_of_a_real_certificate_are_refused(pki):
    data = der(pki.holders["dupont"].auth_cert)
    for cut in range(0, len(data), 37):
        with pytest.raises(certificate.CertificateError):
            certificate.read(data[:cut])
