"""nio's JSON schema checks, compiled once.

nio validates every event it parses (three or four times over: one schema per layer of its event
classes) with `jsonschema`, building a new validator for every call, and jsonschema builds
another for every subschema it descends into: on an initial sync of 100 rooms that was two
thirds of the engine's CPU, all of it holding the GIL the UI needs. `install()` replaces nio's
`validate_json` with one that turns each schema, once, into a tree of small Python closures and
runs those: the same answers, and the same defaults written into the instance.

"The same" means exactly what nio's `Draft4Validator` extended with `set_defaults` does
(tests/unit/test_fast_schemas.py compares the two on every nio schema, on valid events and on
thousands of broken ones):
- every keyword of a schema is evaluated, in the schema's own order (nio's defaults are written
  while `properties` is evaluated, so a `required` listed after `properties` sees them, one
  listed before does not); keywords Draft 4 does not know (`const`) are ignored;
- a default is the schema's own object, as nio puts it there, and what is then validated (and
  defaulted) inside it is that object;
- formats are checked by nio's own `FormatChecker`;
- a schema using a Draft 4 keyword not implemented here is left to jsonschema, as before.
One difference, on purpose: where nio's validator crashes (it calls `setdefault` on a value that
is not an object), this one refuses the value, so nio makes a `BadEvent` of it.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError
from nio import schemas as nio_schemas

Check = Callable[[Any], bool]

# Draft 4's keywords (jsonschema ignores every other one).
_DRAFT4 = {
    "$ref", "additionalItems", "additionalProperties", "allOf", "anyOf", "dependencies", "enum", "format",
    "items", "maxItems", "maxLength", "maxProperties", "maximum", "minItems", "minLength", "minProperties",
    "minimum", "multipleOf", "not", "oneOf", "pattern", "patternProperties", "properties", "required", "type",
    "uniqueItems",
}


class Unsupported(Exception):
    """The schema uses something this compiler does not do: jsonschema checks it instead."""


_TYPES: dict[str, Check] = {
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "null": lambda v: v is None,
}


def _equal(one: Any, two: Any) -> bool:
    """jsonschema's equality: True is not 1, and containers compare element by element."""
    if one is two:
        return True
    if isinstance(one, str) or isinstance(two, str):
        return bool(one == two)
    if isinstance(one, Sequence) and isinstance(two, Sequence):
        return len(one) == len(two) and all(_equal(a, b) for a, b in zip(one, two))
    if isinstance(one, Mapping) and isinstance(two, Mapping):
        return one.keys() == two.keys() and all(_equal(one[k], two[k]) for k in one)
    if isinstance(one, bool) or isinstance(two, bool):
        return type(one) is type(two) and one == two
    return bool(one == two)


