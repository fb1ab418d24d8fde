"""Which PKCS#11 module the host would use, found without initialising it (for `status`)."""

from __future__ import annotations

import os

from host.pkcs11_info import loadable


def first_usable(candidates: list[str]) -> str | None:
    for path in candidates:
        if os.path.isfile(path) and loadable(path):
            return path
    return None


def module_status(candidates: list[str]) -> dict:
    path = first_usable(candidates)
    if path is not None:
        return {"module": path, "loaded": True}
    return {"module": candidates[0] if candidates else None, "loaded": False,
            "error": "ERR_CPS_PKCS11_UNAVAILABLE"}
