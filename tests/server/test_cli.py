"""`python -m server.verify` exactly as PROTOCOL.md §6 writes it, as a separate process."""

from __future__ import annotations

import json
import os
import subprocess
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from server.verify import DEFAULT_TRUST_DIR
from tests.server.tokens import ORIGIN, make_token

REPO = Path(__file__).resolve().parents[2]
PYTHON = str(REPO / ".venv" / "bin" / "python")


def run(args: list[str], stdin: bytes | str,
        env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    return subprocess.run([PYTHON, "-m", "server.verify", *args], input=data, cwd=REPO,
                          capture_output=True, timeout=60, env=env)


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
    out = answer(run(["--trust", str(pki_dir / "trust"), "--card-type-policies",
                      str(pki_dir / "card-type-policies.json")], json.dumps(request(pki, nonce))))
    assert out["valid"] is True
    assert out["fingerprint"] == h.certificate_id
    assert out["holder"] == {"idNat": "899700367917", "idType": "RPPS", "rpps": "99700367917",
                             "familyName": "DUPONT", "givenName": "JEAN", "title": "Médecin",
                             "cardType": "CPS"}
    assert responder.hits["ocsp"] == 1  # revocation is hard by default: it asked


@pytest.mark.parametrize("written", [
    "%Y-%m-%dT%H:%M:%SZ", "%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%S+00:00", "%Y-%m-%dT%H:%M:%S",
])
def test_the_nonce_date_in_any_iso_8601_form(pki, pki_dir, nonce, written):
    """Extended or basic format, with Z, an offset, or none (read as UTC)."""
    req = request(pki, nonce)
    req["nonceIssuedAt"] = (datetime.now(timezone.utc) - timedelta(seconds=5)).strftime(written)
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req)))
    assert out["valid"] is True, out
    req["nonceIssuedAt"] = (datetime.now(timezone.utc) - timedelta(hours=1)).strftime(written)
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req)))
    assert out == {"valid": False, "reason": "NONCE_EXPIRED"}


@pytest.mark.parametrize("written", [
    "2026-11-25X12:00:00Z", "2026-11-25\x0012:00:00Z", "2026-11-25T12Z", "20261125T1200Z",
    "2026W48", "2026-11-25T12:00:00 Z", "20261125T120000+01:00:30",
    "20261125", "1764158400", "-1", "1764158400.5", 1764158400, None,
])
def test_what_is_not_an_iso_8601_date_time_is_unusable(pki, pki_dir, nonce, written):
    req = request(pki, nonce)
    req["nonceIssuedAt"] = written
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req))
    assert done.returncode == 2 and done.stdout == b"", done.stdout
    assert done.stderr.startswith(b"server.verify: invalid input: nonceIssuedAt: "), done.stderr


def test_ec_holder_with_revocation_off(pki, pki_dir, responder, nonce):
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"],
                     json.dumps(request(pki, nonce, slug="robert"))))
    assert out["valid"] is True and out["holder"]["idNat"] == "899700666666"
    assert out["holder"]["cardType"] == "UNKNOWN"  # no --card-type-policies: never a guess
    assert sum(responder.hits.values()) == 0


@pytest.mark.parametrize("content", ['{"1.2.3": "XYZ"}', '["CPS"]', "{", None, "[" * 100_000])
def test_unusable_card_type_policies_exit_2(pki, pki_dir, nonce, tmp_path, content):
    path = tmp_path / "policies.json"
    if content is not None:
        path.write_text(content)
    done = run(["--trust", str(pki_dir / "trust"), "--card-type-policies", str(path)],
               json.dumps(request(pki, nonce)))
    assert done.returncode == 2 and done.stdout == b""
    assert b"--card-type-policies" in done.stderr


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


