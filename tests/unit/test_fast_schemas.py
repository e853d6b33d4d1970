"""nio's schema checks, compiled once (engine/nio/schemas.py), must answer exactly as nio's own
jsonschema validator: for every schema nio has, on an event built to match it and on thousands of
broken copies of it (a field missing, or of another type or form), both accept or both refuse,
and what they accept comes out with the same defaults filled in."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from jsonschema.exceptions import ValidationError
from nio import schemas as nio_schemas
from nio.schemas import Schemas

from tui_client.engine.nio.schemas import _nio_validate_json as nio_validate_json
from tui_client.engine.nio.schemas import compiled, validate_json

SCHEMAS = {name: value for name in dir(Schemas) if isinstance(value := getattr(Schemas, name), dict)}

KEY_EXAMPLES = {
    nio_schemas.RoomRegex: "!room:example.org",
    nio_schemas.UserIdRegex: "@user:example.org",
    nio_schemas.EventTypeRegex: "m.example",
    nio_schemas.KeyRegex: "ed25519:DEVICE",
    nio_schemas.SignedCurveRegex: "signed_curve25519:AAAA",
}
FORMAT_EXAMPLES = {"user_id": "@user:example.org", "http_url": "https://example.org", "room_id": "!room:example.org"}
ODD_VALUES: list[Any] = [
    None, True, 0, -1, 1.5, "", "x", "@nodomain", "@user:example.org", "!room:example.org",
    "https://example.org", "ftp://example.org", "ed25519:K", [], [1], ["a"], {}, {"a": 1},
]


def example(schema: dict[str, Any], depth: int = 0) -> Any:
    """An instance built to match `schema`."""
    if not isinstance(schema, dict):  # (nio has a misplaced "required" list among properties)
        return "s"
    if "enum" in schema:
        return copy.deepcopy(schema["enum"][0])
    kind = schema.get("type", "object" if "properties" in schema else "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if kind == "object":
        out: dict[str, Any] = {}
        if depth < 8:
            for name, sub in schema.get("properties", {}).items():
                out[name] = example(sub, depth + 1)
            for pattern, sub in schema.get("patternProperties", {}).items():
                if pattern in KEY_EXAMPLES:
                    out[KEY_EXAMPLES[pattern]] = example(sub, depth + 1)
        return out
    if kind == "array":
        items = schema.get("items")
        return [example(items, depth + 1)] if isinstance(items, dict) and depth < 8 else []
    if kind == "string":
        if "format" in schema:
            return FORMAT_EXAMPLES.get(schema["format"], "s")
        return KEY_EXAMPLES.get(schema.get("pattern", ""), "m.text")
    return {"integer": 1, "number": 1.5, "boolean": True, "null": None}.get(kind, "s")


def paths(value: Any, prefix: tuple[Any, ...] = (), depth: int = 0):
    if depth > 4:
        return
    if isinstance(value, dict):
        for key, sub in value.items():
            yield prefix + (key,)
            yield from paths(sub, prefix + (key,), depth + 1)
    elif isinstance(value, list):
        for index, sub in enumerate(value):
            yield prefix + (index,)
            yield from paths(sub, prefix + (index,), depth + 1)


def broken_copies(seed: Any):
    yield copy.deepcopy(seed)
    for path in paths(seed):
        parent = seed
        for step in path[:-1]:
            parent = parent[step]
        if isinstance(parent, dict):
            gone = copy.deepcopy(seed)
            target = gone
            for step in path[:-1]:
                target = target[step]
            del target[path[-1]]
            yield gone
        for odd in ODD_VALUES:
            changed = copy.deepcopy(seed)
            target = changed
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = copy.deepcopy(odd)
            yield changed
    for odd in ODD_VALUES:
        yield copy.deepcopy(odd)


def nio_answer(instance: Any, schema: dict[str, Any]) -> tuple[str, Any]:
    try:
        nio_validate_json(instance, schema)
    except ValidationError:
        return "refused", None
    except Exception as exc:  # nio's own validator crashes on some inputs (e.g. a list where it
        return "crashed", type(exc).__name__  # sets defaults): the compiled one must refuse them
    return "accepted", instance


def our_answer(instance: Any, schema: dict[str, Any]) -> tuple[str, Any]:
    try:
        validate_json(instance, schema)
    except ValidationError:
        return "refused", None
    except Exception as exc:  # only where jsonschema still checks (nio's own crash)
        return "crashed", type(exc).__name__
    return "accepted", instance


@pytest.mark.parametrize("name", sorted(SCHEMAS))
def test_the_compiled_check_answers_as_nio_does(name: str) -> None:
    schema = SCHEMAS[name]
    seed = example(schema)
    checked = accepted = 0
    for instance in broken_copies(seed):
        theirs = nio_answer(copy.deepcopy(instance), schema)
        ours = our_answer(copy.deepcopy(instance), schema)
        checked += 1
        if theirs[0] == "crashed":
            assert ours[0] == ("crashed" if compiled(schema) is None else "refused"), (name, instance, theirs)
            continue
        assert ours == theirs, (name, instance, theirs, ours)
        accepted += ours[0] == "accepted"
    assert checked > 10


def test_nearly_every_schema_is_compiled_not_left_to_jsonschema() -> None:
    left = sorted(name for name, schema in SCHEMAS.items() if compiled(schema) is None)
    assert left == ["delete_devices"], left  # (its "required" sits among its properties)


def test_the_example_events_are_valid_so_the_comparison_covers_acceptance() -> None:
    """Most schemas accept their example (else the test above would compare refusals only)."""
    accepted = [name for name, schema in SCHEMAS.items() if nio_answer(example(schema), schema)[0] == "accepted"]
    assert len(accepted) >= len(SCHEMAS) * 0.8, sorted(set(SCHEMAS) - set(accepted))


def test_defaults_are_filled_in_as_nio_fills_them() -> None:
    sync = {"next_batch": "s1"}
    validate_json(sync, Schemas.sync)
    assert "rooms" in sync and "device_lists" in sync
    theirs = {"next_batch": "s1"}
    nio_validate_json(theirs, Schemas.sync)
    assert sync == theirs


def test_nio_uses_the_compiled_check_once_the_engine_is_imported() -> None:
    import nio.events.misc
    import nio.responses

    import tui_client.engine.nio  # noqa: F401  (installs it)

    assert nio.events.misc.validate_json is validate_json
    assert nio.responses.validate_json is validate_json
    assert nio_schemas.validate_json is validate_json
