"""Step 6: the signature over M = H(origin) || H(nonce) (§5), the algorithm matching the key."""

from __future__ import annotations

import hashlib

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from server.verify.outcome import Rejected

_CURVES = {"ES256": (ec.SECP256R1, 32), "ES384": (ec.SECP384R1, 48)}


def signed_message(origin: str, nonce: str, algorithm: str) -> bytes:
    h = hashlib.sha384 if algorithm == "ES384" else hashlib.sha256
    return h(origin.encode("utf-8")).digest() + h(nonce.encode("utf-8")).digest()


def check_signature(public_key, algorithm: str, signature: bytes, message: bytes) -> None:
    try:
        if algorithm in ("RS256", "PS256"):
            if not isinstance(public_key, rsa.RSAPublicKey):
                raise Rejected("SIGNATURE_INVALID", f"{algorithm} with a non-RSA key")
            pad = (padding.PKCS1v15() if algorithm == "RS256" else
                   padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=32))
            public_key.verify(signature, message, pad, hashes.SHA256())
            return
        curve, size = _CURVES[algorithm]
        if not (isinstance(public_key, ec.EllipticCurvePublicKey)
                and isinstance(public_key.curve, curve)):
            raise Rejected("SIGNATURE_INVALID", f"{algorithm} needs a {curve.name} key")
        if len(signature) != 2 * size:
            raise Rejected("SIGNATURE_INVALID", f"{algorithm} signature is not r||s of {2 * size} bytes")
        r = int.from_bytes(signature[:size], "big")
        s = int.from_bytes(signature[size:], "big")
        digest = hashes.SHA384() if algorithm == "ES384" else hashes.SHA256()
        public_key.verify(encode_dss_signature(r, s), message, ec.ECDSA(digest))
    except InvalidSignature:
        raise Rejected("SIGNATURE_INVALID", "signature does not verify") from None