def _all(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(instance: Any) -> bool:
        ok = True
        for one in checks:  # every keyword runs (defaults are written by some of them)
            if not one(instance):
                ok = False
        return ok

    return check


def compile_schema(schema: Any) -> Check:
    """A function telling whether an instance matches `schema` (writing defaults as nio does);
    raises Unsupported for what it does not implement."""
    if not isinstance(schema, dict):
        raise Unsupported(f"a schema that is a {type(schema).__name__}")
    checks = []
    for keyword, value in schema.items():
        if keyword not in _DRAFT4:
            continue
        make = _KEYWORDS.get(keyword)
        if make is None:
            raise Unsupported(keyword)
        checks.append(make(value, schema))
    return _all(checks)


def _type(value: Any, schema: dict[str, Any]) -> Check:
    names = value if isinstance(value, list) else [value]
    tests = [_TYPES[n] for n in names if n in _TYPES]
    if len(tests) != len(names):
        raise Unsupported(f"type {value!r}")
    if len(tests) == 1:
        return tests[0]
    return lambda v: any(t(v) for t in tests)


def _enum(value: Any, schema: dict[str, Any]) -> Check:
    return lambda v: any(_equal(v, e) for e in value)


def _properties(value: Any, schema: dict[str, Any]) -> Check:
    subs = [(name, compile_schema(sub)) for name, sub in value.items()]
    defaults = [(name, sub["default"]) for name, sub in value.items() if "default" in sub]

    def check(instance: Any) -> bool:
        for name, default in defaults:
            instance.setdefault(name, default)  # nio's set_defaults (it crashes on a non-object too)
        if not isinstance(instance, dict):
            return True
        ok = True
        for name, sub in subs:
            if name in instance and not sub(instance[name]):
                ok = False
        return ok

    return check


def _pattern_properties(value: Any, schema: dict[str, Any]) -> Check:
    subs = [(re.compile(pattern), compile_schema(sub)) for pattern, sub in value.items()]

    def check(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        ok = True
        for pattern, sub in subs:
            for key, item in list(instance.items()):
                if pattern.search(key) and not sub(item):
                    ok = False
        return ok

    return check


def _additional_properties(value: Any, schema: dict[str, Any]) -> Check:
    known = set(schema.get("properties", {}))
    patterns = [re.compile(p) for p in schema.get("patternProperties", {})]
    sub = compile_schema(value) if isinstance(value, dict) else None
    if sub is None and not isinstance(value, bool):
        raise Unsupported("additionalProperties")

    def extras(instance: dict[str, Any]) -> list[str]:
        return [k for k in instance if k not in known and not any(p.search(k) for p in patterns)]

    def check(instance: Any) -> bool:
        if not isinstance(instance, dict):
            return True
        found = extras(instance)
        if sub is not None:
            return all([sub(instance[k]) for k in found])
        return bool(value) or not found

    return check


def _required(value: Any, schema: dict[str, Any]) -> Check:
    names = list(value)
    return lambda v: not isinstance(v, dict) or all(n in v for n in names)


def _items(value: Any, schema: dict[str, Any]) -> Check:
    if isinstance(value, list):
        raise Unsupported("items as a list")
    sub = compile_schema(value)

    def check(instance: Any) -> bool:
        if not isinstance(instance, list):
            return True
        return all([sub(item) for item in instance])

    return check


def _not(value: Any, schema: dict[str, Any]) -> Check:
    sub = compile_schema(value)
    return lambda v: not sub(v)


def _minimum(value: Any, schema: dict[str, Any]) -> Check:
    exclusive = schema.get("exclusiveMinimum", False)
    number = _TYPES["number"]
    return lambda v: not number(v) or (v > value if exclusive else v >= value)


def _maximum(value: Any, schema: dict[str, Any]) -> Check:
    exclusive = schema.get("exclusiveMaximum", False)
    number = _TYPES["number"]
    return lambda v: not number(v) or (v < value if exclusive else v <= value)


def _format(value: Any, schema: dict[str, Any]) -> Check:
    checker = nio_schemas.Checker
    return lambda v: bool(checker.conforms(v, value))


def _pattern(value: Any, schema: dict[str, Any]) -> Check:
    pattern = re.compile(value)
    return lambda v: not isinstance(v, str) or pattern.search(v) is not None


def _length(bound: str) -> Callable[[Any, dict[str, Any]], Check]:
    def make(value: Any, schema: dict[str, Any]) -> Check:
        if bound == "minLength":
            return lambda v: not isinstance(v, str) or len(v) >= value
        if bound == "maxLength":
            return lambda v: not isinstance(v, str) or len(v) <= value
        if bound == "minItems":
            return lambda v: not isinstance(v, list) or len(v) >= value
        return lambda v: not isinstance(v, list) or len(v) <= value

    return make


def _combined(kind: str) -> Callable[[Any, dict[str, Any]], Check]:
    def make(value: Any, schema: dict[str, Any]) -> Check:
        subs = [compile_schema(s) for s in value]
        if kind == "allOf":
            return lambda v: all([s(v) for s in subs])
        if kind == "anyOf":
            return lambda v: any([s(v) for s in subs])
        return lambda v: [s(v) for s in subs].count(True) == 1

    return make


_KEYWORDS: dict[str, Callable[[Any, dict[str, Any]], Check]] = {
    "type": _type,
    "enum": _enum,
    "properties": _properties,
    "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties,
    "required": _required,
    "items": _items,
    "not": _not,
    "minimum": _minimum,
    "maximum": _maximum,
    "format": _format,
    "pattern": _pattern,
    "minLength": _length("minLength"),
    "maxLength": _length("maxLength"),
    "minItems": _length("minItems"),
    "maxItems": _length("maxItems"),
    "allOf": _combined("allOf"),
    "anyOf": _combined("anyOf"),
    "oneOf": _combined("oneOf"),
}

_nio_validate_json = nio_schemas.validate_json
_compiled: dict[int, tuple[Any, Check | None]] = {}
_lock = threading.Lock()


def compiled(schema: dict[str, Any]) -> Check | None:
    """`schema`'s check, made on first use (None: jsonschema checks this one)."""
    entry = _compiled.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    try:
        check: Check | None = compile_schema(schema)
    except Unsupported:
        check = None
    with _lock:
        _compiled[id(schema)] = (schema, check)
    return check


def validate_json(instance: Any, schema: dict[str, Any]) -> None:
    """nio's `validate_json`: raises `jsonschema.exceptions.ValidationError` if `instance` does
    not match `schema`; writes the schema's defaults into it."""
    check = compiled(schema)
    if check is None:
        _nio_validate_json(instance, schema)
        return
    try:
        ok = check(instance)
    except Exception as exc:  # where nio's own validator would crash
        raise ValidationError(f"not a valid value ({type(exc).__name__})") from None
    if not ok:
        raise ValidationError("does not match the schema")


def install() -> None:
    """Make nio use `validate_json` everywhere it validates (its modules import the name)."""
    import nio.crypto.olm_machine
    import nio.events.misc
    import nio.responses

    for module in (nio_schemas, nio.events.misc, nio.responses, nio.crypto.olm_machine):
        module.validate_json = validate_json
