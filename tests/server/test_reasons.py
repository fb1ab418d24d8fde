"""Every §6 step with good and crafted bad tokens (revocation off here; see
test_revocation.py for step 5)."""

from __future__ import annotations

import base64
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from host.identity import holder_of
from server.verify import REASONS, Verifier
from tests.server.tokens import ORIGIN, make_token
from tests.testbed import pki as testbed_pki
from tests.testbed.pki import CARD_TYPE_POLICIES, HOLDERS, _usage, der, new_key

UTC = timezone.utc


def test_the_reason_codes_are_those_of_the_protocol():
    assert set(REASONS) == {"TOKEN_MALFORMED", "NONCE_UNKNOWN", "NONCE_EXPIRED", "CERT_EXPIRED",
                            "CERT_NOT_YET_VALID", "CERT_WRONG_USAGE", "CERT_UNTRUSTED",
                            "CERT_REVOKED", "REVOCATION_UNKNOWN", "SIGNATURE_INVALID"}


# -- accepted ----------------------------------------------------------------------------

@pytest.mark.parametrize("slug,algorithm", [("dupont", "RS256"), ("dupont", "PS256"),
                                            ("martin", "RS256"), ("petit", "PS256"),
                                            ("robert", "ES256")])
def test_good_tokens_name_the_holder(pki, verifier, nonce, just_now, slug, algorithm):
    h = pki.holders[slug]
    out = verifier.verify(make_token(h.auth_key, h.auth_cert, nonce, algorithm=algorithm),
                          origin=ORIGIN, nonce=nonce, nonce_issued_at=just_now)
    assert out.valid, out.detail
    assert out.reason is None
    assert out.fingerprint == h.certificate_id
    assert out.holder == holder_of(h.auth_cert, CARD_TYPE_POLICIES)
    assert out.holder.idNat == h.spec.id_nat
    assert (out.holder.familyName, out.holder.givenName) == (h.spec.family, h.spec.given)
    assert out.holder.title == h.spec.title and out.holder.cardType == h.spec.card_type
    assert out.to_json() == {"valid": True, "fingerprint": h.certificate_id,
                             "holder": out.holder.model_dump(exclude_none=True)}


def test_holder_identifiers(pki, verifier, nonce, just_now):
    for slug, expected in [("dupont", ("RPPS", "99700367917", None)),
                           ("martin", ("ADELI", None, "751234567"))]:
        h = pki.holders[slug]
        out = verifier.verify(make_token(h.auth_key, h.auth_cert, nonce), ORIGIN, nonce, just_now)
        assert (out.holder.idType, out.holder.rpps, out.holder.adeli) == expected


def test_es384_with_a_p384_key(pki, verifier, nonce, just_now):
    key = new_key("p384")
    cert = pki.holder_certificate(HOLDERS["robert"], key.public_key(), signature=False)
    out = verifier.verify(make_token(key, cert, nonce, algorithm="ES384"), ORIGIN, nonce, just_now)
    assert out.valid, out.detail


def test_token_as_json_text_or_bytes(pki, verifier, nonce, just_now):
    h = pki.holders["dupont"]
    text = json.dumps(make_token(h.auth_key, h.auth_cert, nonce))
    assert verifier.verify(text, ORIGIN, nonce, just_now).valid
    assert verifier.verify(text.encode(), ORIGIN, nonce, just_now).valid


def test_a_text_token_with_a_key_twice_is_malformed(pki, verifier, nonce, just_now):
    """Which signature counts? Python keeps the last, other readers the first: the token
    must mean one thing to all, so it means nothing. Here the first is bad, the last good."""
    h = pki.holders["dupont"]
    token = make_token(h.auth_key, h.auth_cert, nonce)
    good = json.dumps(token)
    twice = good[:-1] + ', "signature": ' + json.dumps(token["signature"]) + "}"
    twice = twice.replace(json.dumps(token["signature"]), json.dumps("AAAA"), 1)
    assert json.loads(twice) == token  # what the verifier used to read, valid
    for text in (twice, twice.encode()):
        out = verifier.verify(text, ORIGIN, nonce, just_now)
        assert (out.reason, out.detail) == ("TOKEN_MALFORMED",
                                            "token is not JSON: duplicate key 'signature'")


