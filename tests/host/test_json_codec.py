"""host.json_codec runs the standard library's C codec without the json package's Python
layer: it must give exactly what json gives, for good texts and bad ones."""

from __future__ import annotations

import json
import math
import subprocess
import sys

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from host.json_codec import DuplicateKey, dumps, loads, loads_unique, unique_keys
from tests.testbed.hostproc import REPO

values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=25)


def same(a, b) -> bool:
    """Equal, NaN included."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return a == b


def outcome(fn, text):
    try:
        return "ok", fn(text)
    except ValueError as exc:
        return type(exc).__name__, str(exc)


@given(values)
def test_dumps_is_compact_json_dumps(value):
    assert dumps(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@given(values, st.sampled_from([None, 0, 2, "\t"]), st.sampled_from([" ", "\n", "\r\n\t", ""]))
def test_loads_reads_what_json_writes(value, indent, pad):
    text = pad + json.dumps(value, indent=indent, ensure_ascii=bool(indent)) + pad
    assert same(loads(text), json.loads(text))


@settings(max_examples=2000)
@given(st.one_of(st.text(max_size=30),
                 st.lists(st.sampled_from(['{', '}', '[', ']', '"', ':', ',', '1', '-', '.', 'e',
                                           'true', 'nul', 'NaN', '-Infinity', ' ', '\n', '\\',
                                           '\\u00e9', '\\ud800', '\x01', '\ufeff', 'é']),
                          max_size=12).map("".join)))
@example("")
@example("  ")
@example("1 2")
@example("\ufeff{}")
@example('{"a" 1}')
@example('"\x01"')
def test_any_text_is_read_or_refused_as_json_would(text):
    mine, theirs = outcome(loads, text), outcome(json.loads, text)
    if theirs[0] == "ok":
        assert mine[0] == "ok" and same(mine[1], theirs[1])
    else:
        assert mine == theirs


def json_unique(text: str):
    return json.loads(text, object_pairs_hook=unique_keys)


@settings(max_examples=1000)
@given(st.one_of(st.text(max_size=30),
                 st.lists(st.sampled_from(['{', '}', '[', ']', '"a"', '"b"', ':', ',', '1', ' ',
                                           '{"a":1,', '"a":2}', '\\', 'nul']),
                          max_size=12).map("".join)))
@example('{"a":1,"a":2}')
@example('[{"x":{"y":1,"y":[]}}]')
@example('{"a":1,"a":2')  # bad JSON and a key twice: the JSON error, as json gives it
@example('{"a":1,"a":2} x')
def test_loads_unique_is_json_loads_refusing_a_key_twice(text):
    mine, theirs = outcome(loads_unique, text), outcome(json_unique, text)
    if theirs[0] == "ok":
        assert mine[0] == "ok" and same(mine[1], theirs[1])
    else:
        assert mine == theirs


def test_a_key_twice_is_named_at_any_depth():
    for text, key in [('{"a":1,"a":1}', "a"), ('{"k":[{"p":"1","q":0,"p":"2"}]}', "p"),
                      ('{"\u00e9":1,"é":2}', "é")]:
        with pytest.raises(DuplicateKey) as exc:
            loads_unique(text)
        assert exc.value.key == key
        assert isinstance(exc.value, ValueError)  # every caller's "bad input"
    assert loads_unique('{"a":{"a":1},"b":{"a":2}}') == {"a": {"a": 1}, "b": {"a": 2}}


@pytest.mark.parametrize("value", [object(), {1j: 1}, {b"k": 1}, b"bytes"])
def test_what_json_cannot_write_is_a_type_error_here_too(value):
    with pytest.raises(TypeError):
        json.dumps(value)
    with pytest.raises(TypeError):
        dumps(value)


def test_a_circular_structure_is_refused_like_json():
    loop: list = []
    loop.append(loop)
    with pytest.raises(ValueError, match="Circular reference"):
        dumps(loop)


@pytest.mark.parametrize("text", ["[" * 100_000, '{"a":' * 50_000, "[" * 5000 + "]" * 5000])
def test_nesting_too_deep_is_bad_input_not_a_crash(text):
    for read in (loads, loads_unique):
        with pytest.raises(ValueError, match="Too deeply nested"):
            read(text)


def test_a_refused_text_gets_json_s_error_in_a_process_that_never_imported_json():
    # The C scanner looks for json.decoder in sys.modules to report an error; the host
    # does not import json on its way to an answer.
    code = ("import sys\nfrom host.json_codec import loads, dumps\n"
            "assert dumps(loads('{\"a\": [1]}')) == '{\"a\":[1]}'\n"
            "assert 'json' not in sys.modules and 're' not in sys.modules, 'json or re imported'\n"
            "try:\n    loads('{not json')\nexcept ValueError as e:\n    print(type(e).__name__, e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO,
                         timeout=30)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == ("JSONDecodeError Expecting property name enclosed in double "
                                  "quotes: line 1 column 2 (char 1)")
