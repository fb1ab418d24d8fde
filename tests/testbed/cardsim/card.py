"""The simulated CPS3: an IAS-ECC "CPx" card answering APDUs in a vpcd virtual reader.

This is a fake of the card itself (no CPS card exists on a build machine); everything around
it is real: pcscd, the vpcd reader driver, OpenSC's iasecc driver and PKCS#15 layer, its
PKCS#11 module. What it implements is what OpenSC sends a CPx card: SELECT (by FID, path,
DF name), READ BINARY (also by SFI), GET DATA of security data objects (PIN and key
policies, security environments), VERIFY with real retry counters, RESET RETRY COUNTER,
CHANGE REFERENCE DATA, MSE SET, INTERNAL AUTHENTICATE and PSO HASH/CDS (RSA PKCS#1 v1.5),
GET CHALLENGE. Secure messaging is not simulated (OpenSC does not use it for the CPx).
"""

from __future__ import annotations

import hashlib
import os
import threading
from pathlib import Path

from tests.testbed.cardsim import layout
from tests.testbed.cardsim.layout import File
from tests.testbed.cardsim.tlv import length, parse, tlv
from tests.testbed.pcsc import ATR_CPS3, Pcscd, VirtualCard

OK = b"\x90\x00"
SW_NOT_FOUND = b"\x6a\x82"
SW_WRONG_P1P2 = b"\x6a\x86"
SW_WRONG_DATA = b"\x6a\x80"
SW_NO_EF = b"\x69\x86"
SW_SECURITY = b"\x69\x82"
SW_BLOCKED = b"\x69\x83"
SW_CONDITIONS = b"\x69\x85"
SW_INS = b"\x6d\x00"
SW_DO_NOT_FOUND = b"\x6a\x88"

PIN_MAX_TRIES = 3
PUK_MAX_TRIES = 10
SFI = {0x1C: 0xD003, 0x1D: 0x2F01, 0x1E: 0x2F00}
DIGEST_INFO = {   # DER prefixes of DigestInfo, for PSO CDS
    "sha1": bytes.fromhex("3021300906052b0e03021a05000414"),
    "sha256": bytes.fromhex("3031300d060960864801650304020105000420"),
}
_HASH_OF_ALGO = {0x10: "sha1", 0x40: "sha256"}


class _Secret:
    """A PIN or PUK with its retry counter, as the card keeps them."""

    def __init__(self, value: str, tries: int):
        self.value = value.encode()
        self.max_tries = tries
        self.tries_left = tries
        self.verified = False

    @property
    def blocked(self) -> bool:
        return self.tries_left == 0

    def check(self, offered: bytes) -> bytes:
        if self.blocked:
            return SW_BLOCKED
        if offered.rstrip(b"\xff") == self.value:
            self.tries_left, self.verified = self.max_tries, True
            return OK
        self.tries_left -= 1
        self.verified = False
        return bytes([0x63, 0xC0 | self.tries_left])

    def status(self) -> bytes:
        if self.blocked:
            return SW_BLOCKED
        return OK if self.verified else bytes([0x63, 0xC0 | self.tries_left])