def test_a_token_with_what_json_does_not_have_is_malformed(pki, verifier, nonce, just_now):
    """NaN and Infinity: Python's json reads them, RFC 8259 and other readers do not, so a
    token holding one is not the same token to every reader."""
    h = pki.holders["dupont"]
    good = json.dumps(make_token(h.auth_key, h.auth_cert, nonce))
    assert verifier.verify(good, ORIGIN, nonce, just_now).valid
    for constant in ("NaN", "Infinity", "-Infinity"):
        text = good[:-1] + f', "futureField": {constant}}}'
        out = verifier.verify(text, ORIGIN, nonce, just_now)
        assert (out.valid, out.reason) == (False, "TOKEN_MALFORMED"), constant


def test_unknown_extra_fields_are_ignored(pki, verifier, nonce, just_now):
    h = pki.holders["dupont"]
    token = {**make_token(h.auth_key, h.auth_cert, nonce), "futureField": 1}
    assert verifier.verify(token, ORIGIN, nonce, just_now).valid


# -- step 1: TOKEN_MALFORMED -------------------------------------------------------------

def _good(pki, nonce):
    h = pki.holders["dupont"]
    return make_token(h.auth_key, h.auth_cert, nonce)


@pytest.mark.parametrize("spoil", [
    lambda t: {**t, "format": "cpsbridge:2"},
    lambda t: {**t, "format": "web-eid:1"},
    lambda t: {k: v for k, v in t.items() if k != "format"},
    lambda t: {k: v for k, v in t.items() if k != "unverifiedCertificate"},
    lambda t: {k: v for k, v in t.items() if k != "algorithm"},
    lambda t: {k: v for k, v in t.items() if k != "signature"},
    lambda t: {k: v for k, v in t.items() if k != "appVersion"},
    lambda t: {**t, "algorithm": "HS256"},
    lambda t: {**t, "algorithm": "none"},
    lambda t: {**t, "algorithm": "rs256"},
    lambda t: {**t, "signature": "***not base64***"},
    lambda t: {**t, "signature": ""},
    lambda t: {**t, "signature": 12},
    lambda t: {**t, "appVersion": None},
    lambda t: {**t, "unverifiedCertificate": "éé"},
    lambda t: {**t, "unverifiedCertificate": base64.b64encode(b"not a certificate").decode()},
    lambda t: {**t, "unverifiedCertificate": t["unverifiedCertificate"][:-40]},
    lambda t: {**t, "padding": "A" * 10_000},
    lambda t: json.dumps(t) + " " * 10_000,
    lambda t: "{not json",
    lambda t: b"\xff\xfe",
    lambda t: "[" * 5_000,                           # deeper than the JSON decoder goes,
    lambda t: ("[" * 4_000 + "]" * 4_000).encode(),  # yet within the size limit
    lambda t: [t],
    lambda t: "null",
    lambda t: 42,
], ids=lambda f: "")
def test_malformed_tokens(pki, verifier, nonce, just_now, spoil):
    out = verifier.verify(spoil(_good(pki, nonce)), ORIGIN, nonce, just_now)
    assert (out.valid, out.reason) == (False, "TOKEN_MALFORMED")
    assert out.holder is None and out.fingerprint is None
    assert out.to_json() == {"valid": False, "reason": "TOKEN_MALFORMED"}


def test_size_limit_is_ten_thousand_bytes(pki, verifier, nonce, just_now):
    token = _good(pki, nonce)
    compact = len(json.dumps(token, separators=(",", ":")))
    text = json.dumps(token, separators=(",", ":")) + " " * (10_000 - compact)
    assert verifier.verify(text, ORIGIN, nonce, just_now).valid
    assert verifier.verify(text + " ", ORIGIN, nonce, just_now).reason == "TOKEN_MALFORMED"


# -- step 2: nonce age (the store's one-time use is in test_challenges.py) ---------------

def test_expired_nonce(pki, verifier, nonce):
    issued = datetime.now(UTC) - timedelta(minutes=5, seconds=5)
    assert verifier.verify(_good(pki, nonce), ORIGIN, nonce, issued).reason == "NONCE_EXPIRED"
    issued = datetime.now(UTC) - timedelta(minutes=4, seconds=50)
    assert verifier.verify(_good(pki, nonce), ORIGIN, nonce, issued).valid


def test_nonce_from_the_future_is_unknown(pki, verifier, nonce):
    issued = datetime.now(UTC) + timedelta(hours=1)
    assert verifier.verify(_good(pki, nonce), ORIGIN, nonce, issued).reason == "NONCE_UNKNOWN"


def test_malformed_token_is_reported_before_the_nonce(pki, verifier, nonce):
    issued = datetime.now(UTC) - timedelta(hours=1)
    out = verifier.verify({**_good(pki, nonce), "format": "x"}, ORIGIN, nonce, issued)
    assert out.reason == "TOKEN_MALFORMED"


