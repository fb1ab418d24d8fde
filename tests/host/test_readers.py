"""PC/SC through the project's private pcscd: readers, ATRs, waiting for a card, events."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.testbed.hostproc import HostProcess
from tests.testbed.pcsc import ATR_CPS3, ATR_CPS4, ATR_VITALE, Pcscd, VirtualCard
from tests.testbed.softcard import SoftHsm

OPENSC_MODULE = "/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so"


@pytest.fixture
def no_cards_env(host_env, tmp_path):
    """A middleware that sees no card at all (an empty SoftHSM2 store)."""
    store = SoftHsm.create(tmp_path / "empty-store")
    return dict(host_env, **store.env()), store


def test_status_names_card_types_from_the_atr(host, pcscd):
    with_cps4 = VirtualCard(ATR_CPS4).insert(pcscd, 1)
    try:
        readers = host.request("status")["result"]["pcsc"]["readers"]
        assert readers[0] == {"name": "Virtual PCD 00 00", "cardPresent": False}
        assert readers[1] == {"name": "Virtual PCD 00 01", "cardPresent": True,
                              "atr": ATR_CPS4.hex().upper(), "cardType": "CPS4"}
    finally:
        with_cps4.remove()


def test_no_card_waits_then_says_insert_your_card(no_cards_env):
    env, _ = no_cards_env
    with HostProcess(env) as h:
        started = time.monotonic()
        err = h.request("list-certificates", {"waitForCardMs": 600})["error"]
        assert err["code"] == "ERR_CPS_NO_CARD"
        assert err["message"] == "Insérez votre carte CPS dans le lecteur."
        assert time.monotonic() - started >= 0.55


def test_cancel_ends_a_pending_wait(no_cards_env):
    env, _ = no_cards_env
    with HostProcess(env) as h:
        rid = h.send("list-certificates", {"waitForCardMs": 60000})
        queued = h.send("list-certificates")  # a second card command waits for the first
        time.sleep(0.3)
        assert h.request("status")["result"]["protocol"] == 1  # answered meanwhile
        assert queued not in h.responses  # not answered before the first ends
        assert h.request("cancel", {"requestId": rid})["result"] == {}
        assert h.response(rid, timeout=5)["error"]["code"] == "ERR_CPS_CANCELLED"
        assert h.response(queued, timeout=5)["error"]["code"] == "ERR_CPS_NO_CARD"
        assert h.request("cancel", {"requestId": "nothing-pending"})["result"] == {}


def test_cancel_answers_a_queued_request_at_once_and_once(no_cards_env):
    """A card command queued behind a long wait is answered when cancelled, not when the
    wait ends (up to 120 s later); the worker does not answer it a second time."""
    env, _ = no_cards_env
    with HostProcess(env) as h:
        first = h.send("list-certificates", {"waitForCardMs": 60000})
        queued = h.send("authenticate", {"challengeNonce": "A" * 44, "origin": "https://localhost:8443",
                                         "certificateId": "0" * 64, "pin": "1234"})
        time.sleep(0.3)
        assert h.request("cancel", {"requestId": queued})["result"] == {}
        assert h.response(queued, timeout=5)["error"]["code"] == "ERR_CPS_CANCELLED"
        assert first not in h.responses  # the wait goes on
        assert h.request("cancel", {"requestId": first})["result"] == {}
        assert h.response(first, timeout=5)["error"]["code"] == "ERR_CPS_CANCELLED"
        assert h.request("cancel", {"requestId": queued})["result"] == {}  # nothing left
        time.sleep(0.5)  # the worker has passed the cancelled request by
        assert h.request("status")["result"]["protocol"] == 1
        assert h.responses[queued].empty(), h.responses[queued].get()  # answered once


def test_a_card_that_appears_during_the_wait_is_listed(no_cards_env, pki):
    env, store = no_cards_env
    with HostProcess(env) as h:
        rid = h.send("list-certificates", {"waitForCardMs": 20000})
        time.sleep(0.5)
        store.add_card(pki.holders["martin"])
        certs = h.response(rid, timeout=25)["result"]["certificates"]
        assert [c["holder"]["idNat"] for c in certs] == ["0751234567"]


def test_a_vitale_card_is_not_a_cps_card(no_cards_env, pcscd):
    env, _ = no_cards_env
    vitale = VirtualCard(ATR_VITALE).insert(pcscd, 0)
    try:
        with HostProcess(env) as h:
            err = h.request("list-certificates", {"waitForCardMs": 300})["error"]
            assert err["code"] == "ERR_CPS_UNSUPPORTED_CARD"
            assert err["details"] == {"reader": "Virtual PCD 00 00", "cardType": "VITALE"}
    finally:
        vitale.remove()


def test_no_reader_at_all(no_cards_env, tmp_path):
    env, _ = no_cards_env
    with Pcscd(readers=0, workdir=tmp_path / "pcscd0") as bare:
        with HostProcess(dict(env, **bare.env)) as h:
            assert h.request("status")["result"]["pcsc"] == {"available": True, "readers": []}
            err = h.request("list-certificates")["error"]
            assert err["code"] == "ERR_CPS_NO_READER"
            assert "Branchez votre lecteur" in err["message"]


def test_pcsc_service_down_with_reader_middleware(no_cards_env, tmp_path):
    """OpenSC, like the Cryptolib CPS, reads cards through PC/SC: without the service it
    shows no slot at all, and the service is what the user must be told about."""
    env, _ = no_cards_env
    assert Path(OPENSC_MODULE).is_file(), f"{OPENSC_MODULE} missing: install opensc-pkcs11"
    with HostProcess(dict(env, PCSCLITE_CSOCK_NAME=str(tmp_path / "none.comm"),
                          CPSBRIDGE_PKCS11_MODULE=OPENSC_MODULE)) as h:
        assert h.request("list-certificates")["error"]["code"] == "ERR_CPS_PCSC_UNAVAILABLE"


def test_pcsc_service_down_with_software_tokens_only_is_no_card(no_cards_env, tmp_path):
    """SoftHSM2 has no reader behind its slots: PC/SC being down is not why no card is
    seen, so the answer after the wait is the one §4 names, ERR_CPS_NO_CARD."""
    env, _ = no_cards_env
    with HostProcess(dict(env, PCSCLITE_CSOCK_NAME=str(tmp_path / "none.comm"))) as h:
        started = time.monotonic()
        err = h.request("list-certificates", {"waitForCardMs": 600})["error"]
        assert err["code"] == "ERR_CPS_NO_CARD" and err["details"] == {"pcsc": "unavailable"}
        assert time.monotonic() - started >= 0.55  # the wait happened


def test_watch_reports_insertion_and_removal_until_unwatch(host, pcscd):
    assert host.request("watch")["result"] == {}
    card = VirtualCard(ATR_CPS3).insert(pcscd, 0)
    inserted = host.events.get(timeout=10)
    assert inserted == {"event": "card-inserted", "data": {
        "reader": "Virtual PCD 00 00", "atr": ATR_CPS3.hex().upper(), "cardType": "CPS3"}}
    card.remove()
    removed = host.events.get(timeout=10)
    assert removed == {"event": "card-removed", "data": inserted["data"]}
    assert host.request("unwatch")["result"] == {}
    time.sleep(0.6)
    card = VirtualCard(ATR_CPS3).insert(pcscd, 0)
    time.sleep(1.0)
    card.remove()
    assert host.events.empty(), "events after unwatch"


def test_watch_reports_readers_coming_and_going_with_the_data_of_every_event(no_cards_env, tmp_path):
    """§4: every event's data is {reader, atr, cardType}; a reader with no card in it has
    null for both. The service starting with two readers, then stopping, is both."""
    env, _ = no_cards_env
    late = Pcscd(readers=2, workdir=tmp_path / "pcscd-late")
    with HostProcess(dict(env, **late.env)) as h:
        assert h.request("watch")["result"] == {}
        with late:
            added = [h.events.get(timeout=10) for _ in range(2)]
            assert sorted(e["data"]["reader"] for e in added) == [late.reader_name(0), late.reader_name(1)]
            assert all(e["event"] == "reader-added" and e["data"]["atr"] is None
                       and set(e["data"]) == {"reader", "atr", "cardType"} for e in added)
        removed = [h.events.get(timeout=10) for _ in range(2)]
        assert sorted(e["event"] for e in removed) == ["reader-removed"] * 2
        assert all(e["data"] == {"reader": e["data"]["reader"], "atr": None, "cardType": None}
                   for e in removed)


def test_a_reader_named_in_latin_1_costs_pc_sc_not_the_login(host_env, pki, tmp_path):
    """pyscard cannot decode a reader name that is not UTF-8 (reader.conf, or a driver, may
    give one in Latin-1). status must still answer, the card's PKCS#11 module still serve
    logins, and watch must not take the host down."""
    from tests.host.conftest import auth_args

    with Pcscd(readers=2, workdir=tmp_path / "pcscd", friendly_name=b"Lecteur \xe9tranger") as odd:
        env = dict(host_env, **odd.env)
        card = VirtualCard(ATR_CPS3).insert(odd, 0)
        try:
            with HostProcess(env) as h:
                pcsc = h.request("status")["result"]["pcsc"]
                assert pcsc == {"available": False, "readers": [], "error": "ERR_CPS_PCSC_UNAVAILABLE"}
                assert h.request("watch")["result"] == {}
                listed = h.request("list-certificates")["result"]["certificates"]
                assert listed
                cid = pki.holders["dupont"].certificate_id
                assert "token" in h.request("authenticate", auth_args(cid))["result"]
                assert h.request("unwatch")["result"] == {}
                assert "Traceback" not in h.stderr_text()
        finally:
            card.remove()
