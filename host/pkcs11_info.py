"""What python-pkcs11 does not expose: C_GetTokenInfo's PIN length range,
C_CloseAllSessions, C_GetInfo (for diagnose). ("Can this module be loaded", for `status`,
is host/modules.py's.)

Through `_ctypes`, the C half of ctypes, with the three C types these calls need: the
`ctypes` package's Python half defines some forty types and loaders at import, ~1.5 ms of
every cold login (6 M instructions), for this module's three calls. Windows, where
`_ctypes` has no dlsym, loads the module through ctypes itself."""

from __future__ import annotations

import _ctypes
import sys

_WINDOWS = sys.platform.startswith("win")


class _UByte(_ctypes._SimpleCData):
    _type_ = "B"  # ctypes.c_ubyte


class _ULong(_ctypes._SimpleCData):
    _type_ = "L"  # ctypes.c_ulong: CK_ULONG is the C unsigned long on every platform


class _Char(_ctypes._SimpleCData):
    _type_ = "c"  # ctypes.c_char: an array of them reads as bytes


class _Function(_ctypes.CFuncPtr):
    _flags_ = _ctypes.FUNCFLAG_CDECL
    _restype_ = _ULong  # CK_RV


class _Version(_ctypes.Structure):
    _fields_ = [("major", _UByte), ("minor", _UByte)]
    if _WINDOWS:
        _pack_ = 1


class _TokenInfo(_ctypes.Structure):
    # PKCS#11 packs its structures to 1 byte on Windows.
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [
        ("label", _Char * 32), ("manufacturerID", _Char * 32),
        ("model", _Char * 16), ("serialNumber", _Char * 16),
        ("flags", _ULong), ("ulMaxSessionCount", _ULong),
        ("ulSessionCount", _ULong), ("ulMaxRwSessionCount", _ULong),
        ("ulRwSessionCount", _ULong), ("ulMaxPinLen", _ULong),
        ("ulMinPinLen", _ULong), ("ulTotalPublicMemory", _ULong),
        ("ulFreePublicMemory", _ULong), ("ulTotalPrivateMemory", _ULong),
        ("ulFreePrivateMemory", _ULong), ("hardwareVersion", _Version),
        ("firmwareVersion", _Version), ("utcTime", _Char * 16)]


class _Info(_ctypes.Structure):
    if _WINDOWS:
        _pack_ = 1
    _fields_ = [("cryptokiVersion", _Version), ("manufacturerID", _Char * 32),
                ("flags", _ULong), ("libraryDescription", _Char * 32),
                ("libraryVersion", _Version)]


def _function(path: str, name: str, *argtypes):
    """The module's C function `name`, typed (CK_RV result), or None if unreachable."""
    try:
        if _WINDOWS:
            import ctypes

            fn = _Function((name, ctypes.WinDLL(path)))
        else:  # dlopen of a loaded module hands back the one python-pkcs11 initialised
            fn = _Function(_ctypes.dlsym(_ctypes.dlopen(path, 0), name))  # 0: RTLD_NOW|RTLD_LOCAL
    except (OSError, AttributeError):
        return None
    fn.argtypes = argtypes
    return fn


def pin_length_range(path: str, slot_id: int) -> tuple[int, int] | None:
    """(min, max) from C_GetTokenInfo on an already initialised module, or None."""
    fn = _function(path, "C_GetTokenInfo", _ULong, _ctypes.POINTER(_TokenInfo))
    info = _TokenInfo()
    if fn is None or fn(slot_id, _ctypes.byref(info)) != 0:
        return None
    return int(info.ulMinPinLen), int(info.ulMaxPinLen)


def close_all_sessions(path: str, slot_id: int) -> bool:
    """C_CloseAllSessions on an already initialised module: this process's sessions on the
    slot (python-pkcs11 leaves behind the session it opened when C_Login fails)."""
    fn = _function(path, "C_CloseAllSessions", _ULong)
    return fn is not None and fn(slot_id) == 0


def module_info(path: str) -> dict[str, str] | None:
    """C_GetInfo of an already initialised module (for diagnose)."""
    fn = _function(path, "C_GetInfo", _ctypes.POINTER(_Info))
    info = _Info()
    if fn is None or fn(_ctypes.byref(info)) != 0:
        return None
    text = lambda b: b.decode("utf-8", "replace").strip()  # noqa: E731
    return {"manufacturer": text(info.manufacturerID), "description": text(info.libraryDescription),
            "cryptoki": f"{info.cryptokiVersion.major}.{info.cryptokiVersion.minor}",
            "version": f"{info.libraryVersion.major}.{info.libraryVersion.minor}"}
