"""list-certificates and authenticate against a real PKCS#11 card.

`backend` runs the same suite on each middleware the host may meet: SoftHSM2 tokens
laid out like a CPS3, and a simulated CPS3 (tests/testbed/cardsim) in the private pcscd's
reader, read by OpenSC's PKCS#11 module.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import subprocess

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, utils

from host.assertion import signed_message
from tests.host.conftest import ORIGIN, auth_args, new_nonce
from tests.testbed.hostproc import HostProcess
from tests.testbed.pki import der


def verify_token(token: dict, origin: str, nonce: str, public_key=None) -> None:
    """Raises InvalidSignature unless the token signs M(origin, nonce) (§5)."""
    cert = x509.load_der_x509_certificate(base64.b64decode(token["unverifiedCertificate"]))
    key = public_key or cert.public_key()
    sig = base64.b64decode(token["signature"])
    if token["algorithm"] == "RS256":
        key.verify(sig, signed_message(origin, nonce), padding.PKCS1v15(), hashes.SHA256())
    elif token["algorithm"] == "ES256":
        r, s = int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
        key.verify(utils.encode_dss_signature(r, s), signed_message(origin, nonce), ec.ECDSA(hashes.SHA256()))
    else:
        raise AssertionError(f"unexpected algorithm {token['algorithm']}")


class Backend:
    def __init__(self, name: str, env: dict, reader: str | None):
        self.name, self.env, self.reader = name, env, reader


@pytest.fixture(params=["softhsm", "cardsim"])
def backend(request, host_env) -> Backend:
    """A host environment whose middleware shows Dr DUPONT's card (code porteur 1234)."""
    if request.param == "softhsm":
        return Backend("softhsm", host_env, None)
    insert_card, cardsim_env = (request.getfixturevalue(n) for n in ("insert_card", "cardsim_env"))
    insert_card("dupont", 0)
    env = {k: v for k, v in host_env.items() if k != "SOFTHSM2_CONF"}
    env.update(cardsim_env)
    return Backend("cardsim", env, "Virtual PCD 00 00")


@pytest.fixture
def card_host(backend):
    with HostProcess(backend.env) as h:
        yield h


def pin_status(h: HostProcess, certificate_id: str) -> str:
    certs = h.request("list-certificates")["result"]["certificates"]
    return next(c for c in certs if c["certificateId"] == certificate_id)["pin"]["status"]


def test_lists_the_authentication_certificate_only(card_host, pki, backend):
    dupont = pki.holders["dupont"]
    certs = card_host.request("list-certificates")["result"]["certificates"]
    mine = [c for c in certs if c["holder"]["idNat"] == "899700367917"]
    assert len(mine) == 1, "the signature certificate (nonRepudiation) must never be listed"
    c = mine[0]
    assert c["certificateId"] == hashlib.sha256(der(dupont.auth_cert)).hexdigest()
    assert base64.b64decode(c["certificate"]) == der(dupont.auth_cert)
    # §4's example: `rpps` for an RPPS holder, no `adeli` key (not null).
    assert c["holder"] == {"idNat": "899700367917", "idType": "RPPS", "rpps": "99700367917",
                           "familyName": "DUPONT", "givenName": "JEAN",
                           "title": "Médecin", "cardType": "CPS"}
    assert c["tokenLabel"].startswith("CPS3v3-2900995266")  # OpenSC appends its PIN's label
    assert c["reader"] == backend.reader
    assert c["pin"]["status"] == "ok" and c["pin"]["pinPad"] is False
    assert c["pin"]["minLength"] == 4
    assert c["notAfter"] == dupont.auth_cert.not_valid_after_utc.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_authenticate_signs_origin_and_nonce_with_the_authentication_key(card_host, pki):
    dupont = pki.holders["dupont"]
    nonce = new_nonce()
    token = card_host.request("authenticate", auth_args(dupont.certificate_id, nonce=nonce))["result"]["token"]
    assert set(token) == {"format", "unverifiedCertificate", "algorithm", "signature", "appVersion"}
    assert (token["format"], token["algorithm"], token["appVersion"]) == ("cpsbridge:1", "RS256", "1.2.0")
    assert base64.b64decode(token["unverifiedCertificate"]) == der(dupont.auth_cert)
    verify_token(token, ORIGIN, nonce)
    with pytest.raises(InvalidSignature):
        verify_token(token, "https://other.example", nonce)
    with pytest.raises(InvalidSignature):
        verify_token(token, ORIGIN, new_nonce())
    with pytest.raises(InvalidSignature):  # never the signature (nonRepudiation) key
        verify_token(token, ORIGIN, nonce, public_key=dupont.sig_cert.public_key())


