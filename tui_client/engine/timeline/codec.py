"""Plain-JSON form of the frozen dataclasses a timeline is made of (`EventFacts`,
`TimelineItem`, `RoomSummary` and what they hold), for the offline cache (pure).

Encoding walks the dataclass fields; decoding follows their type hints, so a cache written by
this build reads back into equal objects. Anything that does not fit (a cache from a future
build, a damaged one) raises `CodecError`, and the caller drops that cache.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from enum import Enum
from functools import cache
from typing import Any, TypeVar, Union

from ...records import made

T = TypeVar("T")


class CodecError(ValueError):
    pass


_PLAIN = frozenset({str, int, float, bool, type(None)})  # exact types: a str-valued Enum is not one


@cache
def _field_names(cls: type) -> tuple[str, ...] | None:
    """The fields of a dataclass type, None for any other type (asked once per type: the
    cache after a first sync encodes ~50,000 values, and `dataclasses.fields` per value was
    most of its time)."""
    if dataclasses.is_dataclass(made(cls)):
        return tuple(f.name for f in dataclasses.fields(cls))
    return None


def encode(value: Any) -> Any:
    kind: Any = type(value)
    if kind in _PLAIN:
        return value
    names = _field_names(kind)
    if names is not None:
        return {name: encode(getattr(value, name)) for name in names}
    if kind is tuple or kind is list:
        return [encode(v) for v in value]
    if kind is dict:
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, (list, tuple)):
        return [encode(v) for v in value]
    if isinstance(value, Mapping):
        return {str(k): encode(v) for k, v in value.items()}
    if isinstance(value, (str, int, float, bool)):
        return value
    raise CodecError(f"cannot encode a {type(value).__name__}")


@cache
def _shape(tp: Any) -> tuple[Any, tuple[Any, ...], bool]:
    """A type hint's origin and arguments, and whether it is a dataclass (asked once per hint:
    the room list read before the first frame decodes ~2,600 values)."""
    return typing.get_origin(tp), typing.get_args(tp), isinstance(tp, type) and dataclasses.is_dataclass(made(tp))


@cache
def _plan(cls: type) -> tuple[tuple[str, Any, bool], ...]:
    """Each field of a dataclass: its name, its type hint, whether it must be given."""
    hints = typing.get_type_hints(cls)
    return tuple(
        (f.name, hints[f.name], f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING)
        for f in dataclasses.fields(cls)
    )


def decode(cls: type[T], data: Any) -> T:
    return typing.cast(T, _decode(cls, data))


def _decode(tp: Any, data: Any) -> Any:
    if tp is Any or (type(data) is tp and tp in _PLAIN):
        return data
    origin, args, is_dataclass = _shape(tp)
    if origin in (Union, types.UnionType):
        if data is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _decode(arg, data)
            except CodecError as exc:
                errors.append(str(exc))
        raise CodecError("; ".join(errors) or "no type fits")
    if is_dataclass:
        if not isinstance(data, Mapping):
            raise CodecError(f"{tp.__name__}: expected an object")
        kwargs = {}
        for name, hint, required in _plan(tp):
            if name in data:
                kwargs[name] = _decode(hint, data[name])
            elif required:
                raise CodecError(f"{tp.__name__}: {name} is missing")
        return tp(**kwargs)
    if isinstance(tp, type) and issubclass(tp, Enum):
        try:
            return tp(data)
        except ValueError as exc:
            raise CodecError(str(exc)) from None
    if origin is tuple:
        if not isinstance(data, list):
            raise CodecError("expected a list")
        if len(args) == 2 and args[1] is Ellipsis:
            return tuple(_decode(args[0], v) for v in data)
        return tuple(_decode(a, v) for a, v in zip(args, data, strict=True))
    if origin is list:
        if not isinstance(data, list):
            raise CodecError("expected a list")
        return [_decode(args[0], v) for v in data]
    if origin in (dict, Mapping) or tp in (dict, Mapping):
        if not isinstance(data, dict):
            raise CodecError("expected an object")
        return data
    if tp is float and isinstance(data, (int, float)) and not isinstance(data, bool):
        return float(data)
    if tp in (str, int, bool) and type(data) is tp:
        return data
    if tp is type(None) and data is None:
        return None
    raise CodecError(f"expected {getattr(tp, '__name__', tp)}, got {type(data).__name__}")
