"""The project's test PKI: an IGC-Santé look-alike, made fresh for each test run.

Names mimic production ("AC RACINE IGC-SANTE FORT" -> "TEST AC RACINE IGC-SANTE FORT",
OU "IGC-SANTE TEST") so that code reading real certificates reads these the same way.
Holder certificates follow the IGC-Santé profile: a multi-valued RDN CN=idNat + SN + GN,
then title, then C=FR; the authentication certificate has digitalSignature +
keyEncipherment, the signature certificate nonRepudiation only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

UTC = dt.timezone.utc
# The test PKI's certificate policies, one per card type (a private 2.25 arc). Hosts and
# verifiers learn them as production ones learn IGC-Santé's: by configuration (the host's
# `cardTypePolicies`, softcard.SoftHsm.env; the verifier's `card_type_policies`).
CARD_TYPE_POLICIES: dict[str, str] = {
    "2.25.258118230373226431806513622463526384673.1": "CPS",
    "2.25.258118230373226431806513622463526384673.2": "CPF",
    "2.25.258118230373226431806513622463526384673.3": "CPE",
    "2.25.258118230373226431806513622463526384673.4": "CPA",
    "2.25.258118230373226431806513622463526384673.5": "CDE",
}
PolicyOid = {card_type: oid for oid, card_type in CARD_TYPE_POLICIES.items()}


def _now() -> dt.datetime:
    return dt.datetime.now(UTC).replace(microsecond=0)


def _ca_name(cn: str) -> x509.Name:
    return x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "FR"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ASIP-SANTE"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "0002 187512751"),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IGC-SANTE TEST"),
        x509.NameAttribute(NameOID.COMMON_NAME, cn),
    ])


def holder_name(id_nat: str, family: str, given: str, title: str) -> x509.Name:
    return x509.Name([
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.COUNTRY_NAME, "FR")]),
        x509.RelativeDistinguishedName([x509.NameAttribute(NameOID.TITLE, title)]),
        x509.RelativeDistinguishedName([
            x509.NameAttribute(NameOID.COMMON_NAME, id_nat),
            x509.NameAttribute(NameOID.SURNAME, family),
            x509.NameAttribute(NameOID.GIVEN_NAME, given),
        ]),
    ])


def new_key(kind: str):
    if kind == "rsa2048":
        return rsa.generate_private_key(public_exponent=65537, key_size=2048)
    if kind == "p256":
        return ec.generate_private_key(ec.SECP256R1())
    if kind == "p384":
        return ec.generate_private_key(ec.SECP384R1())
    raise ValueError(kind)


def key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def der(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.DER)


def fingerprint(cert: x509.Certificate) -> str:
    return hashlib.sha256(der(cert)).hexdigest()


@dataclass(frozen=True)
class HolderSpec:
    """Who a software card belongs to. idNat = '8' + RPPS, or '0' + ADELI."""

    slug: str
    id_nat: str
    family: str
    given: str
    title: str
    card_type: str = "CPS"
    key_kind: str = "rsa2048"
    token_serial: str = "2900995266"
    valid_days: tuple[int, int] = (-30, 3 * 365)  # notBefore, notAfter relative to now
    signature_certificate: bool = True


# The cast of the test bed. RPPS numbers in the 997… range, like the ANS test cards.
HOLDERS: dict[str, HolderSpec] = {h.slug: h for h in [
    HolderSpec("dupont", "899700367917", "DUPONT", "JEAN", "Médecin", "CPS",
               token_serial="2900995266"),
    HolderSpec("martin", "0751234567", "MARTIN", "CLAIRE", "Infirmier", "CPS",
               token_serial="2900995267"),
    HolderSpec("bernard", "899700412345", "BERNARD", "LUC", "Médecin", "CPS",
               token_serial="2900995268"),
    HolderSpec("petit", "3750100125/4521", "PETIT", "SOPHIE", "Secrétaire médicale", "CPE",
               token_serial="2900995269", signature_certificate=False),
    HolderSpec("expire", "899700555555", "ANCIEN", "PAUL", "Médecin", "CPS",
               token_serial="2900995270", valid_days=(-4 * 365, -2)),
    HolderSpec("robert", "899700666666", "ROBERT", "ALICE", "Pharmacien", "CPS",
               key_kind="p256", token_serial="2900995271"),
]}


@dataclass
class Issued:
    spec: HolderSpec
    auth_key: object
    auth_cert: x509.Certificate
    sig_key: object | None = None
    sig_cert: x509.Certificate | None = None

    @property
    def certificate_id(self) -> str:
        return fingerprint(self.auth_cert)


@dataclass
class TestPKI:
    """Root -> intermediate -> holders. URLs for OCSP/CRL point at whatever base the
    caller gives (the verifier's tests run real responders there)."""

    root_key: object
    root_cert: x509.Certificate
    ca_key: object
    ca_cert: x509.Certificate
    base_url: str
    holders: dict[str, Issued] = field(default_factory=dict)

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    @property
    def crl_url(self) -> str:
        return f"{self.base_url}/crl/ac-fort-personnes.crl"

    @property
    def ca_issuers_url(self) -> str:
        return f"{self.base_url}/aia/ac-fort-personnes.der"

    @classmethod
    def create(cls, base_url: str = "http://127.0.0.1:1") -> "TestPKI":
        now = _now()
        root_key = new_key("rsa2048")
        root_name = _ca_name("TEST AC RACINE IGC-SANTE FORT")
        root = (x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
                .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=365))
                .not_valid_after(now + dt.timedelta(days=20 * 365))
                .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                .add_extension(_ca_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(root_key.public_key()),
                               critical=False)
                .sign(root_key, hashes.SHA256()))
        ca_key = new_key("rsa2048")
        ca = cls._sub_ca(root, root_key, ca_key, "TEST AC IGC-SANTE FORT PERSONNES", now)
        pki = cls(root_key, root, ca_key, ca, base_url.rstrip("/"))
        for spec in HOLDERS.values():
            pki.issue(spec)
        return pki

    @staticmethod
    def _sub_ca(root, root_key, ca_key, cn: str, now: dt.datetime) -> x509.Certificate:
        return (x509.CertificateBuilder().subject_name(_ca_name(cn)).issuer_name(root.subject)
                .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(days=300))
                .not_valid_after(now + dt.timedelta(days=10 * 365))
                .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
                .add_extension(_ca_usage(), critical=True)
                .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()),
                               critical=False)
                .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                    root_key.public_key()), critical=False)
                .sign(root_key, hashes.SHA256()))

    def issue(self, spec: HolderSpec) -> Issued:
        auth_key = new_key(spec.key_kind)
        auth = self.holder_certificate(spec, auth_key.public_key(), signature=False)
        issued = Issued(spec, auth_key, auth)
        if spec.signature_certificate:
            issued.sig_key = new_key(spec.key_kind)
            issued.sig_cert = self.holder_certificate(spec, issued.sig_key.public_key(),
                                                      signature=True)
        self.holders[spec.slug] = issued
        return issued

    def holder_certificate(self, spec: HolderSpec, public_key, *, signature: bool,
                           issuer_key=None, issuer_cert=None, key_usage=None,
                           not_before: dt.datetime | None = None,
                           not_after: dt.datetime | None = None) -> x509.Certificate:
        """One holder certificate; keyword overrides let tests craft wrong ones
        (look-alike issuer, wrong usage, odd dates)."""
        now = _now()
        issuer_key = issuer_key or self.ca_key
        issuer_cert = issuer_cert or self.ca_cert
        if key_usage is None:
            key_usage = _usage(non_repudiation=True) if signature else _usage(
                digital_signature=True, key_encipherment=not isinstance(public_key, ec.EllipticCurvePublicKey))
        b = (x509.CertificateBuilder()
             .subject_name(holder_name(spec.id_nat, spec.family, spec.given, spec.title))
             .issuer_name(issuer_cert.subject).public_key(public_key)
             .serial_number(x509.random_serial_number())
             .not_valid_before(not_before or now + dt.timedelta(days=spec.valid_days[0]))
             .not_valid_after(not_after or now + dt.timedelta(days=spec.valid_days[1]))
             .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
             .add_extension(key_usage, critical=True)
             .add_extension(x509.CertificatePolicies([x509.PolicyInformation(
                 x509.ObjectIdentifier(PolicyOid[spec.card_type]), None)]), critical=False)
             .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(
                 issuer_cert.public_key()), critical=False)
             .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
             .add_extension(x509.AuthorityInformationAccess([
                 x509.AccessDescription(AuthorityInformationAccessOID.OCSP,
                                        x509.UniformResourceIdentifier(self.ocsp_url)),
                 x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS,
                                        x509.UniformResourceIdentifier(self.ca_issuers_url))]),
                 critical=False)
             .add_extension(x509.CRLDistributionPoints([x509.DistributionPoint(
                 [x509.UniformResourceIdentifier(self.crl_url)], None, None, None)]),
                 critical=False))
        if not signature:
            b = b.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]),
                                critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def lookalike_ca(self) -> tuple[object, x509.Certificate]:
        """A CA with the very same name as the real intermediate but another key:
        what a chain check by name alone would wrongly accept."""
        key = new_key("rsa2048")
        fake_root_key = new_key("rsa2048")
        cert = self._sub_ca(self.root_cert, fake_root_key, key, "TEST AC IGC-SANTE FORT PERSONNES",
                            _now())
        return key, cert

    # -- files -------------------------------------------------------------------------

    def write(self, directory: Path) -> Path:
        """trust/ holds the anchors (root and intermediate, DER); holders/<slug>/ the
        holder material; card-type-policies.json the card types of its policy OIDs (for
        `server.verify --card-type-policies`); pki.json an index for other processes."""
        directory.mkdir(parents=True, exist_ok=True)
        trust = directory / "trust"
        trust.mkdir(exist_ok=True)
        (trust / "test-acr-fort.der").write_bytes(der(self.root_cert))
        (trust / "test-ac-fort-personnes.der").write_bytes(der(self.ca_cert))
        (directory / "ca-key.pem").write_bytes(key_pem(self.ca_key))
        (directory / "ca.der").write_bytes(der(self.ca_cert))
        (directory / "card-type-policies.json").write_text(json.dumps(CARD_TYPE_POLICIES))
        index = {"baseUrl": self.base_url, "trust": str(trust), "holders": {}}
        for slug, h in self.holders.items():
            d = directory / "holders" / slug
            d.mkdir(parents=True, exist_ok=True)
            (d / "auth-key.pem").write_bytes(key_pem(h.auth_key))
            (d / "auth-cert.der").write_bytes(der(h.auth_cert))
            if h.sig_cert is not None:
                (d / "sig-key.pem").write_bytes(key_pem(h.sig_key))
                (d / "sig-cert.der").write_bytes(der(h.sig_cert))
            index["holders"][slug] = {"certificateId": h.certificate_id, "idNat": h.spec.id_nat,
                                      "dir": str(d)}
        (directory / "pki.json").write_text(json.dumps(index, indent=2))
        return directory


def _ca_usage() -> x509.KeyUsage:
    return x509.KeyUsage(digital_signature=False, content_commitment=False,
                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                         decipher_only=False)


def _usage(*, digital_signature=False, non_repudiation=False, key_encipherment=False):
    return x509.KeyUsage(digital_signature=digital_signature, content_commitment=non_repudiation,
                         key_encipherment=key_encipherment, data_encipherment=False,
                         key_agreement=False, key_cert_sign=False, crl_sign=False,
                         encipher_only=False, decipher_only=False)