@pytest.mark.parametrize("stdin, says", [
    (b"", b"input is not JSON"), (b"{not json", b"input is not JSON"),
    (b"\xff\xfe", b"input is not JSON"), (b"[]", b"input is not a JSON object"),
    (b"null", b"input is not a JSON object"), (b"42", b"input is not a JSON object"),
    (json.dumps({"origin": ORIGIN, "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
     b"field 'token' is missing"),
    (json.dumps({"token": {}, "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
     b"origin: Field required"),
    (json.dumps({"token": {}, "origin": ORIGIN, "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
     b"nonce: Field required"),
    (json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n"}), b"nonceIssuedAt: Field required"),
    (json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n", "nonceIssuedAt": "yesterday"}),
     b"nonceIssuedAt: Input should be a valid datetime"),
    (json.dumps({"token": {}, "origin": ORIGIN, "nonce": 5, "nonceIssuedAt": "2026-01-01"}),
     b"nonce: Input should be a valid string"),
    (json.dumps({"token": {}, "origin": "https://x/path", "nonce": "n",
                 "nonceIssuedAt": "2026-01-01T00:00:00Z"}),
     b"origin must be https://host[:port] with nothing after: 'https://x/path'"),
    (json.dumps({"token": {}, "origin": ORIGIN, "nonce": "n",
                 "nonceIssuedAt": "2026-01-01T00:00:00Z", "extra": 1}),
     b"extra: Extra inputs are not permitted"),
    ('{"token": {}, "origin": "%s", "origin": "https://other.example", "nonce": "n", '
     '"nonceIssuedAt": "2026-01-01T00:00:00Z"}' % ORIGIN, b"input is not JSON: duplicate key 'origin'"),
    ('{"token": {"format": "a", "format": "cpsbridge:1"}, "origin": "%s", "nonce": "n", '
     '"nonceIssuedAt": "2026-01-01T00:00:00Z"}' % ORIGIN, b"input is not JSON: duplicate key 'format'"),
    # Python's json reads these; RFC 8259 and other readers do not.
    ('{"token": {"x": NaN}, "origin": "%s", "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}'
     % ORIGIN, b"input is not JSON: NaN is not JSON"),
    ('{"token": {"x": -Infinity}, "origin": "%s", "nonce": "n", "nonceIssuedAt": "2026-01-01T00:00:00Z"}'
     % ORIGIN, b"input is not JSON: -Infinity is not JSON"),
], ids=lambda s: "")
def test_unusable_input_exits_2(pki_dir, stdin, says):
    """Each refusal names what is wrong with the input, so that the caller can fix it."""
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], stdin)
    assert done.returncode == 2
    assert done.stdout == b""
    assert done.stderr.startswith(b"server.verify: ") and b"Traceback" not in done.stderr
    assert says in done.stderr, done.stderr


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


# -- robustness: whatever the input, a verdict or exit 2, never a traceback ---------------

DEEP = 200_000


def _unusable(done: subprocess.CompletedProcess) -> bytes:
    assert done.returncode == 2, done.stderr.decode()
    assert done.stdout == b""
    assert b"Traceback" not in done.stderr
    return done.stderr


@pytest.mark.parametrize("where", ["top", "token", "token-unclosed", "origin"])
def test_deeply_nested_input_exits_2(pki, pki_dir, nonce, where):
    """Nesting the JSON decoder cannot follow makes the input unreadable wherever it is, as
    a syntax error does (inside "token" too): exit 2, not a RecursionError."""
    if where == "top":
        stdin = "[" * DEEP
    else:
        req = request(pki, nonce)
        req["origin" if where == "origin" else "token"] = "@DEEP@"
        deep = "[" * DEEP + ("" if where == "token-unclosed" else "]" * DEEP)
        stdin = json.dumps(req).replace('"@DEEP@"', deep)
    err = _unusable(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], stdin))
    assert err.startswith(b"server.verify: ") and err.count(b"\n") == 1


def test_nesting_the_decoder_can_read_is_a_verdict(pki, pki_dir, nonce):
    req = request(pki, nonce)
    req["token"] = json.loads("[" * 500 + "]" * 500)
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req)))
    assert out == {"valid": False, "reason": "TOKEN_MALFORMED"}
    req = request(pki, nonce)
    req["token"]["future"] = json.loads("[" * 500 + "]" * 500)  # an unknown field: ignored
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req)))
    assert out["valid"] is True


def _with_integer(req: dict, digits: int, place) -> str:
    """The request as JSON text with an integer of `digits` digits where `place` puts the
    marker (Python could not write such an integer itself)."""
    place(req, "@BIG@")
    return json.dumps(req).replace('"@BIG@"', "-" + "9" * digits)


IN_TOKEN = {
    "token": lambda r, v: r.update(token=v),
    "field": lambda r, v: r["token"].update(signature=v),
    "unknown-field": lambda r, v: r["token"].update(future=[{"n": v}]),
}


@pytest.mark.parametrize("where", list(IN_TOKEN))
def test_an_integer_python_does_not_read_is_unusable_input_like_nesting_too_deep(
        pki, pki_dir, nonce, where):
    """Beyond Python's int-string limit (4300 digits) the decoder stops, as it does for
    nesting too deep: the input is unusable wherever the number is (README), one line on
    stderr saying why, exit 2, never a traceback."""
    stdin = _with_integer(request(pki, nonce), 4301, IN_TOKEN[where])
    err = _unusable(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], stdin))
    assert err.startswith(b"server.verify: input is not JSON") and err.count(b"\n") == 1
    assert b"4300" in err


def test_an_integer_python_reads_in_an_unknown_field_is_ignored(pki, pki_dir, nonce):
    stdin = _with_integer(request(pki, nonce), 4300, IN_TOKEN["unknown-field"])
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], stdin))
    assert out["valid"] is True


@pytest.mark.parametrize("option,value", [
    ("--clock-skew", v) for v in ["1e20", "1e13", "nan", "inf", "-inf", "-1", "-0.5", "x"]
] + [
    ("--timeout", v) for v in ["0", "-1", "nan", "inf", "1e20", "x"]
])
def test_unusable_durations_exit_2(pki, pki_dir, nonce, option, value):
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "hard", f"{option}={value}"],
               json.dumps(request(pki, nonce)))
    err = _unusable(done)
    assert b"usage" in err and option.encode() in err


