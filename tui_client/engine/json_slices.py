"""`json.loads` for large documents, in slices that let the interface's thread in between.

`json.loads` is one C call: it holds the GIL for as long as it parses. A 10,000-key bundle is
5 MB of JSON, 15 ms of parsing on this machine, and the engine's thread shares the GIL with the
Textual loop, so every such parse was a frame the interface could not draw (measured with
tests/bench/bench_scale.py, BENCH_TRACE=1). `loads` walks the outer `depth` levels of objects and
arrays itself and hands each value below them to the C scanner: one call per bundle entry
(a few microseconds), and Python checks for a waiting thread between calls.

The result and the errors are those of `json.loads` (a `json.JSONDecodeError`, a ValueError,
with its message and position; a RecursionError for nesting too deep): duplicate keys keep the
last value, NaN and Infinity are accepted, and bytes are decoded as `json.loads` decodes them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any, cast

# Whitespace as JSON has it; the pattern matches (maybe nothing) at any position.
_WHITESPACE = cast(Callable[[str, int], "re.Match[str]"], re.compile(r"[ \t\n\r]*").match)
# The C scanner json.loads itself uses: (value, end) of the value at a position.
_SCAN_ONCE = cast(Callable[[str, int], tuple[Any, int]], json.JSONDecoder().scan_once)  # type: ignore[attr-defined]
_BLANKS = frozenset(" \t\n\r")


def loads(data: bytes | str, depth: int = 2) -> Any:
    """The document in `data`; containers less than `depth` levels deep are walked here."""
    if isinstance(data, (bytes, bytearray)):
        text = data.decode(json.detect_encoding(data), "surrogatepass")
    else:
        if data.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", data, 0)
        text = data
    skip = _WHITESPACE
    value, end = _value(text, skip(text, 0).end(), depth)
    end = skip(text, end).end()
    if end != len(text):
        raise json.JSONDecodeError("Extra data", text, end)
    return value


def _value(text: str, i: int, depth: int) -> tuple[Any, int]:
    if depth > 0:
        if text.startswith("{", i):
            return _object(text, i, depth - 1)
        if text.startswith("[", i):
            return _array(text, i, depth - 1)
    return _scan(text, i)


def _scan(text: str, i: int) -> tuple[Any, int]:
    try:
        return _SCAN_ONCE(text, i)
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None


def _object(text: str, i: int, depth: int) -> tuple[dict[str, Any], int]:
    skip = _WHITESPACE
    obj: dict[str, Any] = {}
    i = skip(text, i + 1).end()
    if text.startswith("}", i):
        return obj, i + 1
    while True:
        if not text.startswith('"', i):
            raise json.JSONDecodeError("Expecting property name enclosed in double quotes", text, i)
        key, i = _scan(text, i)
        i = skip(text, i).end()
        if not text.startswith(":", i):
            raise json.JSONDecodeError("Expecting ':' delimiter", text, i)
        obj[key], i = _value(text, skip(text, i + 1).end(), depth)
        i = skip(text, i).end()
        if text.startswith("}", i):
            return obj, i + 1
        if not text.startswith(",", i):
            raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
        i = skip(text, i + 1).end()


def _array(text: str, i: int, depth: int) -> tuple[list[Any], int]:
    skip = _WHITESPACE
    items: list[Any] = []
    append = items.append
    i = skip(text, i + 1).end()
    if text.startswith("]", i):
        return items, i + 1
    if depth > 0:
        while True:
            value, i = _value(text, i, depth)
            append(value)
            i = skip(text, i).end()
            if text.startswith("]", i):
                return items, i + 1
            if not text.startswith(",", i):
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
            i = skip(text, i + 1).end()
    # The common case (a bundle's 10,000 entries): each element one scanner call, the loop kept
    # short; the separator is usually right after the element.
    scan = _SCAN_ONCE
    try:
        while True:
            value, i = scan(text, i)
            append(value)
            c = text[i:i + 1]
            if c != "," and c != "]":
                i = skip(text, i).end()
                c = text[i:i + 1]
            if c == "]":
                return items, i + 1
            if c != ",":
                raise json.JSONDecodeError("Expecting ',' delimiter", text, i)
            i += 1
            if text[i:i + 1] in _BLANKS:
                i = skip(text, i).end()
    except StopIteration as err:
        raise json.JSONDecodeError("Expecting value", text, err.value) from None
