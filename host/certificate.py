"""The few fields of an X.509 certificate that the host needs, read from DER.

The host shows who a card belongs to and must never offer a signature (nonRepudiation)
certificate; it validates nothing (the site's verifier does, with `cryptography`). It
reads the subject, validity, keyUsage, certificate policies and the key type itself
because importing `cryptography.x509` costs ~45 ms and ~18 MB in a process that often
lives for one request. tests/host/test_certificate.py checks every field against
`cryptography` on generated certificates.
"""

from __future__ import annotations

_SEQUENCE, _SET, _OID, _BOOLEAN, _OCTETS, _BITS, _INTEGER = 0x30, 0x31, 0x06, 0x01, 0x04, 0x03, 0x02
_UTC_TIME, _GENERALIZED_TIME = 0x17, 0x18
_STRINGS = {0x0C: "utf-8", 0x13: "ascii", 0x16: "ascii", 0x14: "latin-1", 0x1E: "utf-16-be",
            0x1C: "utf-32-be", 0x12: "ascii"}
_KEY_USAGE, _POLICIES = "2.5.29.15", "2.5.29.32"
_RSA, _EC = "1.2.840.113549.1.1.1", "1.2.840.10045.2.1"
_CURVES = {"1.2.840.10045.3.1.7": "secp256r1", "1.3.132.0.34": "secp384r1",
           "1.3.132.0.35": "secp521r1"}
KEY_USAGE_BITS = ("digitalSignature", "nonRepudiation", "keyEncipherment", "dataEncipherment",
                  "keyAgreement", "keyCertSign", "cRLSign", "encipherOnly", "decipherOnly")


class CertificateError(ValueError):
    pass


class Fields:
    """What host/holder.py and list-certificates need."""

    __slots__ = ("subject", "not_before", "not_after", "key_usage", "policies", "key_type", "curve")

    def __init__(self, subject, not_before, not_after, key_usage, policies, key_type, curve):
        self.subject: list[list[tuple[str, str]]] = subject
        self.not_before: str = not_before  # ISO 8601, UTC, "Z"
        self.not_after: str = not_after
        self.key_usage: frozenset[str] | None = key_usage  # None: no keyUsage extension
        self.policies: list[str] = policies
        self.key_type: str = key_type  # "rsa", "ec" or "other"
        self.curve: str | None = curve

    @property
    def for_authentication(self) -> bool:
        """keyUsage digitalSignature. No keyUsage at all: not provably for login."""
        return self.key_usage is not None and "digitalSignature" in self.key_usage


