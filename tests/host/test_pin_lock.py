"""What SoftHSM2 cannot show: a card that blocks after three wrong codes.

`ThreeTryCard` is a fault-injecting layer over the real SoftHSM2 card: every login still
goes to SoftHSM2, but the PIN flags are those of a CPS card (3 tries: countLow, finalTry,
locked), since SoftHSM2 never locks. It also counts login attempts, to prove that a
locked card is never tried. The simulated CPS3 (tests/cardsim) shows the same on a real
retry counter.
"""

from __future__ import annotations

import threading
import time

import pkcs11
import pytest

from host.config import Settings
from host.errors import CpsError
from host.handlers import Handlers
from host.pkcs11_card import Pkcs11Card
from tests.host.conftest import ORIGIN, new_nonce
from tests.testbed.softcard import SOFTHSM_MODULE


class ThreeTryCard(Pkcs11Card):
    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.wrong = 0
        self.logins = 0

    def _status(self) -> str:
        return ["ok", "countLow", "finalTry", "locked"][min(self.wrong, 3)]

    def _pin_state(self, slot, token):
        real = super()._pin_state(slot, token)
        return type(real)(real.min_length, real.max_length, self._status(), real.pin_pad)

    def _login(self, token, pin):
        self.logins += 1
        if self.wrong >= 3:
            raise pkcs11.exceptions.PinLocked()
        try:
            session = super()._login(token, pin)
        except pkcs11.exceptions.PinIncorrect:
            self.wrong += 1
            raise
        self.wrong = 0
        return session

    def _read_pin_status(self, slot):
        return self._status()


@pytest.fixture
def handlers(cards, monkeypatch):
    # In this process python-pkcs11 reads the session's SoftHSM2 store.
    monkeypatch.setenv("SOFTHSM2_CONF", str(cards.conf))
    settings = Settings(pkcs11Modules=[SOFTHSM_MODULE], allowedOrigins=[ORIGIN])
    card = ThreeTryCard(settings)
    return Handlers(settings, lambda: card)


def authenticate(h: Handlers, cid: str, pin: str):
    return h.authenticate(new_nonce(), ORIGIN, cid, pin)


def test_three_wrong_codes_block_and_then_no_login_is_tried(handlers, pki):
    cid = pki.holders["bernard"].certificate_id
    seen = []
    for _ in range(3):
        with pytest.raises(CpsError) as exc:
            authenticate(handlers, cid, "9731")
        seen.append((exc.value.code, exc.value.details["pinStatus"]))
    assert seen == [("ERR_CPS_PIN_INCORRECT", "countLow"), ("ERR_CPS_PIN_INCORRECT", "finalTry"),
                    ("ERR_CPS_PIN_INCORRECT", "locked")]
    assert "maintenant bloquée" in exc.value.to_error()["message"]
    tried = handlers.card.logins
    with pytest.raises(CpsError) as exc:
        authenticate(handlers, cid, "1234")
    assert exc.value.code == "ERR_CPS_PIN_LOCKED"
    assert "code de déblocage" in exc.value.to_error()["message"]
    assert handlers.card.logins == tried, "a login was attempted on a locked card"
    listed = handlers.list_certificates(0, threading.Event())["certificates"]
    assert next(c for c in listed if c["certificateId"] == cid)["pin"]["status"] == "locked"


def test_final_try_message_warns_before_blocking(handlers, pki):
    cid = pki.holders["bernard"].certificate_id
    for _ in range(2):
        with pytest.raises(CpsError) as exc:
            authenticate(handlers, cid, "9731")
    assert exc.value.to_error()["message"].startswith("Code porteur incorrect : il vous reste 1 essai")
    assert "token" in authenticate(handlers, cid, "1234")  # a right code resets the counter
    assert handlers.card.wrong == 0


