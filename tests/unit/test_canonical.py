"""Canonical JSON and base64 helpers: spec examples, edge cases, hostile input."""

from __future__ import annotations

import base64
import json
import os

import pytest

from tui_client.engine.crypto.canonical import (
    MAX_DEPTH,
    MAX_SAFE_INT,
    b64decode,
    b64encode,
    canonical_json,
)

# Examples from the Matrix spec, appendices "Canonical JSON" (matrix-org/matrix-spec
# content/appendices.md). Input is JSON text as given there.
SPEC_EXAMPLES = [
    ("{}", "{}"),
    ('{"one": 1, "two": "Two"}', '{"one":1,"two":"Two"}'),
    ('{"b": "2", "a": "1"}', '{"a":"1","b":"2"}'),
    ('{"b":"2","a":"1"}', '{"a":"1","b":"2"}'),
    (
        """{"auth": {"success": true, "mxid": "@john.doe:example.com", "profile": {
            "display_name": "John Doe", "three_pids": [
            {"medium": "email", "address": "john.doe@example.org"},
            {"medium": "msisdn", "address": "123456789"}]}}}""",
        '{"auth":{"mxid":"@john.doe:example.com","profile":{"display_name":"John Doe",'
        '"three_pids":[{"address":"john.doe@example.org","medium":"email"},'
        '{"address":"123456789","medium":"msisdn"}]},"success":true}}',
    ),
    ('{"a": "日本語"}', '{"a":"日本語"}'),
    ('{"本": 2, "日": 1}', '{"日":1,"本":2}'),
    ('{"a": "\\u65E5"}', '{"a":"日"}'),
    ('{"a": null}', '{"a":null}'),
    ('{"a": -0}', '{"a":0}'),
]


@pytest.mark.parametrize(("source", "expected"), SPEC_EXAMPLES)
def test_spec_examples(source: str, expected: str) -> None:
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_spec_float_example_is_refused() -> None:
    # The spec's last example turns 1e10 into 10000000000; we refuse floats
    # outright, as the brief asks (Python parses 1e10 as a float).
    with pytest.raises(ValueError):
        canonical_json(json.loads('{"a": -0, "b": 1e10}'))


def test_agrees_with_nio() -> None:
    from nio.api import Api

    obj = {
        "z": [1, -2, {"y": None, "x": True}],
        "a": 'ünïcödé \u2028 \x7f / \\ " \n\t\x01\x1f',
        "m": {"": 0, "B": MAX_SAFE_INT, "b": -MAX_SAFE_INT},
    }
    assert canonical_json(obj) == Api.to_canonical_json(obj).encode("utf-8")


def test_control_characters_use_lowercase_short_escapes() -> None:
    assert canonical_json({"a": "\x01\x1f\n\b"}) == b'{"a":"\\u0001\\u001f\\n\\b"}'


@pytest.mark.parametrize("value", [MAX_SAFE_INT, -MAX_SAFE_INT, 0, True, False, None, "", [], {}])
def test_accepts_boundary_values(value: object) -> None:
    canonical_json({"v": value})


@pytest.mark.parametrize(
    "value",
    [
        1.5,
        1.0,
        float("nan"),
        float("inf"),
        MAX_SAFE_INT + 1,
        -MAX_SAFE_INT - 1,
        10**400,
        {1: "int key"},
        {("t",): "tuple key"},
        {"s"},
        b"bytes",
        object(),
        "\ud800",  # lone surrogate
        {"k": [1, 2, {"x": 0.1}]},
    ],
)
def test_rejects_unrepresentable(value: object) -> None:
    with pytest.raises(ValueError):
        canonical_json({"v": value})


def _nested(depth: int) -> object:
    value: object = "leaf"
    for i in range(depth):
        value = {"k": value} if i % 2 else [value]
    return value


def test_nesting_limit() -> None:
    canonical_json(_nested(MAX_DEPTH))
    with pytest.raises(ValueError):
        canonical_json(_nested(MAX_DEPTH + 1))
    with pytest.raises(ValueError):
        canonical_json(_nested(50_000))


# Spec appendix "Unpadded Base64" examples.
@pytest.mark.parametrize(
    ("raw", "encoded"),
    [
        (b"", ""),
        (b"f", "Zg"),
        (b"fo", "Zm8"),
        (b"foo", "Zm9v"),
        (b"foob", "Zm9vYg"),
        (b"fooba", "Zm9vYmE"),
        (b"foobar", "Zm9vYmFy"),
    ],
)
def test_unpadded_base64_spec_examples(raw: bytes, encoded: str) -> None:
    assert b64encode(raw) == encoded
    assert b64decode(encoded) == raw
    padded = encoded + "=" * (-len(encoded) % 4)
    assert b64decode(padded) == raw


def test_b64_round_trips_all_flavours() -> None:
    for length in range(0, 70):
        data = os.urandom(length)
        unpadded = b64encode(data)
        assert "=" not in unpadded
        assert b64decode(unpadded) == data
        assert b64decode(base64.b64encode(data).decode()) == data
        assert b64decode(base64.urlsafe_b64encode(data).decode()) == data
        assert b64decode(base64.urlsafe_b64encode(data).decode().rstrip("=")) == data


def test_b64encode_needs_bytes() -> None:
    with pytest.raises(TypeError):
        b64encode("text")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        None,
        1,
        b"Zg",
        ["Zg"],
        {"a": 1},  # not str
        "Z",
        "Zm9vY",
        "Zg=",
        "Zg===",
        "=",
        "==",
        "Zm9v=",
        "Zm9v====",  # lengths / padding
        "Zg==Zg==",
        "Z=g=",
        " Zg",
        "Zg ",
        "Zm 9v",
        "Zm9v\n",  # misplaced padding, whitespace
        "Zm+v-A",
        "ab/_",
        "é",
        "Zm9\u0000",
        "Zm9v!",  # mixed alphabets, foreign characters
        "Zh",
        "Zm9",
        "Zm9vYh",  # non-zero trailing bits
    ],
)
def test_b64decode_rejects_invalid(bad: object) -> None:
    with pytest.raises(ValueError):
        b64decode(bad)  # type: ignore[arg-type]
