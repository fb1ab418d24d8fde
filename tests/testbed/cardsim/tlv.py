"""BER-TLV building blocks for the simulated card's files and answers (definite lengths only)."""

from __future__ import annotations


def length(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    if n < 0x100:
        return bytes([0x81, n])
    return bytes([0x82, n >> 8, n & 0xFF])


def tlv(tag: int, *parts: bytes) -> bytes:
    """One TLV; `tag` may be one or two bytes (0x7F41, 0xBF90…), or three (0xBF8101)."""
    body = b"".join(parts)
    size = (tag.bit_length() + 7) // 8 or 1
    return tag.to_bytes(size, "big") + length(len(body)) + body


def integer(value: int) -> bytes:
    """DER INTEGER (two's complement, minimal)."""
    body = value.to_bytes(max(1, (value.bit_length() + 8) // 8), "big", signed=True)
    return tlv(0x02, body)


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def utf8(text: str) -> bytes:
    return tlv(0x0C, text.encode())


def bits(*positions: int) -> bytes:
    """DER BIT STRING with the named bits set (bit 0 = most significant of the first byte),
    as PKCS#15 flag fields are written."""
    if not positions:
        return tlv(0x03, b"\x00")
    top = max(positions)
    nbytes = top // 8 + 1
    value = bytearray(nbytes)
    for p in positions:
        value[p // 8] |= 0x80 >> (p % 8)
    unused = nbytes * 8 - (top + 1)
    return tlv(0x03, bytes([unused]) + bytes(value))


def seq(*parts: bytes) -> bytes:
    return tlv(0x30, *parts)


def parse(data: bytes) -> list[tuple[int, bytes]]:
    """Top-level TLVs of `data` as (tag, value); tags of one or two bytes."""
    out, i = [], 0
    while i < len(data):
        tag = data[i]
        i += 1
        if tag & 0x1F == 0x1F:
            tag = (tag << 8) | data[i]
            i += 1
        n = data[i]
        i += 1
        if n == 0x81:
            n, i = data[i], i + 1
        elif n == 0x82:
            n, i = (data[i] << 8) | data[i + 1], i + 2
        out.append((tag, data[i:i + n]))
        i += n
    return out
