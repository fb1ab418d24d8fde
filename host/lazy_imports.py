"""Defer python-pkcs11's key-encoding helpers, which the host never uses.

`import pkcs11` eagerly imports pkcs11.util.{dh,dsa,ec,rsa,x509}, and through them
asn1crypto: about 35 ms and 5 MB on every start of a process that lives for one
`status` or one login. A meta-path finder hands those modules out with a LazyLoader, so
they load only if something touches them. It delegates to the other finders, so it works
from source and in the PyInstaller build alike.
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
