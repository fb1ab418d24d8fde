"""The host as a browser starts it: a real process, frames on stdio."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import time

import pytest

from tests.host.conftest import auth_args
from tests.testbed.hostproc import REPO, SOURCE_HOST, HostProcess, encode, one_shot

# The French sentences, from their one source (not from the host's own answer).
ERRORS = json.loads((REPO / "host" / "errors.json").read_text(encoding="utf-8"))["codes"]


def test_status_answers_with_versions_readers_and_module(host):
    r = host.request("status")
    result = r["result"]
    assert r["id"] == "r1"
    assert (result["version"], result["protocol"]) == ("1.2.0", 1)
    assert result["pcsc"]["available"] is True
    assert [x["name"] for x in result["pcsc"]["readers"]] == ["Virtual PCD 00 00", "Virtual PCD 00 01"]
    assert result["pkcs11"] == {"module": "/usr/lib/softhsm/libsofthsm2.so", "loaded": True}


def test_many_requests_in_one_process_each_get_one_answer(host):
    ids = [host.send("status") for _ in range(20)]
    answers = [host.response(i) for i in ids]
    assert [a["id"] for a in answers] == ids
    assert all(host.responses[i].empty() for i in ids)


@pytest.mark.parametrize("body, field", [
    (b"\xff\xfe not utf-8", None),
    (b"{not json", None),
    (b"[1, 2]", None),
    (b'{"id": "x1", "command": "status", "arguments": {"verbose": true}}', "verbose"),
    (b'{"id": "x2", "command": "authenticate", "arguments": {"pin": "1234"}}', "challengeNonce"),
    (b'{"id": "x3", "command": "list-certificates", "arguments": {"waitForCardMs": 999999}}', "waitForCardMs"),
    (b"[" * 60_000, None),  # deeper than the JSON parser goes: bad input, not a crash
    (b'{"id": "x4", "command": "status", "arguments": ' + b"[" * 30_000 + b"]" * 30_000 + b"}", None),
    # Keys JSON carries but UTF-8 cannot (lone surrogates): named by their escape.
    (b'{"id": "x5", "command": "status", "\\ud800": 1}', "\\ud800"),
    (b'{"id": "x6", "command": "status", "arguments": {"\\udfff": 1}}', "\\udfff"),
])
def test_bad_messages_get_an_error_and_the_host_goes_on(host, body, field):
    host.write(struct.pack("=I", len(body)) + body)
    try:
        rid = json.loads(body)["id"]
    except (ValueError, TypeError, KeyError, UnicodeDecodeError, RecursionError):
        rid = None
    err = (host.response(rid) if rid else host.unmatched.get(timeout=10))["error"]
    assert err["code"] == "ERR_CPS_INVALID_REQUEST"
    assert err["message"].startswith("La demande")
    if field is not None:  # named, never its value
        assert field in err["details"].get("fields", [err["details"].get("field")])
    assert host.request("status")["result"]["protocol"] == 1  # still serving


def test_every_error_has_code_message_and_details(host):
    """§3: an error is {code, message, details}, even when there is nothing to detail."""
    errors = [host.request("authenticate", {"challengeNonce": "A" * 44, "origin": "https://localhost:8443",
                                            "certificateId": "0" * 64, "pin": pin})["error"]
              for pin in ("12a4", "1234")]
    assert [e["code"] for e in errors] == ["ERR_CPS_PIN_FORMAT", "ERR_CPS_CERTIFICATE_NOT_FOUND"]
    for err in errors:
        assert set(err) == {"code", "message", "details"} and err["details"] == {}


def test_argument_errors_name_fields_and_never_echo_values(host):
    r = host.request("authenticate", {"challengeNonce": "short", "origin": "https://localhost:8443",
                                      "certificateId": "zz", "pin": "8642", "colour": "blue"})
    err = r["error"]
    assert err["code"] == "ERR_CPS_INVALID_REQUEST"
    assert set(err["details"]["fields"]) == {"challengeNonce", "certificateId", "colour"}
    assert "8642" not in json.dumps(r) and "blue" not in json.dumps(r)


def test_an_oversized_frame_gets_one_error_and_a_nonzero_exit(host_env):
    h = HostProcess(host_env)
    h.write(struct.pack("=I", 64 * 1024 + 1))  # and no body: the host must not wait for it
    frame = h.unmatched.get(timeout=10)
    assert frame == {"id": None, "error": {
        "code": "ERR_CPS_MESSAGE_TOO_LARGE", "message": ERRORS["ERR_CPS_MESSAGE_TOO_LARGE"]["fr"],
        "details": {"maxBytes": 65536}}}
    assert h.proc.wait(5) != 0
    h.close()


def test_a_frame_of_exactly_64_kib_is_read(host):
    body = json.dumps({"id": "big", "command": "status", "arguments": {}}).encode()
    body = body[:-1] + b" " * (64 * 1024 - len(body)) + b"}"
    host.write(struct.pack("=I", len(body)) + body)
    assert host.response("big")["result"]["protocol"] == 1


def test_eof_in_the_middle_of_a_frame_exits_0_within_a_second_writing_nothing(host_env):
    h = HostProcess(host_env)
    h.write(struct.pack("=I", 100) + b'{"id": "a", "comm')
    time.sleep(0.3)  # let it block in the read
    started = time.monotonic()
    h.proc.stdin.close()
    assert h.proc.wait(5) == 0
    assert time.monotonic() - started < 1.0  # §2's deadline for the browser, not a speed
    h._reader.join(2)
    assert bytes(h.raw_stdout) == b""


def test_one_request_then_eof_is_answered_like_send_native_message(host_env):
    frames, code, _ = one_shot(host_env, {"id": "only", "command": "status"})
    assert code == 0
    assert [f["id"] for f in frames] == ["only"]


def _frames(raw: bytes) -> list[dict]:
    out = []
    while len(raw) >= 4:
        (size,) = struct.unpack("=I", raw[:4])
        out.append(json.loads(raw[4:4 + size]))
        raw = raw[4 + size:]
    return out


def test_at_eof_no_queued_login_is_started_and_nothing_more_is_written(host_env, pki):
    """§2: EOF, the host writes nothing more. Two logins read at once, then EOF: the second
    waits behind the first; the browser that sent it is gone, so it must never reach the
    card (here a wrong code porteur, which would spend one of the card's tries)."""
    cid = pki.holders["dupont"].certificate_id
    try:
        h = HostProcess(host_env)
        h.write(encode({"id": "first", "command": "authenticate", "arguments": auth_args(cid)})
                + encode({"id": "second", "command": "authenticate",
                          "arguments": auth_args(cid, pin="0000")}))
        h.proc.stdin.close()
        assert h.proc.wait(5) == 0
        h._reader.join(2)
        answered = [f["id"] for f in _frames(bytes(h.raw_stdout))]
        assert "second" not in answered, answered
        with HostProcess(host_env) as again:
            certs = again.request("list-certificates")["result"]["certificates"]
            assert next(c for c in certs if c["certificateId"] == cid)["pin"]["status"] == "ok", \
                "the login queued before EOF reached the card"
    finally:  # the right code gives the card its tries back, whatever happened
        with HostProcess(host_env) as again:
            again.request("authenticate", auth_args(cid))


@pytest.mark.parametrize("args", [
    ["chrome-extension://ojnpopkpgdnmkpgbnihogpenoomlejcb/"],
    ["chrome-extension://ojnpopkpgdnmkpgbnihogpenoomlejcb/", "--parent-window=1234"],
    ["/home/u/.mozilla/native-messaging-hosts/fr.viatrajectoire.cpsbridge.json",
     "cpsbridge@viatrajectoire.fr"],
    [],
])
def test_every_browser_caller_form_is_tolerated(host_env, args):
    with HostProcess(host_env, args=args) as h:
        assert h.request("status")["result"]["version"] == "1.2.0"


def test_stdout_carries_frames_only_even_if_code_prints(tmp_path):
    """A library that prints, or C code writing to fd 1, must not corrupt the stream."""
    script = (
        "import os, sys\n"
        "from host.framing import guard_stdout, FrameWriter\n"
        "out = guard_stdout()\n"
        "print('stray print')\n"
        "os.write(1, b'stray C write')\n"
        "FrameWriter(out).write({'id': 'a', 'result': {}})\n")
    p = subprocess.run([sys.executable, "-c", script], capture_output=True, cwd=REPO, timeout=30)
    body = json.dumps({"id": "a", "result": {}}, separators=(",", ":")).encode()
    assert p.stdout == struct.pack("=I", len(body)) + body
    assert b"stray print" in p.stderr and b"stray C write" in p.stderr


def test_help_and_version_write_to_stderr_not_stdout(host_env):
    for flag in ("--version", "--help"):
        p = subprocess.run([*SOURCE_HOST, flag], capture_output=True, env=host_env, cwd=REPO, timeout=30)
        assert p.returncode == 0 and p.stdout == b"" and b"cpsbridge-host" in p.stderr


def test_status_without_pcsc_service_or_module_says_so(host_env, tmp_path):
    env = dict(host_env, PCSCLITE_CSOCK_NAME=str(tmp_path / "no-pcscd.comm"),
               CPSBRIDGE_PKCS11_MODULE=str(tmp_path / "missing-module.so"))
    with HostProcess(env) as h:
        result = h.request("status")["result"]
        assert result["pcsc"] == {"available": False, "readers": [], "error": "ERR_CPS_PCSC_UNAVAILABLE"}
        assert result["pkcs11"]["loaded"] is False
        assert result["pkcs11"]["error"] == "ERR_CPS_PKCS11_UNAVAILABLE"
        err = h.request("list-certificates")["error"]
        assert err["code"] == "ERR_CPS_PKCS11_UNAVAILABLE"
        assert "Cryptolib CPS" in err["message"]


def test_status_says_a_module_that_fails_to_initialise_is_not_loaded(host_env, tmp_path):
    """SoftHSM2 without its configuration file: the library opens (so `status` cannot tell
    before a card command) but C_Initialize fails; once a card command has met that,
    `status` says what operations get (§4), not `loaded: true`."""
    with HostProcess(dict(host_env, SOFTHSM2_CONF=str(tmp_path / "missing.conf"))) as h:
        assert h.request("list-certificates")["error"]["code"] == "ERR_CPS_PKCS11_UNAVAILABLE"
        pkcs11 = h.request("status")["result"]["pkcs11"]
        assert pkcs11["loaded"] is False and pkcs11["error"] == "ERR_CPS_PKCS11_UNAVAILABLE"


def test_an_id_no_frame_can_echo_is_refused_and_the_host_goes_on(host):
    # "\ud800" is valid JSON but a lone surrogate, which UTF-8 cannot carry back.
    body = b'{"id": "x\\ud800", "command": "status"}'
    host.write(struct.pack("=I", len(body)) + body)
    err = host.unmatched.get(timeout=10)
    assert err["id"] is None and err["error"]["code"] == "ERR_CPS_INVALID_REQUEST"
    assert err["error"]["details"]["field"] == "id"
    assert host.request("status")["result"]["protocol"] == 1  # still serving


def test_a_card_command_with_a_key_utf8_cannot_carry_leaves_the_card_worker_serving(host):
    """The error frame names the key by its escape; had writing it failed, the card worker
    would have died with it and no later card command would ever be answered."""
    body = b'{"id": "k1", "command": "list-certificates", "arguments": {"\\ud800": 1}}'
    host.write(struct.pack("=I", len(body)) + body)
    err = host.response("k1", timeout=10)["error"]
    assert err["code"] == "ERR_CPS_INVALID_REQUEST" and err["details"]["fields"] == ["\\ud800"]
    assert "certificates" in host.request("list-certificates", timeout=10)["result"]
    assert "Traceback" not in host.stderr_text()


def test_help_is_a_short_french_usage_and_an_unknown_command_is_refused(host_env):
    """`cpsbridge-host --help` is for IT at a terminal: the commands, in French, and what the
    browser runs; not the module's docstring. A mistyped command is said so (exit 2), rather
    than taken for a browser's start that waits for frames."""
    for flag in ("--help", "-h"):
        p = subprocess.run([*SOURCE_HOST, flag], capture_output=True, env=host_env, cwd=REPO,
                           timeout=30, text=True)
        assert p.returncode == 0 and p.stdout == "", p.stderr
        assert p.stderr.startswith("utilisation : cpsbridge-host "), p.stderr
        for command in ("install", "uninstall", "diagnose"):
            assert f"\n  {command} " in p.stderr, p.stderr
        assert "navigateur" in p.stderr and "Entry point" not in p.stderr
        assert "Usage" not in p.stderr
        assert len(p.stderr.splitlines()) <= 20
    for wrong in ("instal", "diagnostic", "--aide"):
        p = subprocess.run([*SOURCE_HOST, wrong], capture_output=True, env=host_env, cwd=REPO,
                           timeout=30, text=True, input="")
        assert p.returncode == 2 and p.stdout == "", (wrong, p.stdout, p.stderr)
        assert p.stderr.startswith(f"Erreur : commande inconnue « {wrong} »"), p.stderr
        assert "cpsbridge-host --help" in p.stderr and "Traceback" not in p.stderr
