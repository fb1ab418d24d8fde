"""Software CPS cards: SoftHSM2 tokens laid out as the Cryptolib CPS shows a CPS3.

- token label `CPS3v3-<serial>`, one user PIN (code porteur, 4 digits), SO PIN 8 digits;
- private keys `CPS_PRIV_AUT` (CKA_ID E828BD080F8025000001FF0010 + 02) and `CPS_PRIV_SIG`
  (same prefix + 01), private objects, so visible only after login;
- certificates "Certificat d'Authentification CPS" / "Certificat de Signature CPS" with
  the same CKA_IDs, public;
- no public-key objects (unlike `softhsm2-util --import`, which we therefore avoid: keys
  are created through PKCS#11 directly).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from tests.testbed.pki import CARD_TYPE_POLICIES, Issued, TestPKI, der, key_pem

SOFTHSM_MODULE = "/usr/lib/softhsm/libsofthsm2.so"
CPS_ID_PREFIX = bytes.fromhex("E828BD080F8025000001FF0010")
AUTH_ID = CPS_ID_PREFIX + b"\x02"
SIG_ID = CPS_ID_PREFIX + b"\x01"
DEFAULT_PIN = "1234"
DEFAULT_SO_PIN = "12345678"


def require_softhsm() -> None:
    if not Path(SOFTHSM_MODULE).exists():
        raise RuntimeError(f"SoftHSM2 is missing: {SOFTHSM_MODULE} (Debian package softhsm2; "
                           "./run setup installs it)")


@dataclass
class SoftHsm:
    """A SoftHSM2 store of its own (own config, own token folder)."""

    root: Path
    cards: dict[str, str] = field(default_factory=dict)  # slug -> token label

    @property
    def conf(self) -> Path:
        return self.root / "softhsm2.conf"

    @property
    def module(self) -> str:
        return SOFTHSM_MODULE

    @property
    def host_config(self) -> Path:
        """A host user config naming the test PKI's card types, as IT would configure the
        IGC-Santé ones (`cardTypePolicies`)."""
        return self.root / "host-config.json"

    def env(self) -> dict[str, str]:
        """What a host process needs to see these cards, only these, and their card types."""
        return {"SOFTHSM2_CONF": str(self.conf), "CPSBRIDGE_PKCS11_MODULE": SOFTHSM_MODULE,
                "CPSBRIDGE_USER_CONFIG": str(self.host_config)}

    @classmethod
    def create(cls, root: Path) -> "SoftHsm":
        require_softhsm()
        tokens = root / "tokens"
        tokens.mkdir(parents=True, exist_ok=True)
        (root / "softhsm2.conf").write_text(
            f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n"
            "slots.removable = true\n")
        hsm = cls(root)
        hsm.host_config.write_text(json.dumps({"cardTypePolicies": CARD_TYPE_POLICIES}))
        return hsm

    def _util(self, *args: str) -> None:
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        subprocess.run(["softhsm2-util", *args], env=env, check=True, capture_output=True)

    def add_card(self, issued: Issued, *, pin: str = DEFAULT_PIN,
                 so_pin: str = DEFAULT_SO_PIN, label: str | None = None) -> str:
        label = label or f"CPS3v3-{issued.spec.token_serial}"
        self._util("--init-token", "--free", "--label", label, "--pin", pin, "--so-pin", so_pin)
        # Objects are written by a child process: SoftHSM2 reads SOFTHSM2_CONF once per
        # process, and the caller may have loaded another store already.
        staged = self.root / "staged" / label
        staged.mkdir(parents=True, exist_ok=True)
        (staged / "auth-key.pem").write_bytes(key_pem(issued.auth_key))
        (staged / "auth-cert.der").write_bytes(der(issued.auth_cert))
        if issued.sig_cert is not None:
            (staged / "sig-key.pem").write_bytes(key_pem(issued.sig_key))
            (staged / "sig-cert.der").write_bytes(der(issued.sig_cert))
        env = dict(os.environ, SOFTHSM2_CONF=str(self.conf))
        repo = Path(__file__).resolve().parents[2]
        r = subprocess.run([sys.executable, "-m", "tests.testbed.softcard", str(staged), label, pin],
                           env=env, cwd=repo, capture_output=True, text=True)
        if r.returncode != 0:
            raise RuntimeError(f"writing card {label} failed: {r.stderr[-2000:]}")
        for f in staged.iterdir():
            f.unlink()
        staged.rmdir()
        self.cards[issued.spec.slug] = label
        return label


def make_cards(root: Path, pki: TestPKI, slugs: list[str] | None = None) -> SoftHsm:
    hsm = SoftHsm.create(root)
    for slug in slugs or list(pki.holders):
        hsm.add_card(pki.holders[slug])
    return hsm


def _put_private_key(session, key, ckid: bytes, label: str) -> None:
    from pkcs11 import Attribute, KeyType, ObjectClass

    common = {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.TOKEN: True,
              Attribute.PRIVATE: True, Attribute.SENSITIVE: True, Attribute.EXTRACTABLE: False,
              Attribute.SIGN: True, Attribute.ID: ckid, Attribute.LABEL: label}
    if isinstance(key, rsa.RSAPrivateKey):
        n = key.private_numbers()
        pub = n.public_numbers
        attrs = {Attribute.KEY_TYPE: KeyType.RSA, Attribute.DECRYPT: True,
                 Attribute.MODULUS: _b(pub.n), Attribute.PUBLIC_EXPONENT: _b(pub.e),
                 Attribute.PRIVATE_EXPONENT: _b(n.d), Attribute.PRIME_1: _b(n.p),
                 Attribute.PRIME_2: _b(n.q), Attribute.EXPONENT_1: _b(n.dmp1),
                 Attribute.EXPONENT_2: _b(n.dmq1), Attribute.COEFFICIENT: _b(n.iqmp)}
    elif isinstance(key, ec.EllipticCurvePrivateKey):
        from pkcs11.util.ec import encode_named_curve_parameters

        curve = {"secp256r1": "secp256r1", "secp384r1": "secp384r1"}[key.curve.name]
        size = (key.curve.key_size + 7) // 8
        attrs = {Attribute.KEY_TYPE: KeyType.EC,
                 Attribute.EC_PARAMS: encode_named_curve_parameters(curve),
                 Attribute.VALUE: key.private_numbers().private_value.to_bytes(size, "big")}
    else:
        raise TypeError(type(key))
    session.create_object({**common, **attrs})


def _put_certificate(session, cert_der: bytes, ckid: bytes, label: str) -> None:
    from pkcs11 import Attribute, CertificateType, ObjectClass
    from cryptography import x509

    cert = x509.load_der_x509_certificate(cert_der)
    session.create_object({
        Attribute.CLASS: ObjectClass.CERTIFICATE, Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
        Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.ID: ckid,
        Attribute.LABEL: label, Attribute.VALUE: cert_der,
        Attribute.SUBJECT: cert.subject.public_bytes(), Attribute.ISSUER: cert.issuer.public_bytes(),
        Attribute.SERIAL_NUMBER: _der_int(cert.serial_number)})


def _b(i: int) -> bytes:
    return i.to_bytes((i.bit_length() + 7) // 8 or 1, "big")


def _der_int(i: int) -> bytes:
    body = i.to_bytes((i.bit_length() + 8) // 8, "big")
    return bytes([0x02, len(body)]) + body


def public_key_pem(issued: Issued) -> bytes:
    return issued.auth_cert.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def _write_staged(staged: Path, label: str, pin: str) -> None:
    """Child-process side of add_card: put the staged objects on the token."""
    import pkcs11

    lib = pkcs11.lib(SOFTHSM_MODULE)
    token = lib.get_token(token_label=label)
    with token.open(rw=True, user_pin=pin) as session:
        for kind, ckid, key_label, cert_label in (
                ("auth", AUTH_ID, "CPS_PRIV_AUT", "Certificat d'Authentification CPS"),
                ("sig", SIG_ID, "CPS_PRIV_SIG", "Certificat de Signature CPS")):
            if not (staged / f"{kind}-key.pem").exists():
                continue
            key = serialization.load_pem_private_key((staged / f"{kind}-key.pem").read_bytes(), None)
            _put_private_key(session, key, ckid, key_label)
            _put_certificate(session, (staged / f"{kind}-cert.der").read_bytes(), ckid, cert_label)


if __name__ == "__main__":
    _write_staged(Path(sys.argv[1]), sys.argv[2], sys.argv[3])