# A certificate that does not decode is step 1's business, whatever the nonce (§6 step 1:
# "every field is present and decodes"), not something found after the nonce check.
_UNDECODABLE_CERTIFICATES = [
    "***not base64***",
    base64.b64encode(b"not a certificate").decode(),  # base64, but not DER
    None,  # the real certificate cut short: DER that ends too soon
]


@pytest.mark.parametrize("certificate", _UNDECODABLE_CERTIFICATES, ids=["base64", "der", "cut"])
@pytest.mark.parametrize("issued,nonce_value", [
    (timedelta(hours=-1), None),    # expired
    (timedelta(hours=1), None),     # from the future: unknown
    (timedelta(seconds=-1), ""),    # no nonce: unknown
], ids=["expired", "future", "missing"])
def test_undecodable_certificate_is_reported_before_the_nonce(pki, verifier, nonce, certificate,
                                                              issued, nonce_value):
    token = _good(pki, nonce)
    token["unverifiedCertificate"] = (certificate if certificate is not None
                                      else token["unverifiedCertificate"][:-40])
    out = verifier.verify(token, ORIGIN, nonce if nonce_value is None else nonce_value,
                          datetime.now(UTC) + issued)
    assert (out.valid, out.reason) == (False, "TOKEN_MALFORMED"), out.detail
    assert "unverifiedCertificate" in out.detail


def test_the_certificate_is_read_once_per_verifier(pki, verifier, nonce, just_now,
                                                    monkeypatch):
    """Reading the certificate in step 1 goes through the verifier's cache: a second login
    with the same certificate does not parse it again."""
    from server.verify import certificate as certificate_module

    calls = []
    real = certificate_module.read_certificate
    monkeypatch.setattr(certificate_module, "read_certificate",
                        lambda *a: calls.append(1) or real(*a))
    expired = datetime.now(UTC) - timedelta(hours=1)
    assert verifier.verify(_good(pki, nonce), ORIGIN, nonce, expired).reason == "NONCE_EXPIRED"
    assert verifier.verify(_good(pki, nonce), ORIGIN, nonce, just_now).valid
    assert len(calls) == 1


# -- step 3: dates and usage -------------------------------------------------------------

