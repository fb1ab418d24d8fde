"""JSON for frames, errors.json and config files: the standard library's own C codec
(`_json`, what `json` itself runs on CPython), without the `json` package's Python layer.

Why: `import json` compiles regular expressions at import, which imports `re` and `enum`:
about 6 ms of a 30 ms `status` on the reference machine. The results are `json`'s: same
parser and encoder; a text the fast path refuses goes to `json.loads` itself, imported
then, which gives its exact JSONDecodeError. One difference: nesting too deep for the
parser is a JSONDecodeError, not json's RecursionError, so that every caller treats it as
the bad input it is. Differential-tested against `json` (tests/host/test_json_codec.py).
Where `_json` is missing (not CPython), this is `json`.

`loads_unique` also refuses an object with a key twice (DuplicateKey, a ValueError):
parsers differ on which one counts (Python keeps the last, others the first), and a frame
or a token must mean one thing to every reader.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"  # JSON's four (RFC 8259 §2), as json.decoder skips them
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _refused(text: str, pairs_hook=None) -> Any:
    """json.loads's answer to a text the fast path refused: its exact JSONDecodeError.
    (The C scanner reports errors through json.decoder, and only finds it once imported.)"""
    import json

    try:
        return json.loads(text, object_pairs_hook=pairs_hook)
    except RecursionError:  # json's answer past ~1000 levels; to callers it is bad input
        raise json.JSONDecodeError("Too deeply nested", text, 0) from None


class DuplicateKey(ValueError):
    def __init__(self, key: str):
        super().__init__(f"duplicate key {key!r}")
        self.key = key


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """An object_pairs_hook: the object, or DuplicateKey naming the first key seen twice."""
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        # One pass: a megabyte of input may hold 100 000 keys.
        raise DuplicateKey(next(k for k, _ in pairs if k in seen or seen.add(k)))
    return obj


def _not_serializable(obj: object) -> None:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


try:
    import _json
except ImportError:  # pragma: no cover - not CPython
    import json

    def loads(text: str) -> Any:
        return _refused(text)

    def loads_unique(text: str) -> Any:
        return json.loads(text, object_pairs_hook=unique_keys)

    def dumps(obj: Any) -> str:
        return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
else:
    class _Options:
        """What json.JSONDecoder() hands its C scanner, with json.loads's defaults."""
        strict = True
        object_hook = None
        object_pairs_hook = None
        parse_float = float
        parse_int = int
        parse_constant = _CONSTANTS.__getitem__

    class _UniqueOptions(_Options):
        object_pairs_hook = staticmethod(unique_keys)

    _scan = _json.make_scanner(_Options())
    _scan_unique = _json.make_scanner(_UniqueOptions())

    def _loads(text: str, scan, pairs_hook=None) -> Any:
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = scan(text, start)
        except DuplicateKey:
            raise
        except Exception:
            return _refused(text, pairs_hook)
        end = len(text) - len(text[end:].lstrip(_WHITESPACE))
        if end != len(text):
            return _refused(text, pairs_hook)
        return value

    def loads(text: str) -> Any:
        """json.loads(text) for a str."""
        return _loads(text, _scan)

    def loads_unique(text: str) -> Any:
        """json.loads(text, object_pairs_hook=unique_keys) for a str."""
        return _loads(text, _scan_unique, unique_keys)

    def dumps(obj: Any) -> str:
        """json.dumps(obj, ensure_ascii=False, separators=(",", ":"))."""
        if isinstance(obj, str):
            return _json.encode_basestring(obj)
        encode = _json.make_encoder({}, _not_serializable, _json.encode_basestring, None,
                                    ":", ",", False, False, True)
        return "".join(encode(obj, 0))
