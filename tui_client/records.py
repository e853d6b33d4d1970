"""`@record`: a frozen dataclass whose methods are made when the class is first used.

Making a dataclass compiles the source of each of its methods (`__init__`, `__repr__`, `__eq__`,
`__hash__`, and a frozen one's `__setattr__` and `__delattr__`): about 0.1 ms a method in Python
3.11, 0.6 ms a class. Our ~130 frozen value classes cost 60 ms of every start's imports, ahead of
the first frame (issue 15: launch to a room list that answers keys in 0.5 s), though fewer than
ten of them are used before it; most (verification, inspector, key files, transfers) are used in
few runs or none.

A record is an ordinary class until it is first instantiated, or its fields are asked for with
`made(cls)`. Then `dataclasses.dataclass(frozen=True)` makes it a dataclass, in place (after any
record it inherits from), and from then on it is one like any other: the same generated methods,
as fast; `dataclasses.fields`, `replace`, `asdict`, equality, hashing, immutability. The only
difference is when a definition error (a field without a default after one with a default) is
raised: `tests/unit/test_records.py` makes every record in the package, so it is raised there.

Code that inspects a record *class* before any instance exists (`dataclasses.fields(cls)`,
`is_dataclass(cls)`, `cls.__dataclass_fields__`) calls `made(cls)` first.

How: until it is made, the class's `__init__` is a stand-in that makes it, then initialises the
instance with the generated `__init__`. The engine's thread and the UI's may first use a class at
the same moment, so making holds a lock, and the stand-in is never missing: a dataclass never
replaces an `__init__` its class defines, so the in-place pass makes the other methods, and the
generated `__init__` comes from a twin class (the same fields, defaults and `__post_init__`),
replacing the stand-in in one assignment. A thread that instantiates meanwhile finds the
stand-in, which waits for the lock. (A stand-in `__new__` would need no twin, but a class that
was ever given a `__new__` keeps calling it: 20% on every instance.) The twin costs three more
compiled methods, paid only by the classes a run uses, after its first frame.
"""

from __future__ import annotations

import dataclasses
import threading
import weakref
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:  # (what tells the type checker a record is a frozen dataclass; 3.10 lacks it)
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Any:
        return lambda f: f


T = TypeVar("T")

_PENDING = "__record_pending__"  # in the class's own namespace until it is made
_lock = threading.RLock()
_records: weakref.WeakSet[type] = weakref.WeakSet()


@dataclass_transform(frozen_default=True, field_specifiers=(dataclasses.field, dataclasses.Field))
def record(cls: type[T]) -> type[T]:
    """`@dataclass(frozen=True)`, made when the class is first used (see the module's docstring)."""
    if "__init__" in cls.__dict__:
        raise TypeError(f"{cls.__qualname__}: a record's __init__ is generated; use __post_init__")

    def __init__(self: Any, *args: Any, **kwargs: Any) -> None:  # the stand-in, until made
        made(cls)
        cls.__init__(self, *args, **kwargs)

    setattr(cls, _PENDING, True)
    _records.add(cls)
    cls.__init__ = __init__  # type: ignore[method-assign]
    return cls


def made(cls: type[T]) -> type[T]:
    """`cls`, made a dataclass now if it is a record not yet made (and every record it inherits
    from); any other class as it is."""
    if any(_PENDING in klass.__dict__ for klass in cls.__mro__):
        with _lock:
            for klass in reversed(cls.__mro__):  # bases first: a dataclass inherits their fields
                if _PENDING in klass.__dict__:
                    _make(klass)
    return cls


def all_records() -> list[type]:
    """Every class declared with `@record` so far (in the modules imported by now)."""
    return list(_records)


def is_record(cls: type) -> bool:
    """Whether `cls` was declared with `@record` (made or not)."""
    return cls in _records


def pending(cls: type) -> bool:
    """Whether `cls` is a record whose methods are still to be made."""
    return _PENDING in cls.__dict__


def _make(cls: type) -> None:
    own = dict(cls.__dict__)  # (before the in-place pass replaces its fields' defaults)
    annotations = own.get("__annotations__", {})
    namespace = {name: own[name] for name in annotations if name in own}
    if "__post_init__" in own:
        namespace["__post_init__"] = own["__post_init__"]
    twin: Any = type(cls.__name__, cls.__bases__, {
        **namespace, "__annotations__": annotations, "__module__": cls.__module__, "__qualname__": cls.__qualname__,
    })
    dataclasses.dataclass(frozen=True, repr=False, eq=False, match_args=False)(twin)
    dataclasses.dataclass(frozen=True)(cls)  # all but __init__ (the stand-in's is kept)
    if own.get("__doc__") is None:
        cls.__doc__ = twin.__doc__  # (the signature of the real __init__, not the stand-in's)
    cls.__init__ = twin.__init__  # type: ignore[misc]
    delattr(cls, _PENDING)  # (last: until now, a stand-in called meanwhile waits for the lock)
