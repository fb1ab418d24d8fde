"""Cards through a PKCS#11 module (the Cryptolib CPS, OpenSC, or SoftHSM2 in tests).

The layout this expects is a CPS card's, not SoftHSM's: certificates readable without PIN,
private keys visible only after login and found by the certificate's CKA_ID, no
public-key objects. Only authentication certificates (keyUsage digitalSignature) are
listed; a signature certificate (nonRepudiation only) is never listed, so its key can
never be chosen.
"""

from __future__ import annotations

import hashlib
import os
import time
from typing import Any, NamedTuple

from host import certificate, lazy_imports, logs
from host.card import CardCertificate, MessageFor, PinState, PinStatus, Signature
from host.config import Settings
from host.errors import CpsError
from host.holder import holder_fields
from host.modules import module_status
from host.pkcs11_info import close_all_sessions, pin_length_range

lazy_imports.install()  # before python-pkcs11: its key-encoding helpers load only if used

import pkcs11  # noqa: E402
import pkcs11._pkcs11  # noqa: E402,F401 (what pkcs11.lib() imports at its first call: here, with the rest)
from pkcs11 import (PROTECTED_AUTH, MGF, Attribute, CertificateType, KeyType,  # noqa: E402
                    Mechanism, ObjectClass, SlotFlag, TokenFlag)

# DigestInfo prefix of SHA-256 (RFC 8017 §9.2), for CKM_RSA_PKCS on cards without
# CKM_SHA256_RSA_PKCS.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_CARD_GONE = ("DeviceRemoved", "TokenNotPresent", "SessionHandleInvalid", "SessionClosed",
              "DeviceError", "TokenNotRecognised", "SlotIDInvalid")
_REFRESH_EVERY = 1.0  # seconds between re-initialisations while no card is seen


# Where a listed certificate lives, to find its key again at sign time. (The functional
# form: with string annotations, see host/card.py, NamedTuple would compile each one.)
_Entry = NamedTuple("_Entry", [("certificate", CardCertificate), ("slot", Any),  # pkcs11.Slot
                               ("token_serial", str), ("ckid", bytes),
                               ("key_type", str),  # "rsa" or "ec"
                               ("curve", str | None)])


# The token flags as plain ints: `&` on an IntFlag builds a new enum member each time, and
# these are read on every login.
_LOCKED = int(TokenFlag.USER_PIN_LOCKED)
_FINAL_TRY = int(TokenFlag.USER_PIN_FINAL_TRY)
_COUNT_LOW = int(TokenFlag.USER_PIN_COUNT_LOW)
_PIN_PAD = int(TokenFlag.PROTECTED_AUTHENTICATION_PATH)
_KEY_TYPES = {"rsa": KeyType.RSA, "ec": KeyType.EC}


def _pin_status(flags: int) -> PinStatus:
    if flags & _LOCKED:
        return "locked"
    if flags & _FINAL_TRY:
        return "finalTry"
    if flags & _COUNT_LOW:
        return "countLow"
    return "ok"


def _tell_key_type(key, key_type: str) -> None:
    """Give python-pkcs11 the key type the certificate already states. Its sign() reads
    CKA_KEY_TYPE from the card on every call, only to choose a default mechanism, and the
    host always names the mechanism: one card round trip per login for nothing. `key_type`
    is a functools.cached_property, so a value in the instance's __dict__ is used as is;
    were it ever a plain property (or the object without a __dict__), nothing would be
    given and the card read again (tests/host/test_pkcs11_calls.py would say so)."""
    known = _KEY_TYPES.get(key_type)
    attributes = getattr(key, "__dict__", None)
    if known is not None and attributes is not None:
        attributes.setdefault("key_type", known)


