"""OpenSC's own tool reads the simulated CPS3 through pcscd as it would read a real one."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, utils

from tests.testbed.cardsim.layout import AUTH_ID, SIG_ID
from tests.testbed.pki import der

pytestmark = pytest.mark.pcsc

SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def tool(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("pkcs11-tool")
    assert exe, "pkcs11-tool is missing (Debian package opensc; ./run setup installs it)"
    return subprocess.run([exe, "--module", env["CPSBRIDGE_PKCS11_MODULE"], *args],
                          env={**os.environ, **env}, capture_output=True, text=True, timeout=60)


def sign(env, tmp_path: Path, key_id: bytes, mechanism: str, data: bytes,
         pin: str = "1234") -> subprocess.CompletedProcess:
    (tmp_path / "in").write_bytes(data)
    out = tmp_path / "sig"
    out.unlink(missing_ok=True)
    return tool(env, "--login", "--pin", pin, "--sign", "--id", key_id.hex(), "-m", mechanism,
                "-i", str(tmp_path / "in"), "-o", str(out))


def verify_digest_signature(cert: x509.Certificate, signature: bytes, message: bytes) -> None:
    cert.public_key().verify(signature, hashlib.sha256(message).digest(), padding.PKCS1v15(),
                             utils.Prehashed(hashes.SHA256()))


def test_token_is_listed_with_its_cps_label_and_serial(simulated_card):
    card, env = simulated_card
    r = tool(env, "--list-token-slots")
    assert r.returncode == 0, r.stderr
    assert "Virtual PCD 00 00" in r.stdout
    assert "token label        : CPS3v3-2900995266" in r.stdout
    assert "serial num         : 2900995266" in r.stdout
    assert "login required" in r.stdout and "PIN initialized" in r.stdout
    assert "pin min/max        : 4/8" in r.stdout


def test_certificates_are_read_without_pin_and_keys_stay_hidden(simulated_card, pki, tmp_path):
    card, env = simulated_card
    r = tool(env, "--list-objects")
    assert r.returncode == 0, r.stderr
    assert "Certificat d'Authentification CPS" in r.stdout
    assert "Certificat de Signature CPS" in r.stdout
    assert "Private Key Object" not in r.stdout
    issued = pki.holders["dupont"]
    for ckid, cert in ((AUTH_ID, issued.auth_cert), (SIG_ID, issued.sig_cert)):
        out = tmp_path / f"{ckid.hex()}.der"
        r = tool(env, "--read-object", "--type", "cert", "--id", ckid.hex(), "-o", str(out))
        assert r.returncode == 0, r.stderr
        assert out.read_bytes() == der(cert)
    assert not any(apdu[1] == 0x20 and len(apdu) > 5 for apdu, _ in card.trace), \
        "no PIN may be presented to list certificates"


def test_after_login_both_keys_are_listed_with_cps_labels_and_ids(simulated_card, cardsim_dir):
    card, env = simulated_card
    r = tool(env, "--login", "--pin", "1234", "--list-objects", "--type", "privkey")
    assert r.returncode == 0, r.stderr
    blocks = r.stdout.split("Private Key Object")[1:]
    keys = {b.split("label:")[1].split()[0]: b.split("ID:")[1].split()[0] for b in blocks}
    assert keys == {"CPS_PRIV_AUT": AUTH_ID.hex(), "CPS_PRIV_SIG": SIG_ID.hex()}
    assert card.pin_tries_left == 3
    # Neither artifact kept on failure shows the code porteur.
    assert "31 32 33 34" not in (cardsim_dir / "opensc-debug.log").read_text(errors="replace")
    assert not any(b"1234" in apdu for apdu, _ in card.trace)


def test_authentication_key_signs_a_digest_info(simulated_card, pki, tmp_path):
    card, env = simulated_card
    message = b"challenge ViaTrajectoire"
    r = sign(env, tmp_path, AUTH_ID, "RSA-PKCS",
             SHA256_DIGEST_INFO + hashlib.sha256(message).digest())
    assert r.returncode == 0, r.stderr
    verify_digest_signature(pki.holders["dupont"].auth_cert, (tmp_path / "sig").read_bytes(),
                            message)
    ins = [apdu[1] for apdu, _ in card.trace]
    assert 0x22 in ins and 0x88 in ins, "MSE SET AT then INTERNAL AUTHENTICATE"


def test_authentication_key_is_refused_with_a_wrong_pin(simulated_card, tmp_path):
    card, env = simulated_card
    r = sign(env, tmp_path, AUTH_ID, "RSA-PKCS", b"\x00" * 51, pin="9999")
    assert r.returncode != 0
    assert "CKR_PIN_INCORRECT" in r.stdout + r.stderr
    assert card.pin_tries_left == 2
    assert not any(apdu[1] == 0x88 for apdu, _ in card.trace)


def test_signature_key_signs_when_marked_for_signing(insert_card, cardsim_env, pki, tmp_path):
    insert_card("dupont", 0, sig_key_nonrepudiation=False)
    message = b"document"
    r = sign(cardsim_env, tmp_path, SIG_ID, "RSA-PKCS",
             SHA256_DIGEST_INFO + hashlib.sha256(message).digest())
    assert r.returncode == 0, r.stderr
    verify_digest_signature(pki.holders["dupont"].sig_cert, (tmp_path / "sig").read_bytes(),
                            message)


def test_nonrepudiation_key_is_out_of_reach_of_this_opensc(simulated_card, tmp_path):
    """Laid out as on a real CPS3 (nonRepudiation), the signature key gets from OpenSC's CPx
    fix-up only SHA*-RSA-PKCS, computed by the card from a partial hash (PSO HASH); OpenSC
    0.23 built on OpenSSL 3 (Debian 12) cannot compute that partial hash, so it refuses
    before sending anything. If this starts passing signatures, OpenSC has changed."""
    card, env = simulated_card
    r = sign(env, tmp_path, SIG_ID, "SHA256-RSA-PKCS", b"document")
    assert r.returncode != 0
    assert "CKR_FUNCTION_NOT_SUPPORTED" in r.stdout + r.stderr
    r = sign(env, tmp_path, SIG_ID, "RSA-PKCS", SHA256_DIGEST_INFO + bytes(32))
    assert "CKR_MECHANISM_INVALID" in r.stdout + r.stderr
    assert not any(apdu[1] in (0x2A, 0x88) for apdu, _ in card.trace)


def test_card_without_signature_certificate_shows_the_authentication_pair_only(insert_card,
                                                                               cardsim_env):
    insert_card("petit", 0)          # a CPE: authentication certificate and key only
    r = tool(cardsim_env, "--login", "--pin", "1234", "--list-objects")
    assert r.returncode == 0, r.stderr
    assert "CPS_PRIV_AUT" in r.stdout and "Certificat d'Authentification CPS" in r.stdout
    assert "CPS_PRIV_SIG" not in r.stdout and "Certificat de Signature CPS" not in r.stdout
    assert "token label        : CPS3v3-2900995269" in tool(cardsim_env, "-L").stdout


def test_code_porteur_can_be_changed(simulated_card):
    card, env = simulated_card
    r = tool(env, "--login", "--pin", "1234", "--change-pin", "--new-pin", "5678")
    assert r.returncode == 0, r.stdout + r.stderr
    assert tool(env, "--login", "--pin", "1234", "-O").returncode != 0
    assert tool(env, "--login", "--pin", "5678", "-O").returncode == 0
    assert card.pin_tries_left == 3 and any(apdu[1] == 0x24 for apdu, _ in card.trace)