def test_expired_certificate(pki, verifier, nonce, just_now):
    h = pki.holders["expire"]
    out = verifier.verify(make_token(h.auth_key, h.auth_cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_EXPIRED"


def test_expired_nonce_comes_before_expired_certificate(pki, verifier, nonce):
    h = pki.holders["expire"]
    out = verifier.verify(make_token(h.auth_key, h.auth_cert, nonce), ORIGIN, nonce,
                          datetime.now(UTC) - timedelta(minutes=6))
    assert out.reason == "NONCE_EXPIRED"


def test_expired_nonce_comes_before_later_steps_facts(pki, verifier, nonce):
    """The certificate is read in step 1, but what it says (dates, usage, holder, chain) is
    still judged in steps 3 to 6, after the nonce."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)
    h = pki.holders["dupont"]
    _, early = _dated(pki, now + timedelta(days=1), now + timedelta(days=400))
    nobody = _reissue(pki, h.auth_cert, h.auth_key.public_key(),
                      subject=x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]))
    other = testbed_pki.TestPKI.create(pki.base_url).holders["dupont"]
    tokens = [make_token(h.auth_key, early, nonce),                 # not yet valid
              make_token(h.sig_key, h.sig_cert, nonce),             # wrong usage
              make_token(other.auth_key, other.auth_cert, nonce),   # untrusted
              make_token(h.auth_key, nobody, nonce),                # no holder
              make_token(h.auth_key, h.auth_cert, nonce,            # bad signature
                         signed_origin="https://evil.example")]
    for token in tokens:
        out = verifier.verify(token, ORIGIN, nonce, now - timedelta(minutes=6))
        assert out.reason == "NONCE_EXPIRED", out.detail


def _dated(pki, not_before, not_after):
    h = pki.holders["dupont"]
    return h.auth_key, pki.holder_certificate(h.spec, h.auth_key.public_key(), signature=False,
                                              not_before=not_before, not_after=not_after)


def test_certificate_not_yet_valid(pki, verifier, nonce, just_now):
    now = datetime.now(UTC)
    key, cert = _dated(pki, now + timedelta(days=1), now + timedelta(days=400))
    assert verifier.verify(make_token(key, cert, nonce), ORIGIN, nonce,
                           just_now).reason == "CERT_NOT_YET_VALID"


def test_clock_skew_is_tolerated_and_configurable(pki, anchors, nonce, just_now):
    now = datetime.now(UTC)
    key, early = _dated(pki, now + timedelta(seconds=30), now + timedelta(days=400))
    key, late = _dated(pki, now - timedelta(days=400), now - timedelta(seconds=30))
    lenient = Verifier(anchors, revocation="off", clock_skew=timedelta(seconds=120))
    strict = Verifier(anchors, revocation="off", clock_skew=timedelta(0))
    for cert, reason in [(early, "CERT_NOT_YET_VALID"), (late, "CERT_EXPIRED")]:
        token = make_token(key, cert, nonce)
        assert lenient.verify(token, ORIGIN, nonce, just_now).valid
        assert strict.verify(token, ORIGIN, nonce, just_now).reason == reason


def test_signature_certificate_is_refused(pki, verifier, nonce, just_now):
    h = pki.holders["dupont"]  # the card's nonRepudiation-only key and certificate
    out = verifier.verify(make_token(h.sig_key, h.sig_cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_WRONG_USAGE"


@pytest.mark.parametrize("usage", [_usage(key_encipherment=True),
                                   _usage(non_repudiation=True, key_encipherment=True)])
def test_certificate_without_digital_signature_is_refused(pki, verifier, nonce, just_now, usage):
    h = pki.holders["dupont"]
    cert = pki.holder_certificate(h.spec, h.auth_key.public_key(), signature=False,
                                  key_usage=usage)
    out = verifier.verify(make_token(h.auth_key, cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_WRONG_USAGE"


def test_wrong_usage_comes_before_untrusted(pki, verifier, nonce, just_now):
    other = testbed_pki.TestPKI.create(pki.base_url)
    h = other.holders["dupont"]
    out = verifier.verify(make_token(h.sig_key, h.sig_cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_WRONG_USAGE"


# -- step 4: chain -----------------------------------------------------------------------

def test_lookalike_ca_is_untrusted(pki, verifier, nonce, just_now):
    """Same issuer name as the real intermediate, another key: path validation refuses."""
    fake_key, fake_ca = pki.lookalike_ca()
    h = pki.holders["dupont"]
    cert = pki.holder_certificate(h.spec, h.auth_key.public_key(), signature=False,
                                  issuer_key=fake_key, issuer_cert=fake_ca)
    assert cert.issuer == pki.ca_cert.subject
    out = verifier.verify(make_token(h.auth_key, cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_UNTRUSTED"


def test_other_pki_is_untrusted(pki, verifier, nonce, just_now):
    other = testbed_pki.TestPKI.create(pki.base_url)  # same names everywhere, other keys
    h = other.holders["dupont"]
    out = verifier.verify(make_token(h.auth_key, h.auth_cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_UNTRUSTED"


def test_self_signed_holder_is_untrusted(pki, verifier, nonce, just_now):
    h = pki.holders["dupont"]
    cert = pki.holder_certificate(h.spec, h.auth_key.public_key(), signature=False,
                                  issuer_key=h.auth_key, issuer_cert=h.auth_cert)
    out = verifier.verify(make_token(h.auth_key, cert, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_UNTRUSTED"


def test_anchors_without_the_issuer_are_untrusted(pki, nonce, just_now):
    other = testbed_pki.TestPKI.create(pki.base_url)
    v = Verifier([other.root_cert, other.ca_cert], revocation="off", fetch_intermediates=False)
    assert v.verify(_good(pki, nonce), ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"


def test_untrusted_comes_before_bad_signature(pki, verifier, nonce, just_now):
    other = testbed_pki.TestPKI.create(pki.base_url)
    h = other.holders["dupont"]
    token = make_token(h.auth_key, h.auth_cert, nonce, signed_origin="https://evil.example")
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"


def test_root_only_anchor_fetches_the_intermediate_from_the_aia(pki, responder, nonce, just_now):
    v = Verifier([pki.root_cert], revocation="off", fetch_intermediates=True)
    assert v.verify(_good(pki, nonce), ORIGIN, nonce, just_now).valid
    assert v.verify(_good(pki, nonce), ORIGIN, nonce, just_now).valid
    assert responder.hits["aia"] == 1  # cached
    no_fetch = Verifier([pki.root_cert], revocation="off", fetch_intermediates=False)
    assert no_fetch.verify(_good(pki, nonce), ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"


def test_intermediates_are_not_fetched_by_default(pki, responder, nonce, just_now):
    """The AIA of a certificate not yet trusted names addresses its maker chose: by default
    the server sends them nothing (the trust folder holds the intermediates)."""
    import hashlib

    from server.verify.chain import ChainValidator
    from server.verify.outcome import Rejected

    v = Verifier([pki.root_cert], revocation="off")
    assert v.verify(_good(pki, nonce), ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"
    leaf = pki.holders["dupont"].auth_cert
    with pytest.raises(Rejected) as refused:
        ChainValidator([pki.root_cert], http_timeout=1.0).validate(
            leaf, hashlib.sha256(der(leaf)).hexdigest(), datetime.now(UTC), timedelta(0))
    # Untrusted for want of the intermediate, and no AIA fetch was even tried.
    assert refused.value.reason == "CERT_UNTRUSTED"
    assert refused.value.detail.startswith("validation failed")
    assert "AIA" not in refused.value.detail
    assert sum(responder.hits.values()) == 0


def _with_ca_issuers(pki, urls: list[str]):
    """dupont's key in a certificate of the real CA whose AIA lists these caIssuers URLs."""
    from cryptography import x509
    from cryptography.x509.oid import AuthorityInformationAccessOID as AIA

    h = pki.holders["dupont"]
    aia = x509.AuthorityInformationAccess(
        [x509.AccessDescription(AIA.OCSP, x509.UniformResourceIdentifier(pki.ocsp_url))]
        + [x509.AccessDescription(AIA.CA_ISSUERS, x509.UniformResourceIdentifier(u))
           for u in urls])
    return h.auth_key, _reissue(pki, h.auth_cert, h.auth_key.public_key(),
                                AuthorityInformationAccess=aia)


def _failing_urls(pki, n: int) -> list[str]:
    # The responder counts these as "crl" hits; a CRL is no certificate, so each one fails.
    return [f"{pki.crl_url}?{i}" for i in range(n)]


def test_at_most_two_ca_issuers_urls_are_fetched(pki, responder, nonce, just_now):
    key, cert = _with_ca_issuers(pki, _failing_urls(pki, 50) + [pki.ca_issuers_url])
    v = Verifier([pki.root_cert], revocation="off", fetch_intermediates=True)
    assert v.verify(make_token(key, cert, nonce), ORIGIN, nonce,
                    just_now).reason == "CERT_UNTRUSTED"
    assert (responder.hits["crl"], responder.hits["aia"]) == (2, 0)
    # URLs that are not http(s) are never fetched, so they do not count.
    key, cert = _with_ca_issuers(pki, ["ldap://ldap.example/cn=ca", "ftp://ftp.example/ca.der",
                                       pki.ca_issuers_url])
    assert v.verify(make_token(key, cert, nonce), ORIGIN, nonce, just_now).valid
    assert responder.hits["aia"] == 1


def test_a_failed_ca_issuers_url_is_remembered(pki, responder, nonce, just_now, monkeypatch):
    from server.verify import chain

    key, cert = _with_ca_issuers(pki, _failing_urls(pki, 2))
    token = make_token(key, cert, nonce)
    v = Verifier([pki.root_cert], revocation="off", fetch_intermediates=True)
    for _ in range(3):
        assert v.verify(token, ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"
    assert responder.hits["crl"] == 2  # once each, not once per verification
    later = chain._monotonic() + 61
    monkeypatch.setattr(chain, "_monotonic", lambda: later)
    assert v.verify(token, ORIGIN, nonce, just_now).reason == "CERT_UNTRUSTED"
    assert responder.hits["crl"] == 4  # forgotten after a minute: tried again


# -- step 6: signature -------------------------------------------------------------------

@pytest.mark.parametrize("change", [
    {"signed_origin": "https://evil.example"},
    {"signed_origin": "https://localhost:8444"},
    {"signed_nonce": base64.b64encode(b"\x01" * 32).decode()},
])
def test_signature_over_something_else_is_invalid(pki, verifier, nonce, just_now, change):
    h = pki.holders["dupont"]
    token = make_token(h.auth_key, h.auth_cert, nonce, **change)
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


def test_verifier_uses_its_own_origin(pki, verifier, nonce, just_now):
    token = _good(pki, nonce)  # signed for ORIGIN
    assert verifier.verify(token, "https://trajectoire.example.test", nonce,
                           just_now).reason == "SIGNATURE_INVALID"


def test_signature_by_another_key_is_invalid(pki, verifier, nonce, just_now):
    h = pki.holders["dupont"]
    token = make_token(pki.holders["bernard"].auth_key, h.auth_cert, nonce)
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


@pytest.mark.parametrize("slug,signed_as,claimed", [
    ("dupont", "PS256", "RS256"), ("dupont", "RS256", "PS256"),
    ("robert", "ES256", "ES384"), ("robert", "ES256", "RS256"),
])
def test_algorithm_must_match(pki, verifier, nonce, just_now, slug, signed_as, claimed):
    h = pki.holders[slug]
    token = {**make_token(h.auth_key, h.auth_cert, nonce, algorithm=signed_as),
             "algorithm": claimed}
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


def test_es256_on_an_rsa_key_and_es384_on_p256(pki, verifier, nonce, just_now):
    robert, dupont = pki.holders["robert"], pki.holders["dupont"]
    ec_sig = make_token(robert.auth_key, robert.auth_cert, nonce)["signature"]
    token = {**make_token(dupont.auth_key, dupont.auth_cert, nonce), "algorithm": "ES256",
             "signature": ec_sig}
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"
    p384 = new_key("p384")
    token = {**make_token(p384, robert.auth_cert, nonce, algorithm="ES384")}
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


def test_der_encoded_ecdsa_signature_is_refused(pki, verifier, nonce, just_now):
    """§5 says raw r||s; an ASN.1 DER signature is not accepted in its place."""
    from cryptography.hazmat.primitives import hashes
    from tests.server.tokens import message
    h = pki.holders["robert"]
    der_sig = h.auth_key.sign(message(ORIGIN, nonce, "ES256"), ec.ECDSA(hashes.SHA256()))
    token = {**make_token(h.auth_key, h.auth_cert, nonce),
             "signature": base64.b64encode(der_sig).decode()}
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


def test_truncated_signature_is_invalid(pki, verifier, nonce, just_now):
    token = _good(pki, nonce)
    sig = base64.b64decode(token["signature"])
    token["signature"] = base64.b64encode(sig[:-1]).decode()
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "SIGNATURE_INVALID"


def test_bad_origin_configuration_is_a_programming_error(pki, verifier, nonce, just_now):
    for origin in ["https://localhost:8443/", "http://localhost", "localhost", ""]:
        with pytest.raises(ValueError, match=re.escape(
                f"origin must be https://host[:port] with nothing after: {origin!r}")):
            verifier.verify(_good(pki, nonce), origin, nonce, just_now)


def test_a_nonce_without_utf8_form_is_unknown_before_any_fetch(pki, responder, anchors,
                                                               nonce, just_now):
    """A lone surrogate: no UTF-8 to hash into M (§5), never issued by this server. A
    verdict, found at step 2, before steps 4-5 fetch anything, and after step 1."""
    hard = Verifier(anchors, revocation="hard", fetch_intermediates=True)
    for bad in ["\ud800", nonce + "\udfff"]:
        out = hard.verify(_good(pki, nonce), ORIGIN, bad, just_now)
        assert (out.valid, out.reason) == (False, "NONCE_UNKNOWN"), out.detail
        out = hard.verify({**_good(pki, nonce), "format": "x"}, ORIGIN, bad, just_now)
        assert out.reason == "TOKEN_MALFORMED"
    assert sum(responder.hits.values()) == 0


def test_an_origin_without_utf8_form_is_a_programming_error_before_any_fetch(
        pki, responder, anchors, nonce, just_now):
    """As any origin that is not https://host[:port] (the site's own configuration): a
    ValueError that names the problem, raised before step 1, not an encoding error at
    step 6 once the revocation servers were asked."""
    hard = Verifier(anchors, revocation="hard")
    with pytest.raises(ValueError, match="UTF-8"):
        hard.verify(_good(pki, nonce), "https://\ud800", nonce, just_now)
    assert sum(responder.hits.values()) == 0


def test_fingerprint_is_sha256_of_the_der(pki, verifier, nonce, just_now):
    import hashlib
    h = pki.holders["dupont"]
    out = verifier.verify(_good(pki, nonce), ORIGIN, nonce, just_now)
    assert out.fingerprint == hashlib.sha256(der(h.auth_cert)).hexdigest()


# -- the size of a token given as a dict -------------------------------------------------

from hypothesis import given, settings, strategies as st  # noqa: E402

from server.verify.token import json_size  # noqa: E402

_json = st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                     lambda inner: st.lists(inner, max_size=3)
                     | st.dictionaries(st.text(), inner, max_size=3), max_leaves=8)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.text(), _json, max_size=6))
