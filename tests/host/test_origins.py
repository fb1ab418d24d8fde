"""host.origins parses origins by hand; the regular expressions it documents are the
oracle here: both must accept the same origins, give the same canonical form, and refuse
for the same reason."""

from __future__ import annotations

import re

from hypothesis import example, given, settings
from hypothesis import strategies as st

from host.origins import OriginError, normalize_origin

_HOST = re.compile(r"(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
                   r"|\[[0-9a-f:.]+\]")
_DEFAULT_PORT = {"https": 443, "wss": 443}


def oracle(origin: str) -> str:
    """The grammar as regular expressions (the host's former implementation)."""
    if not isinstance(origin, str) or not origin or len(origin) > 255:
        raise OriginError("empty")
    m = re.fullmatch(r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#@]+)", origin)
    if not m:
        raise OriginError("shape")
    scheme, hostport = m.group(1).lower(), m.group(2).lower()
    if scheme not in _DEFAULT_PORT:
        raise OriginError("scheme")
    hp = re.fullmatch(r"(\[[^\]]+\]|[^:]+)(?::(\d{1,5}))?", hostport)
    if not hp or not _HOST.fullmatch(hp.group(1)):
        raise OriginError("host")
    host, port = hp.group(1), hp.group(2)
    if port is not None:
        if port != str(int(port)) or not 0 < int(port) < 65536:
            raise OriginError("port")
        if int(port) == _DEFAULT_PORT[scheme]:
            port = None
    return f"{scheme}://{host}" + (f":{port}" if port else "")


REASONS = {"empty": "trop longue", "shape": "schéma://hôte", "scheme": "https (ou wss)",
           "host": "hôte invalide", "port": "port invalide"}


def outcome(fn, origin):
    try:
        return "ok", fn(origin)
    except OriginError as exc:
        return "refused", str(exc)


# Origins built from the pieces that matter, so that most draws get past the first checks.
pieces = st.sampled_from(["https", "HTTPS", "wss", "http", "ftp", "h", "1x", "https+x",
                          "://", ":", "/", "?", "#", "@", ".", "-", "[", "]", "::1", "a",
                          "Example", "xn--bcher-kva", "localhost", "8443", "443", "0", "08443",
                          "65535", "65536", "\n", " ", "_", "é", "١٢", "²", "İ", "a" * 63,
                          "a" * 64, "1.2.3.4", "fe80::1%25eth0", "0:0"])
origins = st.one_of(
    st.text(max_size=40),
    st.lists(pieces, max_size=8).map("".join),
    st.tuples(st.sampled_from(["https", "wss", "HTTPS"]), st.lists(pieces, max_size=6).map("".join))
    .map(lambda t: f"{t[0]}://{t[1]}"),
)


@settings(max_examples=3000)
@given(origins)
@example("https://[::1]:8443")
@example("https://[::1]x")
@example("https://[a]b:80")
@example("https://[]]")
@example("https://a.example:١٢")
@example("https://" + "a" * 250)
def test_the_hand_parser_agrees_with_the_grammar(origin):
    mine, expected = outcome(normalize_origin, origin), outcome(oracle, origin)
    if expected[0] == "ok":
        assert mine == expected
    else:
        assert mine[0] == "refused", (origin, mine)
        assert REASONS[expected[1]] in mine[1], (origin, mine, expected)