def open_sessions() -> list[int]:
    """This process's open SoftHSM2 sessions: SoftHSM2 numbers them 1, 2, 3…, so asking
    C_GetSessionInfo about the small handles finds every one."""
    import ctypes

    class SessionInfo(ctypes.Structure):
        _fields_ = [("slotID", ctypes.c_ulong), ("state", ctypes.c_ulong),
                    ("flags", ctypes.c_ulong), ("ulDeviceError", ctypes.c_ulong)]

    get_info = ctypes.CDLL(SOFTHSM_MODULE).C_GetSessionInfo
    get_info.argtypes = [ctypes.c_ulong, ctypes.POINTER(SessionInfo)]
    get_info.restype = ctypes.c_ulong
    return [h for h in range(1, 200) if get_info(h, ctypes.byref(SessionInfo())) == 0]


def test_a_wrong_code_leaves_no_session_open(handlers, pki):
    cid = pki.holders["bernard"].certificate_id
    handlers.list_certificates(0, threading.Event())
    assert open_sessions() == []
    with pytest.raises(CpsError) as err:
        authenticate(handlers, cid, "0000")
    assert err.value.code == "ERR_CPS_PIN_INCORRECT"
    assert open_sessions() == []
    assert "token" in authenticate(handlers, cid, "1234")
    assert open_sessions() == []


class RecordingCard(Pkcs11Card):
    """The real SoftHSM2 card, recording when each card call starts and ends."""

    def __init__(self, settings):
        super().__init__(settings)
        self.spans: list[tuple[float, float]] = []
        self.lock = threading.Lock()

    def _record(self, fn, *args):
        start = time.monotonic()
        try:
            return fn(*args)
        finally:
            with self.lock:
                self.spans.append((start, time.monotonic()))

    def list_certificates(self):
        return self._record(super().list_certificates)

    def sign(self, *args):
        return self._record(super().sign, *args)


def test_card_operations_never_interleave(cards, pki, monkeypatch):
    """Frames in bursts through a pipe, as a browser sends them: no two card calls ever
    overlap."""
    import io
    import os

    from host.framing import encode
    from host.service import serve

    monkeypatch.setenv("SOFTHSM2_CONF", str(cards.conf))
    settings = Settings(pkcs11Modules=[SOFTHSM_MODULE], allowedOrigins=[ORIGIN])
    card = RecordingCard(settings)
    out = io.BytesIO()
    r, w = os.pipe()
    runner = threading.Thread(target=serve, args=(os.fdopen(r, "rb"), out, settings, lambda: card),
                              daemon=True)
    runner.start()
    with os.fdopen(w, "wb", buffering=0) as stdin:
        for burst in range(4):
            for i in range(burst * 3, burst * 3 + 3):
                if i % 3 == 0:
                    stdin.write(encode({"id": f"l{i}", "command": "list-certificates"}))
                else:
                    stdin.write(encode({"id": f"a{i}", "command": "authenticate", "arguments": {
                        "challengeNonce": new_nonce(), "origin": ORIGIN,
                        "certificateId": pki.holders["dupont"].certificate_id, "pin": "1234"}}))
            deadline = time.monotonic() + 30
            while out.getvalue().count(b'"result"') < burst * 3 + 3 and time.monotonic() < deadline:
                time.sleep(0.01)
    runner.join(5)
    assert not runner.is_alive(), "the service did not end at EOF"
    assert out.getvalue().count(b'"result"') == 12
    spans = sorted(card.spans)
    assert len(spans) >= 12
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))


