"""The native host, started with opensc_env(), sees the simulated CPS3 through pcscd and
OpenSC as it would see a real card."""

from __future__ import annotations

import base64
import os

import pytest

from tests.testbed.hostproc import HostProcess
from tests.testbed.pcsc import ATR_VITALE, VirtualCard
from tests.testbed.pki import der

pytestmark = pytest.mark.pcsc


@pytest.fixture
def host_on_card(simulated_card, tmp_path):
    card, env = simulated_card
    full = {k: v for k, v in os.environ.items()
            if not k.startswith("CPSBRIDGE_") and k != "SOFTHSM2_CONF"}
    home = tmp_path / "home"
    full.update(env, HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"),
                XDG_STATE_HOME=str(home / ".local" / "state"),
                CPSBRIDGE_ALLOWED_ORIGINS="https://localhost:8443",
                CPSBRIDGE_SYSTEM_CONFIG=str(tmp_path / "no-system-config.json"))
    with HostProcess(full) as host:
        yield card, host


def test_status_shows_the_cps3_in_its_reader_and_opensc_loaded(host_on_card):
    card, host = host_on_card
    result = host.request("status")["result"]
    reader = next(r for r in result["pcsc"]["readers"] if r["name"] == "Virtual PCD 00 00")
    assert reader["cardPresent"] and reader["cardType"] == "CPS3"
    assert bytes.fromhex(reader["atr"]) == card.atr
    assert result["pkcs11"] == {"module": "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so",
                                "loaded": True}


def test_list_certificates_gives_the_authentication_certificate_only(host_on_card, pki):
    card, host = host_on_card
    answer = host.request("list-certificates")
    assert "result" in answer, answer
    (cert,) = answer["result"]["certificates"]
    issued = pki.holders["dupont"]
    assert base64.b64decode(cert["certificate"]) == der(issued.auth_cert)
    assert cert["reader"] == "Virtual PCD 00 00"
    assert cert["tokenLabel"].startswith("CPS3v3-2900995266")
    assert cert["holder"]["idNat"] == "899700367917"
    assert cert["pin"]["minLength"] == 4 and cert["pin"]["maxLength"] == 8
    assert not any(apdu[1] == 0x20 and len(apdu) > 5 for apdu, _ in card.trace), \
        "listing certificates must not present a PIN"


def test_wrong_pins_through_the_host_follow_the_card_counter_to_locked(host_on_card):
    card, host = host_on_card
    (cert,) = host.request("list-certificates")["result"]["certificates"]

    def authenticate(pin: str) -> dict:
        return host.request("authenticate", {
            "challengeNonce": base64.b64encode(os.urandom(32)).decode(),
            "origin": "https://localhost:8443", "certificateId": cert["certificateId"],
            "pin": pin})

    for tries_left, status in ((2, "countLow"), (1, "finalTry"), (0, "locked")):
        error = authenticate("0000")["error"]
        assert error["code"] == "ERR_CPS_PIN_INCORRECT"
        assert error["details"]["pinStatus"] == status
        assert card.pin_tries_left == tries_left
        (listed,) = host.request("list-certificates")["result"]["certificates"]
        assert listed["pin"]["status"] == status
    assert authenticate("1234")["error"]["code"] == "ERR_CPS_PIN_LOCKED"
    assert card.blocked


def test_card_swapped_in_the_reader_is_seen_by_a_running_host(host_on_card, insert_card):
    card, host = host_on_card
    assert host.request("list-certificates")["result"]["certificates"][0]["holder"][
        "familyName"] == "DUPONT"
    assert host.request("watch")["result"] == {}
    card.remove()
    removed = host.events.get(timeout=30)
    assert removed["event"] == "card-removed"
    assert removed["data"]["reader"] == "Virtual PCD 00 00"
    insert_card("martin", 0)
    inserted = host.events.get(timeout=30)
    assert inserted["event"] == "card-inserted" and inserted["data"]["cardType"] == "CPS3"
    (cert,) = host.request("list-certificates")["result"]["certificates"]
    assert cert["holder"]["familyName"] == "MARTIN"
    assert cert["tokenLabel"].startswith("CPS3v3-2900995267")


def _authenticate(host: HostProcess, certificate_id: str, pin: str, rid: str | None = None):
    args = {"challengeNonce": base64.b64encode(os.urandom(32)).decode(),
            "origin": "https://localhost:8443", "certificateId": certificate_id, "pin": pin}
    return host.send("authenticate", args, rid=rid)


