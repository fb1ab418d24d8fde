"""`python -m server.verify` exactly as PROTOCOL.md §6 writes it, as a separate process."""

from __future__ import annotations

import json
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.verify import DEFAULT_TRUST_DIR
from tests.server.tokens import ORIGIN, make_token

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")


def run(args: list[str], stdin: bytes | str) -> subprocess.CompletedProcess:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([PYTHON, "-m", "server.verify", *args], input=data, cwd=REPO,
                          capture_output=True, timeout=60)


def request(pki, nonce, *, slug="dupont", age=timedelta(seconds=1), **token_args) -> dict:
    h = pki.holders[slug]
    issued = datetime.now(timezone.utc) - age
    return {"token": make_token(h.auth_key, h.auth_cert, nonce, **token_args), "origin": ORIGIN,
            "nonce": nonce, "nonceIssuedAt": issued.isoformat().replace("+00:00", "Z")}


def answer(done: subprocess.CompletedProcess) -> dict:
    assert done.returncode == 0, done.stderr.decode()
    lines = done.stdout.decode().splitlines()
    assert len(lines) == 1
    return json.loads(lines[0])


def test_valid_token_names_the_holder(pki, pki_dir, responder, nonce):
    h = pki.holders["dupont"]
    out = answer(run(["--trust", str(pki_dir / "trust")], json.dumps(request(pki, nonce))))
    assert out["valid"] is True
    assert out["fingerprint"] == h.certificate_id
    assert out["holder"] == {"idNat": "899700367917", "idType": "RPPS", "rpps": "99700367917",
                             "familyName": "DUPONT", "givenName": "JEAN", "title": "Médecin",
                             "cardType": "CPS"}
    assert responder.hits["ocsp"] == 1  # revocation is hard by default: it asked


def test_ec_holder_with_revocation_off(pki, pki_dir, responder, nonce):
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"],
                     json.dumps(request(pki, nonce, slug="robert"))))
    assert out["valid"] is True and out["holder"]["idNat"] == "899700666666"
    assert sum(responder.hits.values()) == 0


@pytest.mark.parametrize("change,reason", [
    (lambda r: r["token"].update(format="x"), "TOKEN_MALFORMED"),
    (lambda r: r.update(token="not json"), "TOKEN_MALFORMED"),
    (lambda r: r.update(token=[1]), "TOKEN_MALFORMED"),
    (lambda r: r.update(nonceIssuedAt="2020-01-01T00:00:00Z"), "NONCE_EXPIRED"),
    (lambda r: r.update(origin="https://evil.example"), "SIGNATURE_INVALID"),
    (lambda r: r.update(nonce=r["nonce"][::-1]), "SIGNATURE_INVALID"),
])
def test_refusals_exit_zero(pki, pki_dir, nonce, change, reason):
    req = request(pki, nonce)
    change(req)
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req)))
    assert out == {"valid": False, "reason": reason}


def test_revoked_and_soft(pki, pki_dir, responder, nonce):
    responder.revoke(pki.holders["dupont"].auth_cert)
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "hard"],
                     json.dumps(request(pki, nonce))))
    assert out == {"valid": False, "reason": "CERT_REVOKED"}
    responder.reset()
    responder.ocsp_mode, responder.crl_mode = "http-500", "missing"
    req = json.dumps(request(pki, nonce))
    assert answer(run(["--trust", str(pki_dir / "trust")], req)) == {
        "valid": False, "reason": "REVOCATION_UNKNOWN"}
    assert answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "soft"],
                      req))["valid"] is True


def test_production_anchors_do_not_trust_the_test_pki(pki, nonce):
    out = answer(run(["--trust", str(DEFAULT_TRUST_DIR), "--revocation", "off"],
                     json.dumps(request(pki, nonce))))
    assert out == {"valid": False, "reason": "CERT_UNTRUSTED"}


@pytest.mark.parametrize("stdin", [
    b"", b"{not json", b"\xff\xfe", b"[]", b"null", b"42",
    json.dumps({"origin": ORIGIN, "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
    json.dumps({"token": {}, "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
    json.dumps({"token": {}, "origin": ORIGIN, "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
    json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n"}),
    json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n", "nonceIssuedAt": "yesterday"}),
    json.dumps({"token": {}, "origin": ORIGIN, "nonce": 5, "nonceIssuedAt": "2026-01-01"}),
    json.dumps({"token": {}, "origin": "https://x/path", "nonce": "n",
                "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
    json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n",
                "nonceIssuedAt": "2026-01-01T00:00:00Z", "extra": 1}),
], ids=lambda s: "")
def test_unusable_input_exits_2(pki_dir, stdin):
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], stdin)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.startswith(b"server.verify: ") and b"Traceback" not in done.stderr


@pytest.mark.parametrize("trust", ["empty", "missing", "unreadable", "holder"])
def test_unusable_trust_exits_2(pki, pki_dir, tmp_path, nonce, trust):
    folder = tmp_path / "trust"
    if trust != "missing":
        folder.mkdir()
    if trust == "unreadable":
        (folder / "ca.pem").write_text("-----BEGIN CERTIFICATE-----\nxx\n-----END CERTIFICATE-----\n")
    if trust == "holder":
        (folder / "holder.der").write_bytes((pki_dir / "holders/dupont/auth-cert.der").read_bytes())
    done = run(["--trust", str(folder), "--revocation", "off"], json.dumps(request(pki, nonce)))
    assert done.returncode == 2 and done.stdout == b""
    assert b"trust anchors" in done.stderr and b"Traceback" not in done.stderr


@pytest.mark.parametrize("args", [[], ["--trust"], ["--trust", "x", "--revocation", "maybe"]])
def test_bad_command_line_exits_2(args):
    done = run(args, b"{}")
    assert done.returncode == 2 and done.stdout == b"" and b"usage" in done.stderr
