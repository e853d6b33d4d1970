"""`@record`: a frozen dataclass made when first used (tui_client/records.py)."""

from __future__ import annotations

import dataclasses
import importlib
import inspect
import pkgutil
import sys
import threading
from dataclasses import field

import pytest

import tui_client
from tui_client.records import is_record, made, pending, record


def test_a_record_is_a_frozen_dataclass_once_used() -> None:
    @record
    class Point:
        x: int
        y: int = 0
        tags: tuple[str, ...] = field(default_factory=tuple)

    assert pending(Point)
    p = Point(1, 2)
    assert not pending(Point)
    assert str(inspect.signature(Point)) == "(x: 'int', y: 'int' = 0, tags: 'tuple[str, ...]' = <factory>) -> None"
    assert dataclasses.is_dataclass(Point) and Point.__dataclass_params__.frozen  # type: ignore[attr-defined]
    assert p == Point(1, 2) and p != Point(1, 3)
    assert hash(p) == hash(Point(1, 2))
    assert repr(p).endswith(".Point(x=1, y=2, tags=())")
    assert Point(5).y == 0 and Point(5).tags == ()
    with pytest.raises(dataclasses.FrozenInstanceError):
        p.x = 3  # type: ignore[misc]
    assert dataclasses.replace(p, y=7) == Point(1, 7)
    assert dataclasses.asdict(p) == {"x": 1, "y": 2, "tags": ()}
    with pytest.raises(TypeError):
        Point()  # type: ignore[call-arg]  # (a missing field is still an error)


def test_made_gives_the_fields_before_any_instance() -> None:
    @record
    class Settings:
        name: str = "x"

    assert not dataclasses.is_dataclass(Settings)
    assert [f.name for f in dataclasses.fields(made(Settings))] == ["name"]
    assert Settings() == Settings("x")


def test_made_leaves_other_classes_as_they_are() -> None:
    class Plain:
        pass

    assert made(Plain) is Plain and not dataclasses.is_dataclass(Plain)
    assert made(int) is int


def test_post_init_runs_once_for_the_first_instance() -> None:
    calls: list[int] = []

    @record
    class Checked:
        value: int

        def __post_init__(self) -> None:
            calls.append(self.value)

    Checked(1)
    Checked(2)
    assert calls == [1, 2]


def test_a_record_inheriting_from_a_record_has_both_fields() -> None:
    @record
    class Base:
        a: int

    @record
    class Child(Base):
        b: str = "b"

    assert pending(Base) and pending(Child)
    c = Child(1)
    assert (c.a, c.b) == (1, "b") and not pending(Base)
    assert Base(1) != c  # (a dataclass's equality compares the class too)
    assert [f.name for f in dataclasses.fields(Child)] == ["a", "b"]


def test_a_plain_subclass_of_a_pending_record_makes_it() -> None:
    @record
    class Base:
        a: int

    class Named(Base):
        def name(self) -> str:
            return f"n{self.a}"

    assert Named(3).name() == "n3" and not pending(Base)


def test_a_record_cannot_define_init() -> None:
    class WithInit:
        def __init__(self) -> None:
            pass

    with pytest.raises(TypeError, match="__init__ is generated"):
        record(WithInit)


def test_threads_that_first_use_a_record_at_once_all_get_whole_instances() -> None:
    # The engine's thread and the UI's may be first to use a class at the same moment: one makes
    # it, the other waits, and every instance is initialised by the generated __init__. (Threads
    # switch every microsecond here, so that one is caught in the middle of another's making.)
    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        _first_uses_at_once()
    finally:
        sys.setswitchinterval(before)


def _first_uses_at_once() -> None:
    for _ in range(50):

        @record
        class Event:
            room: str
            count: int = 1

        start = threading.Barrier(8)
        made_here: list[object] = []

        def use(i: int) -> None:
            start.wait()
            made_here.append(Event(f"!r{i}", i))

        threads = [threading.Thread(target=use, args=(i,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(made_here, key=lambda e: e.count) == [Event(f"!r{i}", i) for i in range(8)]  # type: ignore[attr-defined]
        assert not pending(Event)


def _package_classes() -> list[type]:
    found: dict[type, None] = {}
    for info in pkgutil.walk_packages(tui_client.__path__, "tui_client."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if inspect.isclass(value) and value.__module__ == info.name:
                found[value] = None
    return list(found)


def test_every_record_in_the_package_can_be_made() -> None:
    # A record's definition errors (a field without a default after one with a default) are
    # raised when it is made, not when imported: made here, they fail here.
    classes = _package_classes()
    records = {cls for cls in classes if is_record(cls)}
    assert len(records) > 100  # (the package's frozen value classes are records)
    for cls in records:
        made(cls)
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen, cls  # type: ignore[attr-defined]
    # A plain @dataclass inheriting from a record would miss the record's fields (it is made
    # when defined, the record later): a dataclass inherits only from records if it is one.
    for cls in classes:
        if dataclasses.is_dataclass(cls) and cls not in records:
            assert not records.intersection(cls.__mro__[1:]), cls