def _verify_apdus(card) -> int:
    """VERIFY commands that carried a PIN (INS 0x20 with data)."""
    return sum(1 for apdu, _ in card.trace if apdu[1] == 0x20 and len(apdu) > 5)


def test_the_card_pulled_out_during_authenticate(host_on_card, insert_card):
    card, host = host_on_card
    (cert,) = host.request("list-certificates")["result"]["certificates"]
    held = card.hold(0x88)  # INTERNAL AUTHENTICATE: the card 'computes' until pulled
    rid = _authenticate(host, cert["certificateId"], "1234")
    assert held.wait(20), "the host never reached the signature"
    card.remove()
    err = host.response(rid, timeout=30)["error"]
    assert err["code"] == "ERR_CPS_CARD_REMOVED", (err, host.stderr_text()[-800:])
    assert "retirée" in err["message"]
    # The host lives on: the next requests are served, and the card back in works.
    assert host.request("status")["result"]["pcsc"]["available"] is True
    insert_card("dupont", 0)
    r = host.response(_authenticate(host, cert["certificateId"], "1234"), timeout=30)
    assert "token" in r["result"], r


def test_a_card_gone_since_the_listing_is_said_as_such(host_on_card, insert_card, pcscd):
    """authenticate names what list-certificates and status would (§4), not "the chosen
    certificate is no longer on the inserted card", which sends the user looking for
    another certificate: no card, a card that is no CPS card, another CPS card."""
    card, host = host_on_card
    (cert,) = host.request("list-certificates")["result"]["certificates"]
    assert host.request("watch")["result"] == {}
    card.remove()
    assert host.events.get(timeout=30)["event"] == "card-removed"  # then the user clicks
    # OpenSC keeps the card's token until its next look at the readers (C_GetSlotList):
    # until then the login meets DeviceRemoved, "retirée pendant l'opération"; after, the
    # certificate is missing and the host says why. Both ask for the card.
    err = host.response(_authenticate(host, cert["certificateId"], "1234"))["error"]
    assert err["code"] in ("ERR_CPS_CARD_REMOVED", "ERR_CPS_NO_CARD"), err
    assert host.request("list-certificates")["error"]["code"] == "ERR_CPS_NO_CARD"
    err = host.response(_authenticate(host, cert["certificateId"], "1234"))["error"]
    assert (err["code"], err["details"]) == ("ERR_CPS_NO_CARD", {}), err
    vitale = VirtualCard(ATR_VITALE).insert(pcscd, 0)
    try:
        err = host.response(_authenticate(host, cert["certificateId"], "1234"))["error"]
        assert err["code"] == "ERR_CPS_UNSUPPORTED_CARD", err
        assert err["details"] == {"reader": "Virtual PCD 00 00", "cardType": "VITALE"}
    finally:
        vitale.remove()
    insert_card("martin", 0)  # a CPS card, without the chosen certificate
    err = host.response(_authenticate(host, cert["certificateId"], "1234"))["error"]
    assert err["code"] == "ERR_CPS_CERTIFICATE_NOT_FOUND", err
    assert _verify_apdus(card) == 0, "no PIN went to any card"


def test_a_locked_card_gets_no_pin_at_all(host_on_card):
    card, host = host_on_card
    (cert,) = host.request("list-certificates")["result"]["certificates"]
    for _ in range(3):
        host.response(_authenticate(host, cert["certificateId"], "0000"))
    assert card.blocked
    sent = _verify_apdus(card)
    err = host.response(_authenticate(host, cert["certificateId"], "1234"))["error"]
    assert err["code"] == "ERR_CPS_PIN_LOCKED"
    assert _verify_apdus(card) == sent, "a PIN was presented to a blocked card"


def test_two_readers_two_cards(host_on_card, insert_card, pki):
    _, host = host_on_card
    insert_card("martin", 1)
    certs = host.request("list-certificates")["result"]["certificates"]
    by_reader = {c["reader"]: c["holder"]["familyName"] for c in certs}
    assert by_reader == {"Virtual PCD 00 00": "DUPONT", "Virtual PCD 00 01": "MARTIN"}
    martin = next(c for c in certs if c["holder"]["familyName"] == "MARTIN")
    r = host.response(_authenticate(host, martin["certificateId"], "1234"), timeout=30)
    token = r["result"]["token"]
    assert base64.b64decode(token["unverifiedCertificate"]) == der(pki.holders["martin"].auth_cert)
