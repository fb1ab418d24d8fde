"""The commands of §4, one method each."""

from __future__ import annotations

import binascii
import threading
import time
TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start
if TYPE_CHECKING:
    from typing import Any

from collections.abc import Callable

from host import PROTOCOL_VERSION, __version__, logs
from host.config import ConfigError, Settings
from host.errors import CpsError
from host.origins import OriginError, normalize_origin

if TYPE_CHECKING:
    from host.card import Card, CardCertificate

_WAIT_STEP_MS = 250  # how often a waiting list-certificates looks again (and sees a cancel)


class Handlers:
    """`card` is made on the first card command: `status` must not pay for python-pkcs11."""

    def __init__(self, settings: Settings, card_factory: Callable[[], "Card"],
                 config_error: ConfigError | None = None):
        self.settings = settings
        self._card_factory = card_factory
        self._card: "Card | None" = None
        self.config_error = config_error
        self._pcsc = None  # the card worker's own PC/SC context, made on first use

    @property
    def card(self) -> "Card":
        if self._card is None:
            self._card = self._card_factory()
        return self._card

    def _require_config(self) -> None:
        if self.config_error is not None:
            raise CpsError("ERR_CPS_INTERNAL", {"config": str(self.config_error)})

    # -- status ------------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        from host import pcsc

        if self.config_error is not None:
            # Every card command answers ERR_CPS_INTERNAL until the configuration is mended
            # (§4: `error` is the code an operation would get); `config` says why.
            modules = {"module": None, "loaded": False, "error": "ERR_CPS_INTERNAL"}
        elif self._card is not None:
            modules = self._card.module_status()
        else:
            from host.modules import module_status

            modules = module_status(self.settings.pkcs11Modules)
        result: dict[str, Any] = {"version": __version__, "protocol": PROTOCOL_VERSION,
                                  "pcsc": pcsc.status(), "pkcs11": modules}
        if self.config_error is not None:
            result["config"] = {"error": str(self.config_error)}
        return result

    # -- list-certificates -----------------------------------------------------------------

    def list_certificates(self, wait_for_card_ms: int, cancelled: threading.Event,
                          origin: str | None = None) -> dict[str, Any]:
        """`origin`, when given: the page the certificates are listed for, refused (as by
        authenticate) before the card is read, so that no PIN is asked for it."""
        self._require_config()
        if origin is not None:
            self.check_origin(origin)
        deadline = time.monotonic() + wait_for_card_ms / 1000
        while True:
            if cancelled.is_set():
                raise CpsError("ERR_CPS_CANCELLED")
            certificates = self.card.list_certificates()
            if certificates:
                return {"certificates": [self._entry(c) for c in certificates]}
            reason = self._why_no_certificate()
            if time.monotonic() >= deadline:
                raise reason
            self._wait_for_change(min(_WAIT_STEP_MS, int((deadline - time.monotonic()) * 1000)),
                                  cancelled)
            self.card.refresh()

    @staticmethod
    def _entry(c: "CardCertificate") -> dict[str, Any]:
        # §4's holder: `rpps` for an RPPS holder, `adeli` for an ADELI one, as its example
        # shows; the one that does not apply is left out, not null.
        holder = {k: v for k, v in c.holder.items() if v is not None or k not in ("rpps", "adeli")}
        return {"certificateId": c.certificate_id, "certificate": binascii.b2a_base64(c.der, newline=False).decode(),
                "tokenLabel": c.token_label, "reader": c.reader,
                "holder": holder, "notBefore": c.not_before, "notAfter": c.not_after,
                "pin": {"minLength": c.pin.min_length, "maxLength": c.pin.max_length,
                        "status": c.pin.status, "pinPad": c.pin.pin_pad}}

    def _pcsc_context(self):
        if self._pcsc is None:
            from host.pcsc import Pcsc

            self._pcsc = Pcsc()
        return self._pcsc

    def _why_no_certificate(self) -> CpsError:
        """The most useful error when the middleware shows no authentication certificate."""
        from host.atr import is_cps

        try:
            readers = self._pcsc_context().readers()
        except (CpsError, ImportError):
            if not self.card.uses_readers():  # software tokens only: PC/SC is not why
                return CpsError("ERR_CPS_NO_CARD", {"pcsc": "unavailable"})
            return CpsError("ERR_CPS_PCSC_UNAVAILABLE")
        if not readers:
            return CpsError("ERR_CPS_NO_READER")
        with_card = [r for r in readers if r.card_present]
        if not with_card:
            return CpsError("ERR_CPS_NO_CARD")
        cps = [r for r in with_card if is_cps(r.card_type or "")]
        if not cps:
            r = with_card[0]
            return CpsError("ERR_CPS_UNSUPPORTED_CARD", {"reader": r.name, "cardType": r.card_type})
        # A CPS card is in a reader but the module does not show it (yet).
        return CpsError("ERR_CPS_NO_CARD", {"reader": cps[0].name, "reason": "card not readable"})

    def _wait_for_change(self, timeout_ms: int, cancelled: threading.Event) -> None:
        if timeout_ms <= 0:
            return
        try:
            self._pcsc_context().wait_change(timeout_ms)
        except (CpsError, ImportError):
            cancelled.wait(timeout_ms / 1000)

    # -- authenticate -----------------------------------------------------------------------

    def check_origin(self, origin: str) -> str:
        """The canonical origin, if allowed; checked before the card is touched."""
        try:
            canonical = normalize_origin(origin)
        except OriginError as exc:
            raise CpsError("ERR_CPS_ORIGIN_NOT_ALLOWED", {"reason": str(exc)}) from None
        if canonical not in self.settings.allowedOrigins:
            raise CpsError("ERR_CPS_ORIGIN_NOT_ALLOWED", {"origin": canonical})
        return canonical

    def authenticate(self, nonce: str, origin: str, certificate_id: str,
                     pin: str | None) -> dict[str, Any]:
        from host.assertion import signed_message, token  # hashlib: only when signing

        self._require_config()
        canonical = self.check_origin(origin)
        if pin is not None and not (pin.isascii() and pin.isdigit()):
            raise CpsError("ERR_CPS_PIN_FORMAT")  # never sent to the card; its length is
            # checked against the token's own range before the login (host/pkcs11_card.py)
        try:
            signature = self.card.sign(certificate_id, pin,
                                       lambda h: signed_message(canonical, nonce, h))
        except CpsError as exc:
            # The certificate is gone because the card, the reader or PC/SC is: say that,
            # as list-certificates and status would (§4), not "not on the inserted card".
            if exc.code == "ERR_CPS_CERTIFICATE_NOT_FOUND" and not self.card.list_certificates():
                raise self._why_no_certificate() from None
            raise
        logs.get("handlers").info("assertion made for %s with certificate %s (%s)", canonical,
                                  certificate_id[:16], signature.algorithm)
        return {"token": token(signature)}
