"""Trust anchors: loading from folders of PEM/DER files, and the shipped IGC-Santé CAs."""

from __future__ import annotations

import hashlib
import re
from datetime import datetime, timedelta, timezone

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from server.verify import DEFAULT_TRUST_DIR, card_trust_anchors, load_trust_anchors
from server.verify.chain import ChainValidator
from tests.testbed.pki import der


def test_shipped_anchors_match_their_readme():
    readme = (DEFAULT_TRUST_DIR / "README.md").read_text()
    table = dict(re.findall(r"^\| (\S+\.cer) \| .+? \| `([0-9a-f]{64})` \|$", readme, re.M))
    files = {p.name: hashlib.sha256(p.read_bytes()).hexdigest()
             for p in DEFAULT_TRUST_DIR.glob("*.cer")}
    assert len(files) == 9
    assert table == files


def test_shipped_anchors_load_and_chain():
    """Every IGC-Santé intermediate validates under its root with the verifier's own path
    validation (so the production profile is one the verifier accepts)."""
    anchors = load_trust_anchors(DEFAULT_TRUST_DIR)
    assert len(anchors) == 9
    names = {a.subject.rfc4514_string() for a in anchors}
    assert any("CN=AC IGC-SANTE FORT PERSONNES" in n for n in names)
    roots = [a for a in anchors if a.subject == a.issuer]
    intermediates = [a for a in anchors if a.subject != a.issuer]
    assert len(roots) == 3 and len(intermediates) == 6
    validator = ChainValidator(roots, http_timeout=1.0, fetch_intermediates=False)
    now = datetime.now(timezone.utc)
    for ca in intermediates:
        chain = validator.validate(ca, der(ca), now, timedelta(0))
        assert chain[-1].subject == ca.issuer


def test_pem_der_and_bundles(pki, tmp_path):
    pem = serialization.Encoding.PEM
    (tmp_path / "root.pem").write_bytes(pki.root_cert.public_bytes(pem))
    (tmp_path / "ca.der").write_bytes(der(pki.ca_cert))
    (tmp_path / "notes.txt").write_text("ignored")
    assert {a.subject for a in load_trust_anchors(tmp_path)} == {pki.root_cert.subject,
                                                                pki.ca_cert.subject}
    bundle = tmp_path / "bundle" / "all.crt"
    bundle.parent.mkdir()
    bundle.write_bytes(pki.root_cert.public_bytes(pem) + pki.ca_cert.public_bytes(pem))
    assert len(load_trust_anchors(bundle.parent)) == 2
    assert len(load_trust_anchors(bundle)) == 2


@pytest.mark.parametrize("setup,message", [
    (lambda d: None, "no CA certificate"),
    (lambda d: (d / "x.pem").write_text("garbage"), "not a readable"),
    (lambda d: (d / "x.der").write_bytes(b"\x30\x03\x02\x01\x00"), "not a readable"),
])
def test_unusable_folders(tmp_path, setup, message):
    setup(tmp_path)
    with pytest.raises(ValueError, match=message):
        load_trust_anchors(tmp_path)


def test_missing_folder_and_holder_certificates(pki, tmp_path):
    with pytest.raises(ValueError, match="neither a folder nor a file"):
        load_trust_anchors(tmp_path / "missing")
    (tmp_path / "holder.der").write_bytes(der(pki.holders["dupont"].auth_cert))
    with pytest.raises(ValueError, match="not a CA"):
        load_trust_anchors(tmp_path)


def test_a_card_login_trusts_the_fort_personnes_chain_only():
    """What a CPS card's authentication certificate chains to, and nothing of the software
    (STANDARD, ELEMENTAIRE) or server (ORGANISATIONS) ranges."""
    names = sorted(a.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
                   for a in card_trust_anchors())
    assert names == ["AC IGC-SANTE FORT PERSONNES", "AC RACINE IGC-SANTE FORT"]