def test_json_size_is_the_compact_json_length(token):
    expected = len(json.dumps(token, separators=(",", ":"), ensure_ascii=False)
                   .encode("utf-8", "surrogatepass"))
    assert json_size(token) == expected


def test_circular_token_is_malformed(verifier, nonce, just_now):
    token: dict = {"format": "cpsbridge:1"}
    token["self"] = token
    assert verifier.verify(token, ORIGIN, nonce, just_now).reason == "TOKEN_MALFORMED"


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
@settings(max_examples=300, deadline=None)
@given(st.data())
def test_altered_certificate_bytes_never_pass_nor_crash(pki, data):
    """Any one-byte change to the certificate gives a refusal with a §6 code, never an
    exception: a change in the signed part breaks the chain, elsewhere the parse."""
    h = pki.holders["dupont"]
    nonce = "bm9uY2U="
    token = make_token(h.auth_key, h.auth_cert, nonce)
    raw = bytearray(der(h.auth_cert))
    position = data.draw(st.integers(0, len(raw) - 1))
    raw[position] ^= data.draw(st.integers(1, 255))
    token["unverifiedCertificate"] = base64.b64encode(bytes(raw)).decode()
    verifier = Verifier([pki.root_cert, pki.ca_cert], revocation="off")
    out = verifier.verify(token, ORIGIN, nonce, datetime.now(UTC))
    assert not out.valid and out.reason in REASONS


