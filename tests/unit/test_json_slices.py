"""json_slices.loads parses a key bundle in slices (so the interface's thread gets the GIL
between them); for any input, valid or not, it must give what json.loads gives: the same value,
or a ValueError, so that a broken or hostile bundle is refused with the same reason."""

from __future__ import annotations

import json
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tui_client.engine import json_slices

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
documents = st.recursive(scalars, lambda inner: st.lists(inner, max_size=6) | st.dictionaries(st.text(), inner, max_size=6),
                         max_leaves=40)


def outcome(parse, data):  # type: ignore[no-untyped-def]
    try:
        return ("ok", json.dumps(parse(data)))  # NaN is not equal to itself; its text is
    except json.JSONDecodeError as exc:
        return ("error", exc.msg, exc.pos)
    except ValueError as exc:
        return ("value-error", type(exc).__name__)


@settings(max_examples=300, deadline=None)
@given(documents, st.sampled_from(["", " ", "\n\t ", "\r\n"]), st.integers(0, 4))
def test_same_value_as_json_loads(doc, gap, depth) -> None:
    text = json.dumps(doc, indent=None if not gap else 1, separators=(f",{gap}", f":{gap}"))
    for data in (text, text.encode(), f"{gap}{text}{gap}".encode("utf-16")):
        assert outcome(lambda d: json_slices.loads(d, depth), data) == outcome(json.loads, data)


@settings(max_examples=500, deadline=None)
@given(documents, st.data())
def test_broken_documents_fail_as_json_loads_fails(doc, data) -> None:
    text = json.dumps({"room_keys": [doc, doc], "withheld": []})
    at = data.draw(st.integers(0, len(text)))
    how = data.draw(st.sampled_from(["cut", "drop", "insert"]))
    if how == "cut":
        broken = text[:at]
    elif how == "drop":
        broken = text[:at] + text[at + 1:]
    else:
        broken = text[:at] + data.draw(st.sampled_from([",", "]", "}", "[", "{", '"', ":", " ", "x", "1"])) + text[at:]
    for depth in (1, 2, 3):
        assert outcome(lambda d: json_slices.loads(d, depth), broken) == outcome(json.loads, broken)


@pytest.mark.parametrize("text", [
    '{"a": 1, "a": 2}', '{"a": [NaN, Infinity, -Infinity]}', "[]", "{}", '{"a": []}', '{"a": [ ]}',
    '{"a": [1,]}', '{"a": [1 2]}', '{"a" 1}', '{,}', '{"a": 1,}', '[1] [2]', '', ' ', '\ufeff{}', '"x"',
    '{"a": [{"b": [1, {"c": 2}]}, 3]}',
])
def test_edge_cases(text: str) -> None:
    for depth in (0, 1, 2, 5):
        assert outcome(lambda d: json_slices.loads(d, depth), text) == outcome(json.loads, text)
        # the same as bytes (json.loads accepts a UTF-8 BOM there)
        assert outcome(lambda d: json_slices.loads(d, depth), text.encode()) == outcome(json.loads, text.encode())


def test_deep_nesting_is_a_recursion_error_as_with_json_loads() -> None:
    text = '{"room_keys": [' + "[" * 100_000 + "]" * 100_000 + "]}"
    with pytest.raises(RecursionError):
        json.loads(text)
    with pytest.raises(RecursionError):
        json_slices.loads(text)
