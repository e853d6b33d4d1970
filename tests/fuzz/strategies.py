"""Structured hostile input: JSON of the right shape with the wrong types, lengths and
characters, deep nesting, huge numbers, and byte-wise damage to real files.

The point is to reach the parsers' inner paths: a random byte string is refused by the first
`json.loads`; a real bundle with one field swapped for a 10,000-character string of control
characters gets as far as the check of that field.
"""

from __future__ import annotations

import copy
import json
import re
from typing import Any

from hypothesis import strategies as st

# Characters that have broken terminals, parsers and encoders: C0 and C1 controls, ESC and
# the bytes of CSI/OSC, bidi and invisible characters, lone surrogates (legal as JSON escapes),
# a non-character, emoji with joiners, and non-BMP characters.
NASTY_CHARS = (
    "\x00\x01\x07\x08\t\n\x0b\x0c\r\x1b\x7f\x80\x85\x9b\x9c\x9d\xa0\xad"
    "\u061c\u200b\u200c\u200d\u200e\u200f\u2028\u2029\u202a\u202e\u2066\u2069\u3164\ufeff\ufffd\uffff"
    "\ud800\udbff\udc00\udc1b\udc9b\udfff"
    "\U0001f468\U000e0041\U0010ffff"
)
INTERESTING_TEXT = [
    "", " ", "\x00", "\x1b[2J", "\x1b]52;c;cHduZWQ=\x07", "\x9b5i", "\ud800", "\udc1b[31m", "a\u202eb",
    "null", "true", "[]", "{}", "0", "-1", "NaN", "!room:localhost", "@alice:localhost", "mxc://",
    "mxc://server/", "mxc://s/a/b", "m.megolm.v1.aes-sha2", "m.history_not_shared",
    "A" * 43, "A" * 44, "A" * 220, "=" * 4, "a" * 300, "x" * 10_000, "💩" * 100, "\u0301" * 50,
    "javascript:alert(1)", "https://example.org/\x1b]52;c;x\x07",
]
HUGE_INTS = [2**53, 2**53 - 1, -(2**53), 2**63, 2**64, -(2**63) - 1, 10**30, 10**100, 0, -1, 1, 2**31, 2**32]
ODD_FLOATS = [float("nan"), float("inf"), float("-inf"), -0.0, 1e308, 5e-324, 0.5, 1.0, 1e15]

hostile_text = st.one_of(
    st.sampled_from(INTERESTING_TEXT),
    st.text(alphabet=st.sampled_from(NASTY_CHARS), max_size=40),
    st.text(max_size=60),
    st.text(alphabet=st.characters(codec=None, exclude_categories=()), max_size=30),  # surrogates too
    st.builds(lambda c, n: c * n, st.sampled_from(["a", "\x1b", "\u202e", "€", "A"]), st.integers(100, 20_000)),
)
json_scalars = st.one_of(
    st.none(), st.booleans(), st.sampled_from(HUGE_INTS), st.integers(),
    st.sampled_from(ODD_FLOATS), st.floats(allow_nan=True, allow_infinity=True), hostile_text,
)


def json_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    return st.recursive(
        json_scalars,
        lambda children: st.one_of(
            st.lists(children, max_size=4),
            st.dictionaries(st.one_of(hostile_text, st.sampled_from(FIELD_NAMES)), children, max_size=4),
        ),
        max_leaves=max_leaves,
    )


# Field names the parsers look for, so a random object sometimes has the one that matters.
FIELD_NAMES = [
    "room_keys", "withheld", "algorithm", "room_id", "sender_key", "session_id", "session_key",
    "sender_claimed_keys", "ed25519", "curve25519", "code", "reason", "from_device", "content", "type",
    "file", "url", "v", "key", "k", "alg", "kty", "iv", "hashes", "sha256", "sender", "sender_device",
    "keys", "recipient", "recipient_keys", "sender_device_keys", "user_id", "device_id", "signatures",
    "usage", "body", "msgtype", "format", "formatted_body", "m.relates_to", "name", "topic",
    "membership", "displayname", "event_id", "origin_server_ts", "state_key", "unsigned",
    "forwarding_curve25519_key_chain", "sender_claimed_ed25519_key", "shared_history",
    "org.matrix.msc3061.shared_history", "encrypted", "ciphertext", "mac", "passphrase", "salt",
    "iterations", "bits", "history_visibility", "io.github.tui_client.key_count",
]


def deep(depth: int, kind: str = "list") -> Any:
    """A value nested `depth` levels deep, built without recursion."""
    value: Any = 0
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


def deep_json_text(depth: int, kind: str = "list") -> str:
    if kind == "list":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "0" + "}" * depth


nesting = st.one_of(
    st.builds(deep, st.integers(1, 200), st.sampled_from(["list", "dict"])),
)


# -- mutating a valid structure ------------------------------------------------------------------


