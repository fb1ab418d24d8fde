"""What python-pkcs11 does not expose: C_GetTokenInfo's PIN length range,
C_CloseAllSessions, C_GetInfo (for diagnose). ("Can this module be loaded", for `status`,
is host/modules.py's, without ctypes.)"""

from __future__ import annotations

import ctypes
import sys

_WINDOWS = sys.platform.startswith("win")


class _Version(ctypes.Structure):
    _fields_ = [("major", ctypes.c_ubyte), ("minor", ctypes.c_ubyte)]
    if _WINDOWS:
        _pack_ = 1


class _TokenInfo(ctypes.Structure):
    # PKCS#11 packs its structures to 1 byte on Windows; CK_ULONG is the C unsigned long.
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [
        ("label", ctypes.c_char * 32), ("manufacturerID", ctypes.c_char * 32),
        ("model", ctypes.c_char * 16), ("serialNumber", ctypes.c_char * 16),
        ("flags", ctypes.c_ulong), ("ulMaxSessionCount", ctypes.c_ulong),
        ("ulSessionCount", ctypes.c_ulong), ("ulMaxRwSessionCount", ctypes.c_ulong),
        ("ulRwSessionCount", ctypes.c_ulong), ("ulMaxPinLen", ctypes.c_ulong),
        ("ulMinPinLen", ctypes.c_ulong), ("ulTotalPublicMemory", ctypes.c_ulong),
        ("ulFreePublicMemory", ctypes.c_ulong), ("ulTotalPrivateMemory", ctypes.c_ulong),
        ("ulFreePrivateMemory", ctypes.c_ulong), ("hardwareVersion", _Version),
        ("firmwareVersion", _Version), ("utcTime", ctypes.c_char * 16)]


class _Info(ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("cryptokiVersion", _Version), ("manufacturerID", ctypes.c_char * 32),
                ("flags", ctypes.c_ulong), ("libraryDescription", ctypes.c_char * 32),
                ("libraryVersion", _Version)]


def _load(path: str):
    return ctypes.WinDLL(path) if _WINDOWS else ctypes.CDLL(path)


def _function(path: str, name: str, *argtypes):
    """The module's C function `name`, typed (CK_RV result), or None if unreachable."""
    try:
        fn = getattr(_load(path), name)
    except (OSError, AttributeError):
        return None
    fn.argtypes = list(argtypes)
    fn.restype = ctypes.c_ulong
    return fn


def pin_length_range(path: str, slot_id: int) -> tuple[int, int] | None:
    """(min, max) from C_GetTokenInfo on an already initialised module, or None."""
    fn = _function(path, "C_GetTokenInfo", ctypes.c_ulong, ctypes.POINTER(_TokenInfo))
    info = _TokenInfo()
    if fn is None or fn(slot_id, ctypes.byref(info)) != 0:
        return None
    return int(info.ulMinPinLen), int(info.ulMaxPinLen)


def close_all_sessions(path: str, slot_id: int) -> bool:
    """C_CloseAllSessions on an already initialised module: this process's sessions on the
    slot (python-pkcs11 leaves behind the session it opened when C_Login fails)."""
    fn = _function(path, "C_CloseAllSessions", ctypes.c_ulong)
    return fn is not None and fn(slot_id) == 0


def module_info(path: str) -> dict[str, str] | None:
    """C_GetInfo of an already initialised module (for diagnose)."""
    fn = _function(path, "C_GetInfo", ctypes.POINTER(_Info))
    info = _Info()
    if fn is None or fn(ctypes.byref(info)) != 0:
        return None
    text = lambda b: b.decode("utf-8", "replace").strip()  # noqa: E731
    return {"manufacturer": text(info.manufacturerID), "description": text(info.libraryDescription),
            "cryptoki": f"{info.cryptokiVersion.major}.{info.cryptokiVersion.minor}",
            "version": f"{info.libraryVersion.major}.{info.libraryVersion.minor}"}
