"""Matrix canonical JSON and the base64 flavours used by Matrix crypto.

Canonical JSON (spec appendix "Canonical JSON") is what every Matrix signature
covers: keys sorted by code point, no insignificant whitespace, UTF-8 output
without ``\\u`` escapes for non-ASCII, integers only, in ``±(2**53 - 1)``.

Matrix writes binary values as *unpadded* standard base64, but real clients
also emit padded and URL-safe variants, so the decoder here accepts all of
them while the encoder always writes the unpadded standard form.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

__all__ = ["canonical_json", "b64encode", "b64decode", "MAX_SAFE_INT", "MAX_DEPTH"]

MAX_SAFE_INT = 2**53 - 1
# Real Matrix objects are a handful of levels deep; the cap keeps hostile input
# from hitting Python's recursion limit.
MAX_DEPTH = 128

_STD_RE = re.compile(r"[A-Za-z0-9+/]*")
_URL_RE = re.compile(r"[A-Za-z0-9\-_]*")


def _check(value: Any, depth: int) -> None:
    if depth > MAX_DEPTH:
        raise ValueError("canonical JSON: nested too deeply")
    # bool is a subclass of int, so it has to be tested first.
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            raise ValueError("canonical JSON: integer out of range ±(2**53-1)")
        return
    if isinstance(value, float):
        raise ValueError("canonical JSON: floats are not allowed")
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError("canonical JSON: object keys must be strings")
            _check(item, depth + 1)
        return
    if isinstance(value, (list, tuple)):
        for item in value:
            _check(item, depth + 1)
        return
    raise ValueError(f"canonical JSON: cannot encode a {type(value).__name__}")


def canonical_json(obj: Any) -> bytes:
    """Encode ``obj`` as Matrix canonical JSON.

    Raises ``ValueError`` for anything canonical JSON cannot represent: floats
    (including NaN/inf), integers outside ``±(2**53 - 1)``, non-string object
    keys, unsupported types, strings that are not valid Unicode (lone
    surrogates) and nesting deeper than ``MAX_DEPTH``.
    """
    _check(obj, 0)
    try:
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), sort_keys=True)
        return text.encode("utf-8")
    except (UnicodeEncodeError, RecursionError, TypeError) as exc:
        raise ValueError(f"canonical JSON: {exc.__class__.__name__}") from None


def b64encode(data: bytes) -> str:
    """Unpadded standard base64, as Matrix uses for keys, signatures and MACs."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError("b64encode needs bytes")
    return base64.b64encode(bytes(data)).decode("ascii").rstrip("=")


def b64decode(s: str) -> bytes:
    """Decode base64 with or without padding, standard or URL-safe alphabet.

    Raises ``ValueError`` on anything that is not exactly one well-formed
    encoding: non-str input, whitespace, characters from both alphabets, a
    length no encoder produces, wrong padding, or non-zero unused trailing
    bits (so each byte string has exactly one accepted spelling per alphabet
    and padding choice).
    """
    if not isinstance(s, str):
        raise ValueError("base64: expected a string")
    body = s.rstrip("=")
    padding = len(s) - len(body)
    if padding and (padding > 2 or len(s) % 4 != 0):
        raise ValueError("base64: bad padding")
    if len(body) % 4 == 1:
        raise ValueError("base64: impossible length")
    if _STD_RE.fullmatch(body):
        standard = body
    elif _URL_RE.fullmatch(body):
        standard = body.replace("-", "+").replace("_", "/")
    else:
        raise ValueError("base64: invalid character")
    try:
        data = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValueError("base64: malformed") from None
    if base64.b64encode(data).decode("ascii").rstrip("=") != standard:
        raise ValueError("base64: non-zero trailing bits")
    return data
