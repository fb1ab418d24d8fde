"""What only a card shows, seen through python-pkcs11 on OpenSC's module: PIN counters that
run out, a card pulled out mid-operation, two readers with two cards, unblocking by PUK."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from tests.testbed.cardsim.client import P11Client

pytestmark = pytest.mark.pcsc

READER0, READER1 = "Virtual PCD 00 00", "Virtual PCD 00 01"
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
PIN_FLAGS = {"USER_PIN_COUNT_LOW", "USER_PIN_FINAL_TRY", "USER_PIN_LOCKED"}


def token(client: P11Client, reader: str = READER0) -> dict:
    answer = client.call("slots")
    assert "ok" in answer, answer
    (slot,) = [s for s in answer["ok"] if s["reader"] == reader]
    assert slot["token"] is not None, f"no token seen in {reader}"
    return slot["token"]


def pin_flags(client: P11Client) -> set[str]:
    return set(token(client)["flags"]) & PIN_FLAGS


def digest_info(message: bytes) -> str:
    return (SHA256_DIGEST_INFO + hashlib.sha256(message).digest()).hex()


def verify(cert, signature_hex: str, message: bytes) -> None:
    cert.public_key().verify(bytes.fromhex(signature_hex), hashlib.sha256(message).digest(),
                             padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))


def test_wrong_pins_show_count_low_then_final_try_then_locked(simulated_card):
    card, env = simulated_card
    with P11Client(env) as p11:
        assert pin_flags(p11) == set()
        assert p11.call("login", reader=READER0, pin="0000") == {"error": "PinIncorrect"}
        assert pin_flags(p11) == {"USER_PIN_COUNT_LOW"} and card.pin_tries_left == 2
        assert p11.call("login", reader=READER0, pin="0000") == {"error": "PinIncorrect"}
        assert pin_flags(p11) == {"USER_PIN_FINAL_TRY"} and card.pin_tries_left == 1
        assert p11.call("login", reader=READER0, pin="0000") == {"error": "PinIncorrect"}
        assert pin_flags(p11) == {"USER_PIN_LOCKED"} and card.blocked
        # Blocked means blocked: the right code porteur is refused too.
        assert p11.call("login", reader=READER0, pin="1234") == {"error": "PinLocked"}
        assert card.blocked


def test_right_pin_restores_the_counter(simulated_card):
    card, env = simulated_card
    with P11Client(env) as p11:
        assert p11.call("login", reader=READER0, pin="9999") == {"error": "PinIncorrect"}
        assert p11.call("login", reader=READER0, pin="1234") == {"ok": True}
        assert card.pin_tries_left == 3
        assert pin_flags(p11) == set()


def test_puk_unblocks_the_code_porteur_with_reset_retry_counter(simulated_card):
    card, env = simulated_card
    with P11Client(env) as p11:
        for _ in range(3):
            p11.call("login", reader=READER0, pin="0000")
    assert card.blocked
    exe = shutil.which("pkcs11-tool")
    assert exe, "pkcs11-tool is missing (Debian package opensc)"
    r = subprocess.run([exe, "--module", env["CPSBRIDGE_PKCS11_MODULE"], "--unlock-pin",
                        "--puk", "12345678", "--new-pin", "4321"],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert not card.blocked and card.pin_tries_left == 3 and card.puk_tries_left == 10
    assert any(apdu[1] == 0x2C for apdu, _ in card.trace), "RESET RETRY COUNTER"
    with P11Client(env) as p11:
        assert p11.call("login", reader=READER0, pin="1234") == {"error": "PinIncorrect"}
        assert p11.call("login", reader=READER0, pin="4321") == {"ok": True}


def test_wrong_puk_counts_down_its_own_counter(simulated_card):
    card, env = simulated_card
    r = subprocess.run([shutil.which("pkcs11-tool") or "pkcs11-tool", "--module",
                        env["CPSBRIDGE_PKCS11_MODULE"], "--unlock-pin", "--puk", "87654321",
                        "--new-pin", "4321"],
                       env={**os.environ, **env}, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert card.puk_tries_left == 9 and card.pin_tries_left == 3


def test_card_pulled_out_mid_signature_gives_an_error(simulated_card):
    card, env = simulated_card
    with P11Client(env) as p11:
        assert p11.call("login", reader=READER0, pin="1234") == {"ok": True}
        arrived = card.hold(0x88)
        p11.send("sign", label="CPS_PRIV_AUT", data=digest_info(b"x"), mechanism="RSA_PKCS")
        assert arrived.wait(30), "the signature command never reached the card"
        card.remove()
        answer = p11.answer(timeout=60)
        # OpenSC says CKR_GENERAL_ERROR (hence the host's look at the slot after a failure,
        # host/pkcs11_card.py _translate); a later OpenSC may say one of the removal codes.
        # Not a PIN, key or mechanism error, and not a dead process.
        assert answer.get("error") in {"GeneralError", "DeviceRemoved", "TokenNotPresent",
                                       "DeviceError", "SessionHandleInvalid"}, answer


def test_two_readers_two_cards(insert_card, cardsim_env, pki):
    dupont = insert_card("dupont", 0)
    martin = insert_card("martin", 1)
    with P11Client(cardsim_env) as p11:
        assert token(p11, READER0)["label"].startswith("CPS3v3-2900995266")
        assert token(p11, READER1)["label"].startswith("CPS3v3-2900995267")
        for reader, slug, card in ((READER0, "dupont", dupont), (READER1, "martin", martin)):
            assert p11.call("login", reader=reader, pin="1234") == {"ok": True}
            answer = p11.call("sign", label="CPS_PRIV_AUT", data=digest_info(slug.encode()),
                              mechanism="RSA_PKCS")
            assert "ok" in answer, answer
            verify(pki.holders[slug].auth_cert, answer["ok"], slug.encode())
            assert card.pin_tries_left == 3
        certs = p11.call("certificates", reader=READER1)["ok"]
        assert {c["label"] for c in certs} == {"Certificat d'Authentification CPS",
                                               "Certificat de Signature CPS"}
