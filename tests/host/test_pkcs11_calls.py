"""What the host asks of the card, seen at the PKCS#11 boundary.

OpenSC's pkcs11-spy sits between the host and the real module (SoftHSM2, or OpenSC over
the simulated CPS3) and writes down every call. The contract's rules about the code
porteur are checked where the code porteur goes: one C_Login per authenticate, never a
second after a refusal, none at all when the host must refuse first, and a logout after
signing. Each test reads only the calls made by its own request.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.host.conftest import auth_args
from tests.host.test_cards import backend  # noqa: F401  (the fixture: SoftHSM2 and OpenSC)
from tests.testbed.hostproc import HostProcess
from tests.testbed.softcard import AUTH_ID

SPY_PATHS = ("/usr/lib/x86_64-linux-gnu/pkcs11-spy.so", "/usr/lib/aarch64-linux-gnu/pkcs11-spy.so",
             "/usr/lib64/pkcs11-spy.so", "/usr/lib/pkcs11-spy.so")
_CALL = re.compile(r"^\d+: (C_\w+)$")
_RETURNED = re.compile(r"^Returned:\s+\d+ (\w+)")


@dataclass
class Call:
    name: str
    returned: str
    text: str  # the spy's lines for this call: arguments in and out


def spy_module() -> str:
    for path in SPY_PATHS:
        if Path(path).is_file():
            return path
    raise RuntimeError("OpenSC's pkcs11-spy.so is missing (Debian package opensc-pkcs11; "
                       "./run setup installs it)")


def parse(log: str) -> list[Call]:
    calls: list[Call] = []
    name, lines = None, []
    for line in log.splitlines():
        if m := _CALL.match(line):
            name, lines = m.group(1), []
        elif name is not None:
            lines.append(line)
            if m := _RETURNED.match(line):
                calls.append(Call(name, m.group(1), "\n".join(lines)))
                name = None
    return calls


class SpiedHost:
    """A host whose module is the spy; `calls_of(...)` is what one request made."""

    def __init__(self, env: dict, log: Path):
        self.log = log
        self.host = HostProcess(env)

    def calls_of(self, command: str, arguments: dict | None = None) -> tuple[dict, list[Call]]:
        start = self.log.stat().st_size if self.log.exists() else 0
        reply = self.host.request(command, arguments)
        with self.log.open("rb") as f:
            f.seek(start)
            return reply, parse(f.read().decode("utf-8", "replace"))


@pytest.fixture
def spied(backend, pki, tmp_path):  # noqa: F811
    """A spied host that has listed Dr DUPONT's card (RSA, code porteur 1234)."""
    log = tmp_path / "pkcs11-spy.log"
    env = {**backend.env, "CPSBRIDGE_PKCS11_MODULE": spy_module(),
           "PKCS11SPY": backend.env["CPSBRIDGE_PKCS11_MODULE"], "PKCS11SPY_OUTPUT": str(log)}
    spied = SpiedHost(env, log)
    with spied.host:
        spied.calls_of("list-certificates")
        spied.certificate_id = pki.holders["dupont"].certificate_id
        spied.backend = backend.name
        yield spied


def names(calls: list[Call]) -> list[str]:
    return [c.name for c in calls]


def test_authenticate_reads_the_flags_logs_in_once_signs_and_logs_out(spied):
    reply, calls = spied.calls_of("authenticate", auth_args(spied.certificate_id))
    assert "result" in reply, reply
    seq = names(calls)
    assert seq.count("C_Login") == 1
    login = seq.index("C_Login")
    assert "C_GetTokenInfo" in seq[:login], "the PIN status must be read before the login"
    assert [c.returned for c in calls if c.name == "C_Login"] == ["CKR_OK"]
    assert "31 32 33 34" in calls[login].text  # the code porteur given, as given
    sign_init = [c for c in calls if c.name == "C_SignInit"]
    assert sign_init and all(c.returned in ("CKR_OK", "CKR_MECHANISM_INVALID") for c in sign_init)
    assert sign_init[-1].returned == "CKR_OK"
    assert re.search(r"CKM_(SHA256_)?RSA_PKCS\b", sign_init[-1].text), sign_init[-1].text
    last_sign = max(i for i, n in enumerate(seq) if n == "C_Sign")
    assert "C_Logout" in seq[last_sign:], "logged out after signing"
    assert seq[-1] == "C_CloseSession"
    # The key is found by the certificate's CKA_ID among private keys (never the signature key).
    find = next(c for c in calls if c.name == "C_FindObjectsInit")
    assert "CKO_PRIVATE_KEY" in find.text and "CKA_ID" in find.text
    if spied.backend == "softhsm":  # its layout is ours: the authentication key's CKA_ID
        assert AUTH_ID.hex(" ").upper() in find.text
    # python-pkcs11 would read CKA_KEY_TYPE at each sign; the certificate already says it.
    assert not any("CKA_KEY_TYPE" in c.text for c in calls if c.name == "C_GetAttributeValue")


def test_a_wrong_code_porteur_is_sent_once_and_its_session_closed(spied):
    try:
        reply, calls = spied.calls_of("authenticate", auth_args(spied.certificate_id, pin="9999"))
        assert reply["error"]["code"] == "ERR_CPS_PIN_INCORRECT"
        seq = names(calls)
        assert seq.count("C_Login") == 1, "never a second try"
        assert next(c for c in calls if c.name == "C_Login").returned == "CKR_PIN_INCORRECT"
        after = seq[seq.index("C_Login"):]
        assert "C_CloseAllSessions" in after, "the session python-pkcs11 leaves open is closed"
        assert "C_GetTokenInfo" in after, "the PIN status is read back from the token"
        assert not {"C_SignInit", "C_Sign"} & set(seq)
    finally:
        # The card is shared with later tests, which expect its PIN status "ok": the right
        # code gives it back its full count of tries, as it does for a user.
        assert "result" in spied.host.request("authenticate", auth_args(spied.certificate_id))


@pytest.mark.parametrize("change, code", [
    ({"pin": "12a4"}, "ERR_CPS_PIN_FORMAT"),
    ({"pin": "123"}, "ERR_CPS_PIN_FORMAT"),
    ({"pin": "1" * 256}, "ERR_CPS_PIN_FORMAT"),  # SoftHSM2 takes 4 to 255 digits
    ({"origin": "https://evil.example"}, "ERR_CPS_ORIGIN_NOT_ALLOWED"),
    ({"origin": "http://localhost:8443"}, "ERR_CPS_ORIGIN_NOT_ALLOWED"),
])
def test_refused_requests_never_reach_a_login(spied, change, code):
    reply, calls = spied.calls_of("authenticate", {**auth_args(spied.certificate_id), **change})
    assert reply["error"]["code"] == code
    assert not {"C_OpenSession", "C_Login", "C_SignInit"} & set(names(calls)), names(calls)
