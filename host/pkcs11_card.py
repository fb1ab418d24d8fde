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
from dataclasses import dataclass
from typing import Any

from host import logs
from host.card import CardCertificate, MessageFor, PinState, PinStatus, Signature
from host.config import Settings
from host.errors import CpsError
from host.pkcs11_info import loadable, pin_length_range

# DigestInfo prefix of SHA-256 (RFC 8017 §9.2), for CKM_RSA_PKCS on cards without
# CKM_SHA256_RSA_PKCS.
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")
_CARD_GONE = ("DeviceRemoved", "TokenNotPresent", "SessionHandleInvalid", "SessionClosed",
              "DeviceError", "TokenNotRecognised", "SlotIDInvalid")
_REFRESH_EVERY = 1.0  # seconds between re-initialisations while no card is seen


@dataclass
class _Entry:
    """Where a listed certificate lives, to find its key again at sign time."""

    certificate: CardCertificate
    slot_id: int
    token_serial: str
    ckid: bytes


def _pin_status(flags: int) -> PinStatus:
    from pkcs11 import TokenFlag

    if flags & TokenFlag.USER_PIN_LOCKED:
        return "locked"
    if flags & TokenFlag.USER_PIN_FINAL_TRY:
        return "finalTry"
    if flags & TokenFlag.USER_PIN_COUNT_LOW:
        return "countLow"
    return "ok"


def _iso(d) -> str:
    return d.strftime("%Y-%m-%dT%H:%M:%SZ")


def is_authentication_certificate(cert) -> bool:
    """keyUsage digitalSignature present. No keyUsage at all: not provably for login."""
    from cryptography import x509

    try:
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound:
        return False
    return bool(ku.digital_signature)