def test_origin_is_canonicalised_before_signing(card_host, pki):
    nonce = new_nonce()
    token = card_host.request("authenticate", auth_args(
        pki.holders["dupont"].certificate_id, origin="HTTPS://LocalHost:8443", nonce=nonce))["result"]["token"]
    verify_token(token, ORIGIN, nonce)


def test_wrong_pin_reports_tries_then_the_right_pin_works(card_host, pki):
    cid = pki.holders["dupont"].certificate_id
    err = card_host.request("authenticate", auth_args(cid, pin="9731"))["error"]
    assert err["code"] == "ERR_CPS_PIN_INCORRECT"
    assert err["details"] == {"pinStatus": "countLow"}
    assert "il vous reste 2 essais" in err["message"]
    assert pin_status(card_host, cid) == "countLow"
    assert "token" in card_host.request("authenticate", auth_args(cid))["result"]
    assert pin_status(card_host, cid) == "ok"


@pytest.mark.parametrize("pin", ["12", "12a4", "", "１２３４", "1234 ", "0" * 256])  # SoftHSM2: 4–255
def test_malformed_pins_never_reach_the_card(card_host, pki, pin):
    cid = pki.holders["dupont"].certificate_id
    err = card_host.request("authenticate", auth_args(cid, pin=pin))["error"]
    assert err["code"] == "ERR_CPS_PIN_FORMAT"
    assert pin_status(card_host, cid) == "ok", "a login was attempted with a malformed PIN"
    assert pin not in json.dumps(err, ensure_ascii=False) or pin == ""


def tokens_pin_range(env: dict, label: str) -> tuple[int, int]:
    """The token's C_GetTokenInfo min/max as OpenSC's pkcs11-tool reads them, apart from
    the host's own reading."""
    listing = subprocess.run(["pkcs11-tool", "--module", env["CPSBRIDGE_PKCS11_MODULE"],
                              "--list-slots"], env={**os.environ, **env},
                             capture_output=True, text=True, timeout=60, check=True).stdout
    for block in listing.split("\nSlot ")[1:]:
        if re.search(r"token label\s*:\s*" + re.escape(label), block):
            lo, hi = re.search(r"pin min/max\s*:\s*(\d+)/(\d+)", block).groups()
            return int(lo), int(hi)
    raise AssertionError(f"pkcs11-tool shows no token {label!r}:\n{listing}")


def test_the_pin_range_is_the_tokens_own(card_host, backend, pki):
    """§4: the length is within the token's min/max, whatever they are: the listed range
    is the token's, a code of exactly the listed maxLength reaches the card (here a wrong
    one), one digit more does not."""
    cid = pki.holders["dupont"].certificate_id
    cert = next(c for c in card_host.request("list-certificates")["result"]["certificates"]
                if c["certificateId"] == cid)
    listed = cert["pin"]
    assert (listed["minLength"], listed["maxLength"]) == tokens_pin_range(backend.env, cert["tokenLabel"])
    try:
        err = card_host.request("authenticate", auth_args(cid, pin="7" * listed["maxLength"]))["error"]
        assert err["code"] == "ERR_CPS_PIN_INCORRECT"
        err = card_host.request("authenticate", auth_args(cid, pin="7" * (listed["maxLength"] + 1)))["error"]
        assert err["code"] == "ERR_CPS_PIN_FORMAT"
        assert err["details"] == {"minLength": listed["minLength"], "maxLength": listed["maxLength"]}
    finally:  # the right code gives the card its tries back
        assert "token" in card_host.request("authenticate", auth_args(cid))["result"]


def test_a_missing_pin_without_pin_pad_is_a_format_error(card_host, pki):
    err = card_host.request("authenticate", auth_args(pki.holders["dupont"].certificate_id, pin=None))["error"]
    assert err["code"] == "ERR_CPS_PIN_FORMAT"