class Pkcs11Card:
    """`host.card.Card` over python-pkcs11. Not thread-safe: the dispatcher calls it from
    its single card worker (card operations are serialized, §3)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.module_path: str | None = None
        self._lib: Any = None
        self._index: dict[str, _Entry] = {}
        self._pin_ranges: dict[tuple[int, str], tuple[int, int]] = {}
        self._mechanisms: dict[tuple[int, str], set] = {}
        self._working_mechanism: dict[str, Any] = {}  # certificateId -> the mechanism its key took
        self._last_refresh = 0.0
        self._load_failed = False  # the last attempt to load a module failed

    # -- module ---------------------------------------------------------------------------

    def module_status(self) -> dict[str, Any]:
        if self._lib is not None:
            return {"module": self.module_path, "loaded": True}
        status = module_status(self.settings.pkcs11Modules)
        if self._load_failed:  # loadable, but C_Initialize refused: what operations get (§4)
            status.update(loaded=False, error="ERR_CPS_PKCS11_UNAVAILABLE")
        return status

    def _library(self):
        if self._lib is not None:
            return self._lib
        tried = []
        for path in (p for p in self.settings.pkcs11Modules if os.path.isfile(p)):
            try:
                self._lib = pkcs11.lib(path)
                self.module_path = path
                self._load_failed = False
                logs.get("pkcs11").info("PKCS#11 module %s loaded", path)
                return self._lib
            except Exception as exc:  # a broken module must not stop us trying the next
                tried.append(f"{path}: {exc.__class__.__name__}")
        self._load_failed = True
        raise CpsError("ERR_CPS_PKCS11_UNAVAILABLE",
                       {"tried": self.settings.pkcs11Modules, "failed": tried})

    def refresh(self) -> None:
        """Some modules (SoftHSM2, some middleware) only see new tokens after
        re-initialisation; do it at most once a second while waiting for a card."""
        if self._lib is None or time.monotonic() - self._last_refresh < _REFRESH_EVERY:
            return
        self._last_refresh = time.monotonic()
        try:
            self._lib.reinitialize()
            self._index.clear()  # slot objects of the old initialisation are stale
        except Exception as exc:
            logs.get("pkcs11").warning("re-initialising the module failed: %s", exc)

    def uses_readers(self) -> bool:
        try:
            slots = self._library().get_slots()
        except Exception:
            return True  # the module's own failure is told elsewhere; PC/SC may be why
        # No slot at all is what reader middleware (OpenSC, Cryptolib) shows without PC/SC.
        return not slots or any(slot.flags & SlotFlag.HW_SLOT for slot in slots)

    # -- listing ----------------------------------------------------------------------------

    def _tokens(self):
        """(slot, token) for every initialised token present. SoftHSM2 always shows one
        uninitialised token, and a reader may hold an unreadable card: both are skipped."""
        lib = self._library()
        try:
            slots = lib.get_slots(token_present=True)
        except Exception as exc:
            raise self._translate(exc) from None
        for slot in slots:
            try:
                token = slot.get_token()
            except Exception as exc:
                logs.get("pkcs11").info("slot %s skipped: %s", slot.slot_id, exc.__class__.__name__)
                continue
            if token.flags & TokenFlag.TOKEN_INITIALIZED:
                yield slot, token

    def _pin_state(self, slot, token) -> PinState:
        key = (slot.slot_id, token.serial)
        if key not in self._pin_ranges:
            lengths = pin_length_range(self.module_path, slot.slot_id) if self.module_path else None
            self._pin_ranges[key] = lengths or (4, 8)
        lo, hi = self._pin_ranges[key]
        flags = int(token.flags)
        return PinState(min_length=lo, max_length=hi, status=_pin_status(flags),
                        pin_pad=bool(flags & _PIN_PAD))

    def list_certificates(self) -> list[CardCertificate]:
        index: dict[str, _Entry] = {}
        for slot, token in self._tokens():
            # A reader slot (OpenSC, Cryptolib) is a hardware slot named after its reader; a
            # software token's slot (SoftHSM2) is no reader at all.
            reader = (slot.slot_description.strip() or None) if slot.flags & SlotFlag.HW_SLOT else None
            try:
                with token.open() as session:
                    objects = list(session.get_objects({
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509}))
                    # One C_GetAttributeValue per certificate, not one per attribute.
                    raw = [(a[Attribute.VALUE], a[Attribute.ID]) for a in
                           (o.get_attributes([Attribute.VALUE, Attribute.ID]) for o in objects)]
            except Exception as exc:
                err = self._translate(exc)
                if err.code == "ERR_CPS_CARD_REMOVED":
                    continue  # pulled out while listing: simply not there any more
                raise err from None
            pin = self._pin_state(slot, token)
            for der, ckid in raw:
                der = bytes(der)
                try:
                    fields = certificate.read(der)
                except certificate.CertificateError as exc:
                    logs.get("pkcs11").warning("unreadable certificate on %s skipped: %s", token.label, exc)
                    continue
                if not fields.for_authentication:
                    continue  # the signature certificate (nonRepudiation) is never offered
                try:
                    holder = holder_fields(fields.subject, fields.policies, self.settings.cardTypePolicies)
                except ValueError:
                    continue  # not a CPx holder certificate
                cid = hashlib.sha256(der).hexdigest()
                entry = CardCertificate(cid, der, token.label.strip(), reader, pin, holder,
                                        fields.not_before, fields.not_after)
                index[cid] = _Entry(entry, slot, token.serial, bytes(ckid), fields.key_type, fields.curve)
        self._index = index
        return [e.certificate for e in index.values()]

    # -- signing -----------------------------------------------------------------------------

    def _find(self, certificate_id: str):
        """(entry, slot, token) for a listed certificate, listing again once if the card
        changed since (another card inserted, or the module re-initialised)."""
        for attempt in (0, 1):
            entry = self._index.get(certificate_id)
            if entry is not None:
                try:
                    token = entry.slot.get_token()
                except Exception:
                    token = None  # card gone, or another card in its place
                if token is not None and token.serial == entry.token_serial:
                    return entry, entry.slot, token
            if attempt == 0:
                self.list_certificates()
        raise CpsError("ERR_CPS_CERTIFICATE_NOT_FOUND")

    def sign(self, certificate_id: str, pin: str | None, message_for: MessageFor) -> Signature:
        entry, slot, token = self._find(certificate_id)
        state = self._pin_state(slot, token)
        if state.status == "locked":
            raise CpsError("ERR_CPS_PIN_LOCKED", {"pinStatus": "locked"})
        if pin is None and not state.pin_pad:
            raise CpsError("ERR_CPS_PIN_FORMAT", {"minLength": state.min_length,
                                                  "maxLength": state.max_length})
        if pin is not None and not (pin.isdigit() and pin.isascii()
                                    and state.min_length <= len(pin) <= state.max_length):
            raise CpsError("ERR_CPS_PIN_FORMAT", {"minLength": state.min_length,
                                                  "maxLength": state.max_length})
        try:
            session = self._login(token, pin)
        except CpsError:
            raise
        except pkcs11.exceptions.PinIncorrect:
            status = self._read_pin_status(slot)
            logs.get("pkcs11").info("login refused on %s: wrong code porteur, pin status now %s",
                                    token.label, status or "unreadable")
            # Tries left unknown: no pinStatus, so that the person reads the general warning
            # (3 errors block the card), never a count that may be wrong.
            raise CpsError("ERR_CPS_PIN_INCORRECT", {"pinStatus": status} if status else {}) from None
        except pkcs11.exceptions.PinLocked:
            raise CpsError("ERR_CPS_PIN_LOCKED", {"pinStatus": "locked"}) from None
        except (pkcs11.exceptions.PinLenRange, pkcs11.exceptions.PinInvalid):
            raise CpsError("ERR_CPS_PIN_FORMAT", {"minLength": state.min_length,
                                                  "maxLength": state.max_length}) from None
        except pkcs11.exceptions.FunctionCancelled:
            raise CpsError("ERR_CPS_PIN_PAD_TIMEOUT") from None
        except Exception as exc:
            raise self._translate(exc, entry) from None
        try:
            with session:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=entry.ckid)
                _tell_key_type(key, entry.key_type)
                algorithm, value = self._sign_with(key, entry, self._slot_mechanisms(slot, token),
                                                   message_for)
        except CpsError:
            raise
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned):
            raise CpsError("ERR_CPS_CERTIFICATE_NOT_FOUND",
                           {"reason": "no single private key with the certificate's CKA_ID"}) from None
        except Exception as exc:
            raise self._translate(exc, entry) from None
        return Signature(algorithm, value, entry.certificate.der)

    def _login(self, token, pin: str | None):
        """One C_Login, never retried. A PIN pad reader takes the PIN itself.

        When C_Login fails, python-pkcs11 raises without closing the session it opened for
        it: every wrong code would leave one open until the module is finalised. This
        process has no other session on the card at this point (card operations are
        serialized and each closes its own), so all of them are closed."""
        try:
            return token.open(user_pin=PROTECTED_AUTH if pin is None else pin)
        except Exception:
            if self.module_path:
                close_all_sessions(self.module_path, token.slot.slot_id)
            raise

    def _slot_mechanisms(self, slot, token) -> set:
        key = (slot.slot_id, token.serial)
        if key not in self._mechanisms:
            self._mechanisms[key] = set(slot.get_mechanisms())
        return self._mechanisms[key]

    def _read_pin_status(self, slot) -> PinStatus | None:
        """The PIN flags after a refused login, or None when they cannot be read back."""
        try:
            return _pin_status(int(slot.get_token().flags))
        except Exception:
            return None

    def _sign_with(self, key, entry: _Entry, mechanisms: set, message_for: MessageFor):
        if entry.key_type == "rsa":
            message = message_for("sha256")
            # A slot's mechanism list is not the key's: OpenSC lists CKM_SHA256_RSA_PKCS
            # but a CPS authentication key accepts only CKM_RSA_PKCS. Try in order, skip a
            # mechanism the key refuses, and remember what worked for this key.
            ways = [("RS256", Mechanism.SHA256_RSA_PKCS, None),
                    ("RS256", Mechanism.RSA_PKCS, None),  # the card hashes nothing: DigestInfo
                    ("PS256", Mechanism.SHA256_RSA_PKCS_PSS, (Mechanism.SHA256, MGF.SHA256, 32))]
            ways = [w for w in ways if w[1] in mechanisms]
            known = self._working_mechanism.get(entry.certificate.certificate_id)
            ways.sort(key=lambda w: w[1] != known)
            for algorithm, mechanism, param in ways:
                data = (_SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
                        if mechanism == Mechanism.RSA_PKCS else message)
                try:
                    value = key.sign(data, mechanism=mechanism, mechanism_param=param)
                except (pkcs11.exceptions.MechanismInvalid, pkcs11.exceptions.FunctionNotSupported,
                        pkcs11.exceptions.MechanismParamInvalid,
                        pkcs11.exceptions.KeyTypeInconsistent):
                    continue
                self._working_mechanism[entry.certificate.certificate_id] = mechanism
                return algorithm, value
            raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "no RSA signature mechanism accepted"})
        if entry.key_type == "ec":
            if entry.curve == "secp384r1":
                alg, hash_name = "ES384", "sha384"
            elif entry.curve == "secp256r1":
                alg, hash_name = "ES256", "sha256"
            else:
                raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": f"curve {entry.curve}"})
            if Mechanism.ECDSA not in mechanisms:
                raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "no ECDSA mechanism"})
            digest = getattr(hashlib, hash_name)(message_for(hash_name)).digest()
            return alg, key.sign(digest, mechanism=Mechanism.ECDSA)  # raw r || s
        raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "unsupported key type"})

    def _translate(self, exc: Exception, entry: _Entry | None = None) -> CpsError:
        """A PKCS#11 failure as a protocol error. Middleware often reports a card pulled out
        mid-command as a generic error (OpenSC: CKR_GENERAL_ERROR), so when the card is no
        longer in its slot, that is what the user is told."""
        name = exc.__class__.__name__
        if name in _CARD_GONE or (entry is not None and not self._present(entry)):
            self._index.clear()
            return CpsError("ERR_CPS_CARD_REMOVED", log=name)
        logs.get("pkcs11").error("PKCS#11 failure: %s", name)
        return CpsError("ERR_CPS_INTERNAL", {"pkcs11": name})

    def _present(self, entry: _Entry, within: float = 1.0) -> bool:
        """Is the card still in its slot? Middleware notices a removal on its next look at
        the reader, which C_GetSlotList triggers; give it up to `within` seconds (paid only
        after a failure)."""
        deadline = time.monotonic() + within
        while True:
            try:
                slots = {s.slot_id: s for s in self._lib.get_slots(token_present=True)}
                slot = slots.get(entry.slot.slot_id)
                if slot is None or slot.get_token().serial != entry.token_serial:
                    return False
            except Exception:
                return False
            if time.monotonic() >= deadline:
                return True
            time.sleep(0.1)