class Pkcs11Card:
    """`host.card.Card` over python-pkcs11. Not thread-safe: the dispatcher calls it from
    its single card worker (card operations are serialized, §3)."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.module_path: str | None = None
        self._lib: Any = None
        self._index: dict[str, _Entry] = {}
        self._last_refresh = 0.0

    # -- module ---------------------------------------------------------------------------

    def _candidates(self) -> list[str]:
        return [p for p in self.settings.pkcs11Modules if os.path.isfile(p)]

    def module_status(self) -> dict[str, Any]:
        if self._lib is not None:
            return {"module": self.module_path, "loaded": True}
        for path in self._candidates():
            if loadable(path):
                return {"module": path, "loaded": True}
        first = self.settings.pkcs11Modules[0] if self.settings.pkcs11Modules else None
        return {"module": first, "loaded": False, "error": "ERR_CPS_PKCS11_UNAVAILABLE"}

    def _library(self):
        if self._lib is not None:
            return self._lib
        import pkcs11

        tried = []
        for path in self._candidates():
            try:
                self._lib = pkcs11.lib(path)
                self.module_path = path
                logs.get("pkcs11").info("PKCS#11 module %s loaded", path)
                return self._lib
            except Exception as exc:  # a broken module must not stop us trying the next
                tried.append(f"{path}: {exc.__class__.__name__}")
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
        except Exception as exc:
            logs.get("pkcs11").warning("re-initialising the module failed: %s", exc)

    # -- listing ----------------------------------------------------------------------------

    def _tokens(self):
        """(slot, token) for every initialised token present. SoftHSM2 always shows one
        uninitialised token, and a reader may hold an unreadable card: both are skipped."""
        from pkcs11 import TokenFlag

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
        from pkcs11 import TokenFlag

        lengths = pin_length_range(self.module_path, slot.slot_id) if self.module_path else None
        lo, hi = lengths or (4, 8)
        return PinState(min_length=lo, max_length=hi, status=_pin_status(token.flags),
                        pin_pad=bool(token.flags & TokenFlag.PROTECTED_AUTHENTICATION_PATH))

    def list_certificates(self) -> list[CardCertificate]:
        from cryptography import x509
        from pkcs11 import Attribute, CertificateType, ObjectClass

        from host.identity import holder_of

        index: dict[str, _Entry] = {}
        for slot, token in self._tokens():
            reader = slot.slot_description.strip() or None
            try:
                with token.open() as session:
                    objects = list(session.get_objects({
                        Attribute.CLASS: ObjectClass.CERTIFICATE,
                        Attribute.CERTIFICATE_TYPE: CertificateType.X_509}))
                    raw = [(o[Attribute.VALUE], o[Attribute.ID]) for o in objects]
            except Exception as exc:
                err = self._translate(exc)
                if err.code == "ERR_CPS_CARD_REMOVED":
                    continue  # pulled out while listing: simply not there any more
                raise err from None
            pin = self._pin_state(slot, token)
            for der, ckid in raw:
                try:
                    cert = x509.load_der_x509_certificate(bytes(der))
                except ValueError:
                    logs.get("pkcs11").warning("unreadable certificate on %s skipped", token.label)
                    continue
                if not is_authentication_certificate(cert):
                    continue  # the signature certificate (nonRepudiation) is never offered
                try:
                    holder = holder_of(cert, self.settings.cardTypePolicies)
                except ValueError:
                    continue  # not a CPx holder certificate
                cid = hashlib.sha256(bytes(der)).hexdigest()
                entry = CardCertificate(
                    certificate_id=cid, der=bytes(der), token_label=token.label.strip(),
                    reader=reader, pin=pin, holder=holder,
                    not_before=_iso(cert.not_valid_before_utc), not_after=_iso(cert.not_valid_after_utc))
                index[cid] = _Entry(entry, slot.slot_id, token.serial, bytes(ckid))
        self._index = index
        return [e.certificate for e in index.values()]

    # -- signing -----------------------------------------------------------------------------

    def _find(self, certificate_id: str):
        """(entry, slot, token) for a listed certificate, listing again once if the card
        changed since (another card inserted, or the module re-initialised)."""
        for attempt in (0, 1):
            entry = self._index.get(certificate_id)
            if entry is not None:
                for slot, token in self._tokens():
                    if slot.slot_id == entry.slot_id and token.serial == entry.token_serial:
                        return entry, slot, token
            if attempt == 0:
                self.list_certificates()
        raise CpsError("ERR_CPS_CERTIFICATE_NOT_FOUND")

    def sign(self, certificate_id: str, pin: str | None, message_for: MessageFor) -> Signature:
        import pkcs11
        from pkcs11 import Attribute, ObjectClass

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
        log = logs.get("pkcs11")
        try:
            session = self._login(token, pin)
        except CpsError:
            raise
        except pkcs11.exceptions.PinIncorrect:
            status = self._read_pin_status(slot)
            log.info("login refused on %s: wrong code porteur, pin status now %s", token.label, status)
            raise CpsError("ERR_CPS_PIN_INCORRECT", {"pinStatus": status}) from None
        except pkcs11.exceptions.PinLocked:
            raise CpsError("ERR_CPS_PIN_LOCKED", {"pinStatus": "locked"}) from None
        except (pkcs11.exceptions.PinLenRange, pkcs11.exceptions.PinInvalid):
            raise CpsError("ERR_CPS_PIN_FORMAT", {"minLength": state.min_length,
                                                  "maxLength": state.max_length}) from None
        except pkcs11.exceptions.FunctionCancelled:
            raise CpsError("ERR_CPS_PIN_PAD_TIMEOUT") from None
        except Exception as exc:
            raise self._translate(exc) from None
        try:
            with session:
                key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, id=entry.ckid)
                mechanisms = set(slot.get_mechanisms())
                algorithm, value = self._sign_with(key, entry.certificate.der, mechanisms,
                                                   message_for)
        except CpsError:
            raise
        except (pkcs11.exceptions.NoSuchKey, pkcs11.exceptions.MultipleObjectsReturned):
            raise CpsError("ERR_CPS_CERTIFICATE_NOT_FOUND",
                           {"reason": "no single private key with the certificate's CKA_ID"}) from None
        except Exception as exc:
            raise self._translate(exc) from None
        log.info("signed an assertion with %s on %s (%s)", certificate_id[:16], token.label, algorithm)
        return Signature(algorithm, value, entry.certificate.der)

    def _login(self, token, pin: str | None):
        """One C_Login, never retried. A PIN pad reader takes the PIN itself."""
        from pkcs11 import PROTECTED_AUTH

        return token.open(user_pin=PROTECTED_AUTH if pin is None else pin)

    def _read_pin_status(self, slot) -> PinStatus:
        try:
            return _pin_status(slot.get_token().flags)
        except Exception:
            return "countLow"  # the token did refuse the PIN; flags could not be read back

    @staticmethod
    def _sign_with(key, cert_der: bytes, mechanisms: set, message_for: MessageFor):
        from cryptography import x509
        from cryptography.hazmat.primitives.asymmetric import ec, rsa
        from pkcs11 import MGF, Mechanism

        public = x509.load_der_x509_certificate(cert_der).public_key()
        if isinstance(public, rsa.RSAPublicKey):
            message = message_for("sha256")
            if Mechanism.SHA256_RSA_PKCS in mechanisms:
                return "RS256", key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS)
            if Mechanism.RSA_PKCS in mechanisms:
                digest = _SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
                return "RS256", key.sign(digest, mechanism=Mechanism.RSA_PKCS)
            if Mechanism.SHA256_RSA_PKCS_PSS in mechanisms:
                return "PS256", key.sign(message, mechanism=Mechanism.SHA256_RSA_PKCS_PSS,
                                         mechanism_param=(Mechanism.SHA256, MGF.SHA256, 32))
            raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "no RSA signature mechanism"})
        if isinstance(public, ec.EllipticCurvePublicKey):
            if public.curve.name == "secp384r1":
                alg, hash_name = "ES384", "sha384"
            elif public.curve.name == "secp256r1":
                alg, hash_name = "ES256", "sha256"
            else:
                raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": f"curve {public.curve.name}"})
            digest = getattr(hashlib, hash_name)(message_for(hash_name)).digest()
            if Mechanism.ECDSA not in mechanisms:
                raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "no ECDSA mechanism"})
            return alg, key.sign(digest, mechanism=Mechanism.ECDSA)
        raise CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reason": "unsupported key type"})

    @staticmethod
    def _translate(exc: Exception) -> CpsError:
        name = exc.__class__.__name__
        if name in _CARD_GONE:
            return CpsError("ERR_CPS_CARD_REMOVED", log=name)
        logs.get("pkcs11").error("PKCS#11 failure: %s", name)
        return CpsError("ERR_CPS_INTERNAL", {"pkcs11": name})