def test_a_second_encoding_of_the_signature_is_malformed(pki, verifier, nonce, just_now):
    """The signature BIT STRING may declare as unused the trailing zero bits of its last
    byte and still decode to the same signature: the certificate would pass again under
    another fingerprint. (Found by the test above, one run in a few hundred.)"""
    h = pki.holders["dupont"]
    cert = h.auth_cert
    while der(cert)[-1] & 1:  # a signature ending in a zero bit, which can be called unused
        cert = _reissue(pki, h.auth_cert, h.auth_key.public_key())
    assert verifier.verify(make_token(h.auth_key, cert, nonce), ORIGIN, nonce, just_now).valid
    raw = bytearray(der(cert))
    unused_bits = len(raw) - 257  # 03 82 01 01 | unused bits | 256 bytes of RSA-2048 signature
    assert raw[unused_bits - 4:unused_bits + 1] == bytes.fromhex("0382010100")
    raw[unused_bits] = 1
    token = make_token(h.auth_key, cert, nonce)
    token["unverifiedCertificate"] = base64.b64encode(bytes(raw)).decode()
    out = verifier.verify(token, ORIGIN, nonce, just_now)
    assert not out.valid and out.reason == "TOKEN_MALFORMED"


def _respelled(b64: str) -> str:
    """The same bytes in base64 with a non-zero unused bit before the padding ("…Q==" ->
    "…R=="): what a lenient decoder reads as the very same value."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
    data = b64.rstrip("=")
    assert data != b64, "no padding, so no unused bits"
    respelled = data[:-1] + alphabet[alphabet.index(data[-1]) | 1] + b64[len(data):]
    assert base64.b64decode(respelled) == base64.b64decode(b64)
    return respelled


@pytest.mark.parametrize("field", ["signature", "unverifiedCertificate"])
def test_a_second_base64_spelling_is_malformed(pki, verifier, nonce, just_now, field):
    """base64 with non-zero padding bits decodes to the same bytes: one token, several texts
    (and the certificate cached under several keys). Only the canonical spelling decodes."""
    h = pki.holders["dupont"]
    cert = h.auth_cert
    while len(der(cert)) % 3 == 0:  # a certificate whose base64 ends with padding
        cert = _reissue(pki, h.auth_cert, h.auth_key.public_key())
    token = make_token(h.auth_key, cert, nonce)  # RSA-2048: 256 bytes, "==" at the end
    assert verifier.verify(token, ORIGIN, nonce, just_now).valid
    token[field] = _respelled(token[field])
    out = verifier.verify(token, ORIGIN, nonce, just_now)
    assert (out.valid, out.reason) == (False, "TOKEN_MALFORMED"), out.detail
    assert field in out.detail


@pytest.mark.filterwarnings("ignore::cryptography.utils.CryptographyDeprecationWarning")
def test_a_non_positive_serial_number_is_malformed(pki, verifier, nonce, just_now):
    """RFC 5280 wants a positive serial number; cryptography still reads a negative one (with
    a deprecation warning; later releases refuse it). The verifier refuses it now, so that
    its answer does not change with the library, even on a certificate the CA did sign."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    h = pki.holders["dupont"]
    cert = _reissue(pki, h.auth_cert, h.auth_key.public_key())
    tbs = bytearray(cert.tbs_certificate_bytes)
    serial = 4 + 5  # TBS header 30 82 xx xx, then version a0 03 02 01 02
    assert tbs[serial] == 0x02 and tbs[serial + 1] < 0x80  # INTEGER, short length
    tbs[serial + 2] = 0x80  # the sign bit, still minimal DER: a negative serial number
    signature = pki.ca_key.sign(bytes(tbs), padding.PKCS1v15(), hashes.SHA256())
    raw = der(cert).replace(cert.tbs_certificate_bytes, bytes(tbs)).replace(cert.signature,
                                                                            signature)
    token = make_token(h.auth_key, cert, nonce)
    token["unverifiedCertificate"] = base64.b64encode(raw).decode()
    out = verifier.verify(token, ORIGIN, nonce, just_now)
    assert not out.valid and out.reason == "TOKEN_MALFORMED", out.detail
    assert "serial" in out.detail


