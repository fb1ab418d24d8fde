"""Which PKCS#11 module the host would use, found without initialising it (for `status`)."""

from __future__ import annotations

import os
import sys


def loadable(path: str) -> bool:
    """True when the file is a loadable PKCS#11 module (it exports C_GetFunctionList):
    dlopen and dlsym, no C_Initialize. Through _ctypes, the C half of ctypes, as
    host/pkcs11_info does: ctypes itself costs ~1.5 ms of imports.
    The module stays loaded, as ctypes leaves it: unloading a middleware is not safe, and the
    card commands load it again. Windows has no dlsym there: ctypes does it."""
    if sys.platform.startswith("win"):
        import ctypes

        try:
            return hasattr(ctypes.WinDLL(path), "C_GetFunctionList")
        except OSError:
            return False
    import _ctypes

    try:
        _ctypes.dlsym(_ctypes.dlopen(path, 0), "C_GetFunctionList")  # 0: RTLD_NOW|RTLD_LOCAL
    except OSError:  # not a library, or not a PKCS#11 module
        return False
    return True


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