@pytest.mark.parametrize("option,value", [("--clock-skew", "0"), ("--clock-skew", "86400"),
                                          ("--timeout", "0.5"), ("--timeout", "3600")])
def test_usable_durations(pki, pki_dir, nonce, option, value):
    out = answer(run(["--trust", str(pki_dir / "trust"), "--revocation", "off",
                      f"{option}={value}"], json.dumps(request(pki, nonce))))
    assert out["valid"] is True


def _environment(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("LC_") and k not in ("LANG", "PYTHONIOENCODING", "PYTHONUTF8")}
    return {**env, **changes}


@pytest.mark.parametrize("env", [
    {"PYTHONIOENCODING": "latin-1"},
    {"LC_ALL": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"},  # an ASCII stdout
    {"PYTHONIOENCODING": "utf-16"},
], ids=["latin-1", "C-locale", "utf-16"])
def test_output_is_utf8_whatever_the_locale(pki, pki_dir, nonce, env):
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"],
               json.dumps(request(pki, nonce)), env=_environment(**env))
    assert done.returncode == 0, done.stderr.decode()
    out = json.loads(done.stdout.decode("utf-8"))
    assert out["holder"]["title"] == "Médecin"
    assert "Médecin".encode() in done.stdout and done.stdout.endswith(b"}\n")


def test_intermediates_are_fetched_only_when_asked(pki, pki_dir, tmp_path, responder, nonce):
    root_only = tmp_path / "root-only"
    root_only.mkdir()
    (root_only / "root.der").write_bytes((pki_dir / "trust" / "test-acr-fort.der").read_bytes())
    req = json.dumps(request(pki, nonce))
    out = answer(run(["--trust", str(root_only), "--revocation", "off"], req))
    assert out == {"valid": False, "reason": "CERT_UNTRUSTED"}
    assert sum(responder.hits.values()) == 0
    out = answer(run(["--trust", str(root_only), "--revocation", "off",
                      "--fetch-intermediates"], req))
    assert out["valid"] is True and responder.hits["aia"] == 1


@pytest.mark.parametrize("reader", ["closed", "gone"])
def test_a_verdict_nobody_reads_exits_3_with_a_line_and_no_traceback(pki, pki_dir, nonce, reader):
    """stdout closed at start, or a pipe whose reader has gone: the verdict reached nobody,
    which the caller must not take for exit 0 (a verdict given) nor for a crash."""
    read_end, write_end = os.pipe()
    if reader == "gone":
        os.close(read_end)
    try:
        done = subprocess.run(
            [PYTHON, "-m", "server.verify", "--trust", str(pki_dir / "trust"), "--revocation",
             "off"], input=json.dumps(request(pki, nonce)).encode(), cwd=REPO,
            stdout=write_end, stderr=subprocess.PIPE, timeout=60,
            preexec_fn=(lambda: os.close(1)) if reader == "closed" else None)
    finally:
        os.close(write_end)
        if reader == "closed":
            os.close(read_end)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(b"server.verify: the verdict could not be written: ")
    assert b"Traceback" not in done.stderr and done.stderr.count(b"\n") == 1, done.stderr


@pytest.mark.parametrize("origin, says", [
    ("https://LOCALHOST:8443", "origin must be written as browsers serialise it, "
                               "'https://localhost:8443': the host signs that form"),
    ("https://localhost:443", "origin must be written as browsers serialise it, "
                              "'https://localhost': the host signs that form"),
    ("https://localhost:99999", "(port invalide)"),
    ("https://localhost.", "(nom d'hôte invalide)"),
    ("https://été.example", "(nom d'hôte invalide)"),  # browsers give the xn-- form
])
def test_an_origin_no_token_could_be_signed_over_is_refused_at_once(pki, pki_dir, nonce,
                                                                     origin, says):
    """Not a verdict (SIGNATURE_INVALID at every login) but a configuration error."""
    req = request(pki, nonce)
    req["origin"] = origin
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"], json.dumps(req))
    assert done.returncode == 2 and done.stdout == b""
    assert says in done.stderr.decode(), done.stderr


def test_a_key_twice_among_very_many_is_found_in_one_pass(pki_dir):
    """Up to 1 MiB of input: 90 000 keys, the last one twice. Finding it by counting each
    key took ~80 s; run()'s 60 s timeout is the hang guard here, not a speed check."""
    many = ",".join(f"\"k{i}\":1" for i in range(90_000))  # 0.97 MB
    done = run(["--trust", str(pki_dir / "trust"), "--revocation", "off"],
               '{"token": {%s, "k89999": 2}, "origin": "%s", "nonce": "n", '
               '"nonceIssuedAt": "2026-01-01T00:00:00Z"}' % (many, ORIGIN))
    assert done.returncode == 2, done.stderr
    assert done.stderr == b"server.verify: input is not JSON: duplicate key 'k89999'\n"
