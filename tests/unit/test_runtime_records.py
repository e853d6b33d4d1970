"""After the first frame the app makes the records a sync and the timeline use soon, one per turn
of the loop (ui/runtime.py): made on first use, they were 25 ms of compiling with the GIL held
inside the first sync, 3 ms of it in the first room's drawing (issue 15)."""

from __future__ import annotations

import sys
import types

from tui_client import records
from tui_client.records import made, pending, record
from tui_client.ui import runtime


def _module(name: str, monkeypatch) -> types.SimpleNamespace:
    monkeypatch.setitem(sys.modules, name, types.ModuleType(name))  # (where dataclasses look up names)

    @record
    class Item:
        n: int

    @record
    class Other:
        text: str = ""

    for cls in (Item, Other):
        cls.__module__ = name
    return types.SimpleNamespace(Item=Item, Other=Other)


def test_the_soon_used_records_are_made_one_per_turn_and_the_others_are_left(monkeypatch):
    ui = _module("tui_client.ui.widgets.example", monkeypatch)
    engine = _module("tui_client.engine.models_example", monkeypatch)
    elsewhere = _module("tui_client.engine.verification_example", monkeypatch)
    made(engine.Other)  # (used already: nothing to make)
    turns: list = []
    count = runtime.make_records_soon(turns.append, ("tui_client.ui.", "tui_client.engine.models"))
    assert count >= 3  # (other records of the package imported by the tests may be waiting too)
    assert pending(ui.Item) and pending(ui.Other) and pending(engine.Item), "nothing is made before its turn"

    ui_made_at = engine_made_at = None
    turn = 0
    while turns:
        step = turns.pop(0)
        before = {cls for cls in records.all_records() if pending(cls)}
        step()
        turn += 1
        made_now = before - {cls for cls in records.all_records() if pending(cls)}
        assert len(made_now) <= 1, "one record per turn of the loop"
        if ui.Item in made_now or ui.Other in made_now:
            ui_made_at = turn
        if engine.Item in made_now:
            engine_made_at = turn
    assert not pending(ui.Item) and not pending(ui.Other) and not pending(engine.Item)
    assert ui_made_at is not None and engine_made_at is not None and ui_made_at < engine_made_at, "the interface's first"
    assert pending(elsewhere.Item) and pending(elsewhere.Other), "records of other modules wait for their first use"
    assert ui.Item(3).n == 3 and engine.Item(4) == engine.Item(4)  # made as a first use makes them
