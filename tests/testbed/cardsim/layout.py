"""What the simulated CPS3 holds: its file tree and PKCS#15 objects, built from a test holder.

The layout is our reconstruction of an IAS-ECC "CPx" card as OpenSC's iasecc driver reads it:
EF.ATR (2F01) and EF.DIR (2F00) under the MF, the holder's application DF 0001 named by the
CPS AID, PKCS#15 files in it (ODF 5031, TokenInfo 5032, AODF, PrKDF, CDF, certificates), the
card-holder PIN as a global CHV SDO (reference 1) with its PUK (reference 2), and the two RSA
keys as private-key SDOs 1 (signature) and 2 (authentication) of the application DF. File
identifiers other than the ISO/PKCS#15 ones are our choice.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from cryptography.hazmat.primitives import serialization

from tests.testbed.cardsim.tlv import bits, integer, octets, seq, tlv, utf8

CPS_AID = bytes.fromhex("E828BD080F8025000001FF0010")
AUTH_ID = CPS_AID + b"\x02"
SIG_ID = CPS_AID + b"\x01"
APP_DF = 0x0001
PIN_REF = 0x01          # code porteur: global CHV
PUK_REF = 0x02          # code de déblocage: global CHV
SIG_KEY_REF = 0x01      # private-key SDO numbers in the application DF
AUTH_KEY_REF = 0x02

# TokenInfo supportedAlgorithms: (reference, PKCS#11 mechanism, PKCS#15 operation bit, card algo)
_SIGN, _HASH = 1, 6
ALGORITHMS = [
    (1, 0x0001, _SIGN, 0x02),   # CKM_RSA_PKCS, INTERNAL AUTHENTICATE
    (2, 0x0220, _HASH, 0x10),   # CKM_SHA_1
    (3, 0x0250, _HASH, 0x40),   # CKM_SHA256
    (4, 0x0006, _SIGN, 0x12),   # CKM_SHA1_RSA_PKCS, PSO CDS
    (5, 0x0040, _SIGN, 0x42),   # CKM_SHA256_RSA_PKCS, PSO CDS
]


@dataclass
class File:
    fid: int
    data: bytes = b""
    name: bytes = b""                       # DF name (AID), DFs only
    children: dict[int, "File"] = field(default_factory=dict)
    parent: "File | None" = None

    @property
    def is_df(self) -> bool:
        return self.fid == 0x3F00 or bool(self.name) or bool(self.children)

    def add(self, child: "File") -> "File":
        child.parent = self
        self.children[child.fid] = child
        return child

    def fcp(self) -> bytes:
        """FCP as IAS-ECC cards give it; OpenSC insists on the ACL template (A1/8C)."""
        if self.is_df:
            parts = [tlv(0x82, b"\x38"), tlv(0x83, self.fid.to_bytes(2, "big"))]
            if self.name:
                parts.append(tlv(0x84, self.name))
            # AMB 0: no operation on the DF itself is offered.
            parts += [tlv(0x8A, b"\x05"), tlv(0xA1, tlv(0x8C, b"\x00"))]
        else:
            # AMB 03: UPDATE never, READ always.
            parts = [tlv(0x80, len(self.data).to_bytes(2, "big")), tlv(0x82, b"\x01"),
                     tlv(0x83, self.fid.to_bytes(2, "big")), tlv(0x8A, b"\x05"),
                     tlv(0xA1, tlv(0x8C, b"\x03\xFF\x00"))]
        return tlv(0x62, *parts)


def ef_atr() -> bytes:
    # Pre-issuing data (IC maker, IC type, OS version, IAS-ECC version) and the IAS-ECC
    # I/O buffer sizes (send, send under SM, receive, receive under SM), each an INTEGER.
    sizes = b"".join(b"\x02\x02" + n.to_bytes(2, "big") for n in (0xFF, 0xFF, 0x100, 0x100))
    return tlv(0x43, b"\x19") + tlv(0x46, b"\x40\x25\x31\x10") + tlv(0xE0, sizes)


def ef_dir(label: str) -> bytes:
    return tlv(0x61, tlv(0x4F, CPS_AID), tlv(0x50, label.encode()),
               tlv(0x51, bytes.fromhex("3F00") + APP_DF.to_bytes(2, "big")))


def ef_sn(serial: str) -> bytes:
    """EF.SN (SFI 1C): an ISO 7812 PAN, BCD."""
    digits = ("80250" + serial).ljust(20, "F")[:20]
    return tlv(0x5A, bytes.fromhex(digits))


def token_info(serial: str, label: str) -> bytes:
    algos = [seq(integer(ref), integer(mech), b"\x05\x00", bits(op), integer(algo))
             for ref, mech, op, algo in ALGORITHMS]
    serial_bytes = bytes.fromhex(serial if len(serial) % 2 == 0 else "0" + serial)
    # tokenflags: readOnly, loginRequired (keys are private objects, shown after login).
    return seq(integer(0), octets(serial_bytes), utf8("ASIP Sante (simulated)"),
               tlv(0x80, label.encode()), bits(0, 1), tlv(0xA2, *algos))


def _pin(label: str, auth_id: int, parent_id: int | None, flags: tuple[int, ...],
         min_len: int, max_len: int, ref: int) -> bytes:
    common = [utf8(label)]
    if parent_id is not None:
        common += [bits(), octets(bytes([parent_id]))]
    # pinType ascii-numeric; storedLength = maxLength, no padding asked of OpenSC.
    attrs = seq(bits(*flags), tlv(0x0A, b"\x01"), integer(min_len), integer(max_len),
                integer(max_len), tlv(0x80, bytes([ref])))
    return seq(seq(*common), seq(octets(bytes([auth_id]))), tlv(0xA1, attrs))


def aodf() -> bytes:
    # PIN flags: case-sensitive(0), initialized(4); the PUK adds unblockingPin(6).
    # The user PIN's own authId names the PUK that unblocks it.
    return (_pin("Code porteur", PIN_REF, PUK_REF, (0, 4), 4, 8, PIN_REF)
            + _pin("Code de deblocage", PUK_REF, None, (0, 4, 6), 8, 8, PUK_REF))


def _prkey(label: str, ckid: bytes, usage: tuple[int, ...], ref: int, bits_len: int) -> bytes:
    common = seq(utf8(label), bits(0), octets(bytes([PIN_REF])))      # private, PIN-protected
    key = seq(octets(ckid), bits(*usage), bits(0, 2, 3), integer(0x80 | ref))
    path = bytes.fromhex("3F00") + APP_DF.to_bytes(2, "big")
    return seq(common, key, tlv(0xA1, seq(seq(octets(path)), integer(bits_len))))


def prkdf(auth_bits: int, sig_bits: int | None, nonrepudiation: bool = True) -> bytes:
    # usage: sign(2) for authentication; sign(2) + nonRepudiation(9) for signature.
    out = _prkey("CPS_PRIV_AUT", AUTH_ID, (2,), AUTH_KEY_REF, auth_bits)
    if sig_bits is not None:
        usage = (2, 9) if nonrepudiation else (2,)
        out += _prkey("CPS_PRIV_SIG", SIG_ID, usage, SIG_KEY_REF, sig_bits)
    return out


def _cert(label: str, ckid: bytes, fid: int) -> bytes:
    return seq(seq(utf8(label)), seq(octets(ckid)),
               tlv(0xA1, seq(seq(octets(fid.to_bytes(2, "big"))))))


AODF, PRKDF, CDF, AUTH_CERT, SIG_CERT = 0x7001, 0x7002, 0x7004, 0x7005, 0x7006


def odf() -> bytes:
    def ref(tag: int, fid: int) -> bytes:
        return tlv(tag, seq(octets(fid.to_bytes(2, "big"))))
    return ref(0xA0, PRKDF) + ref(0xA4, CDF) + ref(0xA8, AODF)


def cert_der(cert) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def build_tree(issued, token_label: str, sig_nonrepudiation: bool = True) -> File:
    """The MF with everything under it, for one holder."""
    serial = issued.spec.token_serial
    mf = File(0x3F00)
    mf.add(File(0x2F01, ef_atr()))
    mf.add(File(0x2F00, ef_dir("CPS3 PKCS#15")))
    mf.add(File(0xD003, ef_sn(serial)))
    app = mf.add(File(APP_DF, name=CPS_AID))
    sig = issued.sig_cert is not None
    app.add(File(0x5031, odf()))
    app.add(File(0x5032, token_info(serial, token_label)))
    app.add(File(AODF, aodf()))
    app.add(File(PRKDF, prkdf(issued.auth_key.key_size,
                              issued.sig_key.key_size if sig else None,
                              sig_nonrepudiation)))
    cdf = _cert("Certificat d'Authentification CPS", AUTH_ID, AUTH_CERT)
    app.add(File(AUTH_CERT, cert_der(issued.auth_cert)))
    if sig:
        cdf += _cert("Certificat de Signature CPS", SIG_ID, SIG_CERT)
        app.add(File(SIG_CERT, cert_der(issued.sig_cert)))
    app.add(File(CDF, cdf))
    return mf