@pytest.mark.parametrize("origin", [
    "https://evil.example", "http://localhost:8443", "https://localhost:8443/path",
    "https://user@localhost:8443", "https://localhost:8443?q", "https://localhost:8443#f",
    "javascript:alert(1)", "https://localhost:99999", "https://localhost:8444",
    "", "https://" + "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ":8443",
])
def test_origins_not_allowed_are_refused_before_the_card(card_host, pki, origin):
    cid = pki.holders["dupont"].certificate_id
    err = card_host.request("authenticate", auth_args(cid, pin="9731", origin=origin))["error"]
    assert err["code"] == "ERR_CPS_ORIGIN_NOT_ALLOWED"
    assert pin_status(card_host, cid) == "ok", "the card saw a PIN for a refused origin"


def test_list_certificates_for_an_origin_refuses_it_as_authenticate_would(card_host, pki):
    """Our extension of §4: list-certificates with the page's origin answers what
    authenticate would for that origin, before the card is read, so that the dialog never
    asks a code porteur for a page the host refuses. Without it, as before."""
    cid = pki.holders["dupont"].certificate_id
    for origin in ("https://evil.example", "http://localhost:8443", "https://localhost:8443/x", ""):
        err = card_host.request("list-certificates", {"origin": origin})["error"]
        assert err["code"] == "ERR_CPS_ORIGIN_NOT_ALLOWED", origin
    for arguments in ({"origin": ORIGIN}, {"origin": ORIGIN.upper()}, {"origin": None}, {}):
        listed = card_host.request("list-certificates", arguments)["result"]["certificates"]
        assert cid in [c["certificateId"] for c in listed], arguments
    err = card_host.request("list-certificates", {"origin": 8443})["error"]
    assert (err["code"], err["details"]["fields"]) == ("ERR_CPS_INVALID_REQUEST", ["origin"])


def test_list_certificates_checks_the_origin_before_the_card(host_env, tmp_path):
    """A refused origin is told as such even where the card layer would fail: it is not
    reached (here no PKCS#11 module at all)."""
    env = dict(host_env, CPSBRIDGE_PKCS11_MODULE=str(tmp_path / "missing-module.so"))
    with HostProcess(env) as h:
        err = h.request("list-certificates", {"origin": "https://evil.example"})["error"]
        assert err["code"] == "ERR_CPS_ORIGIN_NOT_ALLOWED"
        err = h.request("list-certificates", {"origin": ORIGIN})["error"]
        assert err["code"] == "ERR_CPS_PKCS11_UNAVAILABLE"


def test_an_unknown_certificate_is_not_found(card_host):
    err = card_host.request("authenticate", auth_args("ab" * 32))["error"]
    assert err["code"] == "ERR_CPS_CERTIFICATE_NOT_FOUND"


# -- SoftHSM2 only: the whole cast of holders lives there ---------------------------------

def test_holders_of_every_kind(host, pki, cards):
    certs = {c["holder"]["idNat"]: c for c in host.request("list-certificates")["result"]["certificates"]}
    assert certs["0751234567"]["holder"]["idType"] == "ADELI"
    assert certs["0751234567"]["holder"]["adeli"] == "751234567"
    assert "rpps" not in certs["0751234567"]["holder"]
    assert certs["3750100125/4521"]["holder"]["idType"] == "OTHER"
    assert not {"rpps", "adeli"} & set(certs["3750100125/4521"]["holder"])
    assert certs["3750100125/4521"]["holder"]["cardType"] == "CPE"
    # An expired card is listed (the dialog shows its date; the site refuses it).
    assert certs["899700555555"]["notAfter"] < certs["899700367917"]["notAfter"]
    assert len(certs) == len(cards.cards)  # one per software card (other suites may issue more)


def test_an_ec_card_signs_es256(host, pki):
    nonce = new_nonce()
    token = host.request("authenticate", auth_args(pki.holders["robert"].certificate_id, nonce=nonce))["result"]["token"]
    assert token["algorithm"] == "ES256"
    assert len(base64.b64decode(token["signature"])) == 64  # raw r || s
    verify_token(token, ORIGIN, nonce)