class Keypad:
    """The real SoftHSM2 token seen through a PIN pad reader, at python-pkcs11's level, under
    the host's own login code: a login asked with PROTECTED_AUTH gets the code the keypad
    `typed` (SoftHSM2 has no keypad; vpcd readers have none either), or, with `cancel`,
    times out as a real reader does (CKR_FUNCTION_CANCELED). Records what the host asked."""

    def __init__(self, token, typed: str, cancel: bool, asked: list):
        self._token, self._typed, self._cancel, self._asked = token, typed, cancel, asked

    def __getattr__(self, name):
        return getattr(self._token, name)

    def open(self, user_pin=None, **kw):
        self._asked.append(user_pin)
        if user_pin is pkcs11.PROTECTED_AUTH:
            if self._cancel:
                raise pkcs11.exceptions.FunctionCancelled()
            user_pin = self._typed
        return self._token.open(user_pin=user_pin, **kw)


class PinPadCard(Pkcs11Card):
    """The real card behind a PIN pad reader: the token reports a protected authentication
    path (the flag SoftHSM2 cannot set), and logins go through a `Keypad`."""

    def __init__(self, settings, typed="1234", cancel=False):
        super().__init__(settings)
        self.typed, self.cancel, self.pins_seen = typed, cancel, []

    def _pin_state(self, slot, token):
        real = super()._pin_state(slot, token)
        return type(real)(real.min_length, real.max_length, real.status, True)

    def _find(self, certificate_id):
        entry, slot, token = super()._find(certificate_id)
        return entry, slot, Keypad(token, self.typed, self.cancel, self.pins_seen)


def pinpad_handlers(cards, monkeypatch, **kw):
    monkeypatch.setenv("SOFTHSM2_CONF", str(cards.conf))
    settings = Settings(pkcs11Modules=[SOFTHSM_MODULE], allowedOrigins=[ORIGIN])
    card = PinPadCard(settings, **kw)
    return Handlers(settings, lambda: card), card


def test_a_pin_pad_reader_gets_no_pin_from_the_host(cards, pki, monkeypatch):
    handlers, card = pinpad_handlers(cards, monkeypatch)
    listed = handlers.list_certificates(0, threading.Event())["certificates"]
    cid = pki.holders["dupont"].certificate_id
    assert next(c for c in listed if c["certificateId"] == cid)["pin"]["pinPad"] is True
    assert "token" in handlers.authenticate(new_nonce(), ORIGIN, cid, None)
    assert card.pins_seen == [pkcs11.PROTECTED_AUTH], "the host must let the keypad take the PIN"


def test_a_pin_pad_that_times_out(cards, pki, monkeypatch):
    handlers, _ = pinpad_handlers(cards, monkeypatch, cancel=True)
    with pytest.raises(CpsError) as exc:
        handlers.authenticate(new_nonce(), ORIGIN, pki.holders["dupont"].certificate_id, None)
    assert exc.value.code == "ERR_CPS_PIN_PAD_TIMEOUT"


class FlagsUnreadableAfterWrongPin(Pkcs11Card):
    """Fakes one thing SoftHSM2 cannot do: a card whose token information cannot be read
    back after it refused the PIN (a middleware that fails C_GetTokenInfo then)."""

    def _read_pin_status(self, slot):
        class Unreadable:
            slot_id = slot.slot_id

            def get_token(self):
                raise pkcs11.exceptions.DeviceError()

        return super()._read_pin_status(Unreadable())


def test_tries_left_unread_are_not_guessed(cards, monkeypatch, pki):
    monkeypatch.setenv("SOFTHSM2_CONF", str(cards.conf))
    settings = Settings(pkcs11Modules=[SOFTHSM_MODULE], allowedOrigins=[ORIGIN])
    card = FlagsUnreadableAfterWrongPin(settings)
    h = Handlers(settings, lambda: card)
    with pytest.raises(CpsError) as exc:
        authenticate(h, pki.holders["bernard"].certificate_id, "9731")
    assert exc.value.code == "ERR_CPS_PIN_INCORRECT"
    assert exc.value.details == {}  # was {"pinStatus": "countLow"}: « il vous reste 2 essais »
    assert exc.value.to_error()["message"] == ("Code porteur incorrect. Vérifiez-le et réessayez : "
                                               "après 3 erreurs, la carte est bloquée.")
