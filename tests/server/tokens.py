"""Tokens built the §5 way from the test PKI's holder keys (what the host does on a card)."""

from __future__ import annotations

import base64
import hashlib

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

from tests.testbed.pki import der

ORIGIN = "https://localhost:8443"


def message(origin: str, nonce: str, algorithm: str) -> bytes:
    # Written independently of server.verify.signature so that a mistake there shows.
    h = hashlib.sha384 if algorithm == "ES384" else hashlib.sha256
    return h(origin.encode()).digest() + h(nonce.encode()).digest()


def sign(key, algorithm: str, data: bytes) -> bytes:
    if algorithm == "RS256":
        return key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    if algorithm == "PS256":
        return key.sign(data, padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32),
                        hashes.SHA256())
    digest, size = (hashes.SHA384(), 48) if algorithm == "ES384" else (hashes.SHA256(), 32)
    r, s = decode_dss_signature(key.sign(data, ec.ECDSA(digest)))
    return r.to_bytes(size, "big") + s.to_bytes(size, "big")


def make_token(key, cert, nonce: str, origin: str = ORIGIN, algorithm: str | None = None,
               signed_origin: str | None = None, signed_nonce: str | None = None) -> dict:
    if algorithm is None:
        algorithm = "ES256" if isinstance(key, ec.EllipticCurvePrivateKey) else "RS256"
    data = message(signed_origin or origin, signed_nonce or nonce, algorithm)
    return {"format": "cpsbridge:1",
            "unverifiedCertificate": base64.b64encode(der(cert)).decode(),
            "algorithm": algorithm,
            "signature": base64.b64encode(sign(key, algorithm, data)).decode(),
            "appVersion": "1.2.0"}