def _reissue(pki, cert, public_key, subject=None, **replace):
    """`cert` again, signed by the real CA, with some extensions replaced (by class name)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes

    extensions = []
    for e in cert.extensions:
        value = replace.get(type(e.value).__name__, e.value)
        extensions.append(x509.Extension(e.oid, e.critical, value))
    builder = x509.CertificateBuilder(
        issuer_name=cert.issuer, subject_name=subject or cert.subject, public_key=public_key,
        serial_number=x509.random_serial_number(), not_valid_before=cert.not_valid_before_utc,
        not_valid_after=cert.not_valid_after_utc, extensions=extensions)
    return builder.sign(pki.ca_key, hashes.SHA256())


def test_server_only_extended_key_usage_is_wrong_usage(pki, verifier, nonce, just_now):
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID

    h = pki.holders["dupont"]
    server_only = _reissue(pki, h.auth_cert, h.auth_key.public_key(), ExtendedKeyUsage=
                           x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]))
    out = verifier.verify(make_token(h.auth_key, server_only, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_WRONG_USAGE"
    control = _reissue(pki, h.auth_cert, h.auth_key.public_key())  # same path, EKU untouched
    assert verifier.verify(make_token(h.auth_key, control, nonce), ORIGIN, nonce, just_now).valid


def test_ca_certificate_is_wrong_usage(pki, verifier, nonce, just_now):
    from cryptography import x509

    h = pki.holders["dupont"]
    ca = _reissue(pki, h.auth_cert, h.auth_key.public_key(),
                  BasicConstraints=x509.BasicConstraints(ca=True, path_length=None))
    out = verifier.verify(make_token(h.auth_key, ca, nonce), ORIGIN, nonce, just_now)
    assert out.reason == "CERT_WRONG_USAGE"


def test_trusted_certificate_without_idnat_is_wrong_usage(pki, verifier, nonce, just_now):
    """Chained, valid, well signed, but no CN=idNat: not a practitioner's card."""
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    h = pki.holders["dupont"]
    nobody = _reissue(pki, h.auth_cert, h.auth_key.public_key(),
                      subject=x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]))
    out = verifier.verify(make_token(h.auth_key, nobody, nonce), ORIGIN, nonce, just_now)
    assert (out.reason, out.holder) == ("CERT_WRONG_USAGE", None)


@settings(max_examples=300, deadline=None)
@given(app_version=st.text(max_size=40), cert_len=st.integers(0, 2600),
       sig_len=st.integers(1, 2600), extra=st.booleans())
def test_size_limit_on_objects_is_exact(app_version, cert_len, sig_len, extra):
    """Tokens given as objects are measured as their compact JSON, whatever their fields."""
    from server.verify.token import MAX_TOKEN_BYTES, parse_token
    from server.verify.outcome import Rejected

    token = {"format": "cpsbridge:1", "unverifiedCertificate": "QUJD" * cert_len,
             "algorithm": "RS256", "signature": "QUJD" * sig_len, "appVersion": app_version}
    if extra:
        token["note"] = "é\"\\"
    size = len(json.dumps(token, separators=(",", ":"), ensure_ascii=False)
               .encode("utf-8", "surrogatepass"))
    try:
        parse_token(token)
        accepted = True
    except Rejected as e:
        assert e.reason == "TOKEN_MALFORMED" and "larger than" in e.detail
        accepted = False
    assert accepted == (size <= MAX_TOKEN_BYTES)
