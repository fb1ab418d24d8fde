"""Start-up measures for the libraries the host uses only in part.

1. Defer python-pkcs11's key-encoding helpers, which the host never uses.

`import pkcs11` eagerly imports pkcs11.util.{dh,dsa,ec,rsa,x509}, and through them
asn1crypto: about 35 ms and 5 MB on every start of a process that lives for one
`status` or one login. A meta-path finder hands those modules out with a LazyLoader, so
they load only if something touches them. It delegates to the other finders, so it works
from source and in the PyInstaller build alike.

2. Load pyscard's C layer `smartcard.scard._scard` by itself. The packages above it would
run `smartcard/__init__` (the whole high-level API: sessions, reader objects, card
services, ~5 ms) and `smartcard/scard/__init__` (SWIG's Python wrappers, which import
`typing` and through it `re` and `enum`, ~4 ms), all on every `status`. The wrappers only
call the C functions of the same names, which the host calls directly. A later
`import smartcard.scard` still works and shares the same C module.

3. Import with the garbage collector paused (`collector_paused`). An import builds objects
that live as long as the process: classes, functions, python-pkcs11's hundreds of enum
members. The collector still ran a dozen times over them during the start of a login
(~2 ms of a cold list + authenticate, measured in instructions under callgrind); frozen
afterwards, later collections skip them too.
"""

from __future__ import annotations

import gc
import sys

DEFERRED = frozenset(f"pkcs11.util.{m}" for m in ("dh", "dsa", "ec", "rsa", "x509"))


class _DeferringFinder:  # importlib.abc would cost 40 ms of imports itself
    def find_spec(self, name, path, target=None):
        if name not in DEFERRED:
            return None
        spec = _find_spec(name, path, skip=self)
        if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
            from importlib.util import LazyLoader  # only when python-pkcs11 is imported

            spec.loader = LazyLoader(spec.loader)
            return spec
        return None


class collector_paused:  # noqa: N801 (used as `with collector_paused():`)
    """No collection during the block; what it built is frozen after. Threads may nest
    it: the outermost block, which found the collector on, turns it back on."""

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc) -> None:
        gc.freeze()
        if self.was_enabled:
            gc.enable()


def install() -> None:
    if "pkcs11" not in sys.modules and not any(isinstance(f, _DeferringFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferringFinder())


def pyscard_scard():
    """pyscard's C layer, loaded without the packages above it (see above)."""
    name = "smartcard.scard._scard"
    if name in sys.modules:
        return sys.modules[name]
    if "smartcard.scard" in sys.modules:  # pyscard already fully imported
        from smartcard.scard import _scard

        return _scard
    # Find the package folders without importing the packages, through the finders in
    # place (the path finder from source, PyInstaller's in the frozen host).
    path = None
    for part in ("smartcard", "smartcard.scard", name):
        spec = _find_spec(part, path)
        if spec is None:
            raise ImportError(f"No module named {part!r}", name=part)
        path = spec.submodule_search_locations
    module = spec.loader.create_module(spec)
    spec.loader.exec_module(module)
    sys.modules[name] = module
    return module


def _find_spec(name: str, path, skip=None):
    """What the import system would find for `name`, without importing it."""
    for finder in sys.meta_path:
        find = getattr(finder, "find_spec", None) if finder is not skip else None
        spec = find(name, path) if find is not None else None
        if spec is not None:
            return spec
    return None
