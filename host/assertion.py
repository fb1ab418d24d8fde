"""The signed assertion of §5: M = H(origin) || H(challengeNonce), and the token."""

from __future__ import annotations

import base64
import hashlib

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start

from host import __version__

if TYPE_CHECKING:
    from host.card import Signature

TOKEN_FORMAT = "cpsbridge:1"


def signed_message(origin: str, nonce: str, hash_name: str = "sha256") -> bytes:
    h = getattr(hashlib, hash_name)
    return h(origin.encode("utf-8")).digest() + h(nonce.encode("utf-8")).digest()


def token(signature: "Signature") -> dict[str, str]:
    return {"format": TOKEN_FORMAT,
            "unverifiedCertificate": base64.b64encode(signature.certificate).decode(),
            "algorithm": signature.algorithm,
            "signature": base64.b64encode(signature.value).decode(),
            "appVersion": __version__}
