"""JSON for frames, errors.json and config files: the standard library's own C codec
(`_json`, what `json` itself runs on CPython), without the `json` package's Python layer.

Why: `import json` compiles regular expressions at import, which imports `re` and `enum`:
about 6 ms of a 30 ms `status` on the reference machine. The results are `json`'s: same
parser and encoder; a text the fast path refuses goes to `json.loads` itself, imported
then, which gives its exact JSONDecodeError. One difference: nesting too deep for the
parser is a JSONDecodeError, not json's RecursionError, so that every caller treats it as
the bad input it is. Differential-tested against `json` (tests/host/test_json_codec.py).
Where `_json` is missing (not CPython), this is `json`.
"""

from __future__ import annotations

TYPE_CHECKING = False  # not typing.TYPE_CHECKING: importing typing costs ~3 ms at start
if TYPE_CHECKING:
    from typing import Any

_WHITESPACE = " \t\n\r"  # JSON's four (RFC 8259 §2), as json.decoder skips them
_CONSTANTS = {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}


def _refused(text: str) -> Any:
    """json.loads's answer to a text the fast path refused: its exact JSONDecodeError.
    (The C scanner reports errors through json.decoder, and only finds it once imported.)"""
    import json

    try:
        return json.loads(text)
    except RecursionError:  # json's answer past ~1000 levels; to callers it is bad input
        raise json.JSONDecodeError("Too deeply nested", text, 0) from None


def _not_serializable(obj: object) -> None:
    raise TypeError(f"Object of type {obj.__class__.__name__} is not JSON serializable")


try:
    import _json
except ImportError:  # pragma: no cover - not CPython
    import json

    def loads(text: str) -> Any:
        return _refused(text)

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

    _scan = _json.make_scanner(_Options())

    def loads(text: str) -> Any:
        """json.loads(text) for a str."""
        start = len(text) - len(text.lstrip(_WHITESPACE))
        try:
            value, end = _scan(text, start)
        except Exception:
            return _refused(text)
        end = len(text) - len(text[end:].lstrip(_WHITESPACE))
        if end != len(text):
            return _refused(text)
        return value

    def dumps(obj: Any) -> str:
        """json.dumps(obj, ensure_ascii=False, separators=(",", ":"))."""
        if isinstance(obj, str):
            return _json.encode_basestring(obj)
        encode = _json.make_encoder({}, _not_serializable, _json.encode_basestring, None,
                                    ":", ",", False, False, True)
        return "".join(encode(obj, 0))
