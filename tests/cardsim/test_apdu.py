"""The simulated card on its own: any command gets a status word, PINs never reach the trace."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.testbed.cardsim import SimulatedCps3
from tests.testbed.cardsim.card import _masked


@pytest.fixture(scope="module")
def card(pki) -> SimulatedCps3:
    return SimulatedCps3(pki.holders["dupont"])


@settings(max_examples=300, deadline=None)
@given(apdu=st.one_of(st.binary(max_size=300),
                      st.tuples(st.sampled_from([0xA4, 0xB0, 0x20, 0x2C, 0x24, 0xCB, 0x22,
                                                 0x88, 0x2A, 0x84]),
                                st.binary(min_size=2, max_size=2), st.binary(max_size=260))
                      .map(lambda t: bytes([0, t[0]]) + t[1] + bytes([len(t[2]) & 0xFF]) + t[2])))
def test_any_command_gets_a_status_word(card, apdu):
    answer = card.handle(apdu)
    assert len(answer) >= 2
    assert answer[-2] in (0x90, 0x61, 0x62, 0x63, 0x67, 0x69, 0x6A, 0x6B, 0x6D), answer.hex()


def test_pin_and_puk_values_are_masked_in_the_trace():
    for apdu in (bytes.fromhex("0020000104") + b"1234",
                 bytes.fromhex("002C000110") + b"1234567812345678",
                 bytes.fromhex("0024000108") + b"12344321"):
        masked = _masked(apdu)
        assert masked[:5] == apdu[:5] and len(masked) == len(apdu)
        assert b"1234" not in masked


def test_wrong_pin_counts_down_and_blocks(pki):
    card = SimulatedCps3(pki.holders["dupont"], pin="2468")
    verify = bytes.fromhex("0020000104")
    assert card.handle(verify[:4]) == b"\x63\xc3"
    assert card.handle(verify + b"1111") == b"\x63\xc2"
    assert card.handle(verify + b"2468") == b"\x90\x00" and card.pin_tries_left == 3
    for left in (2, 1, 0):
        assert card.handle(verify + b"1111") == bytes([0x63, 0xC0 | left])
    assert card.blocked
    assert card.handle(verify + b"2468") == b"\x69\x83"
    # RESET RETRY COUNTER with the PUK and a new PIN
    assert card.handle(bytes.fromhex("002C00010C") + b"12345678" + b"1357") == b"\x90\x00"
    assert not card.blocked and card.handle(verify + b"1357") == b"\x90\x00"


def test_keys_are_used_only_after_the_pin(pki):
    card = SimulatedCps3(pki.holders["dupont"])
    assert card.handle(bytes.fromhex("002241A406840182800102")) == b"\x90\x00"
    assert card.handle(bytes.fromhex("0088000004DEADBEEF00")) == b"\x69\x82"
    assert card.handle(bytes.fromhex("0020000104") + b"1234") == b"\x90\x00"
    answer = card.handle(bytes.fromhex("0088000004DEADBEEF00"))
    assert answer[-2:] == b"\x90\x00" and len(answer) == 258


def test_a_holder_with_an_ec_key_is_refused_clearly(pki):
    with pytest.raises(ValueError, match="RSA keys only"):
        SimulatedCps3(pki.holders["robert"])


@pytest.mark.parametrize("pin, puk", [("12", "12345678"), ("1234", "1234"), ("12a4", "12345678")])
def test_malformed_codes_are_refused(pki, pin, puk):
    with pytest.raises(ValueError, match=r"^code porteur: 4 to 8 digits; PUK: 8 digits$"):
        SimulatedCps3(pki.holders["dupont"], pin=pin, puk=puk)