def _read(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, start of value, end of value) of the TLV at pos; DER definite lengths only."""
    if pos + 2 > end:
        raise CertificateError("truncated")
    tag, first = data[pos], data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + count > end:
            raise CertificateError("bad length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > end:
        raise CertificateError("truncated value")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int):
    pos = start
    while pos < end:
        tag, s, e = _read(data, pos, end)
        yield tag, s, e
        pos = e


def _expect(data: bytes, pos: int, end: int, tag: int) -> tuple[int, int]:
    t, s, e = _read(data, pos, end)
    if t != tag:
        raise CertificateError(f"expected tag {tag:#x}, found {t:#x}")
    return s, e


def _oid(raw: bytes) -> str:
    if not raw:
        raise CertificateError("empty OID")
    parts, value = [], 0
    for i, b in enumerate(raw):
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
        elif i == len(raw) - 1:
            raise CertificateError("bad OID")
    first = parts[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(p) for p in head + parts[1:])


def _time(tag: int, raw: bytes) -> str:
    text = raw.decode("ascii")
    if tag == _UTC_TIME and len(text) == 13 and text.endswith("Z"):
        year = int(text[:2])
        text = f"{1900 + year if year >= 50 else 2000 + year}{text[2:]}"
    elif not (tag == _GENERALIZED_TIME and len(text) == 15 and text.endswith("Z")):
        raise CertificateError("bad time")
    if not text[:14].isdigit():
        raise CertificateError("bad time")
    return f"{text[0:4]}-{text[4:6]}-{text[6:8]}T{text[8:10]}:{text[10:12]}:{text[12:14]}Z"


def _name(data: bytes, start: int, end: int) -> list[list[tuple[str, str]]]:
    rdns = []
    for tag, s, e in _children(data, start, end):
        if tag != _SET:
            raise CertificateError("bad RDN")
        rdn = []
        for atag, a_s, a_e in _children(data, s, e):
            if atag != _SEQUENCE:
                raise CertificateError("bad attribute")
            o_s, o_e = _expect(data, a_s, a_e, _OID)
            vtag, v_s, v_e = _read(data, o_e, a_e)
            encoding = _STRINGS.get(vtag)
            if encoding is None:
                raise CertificateError(f"unsupported string type {vtag:#x}")
            rdn.append((_oid(data[o_s:o_e]), data[v_s:v_e].decode(encoding)))
        rdns.append(rdn)
    return rdns


def _key_usage(raw: bytes) -> frozenset[str]:
    tag, s, e = _read(raw, 0, len(raw))
    if tag != _BITS or e - s < 1:
        raise CertificateError("bad keyUsage")
    bits = raw[s + 1:e]
    return frozenset(name for i, name in enumerate(KEY_USAGE_BITS)
                     if i // 8 < len(bits) and bits[i // 8] & (0x80 >> (i % 8)))


def _policies(raw: bytes) -> list[str]:
    s, e = _expect(raw, 0, len(raw), _SEQUENCE)
    out = []
    for tag, p_s, p_e in _children(raw, s, e):
        o_s, o_e = _expect(raw, p_s, p_e, _OID)
        out.append(_oid(raw[o_s:o_e]))
    return out


def read(der: bytes) -> Fields:
    """Raises CertificateError (a ValueError) on anything that is not a DER certificate."""
    try:
        return _read_certificate(bytes(der))
    except CertificateError:
        raise
    except (IndexError, UnicodeDecodeError, ValueError) as exc:
        raise CertificateError(str(exc)) from None


def _read_certificate(der: bytes) -> Fields:
    c_s, c_e = _expect(der, 0, len(der), _SEQUENCE)
    t_s, t_e = _expect(der, c_s, c_e, _SEQUENCE)
    items = list(_children(der, t_s, t_e))
    if items and items[0][0] == 0xA0:  # [0] EXPLICIT version
        items = items[1:]
    if len(items) < 6:
        raise CertificateError("short tbsCertificate")
    serial, _sig_alg, issuer, validity, subject, spki = items[:6]
    if serial[0] != _INTEGER or issuer[0] != _SEQUENCE or subject[0] != _SEQUENCE:
        raise CertificateError("bad tbsCertificate")
    times = list(_children(der, validity[1], validity[2]))
    if len(times) != 2:
        raise CertificateError("bad validity")
    not_before, not_after = (_time(t, der[s:e]) for t, s, e in times)
    alg_s, alg_e = _expect(der, spki[1], spki[2], _SEQUENCE)
    o_s, o_e = _expect(der, alg_s, alg_e, _OID)
    key_oid = _oid(der[o_s:o_e])
    key_type, curve = ("rsa", None) if key_oid == _RSA else ("ec", None) if key_oid == _EC else ("other", None)
    if key_type == "ec":
        p_tag, p_s, p_e = _read(der, o_e, alg_e)
        curve = _CURVES.get(_oid(der[p_s:p_e])) if p_tag == _OID else None
    key_usage, policies = None, []
    for tag, s, e in items[6:]:
        if tag != 0xA3:  # [3] EXPLICIT extensions
            continue
        x_s, x_e = _expect(der, s, e, _SEQUENCE)
        for xtag, xs, xe in _children(der, x_s, x_e):
            parts = list(_children(der, xs, xe))
            if xtag != _SEQUENCE or len(parts) not in (2, 3) or parts[0][0] != _OID:
                raise CertificateError("bad extension")
            oid = _oid(der[parts[0][1]:parts[0][2]])
            vtag, vs, ve = parts[-1]
            if vtag != _OCTETS:
                raise CertificateError("bad extension value")
            if oid == _KEY_USAGE:
                key_usage = _key_usage(der[vs:ve])
            elif oid == _POLICIES:
                policies = _policies(der[vs:ve])
    return Fields(_name(der, subject[1], subject[2]), not_before, not_after, key_usage,
                  policies, key_type, curve)