def _paths(value: Any, prefix: tuple = (), out: list | None = None, limit: int = 400) -> list[tuple]:
    out = [] if out is None else out
    if len(out) >= limit:
        return out
    out.append(prefix)
    if isinstance(value, dict):
        for key in value:
            _paths(value[key], prefix + (key,), out, limit)
    elif isinstance(value, list):
        for index, item in enumerate(value[:20]):
            _paths(item, prefix + (index,), out, limit)
    return out


def _get(value: Any, path: tuple) -> Any:
    for step in path:
        value = value[step]
    return value


@st.composite
def mutated(draw: st.DrawFn, valid: Any, max_mutations: int = 3, values: st.SearchStrategy | None = None) -> Any:
    """`valid` with up to `max_mutations` changes: a value replaced by a hostile one (wrong
    type, huge, deep, control characters), a field removed or added, a list entry duplicated
    or dropped, a string cut, stretched or given a hostile character. Zero changes is allowed:
    the valid input must pass too."""
    values = values if values is not None else st.one_of(json_values(), nesting)
    data = copy.deepcopy(valid)
    for _ in range(draw(st.integers(0, max_mutations))):
        paths = _paths(data)
        path = draw(st.sampled_from(paths))
        target = _get(data, path)
        op = draw(st.sampled_from(["replace", "replace", "remove", "add", "dup", "string", "wrap"]))
        if op == "replace" or (op in ("remove",) and not path):
            new = draw(values)
            if not path:
                data = new
            else:
                _get(data, path[:-1])[path[-1]] = new
        elif op == "remove" and path:
            parent = _get(data, path[:-1])
            del parent[path[-1]]
        elif op == "add":
            if isinstance(target, dict):
                target[draw(st.one_of(st.sampled_from(FIELD_NAMES), hostile_text))] = draw(values)
            elif isinstance(target, list):
                target.insert(draw(st.integers(0, len(target))), draw(values))
        elif op == "dup" and isinstance(target, list) and target:
            index = draw(st.integers(0, len(target) - 1))
            target.insert(index, copy.deepcopy(target[index]))
        elif op == "string" and isinstance(target, str):
            how = draw(st.sampled_from(["cut", "stretch", "insert", "case", "pad"]))
            if how == "cut":
                new = target[: draw(st.integers(0, max(0, len(target) - 1)))]
            elif how == "stretch":
                new = target * draw(st.integers(2, 50))
            elif how == "insert":
                at = draw(st.integers(0, len(target)))
                new = target[:at] + draw(st.sampled_from(NASTY_CHARS + "=-_+/.!@:")) + target[at:]
            elif how == "case":
                new = target.swapcase()
            else:
                new = target + "=" * draw(st.integers(1, 3))
            if path:
                _get(data, path[:-1])[path[-1]] = new
            else:
                data = new
        elif op == "wrap":
            new = draw(st.sampled_from(["list", "dict"]))
            wrapped = [target] if new == "list" else {"value": target}
            if path:
                _get(data, path[:-1])[path[-1]] = wrapped
            else:
                data = wrapped
    return data


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def to_json_bytes(value: Any) -> bytes:
    """JSON as a hostile sender may write it: NaN and Infinity tokens, non-ASCII raw, and lone
    surrogates as the `\\ud800` escapes every JSON parser accepts (invalid UTF-8 comes from
    `damaged_bytes`)."""
    text = json.dumps(value, ensure_ascii=False, allow_nan=True)
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).encode("utf-8")


@st.composite
def damaged_bytes(draw: st.DrawFn, data: bytes, max_edits: int = 4) -> bytes:
    """`data` cut, with bytes flipped, inserted, deleted or duplicated."""
    out = bytearray(data)
    for _ in range(draw(st.integers(0, max_edits))):
        op = draw(st.sampled_from(["flip", "flip", "set", "insert", "delete", "truncate", "dup"]))
        if not out and op != "insert":
            op = "insert"
        if op == "flip":
            i = draw(st.integers(0, len(out) - 1))
            out[i] ^= 1 << draw(st.integers(0, 7))
        elif op == "set":
            out[draw(st.integers(0, len(out) - 1))] = draw(st.sampled_from([0, 0x1B, 0x22, 0x5C, 0x7B, 0x5B, 0xFF, 0x80]))
        elif op == "insert":
            at = draw(st.integers(0, len(out)))
            out[at:at] = draw(st.binary(min_size=1, max_size=8))
        elif op == "delete":
            i = draw(st.integers(0, len(out) - 1))
            del out[i : i + draw(st.integers(1, 8))]
        elif op == "truncate":
            del out[draw(st.integers(0, len(out) - 1)) :]
        elif op == "dup":
            i = draw(st.integers(0, len(out) - 1))
            j = min(len(out), i + draw(st.integers(1, 64)))
            out[j:j] = out[i:j]
    return bytes(out)
