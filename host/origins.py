"""Origins that may reach the card: https (or wss) scheme, host, optional port; nothing else.

Parsed by hand, not with urllib (which accepts user info, paths and odd ports silently)
nor with `re` (whose import, with `enum`, costs ~3 ms of every start: the config's origins
are checked when the host starts). The grammar, as regular expressions, is the oracle of
tests/host/test_origins.py:
    origin   ([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)
    hostport (\\[[^\\]]+\\]|[^:]+)(?::(\\d{1,5}))?
    host     DNS labels [a-z0-9]([a-z0-9-]{0,61}[a-z0-9])? joined by dots, or \\[[0-9a-f:.]+\\]
"""

from __future__ import annotations

_ALPHA = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz")
_SCHEME = _ALPHA | frozenset("0123456789+.-")
_LABEL = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-")
_IPV6 = frozenset("0123456789abcdef:.")
_DEFAULT_PORT = {"https": 443, "wss": 443}


class OriginError(ValueError):
    pass


def normalize_origin(origin: str) -> str:
    """The canonical form (lower case, default port dropped), or OriginError saying why."""
    if not isinstance(origin, str) or not origin or len(origin) > 255:
        raise OriginError("origine vide ou trop longue")
    scheme, sep, hostport = origin.partition("://")
    if not (sep and scheme and scheme[0] in _ALPHA and _SCHEME.issuperset(scheme)
            and hostport and not any(c in "/?#@" for c in hostport)):
        raise OriginError("une origine est schéma://hôte[:port], sans chemin, requête, fragment ni identifiants")
    scheme, hostport = scheme.lower(), hostport.lower()
    if scheme not in _DEFAULT_PORT:
        raise OriginError("seules les origines https (ou wss) sont acceptées")
    host, port = _split(hostport)
    if host is None or not (_is_dns_name(host) or _is_ip_literal(host)):
        raise OriginError("nom d'hôte invalide")
    if port is not None:
        if port != str(int(port)) or not 0 < int(port) < 65536:
            raise OriginError("port invalide")
        if int(port) == _DEFAULT_PORT[scheme]:
            port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def normalize_written_origin(origin: str) -> str:
    """normalize_origin for an origin a person wrote (a configuration, a policy, a command
    line): "https://host/" is how one often writes it, so one final slash is taken as no
    path. (The page's own origin, from the browser, never has one.)"""
    if isinstance(origin, str) and origin.endswith("/") and origin.count("/") == 3:
        origin = origin[:-1]
    return normalize_origin(origin)


def _split(hostport: str) -> tuple[str | None, str | None]:
    """(host, port or None); host None when hostport is not host[:port]."""
    if hostport.startswith("["):
        close = hostport.find("]")
        if close >= 2:
            host, rest = hostport[:close + 1], hostport[close + 1:]
            if not rest:
                return host, None
            if rest[0] == ":" and _is_port(rest[1:]):
                return host, rest[1:]
    host, sep, port = hostport.partition(":")
    if not host or (sep and not _is_port(port)):
        return None, None
    return host, (port if sep else None)


def _is_port(text: str) -> bool:
    return 1 <= len(text) <= 5 and text.isdecimal()  # \d: any decimal digit; int() checks after


def _is_dns_name(host: str) -> bool:
    return all(1 <= len(label) <= 63 and _LABEL.issuperset(label)
               and label[0] != "-" and label[-1] != "-" for label in host.split("."))


def _is_ip_literal(host: str) -> bool:
    return len(host) >= 3 and host[0] == "[" and host[-1] == "]" and _IPV6.issuperset(host[1:-1])


def is_allowed(origin: str, allowed: list[str]) -> bool:
    try:
        canonical = normalize_origin(origin)
    except OriginError:
        return False
    return canonical in allowed
