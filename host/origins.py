"""Origins that may reach the card: https (or wss) scheme, host, optional port; nothing else."""

from __future__ import annotations

import re

_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"|\[[0-9a-f:.]+\]")
_DEFAULT_PORT = {"https": 443, "wss": 443}


class OriginError(ValueError):
    pass


def normalize_origin(origin: str) -> str:
    """The canonical form (lower case, default port dropped), or OriginError saying why.
    Parsed by hand: urllib would accept user info, paths and odd ports silently."""
    if not isinstance(origin, str) or not origin or len(origin) > 255:
        raise OriginError("origine vide ou trop longue")
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)", origin)
    if not m:
        raise OriginError("une origine est schéma://hôte[:port], sans chemin, requête, fragment ni identifiants")
    scheme, hostport = m.group(1).lower(), m.group(2).lower()
    if scheme not in _DEFAULT_PORT:
        raise OriginError("seules les origines https (ou wss) sont acceptées")
    hp = re.fullmatch(r"(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?", hostport)
    if not hp or not _HOST.fullmatch(hp.group(1)):  # fullmatch: '$' would accept a trailing newline
        raise OriginError("nom d'hôte invalide")
    host, port = hp.group(1), hp.group(2)
    if port is not None:
        if port != str(int(port)) or not 0 < int(port) < 65536:
            raise OriginError("port invalide")
        if int(port) == _DEFAULT_PORT[scheme]:
            port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def is_allowed(origin: str, allowed: list[str]) -> bool:
    try:
        canonical = normalize_origin(origin)
    except OriginError:
        return False
    return canonical in allowed
