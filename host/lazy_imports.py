"""Start-up measures for the libraries the host uses only in part.

1. Defer python-pkcs11's key-encoding helpers, which the host never uses.

`import pkcs11` eagerly imports pkcs11.util.{dh,dsa,ec,rsa,x509}, and through them
asn1crypto: about 35 ms and 5 MB on every start of a process that lives for one
`status` or one login. A meta-path finder hands those modules out with a LazyLoader, so
they load only if something touches them. It delegates to the other finders, so it works
from source and in the PyInstaller build alike.

2. Load pyscard's thin `scard` layer without running the package's __init__, which imports
its whole high-level API (sessions, reader objects, card services: ~5 ms per start) that
the host never uses. Other pyscard submodules still import normally.
"""

from __future__ import annotations

import importlib.util
import sys

DEFERRED = frozenset(f"pkcs11.util.{m}" for m in ("dh", "dsa", "ec", "rsa", "x509"))


class _DeferringFinder:  # importlib.abc would cost 40 ms of imports itself
    def find_spec(self, name, path, target=None):
        if name not in DEFERRED:
            return None
        for finder in sys.meta_path:
            if finder is self or not hasattr(finder, "find_spec"):
                continue
            spec = finder.find_spec(name, path, target)
            if spec is not None and spec.loader is not None and hasattr(spec.loader, "exec_module"):
                spec.loader = importlib.util.LazyLoader(spec.loader)
                return spec
        return None


def install() -> None:
    if "pkcs11" not in sys.modules and not any(isinstance(f, _DeferringFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _DeferringFinder())


def pyscard_scard():
    """pyscard's `smartcard.scard` module, the package __init__ skipped (see above)."""
    if "smartcard" not in sys.modules:
        spec = importlib.util.find_spec("smartcard")
        if spec is not None and spec.submodule_search_locations is not None:
            sys.modules["smartcard"] = importlib.util.module_from_spec(spec)
    from smartcard import scard

    return scard
