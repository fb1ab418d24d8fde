"""A PKCS#11 client in its own process, driven one JSON line at a time (tests/cardsim).

OpenSC is loaded through python-pkcs11 here, not in the pytest process: each test gets a
fresh C_Initialize with its own environment (OPENSC_CONF, PCSCLITE_CSOCK_NAME), and a
PKCS#11 library loaded by another suite in the pytest process cannot clash with it.

Requests: {"op": "slots"} | {"op": "login", "reader": "...", "pin": "..."} |
{"op": "sign", "label": "...", "data": "<hex>", "mechanism": "RSA_PKCS"} |
{"op": "certificates", "reader": "..."} | {"op": "logout"}.
Answers: {"ok": ...} or {"error": "<python-pkcs11 exception name>"}.
"""

from __future__ import annotations

import json
import sys

import pkcs11
from pkcs11 import Attribute, Mechanism, ObjectClass, TokenFlag


def _flags(token) -> list[str]:
    return sorted(f.name for f in TokenFlag if f.value and token.flags & f == f)


class Driver:
    def __init__(self, module: str):
        self.lib = pkcs11.lib(module)
        self.session = None

    def _slot(self, reader: str):
        for slot in self.lib.get_slots(token_present=True):
            if reader in slot.slot_description:
                return slot
        raise LookupError(f"no token in a reader named like {reader!r}")

    def slots(self) -> list[dict]:
        out = []
        for slot in self.lib.get_slots(token_present=False):
            entry = {"reader": slot.slot_description.strip(), "token": None}
            if slot.flags & pkcs11.SlotFlag.TOKEN_PRESENT:
                token = slot.get_token()      # a fresh C_GetTokenInfo: current PIN flags
                entry["token"] = {"label": token.label.strip(),
                                  "serial": token.serial.decode().strip(),
                                  "flags": _flags(token)}
            out.append(entry)
        return out

    def login(self, reader: str, pin: str) -> bool:
        self.logout()
        self.session = self._slot(reader).get_token().open(user_pin=pin)
        return True

    def logout(self) -> bool:
        if self.session is not None:
            session, self.session = self.session, None
            try:
                session.close()
            except pkcs11.PKCS11Error:
                pass
        return True

    def sign(self, label: str, data: str, mechanism: str) -> str:
        key = self.session.get_key(ObjectClass.PRIVATE_KEY, label=label)
        return key.sign(bytes.fromhex(data), mechanism=Mechanism[mechanism]).hex()

    def certificates(self, reader: str) -> list[dict]:
        session = self.session or self._slot(reader).get_token().open()
        return [{"label": c[Attribute.LABEL], "id": c[Attribute.ID].hex(),
                 "der": c[Attribute.VALUE].hex()}
                for c in session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})]


def main(module: str) -> None:
    driver = Driver(module)
    for line in sys.stdin:
        request = json.loads(line)
        op = request.pop("op")
        try:
            answer = {"ok": getattr(driver, op)(**request)}
        except pkcs11.PKCS11Error as e:
            answer = {"error": type(e).__name__}
        except LookupError as e:
            answer = {"error": "LookupError", "message": str(e)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