class SimulatedCps3:
    """A CPS3 for one holder (`tests.testbed.pki.Issued`). `insert()` puts it in a reader."""

    def __init__(self, issued, pin: str = "1234", puk: str = "12345678",
                 token_label: str | None = None, atr: bytes = ATR_CPS3,
                 sig_key_nonrepudiation: bool = True):
        if not (pin.isdigit() and 4 <= len(pin) <= 8) or not (puk.isdigit() and len(puk) == 8):
            raise ValueError("code porteur: 4 to 8 digits; PUK: 8 digits")
        from cryptography.hazmat.primitives.asymmetric import rsa
        if not isinstance(issued.auth_key, rsa.RSAPrivateKey):
            raise ValueError(f"{issued.spec.slug}: a CPS3 holds RSA keys only "
                             f"(this holder has {issued.spec.key_kind})")
        self.issued = issued
        self.atr = atr
        self.token_label = token_label or f"CPS3v3-{issued.spec.token_serial}"
        # A real signature key is marked nonRepudiation; OpenSC then offers it only the
        # SHA*-RSA-PKCS mechanisms (PSO HASH + CDS). False marks it "sign" only, so that
        # OpenSC uses INTERNAL AUTHENTICATE with it as with the authentication key.
        self.mf = layout.build_tree(issued, self.token_label, sig_key_nonrepudiation)
        self.pin = _Secret(pin, PIN_MAX_TRIES)
        self.puk = _Secret(puk, PUK_MAX_TRIES)
        self.keys = {layout.AUTH_KEY_REF: issued.auth_key}
        if issued.sig_key is not None:
            self.keys[layout.SIG_KEY_REF] = issued.sig_key
        self.trace: list[tuple[bytes, bytes]] = []
        self.vc: VirtualCard | None = None
        self._lock = threading.Lock()
        self._chained = b""
        self._hold_ins: int | None = None
        self.held = threading.Event()
        self._release = threading.Event()
        self.reset()

    # -- state visible to tests ---------------------------------------------------------
    @property
    def pin_tries_left(self) -> int:
        return self.pin.tries_left

    @property
    def puk_tries_left(self) -> int:
        return self.puk.tries_left

    @property
    def blocked(self) -> bool:
        return self.pin.blocked

    # -- reader -----------------------------------------------------------------------
    def insert(self, pcscd: Pcscd, reader: int = 0, timeout: float = 10.0) -> VirtualCard:
        """Insert; returns once pcscd has powered the card up and polled it again, so that
        a client started now sees it."""
        if self.vc is not None:
            raise RuntimeError("this card is already in a reader")
        self.reset()
        self.vc = _PoweredCard(self).insert(pcscd, reader, timeout)
        return self.vc

    def remove(self) -> None:
        vc, self.vc = self.vc, None
        self._release.set()             # a held command is never answered: the card is gone
        if vc is not None:
            vc.remove()

    def hold(self, ins: int) -> threading.Event:
        """Test hook: the next command with this INS is received but never answered, as
        if the card were pulled while computing; returns an event set when it arrives.
        `remove()` then pulls the card."""
        self.held.clear()
        self._release.clear()
        self._hold_ins = ins
        return self.held

    def reset(self) -> None:
        """Power-on or warm reset: security status and selections are lost."""
        self.pin.verified = self.puk.verified = False
        self.df: File = self.mf
        self.ef: File | None = None
        self.env: dict[str, int] = {}
        self.hash_input: bytes | None = None
        self._chained = b""

    def write_trace(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(f"> {c.hex(' ').upper()}\n< {r.hex(' ').upper()}\n"
                                for c, r in self.trace))

    # -- APDUs ------------------------------------------------------------------------
    def handle(self, apdu: bytes) -> bytes:
        with self._lock:
            try:
                return self._dispatch(apdu)
            except (IndexError, ValueError):
                return b"\x67\x00"   # wrong length / malformed

    def _dispatch(self, apdu: bytes) -> bytes:
        if len(apdu) < 4:
            return b"\x67\x00"
        cla, ins, p1, p2 = apdu[:4]
        data, le = _body(apdu[4:])
        if cla & 0x10:              # command chaining: keep the part, answer the last one
            self._chained += data
            return OK
        data, self._chained = self._chained + data, b""
        handler = {0xA4: self._select, 0xB0: self._read_binary, 0x20: self._verify,
                   0x2C: self._reset_retry_counter, 0x24: self._change, 0xCB: self._get_data,
                   0x22: self._mse, 0x88: self._internal_authenticate, 0x2A: self._pso,
                   0x84: self._challenge}.get(ins)
        if handler is None:
            return SW_INS
        return handler(p1, p2, data, le)

    def _select(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        target: File | None
        if p1 == 0x04:
            target = _find_name(self.mf, data) if data else self.mf
        elif p1 in (0x08, 0x09):
            start = self.mf if p1 == 0x08 else self.df
            target = _walk(self.mf, start, data)
        elif p1 == 0x03:
            target = self.df.parent
        elif p1 in (0x00, 0x01, 0x02) and len(data) == 2:
            fid = int.from_bytes(data, "big")
            target = self.mf if fid == 0x3F00 else self.df.children.get(fid)
            if target is None and p1 == 0x00 and self.df.parent:
                target = self.df.parent.children.get(fid)
        else:
            return SW_WRONG_P1P2
        if target is None:
            return SW_NOT_FOUND
        if target.is_df:
            self.df, self.ef = target, None
        else:
            self.df, self.ef = target.parent, target
        return OK if p2 & 0x0C == 0x0C else target.fcp() + OK

    def _read_binary(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 & 0x80:
            fid = SFI.get(p1 & 0x1F)
            if fid is None:
                return SW_NOT_FOUND
            self.df, self.ef, offset = self.mf, self.mf.children[fid], p2
        else:
            offset = (p1 << 8) | p2
        if self.ef is None:
            return SW_NO_EF
        if offset > len(self.ef.data):
            return b"\x6b\x00"
        chunk = self.ef.data[offset:offset + (le or 256)]
        if len(chunk) < (le or 256) and le is not None and le != 0:
            return chunk + b"\x62\x82"    # end of file reached before Le bytes
        return chunk + OK

    def _secret(self, p2: int) -> _Secret | None:
        return {layout.PIN_REF: self.pin, layout.PUK_REF: self.puk}.get(p2 & 0x7F)

    def _verify(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        secret = self._secret(p2)
        if secret is None or p1 not in (0x00, 0xFF):
            return SW_DO_NOT_FOUND
        if p1 == 0xFF:
            secret.verified = False
            return OK
        return secret.check(data) if data else secret.status()

    def _reset_retry_counter(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if self._secret(p2) is not self.pin:
            return SW_DO_NOT_FOUND
        new_pin = None
        if p1 in (0x00, 0x01):
            puk, new_pin = data[:8], (data[8:] if p1 == 0x00 else None)
            sw = self.puk.check(puk)
            if sw != OK:
                return sw
        elif p1 in (0x02, 0x03):
            if not self.puk.verified:
                return SW_SECURITY
            new_pin = data if p1 == 0x02 else None
        else:
            return SW_WRONG_P1P2
        if new_pin is not None:
            new_pin = new_pin.rstrip(b"\xff")
            if not (new_pin.isdigit() and 4 <= len(new_pin) <= 8):
                return SW_WRONG_DATA
            self.pin.value = new_pin
        self.pin.tries_left, self.pin.verified = self.pin.max_tries, False
        self.puk.verified = False
        return OK

    def _change(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        secret = self._secret(p2)
        if secret is None or p1 != 0x00:
            return SW_DO_NOT_FOUND
        old, new = data[:len(secret.value)], data[len(secret.value):].rstrip(b"\xff")
        sw = secret.check(old)
        if sw != OK:
            return sw
        if not (new.isdigit() and 4 <= len(new) <= 8):
            return SW_WRONG_DATA
        secret.value = new
        return OK

    # GET DATA of an SDO: 4D { 70 { BF <class|80> <ref> { <wanted tag> } } }
    def _get_data(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if (p1, p2) != (0x3F, 0xFF):
            return SW_WRONG_P1P2
        (_, ext), = parse(data)
        (_, tmpl), = parse(ext)
        header = tmpl[:3]
        if header[0] != 0xBF:
            return SW_WRONG_DATA
        sdo_class, ref = header[1] & 0x7F, header[2] & 0x1F
        body = self._sdo(sdo_class, ref)
        if body is None:
            return SW_DO_NOT_FOUND
        sdo = bytes([0xBF, sdo_class | 0x80, ref]) + length(len(body)) + body
        # OpenSC reads a security environment only inside the SDO template (70).
        return (tlv(0x70, sdo) if sdo_class == 0x7B else sdo) + OK

    def _sdo(self, sdo_class: int, ref: int) -> bytes | None:
        if sdo_class == 0x01:           # CHV: PIN or PUK
            secret = self._secret(ref)
            if secret is None:
                return None
            # ACLs: AMB 0x70 = CHANGE always, VERIFY always, RESET after the PUK (SE 2).
            docp = tlv(0xA0, tlv(0xA1, tlv(0x8C, b"\x70\x00\x00\x12")),
                       tlv(0x9A, bytes([secret.max_tries])),
                       tlv(0x9B, bytes([secret.tries_left])))
            size_min = 8 if secret is self.puk else 4
            return docp + tlv(0x7F41, tlv(0x80, b"\x08"), tlv(0x81, bytes([size_min])))
        if sdo_class in (0x10, 0x20):   # RSA private / public key
            key = self.keys.get(ref)
            if key is None:
                return None
            sig = ref == layout.SIG_KEY_REF
            # AMB 0x60: PSO CDS (signature key only), INTERNAL AUTHENTICATE, both after
            # the code porteur (SE 1).
            acl = b"\x60" + (b"\x11" if sig else b"\xff") + b"\x11"
            docp = tlv(0xA0, tlv(0xA1, tlv(0x8C, acl)),
                       tlv(0x80, (key.key_size // 8).to_bytes(2, "big")),
                       tlv(0x9E, b"\x01" if sig else b"\x00"))
            if sdo_class == 0x20:
                pub = key.public_key().public_numbers()
                n = pub.n.to_bytes(key.key_size // 8, "big")
                e = pub.e.to_bytes((pub.e.bit_length() + 7) // 8, "big")
                docp += tlv(0x7F49, tlv(0x81, n), tlv(0x82, e))
            return docp
        if sdo_class == 0x7B:           # security environment: the PIN authenticates
            crt = tlv(0xA4, b"\x83\x01" + bytes([layout.PIN_REF]) + b"\x95\x01\x08")
            if ref == 2:
                crt = tlv(0xA4, b"\x83\x01" + bytes([layout.PUK_REF]) + b"\x95\x01\x08")
            return tlv(0x7B, crt)
        return None

    def _mse(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        if p1 != 0x41 or p2 not in (0xA4, 0xB6, 0xAA, 0xB8):
            return SW_WRONG_P1P2
        fields = dict(parse(data))
        if p2 == 0xAA:
            self.env["hash"] = fields.get(0x80, b"\x00")[0]
            return OK
        key_ref = fields.get(0x84, b"\x00")[0] & 0x7F
        if key_ref not in self.keys:
            return SW_DO_NOT_FOUND
        self.env.update(template=p2, key=key_ref, algo=fields.get(0x80, b"\x00")[0])
        self.hash_input = None
        return OK

    def _may_use_key(self) -> bytes | None:
        if "key" not in self.env:
            return SW_CONDITIONS
        if not self.pin.verified:
            return SW_SECURITY
        return None

    def _internal_authenticate(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        refused = self._may_use_key()
        if refused:
            return refused
        if self.env.get("template") != 0xA4:
            return SW_CONDITIONS
        return self._rsa_sign(data)

    def _pso(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        refused = self._may_use_key()
        if refused:
            return refused
        if (p1, p2) == (0x90, 0xA0):        # PSO HASH: the host sends the last block
            fields = dict(parse(data))
            if fields.get(0x90):
                return SW_WRONG_DATA       # resuming a partial hash is not simulated
            self.hash_input = fields.get(0x80, b"")
            return OK
        if (p1, p2) == (0x9E, 0x9A):        # PSO COMPUTE DIGITAL SIGNATURE
            if self.env.get("template") != 0xB6 or self.hash_input is None:
                return SW_CONDITIONS
            name = _HASH_OF_ALGO.get(self.env.get("hash", 0))
            if name is None:
                return SW_CONDITIONS
            digest = hashlib.new(name, self.hash_input).digest()
            self.hash_input = None
            return self._rsa_sign(DIGEST_INFO[name] + digest)
        return SW_WRONG_P1P2

    def _rsa_sign(self, payload: bytes) -> bytes:
        """RSA PKCS#1 v1.5 (block type 1) of `payload`, which the host gives as a
        DigestInfo; the card pads and applies the private key, nothing more."""
        key = self.keys[self.env["key"]]
        size = key.key_size // 8
        if len(payload) > size - 11:
            return SW_WRONG_DATA
        block = b"\x00\x01" + b"\xff" * (size - 3 - len(payload)) + b"\x00" + payload
        numbers = key.private_numbers()
        signature = pow(int.from_bytes(block, "big"), numbers.d, numbers.public_numbers.n)
        return signature.to_bytes(size, "big") + OK

    def _challenge(self, p1: int, p2: int, data: bytes, le: int | None) -> bytes:
        return os.urandom(le or 8) + OK


def _body(rest: bytes) -> tuple[bytes, int | None]:
    """Data and Le of a short or extended APDU (after the header)."""
    if not rest:
        return b"", None
    if len(rest) == 1:
        return b"", rest[0]
    if rest[0] == 0 and len(rest) >= 3:       # extended length
        if len(rest) == 3:
            return b"", int.from_bytes(rest[1:3], "big") or 65536
        lc = int.from_bytes(rest[1:3], "big")
        data = rest[3:3 + lc]
        tail = rest[3 + lc:]
        return data, (int.from_bytes(tail[-2:], "big") or 65536) if tail else None
    lc = rest[0]
    data = rest[1:1 + lc]
    if len(data) != lc:
        raise ValueError("Lc")
    tail = rest[1 + lc:]
    return data, (tail[0] if tail else None)


def _find_name(df: File, name: bytes) -> File | None:
    if df.name == name:
        return df
    for child in df.children.values():
        if child.is_df:
            found = _find_name(child, name)
            if found:
                return found
    return None


def _walk(mf: File, start: File, path: bytes) -> File | None:
    node = start
    for i in range(0, len(path) - 1, 2):
        fid = int.from_bytes(path[i:i + 2], "big")
        if fid == 0x3F00:
            node = mf
            continue
        node = node.children.get(fid) if node else None
        if node is None:
            return None
    return node


# Commands whose data carry a PIN or PUK: the trace keeps their length, never their value.
_SECRET_INS = (0x20, 0x24, 0x2C)


def _masked(apdu: bytes) -> bytes:
    if len(apdu) > 5 and apdu[1] in _SECRET_INS:
        return apdu[:5] + b"\x2a" * (len(apdu) - 5)
    return apdu


class _PoweredCard(VirtualCard):
    """The vpcd side of a SimulatedCps3 (VirtualCard settles inserts and removals): a
    power-up or reset from pcscd resets the card, a held command is never answered, and the
    trace has PINs masked."""

    def __init__(self, card: SimulatedCps3):
        super().__init__(card.atr, card.handle, card.trace)
        self.card = card

    def _answer(self, msg: bytes) -> bytes | None:
        if len(msg) == 1 or self.sock is None:      # control message, or being pulled out
            if msg in (b"\x01", b"\x02") and self.sock is not None:
                self.card.reset()
            return super()._answer(msg)
        if self.card._hold_ins is not None and msg[1] == self.card._hold_ins:
            self.card._hold_ins = None
            self.trace.append((_masked(msg), b""))
            self.card.held.set()
            self.card._release.wait()
            return None
        response = self.handler(msg)
        self.trace.append((_masked(msg), response))
        return response
