#!/usr/bin/env python3
"""Benchmark: how soon the room list is usable, and how fast the room switcher answers.

    python tests/bench/bench_everyday.py [--sizes 200 1000] [--runs 5]

For each size it runs the real TUI (headless, Textual's test driver) on the UI tests' fake engine
inside a real EngineHost (the same thread hop as in production) with that many rooms: DMs, a few
spaces with children, the rest plain rooms, with unread counts and activity times. It prints:

- start → interactive room list: from creating the app to the first moment the list holds every
  room, one is open, and a key press (down) has moved the highlight;
- a list update: the engine sends a new room list (one room became active) until the first
  frame drawn with it on top;
- the switcher, per keystroke: typing "quarterly" one letter at a time into ctrl+k, the time from
  the key event reaching the app (as a terminal driver delivers it) to the first frame drawn with
  the results for it, and the share of that spent searching (fuzzy matching + the option list).
  (Timing through Textual's Pilot.press would add its own ~100 ms idle detection per key.)

Targets on a 2-core machine: room list ≤ 1 s at 1,000 rooms; switcher ≤ 50 ms per keystroke.
Figures are noisy on a shared machine: best and median of several runs are printed, with the
load average.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from dataclasses import replace
from datetime import timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

os.environ.setdefault("TZ", "UTC")

from textual import events  # noqa: E402

from tests.ui.fake_engine import ME, FakeEngine, members, ts  # noqa: E402
from tui_client.config import Settings  # noqa: E402
from tui_client.engine.events import RoomsChanged  # noqa: E402
from tui_client.engine.host import EngineHost  # noqa: E402
from tui_client.engine.models import RoomSummary, SpaceChild  # noqa: E402
from tui_client.ui.app import TuiApp  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.screens.switcher import RoomSwitcher  # noqa: E402
from tui_client.ui.timefmt import TimeFormatter  # noqa: E402
from tui_client.ui.widgets.room_list import RoomList  # noqa: E402

WORDS = ["alpha", "design", "ops", "random", "support", "launch", "infra", "sales", "books", "music"]


def world(count: int) -> list[RoomSummary]:
    """`count` rooms: 10% DMs, 5 spaces listing 10 rooms each (and 3 unjoined), the rest rooms."""
    rooms: list[RoomSummary] = []
    for n in range(count):
        active = ts(4, 0, 0) + n * 7_000
        if n % 10 == 0:
            user = f"@person{n}:example.org"
            rooms.append(RoomSummary(f"!dm{n}:example.org", f"Person {n}", None, True, "shared",
                                     members((ME, "Bob"), (user, f"Person {n}")), unread=n % 3,
                                     is_direct=True, dm_user=user, last_active=active))
        else:
            rooms.append(RoomSummary(f"!r{n}:example.org", f"{WORDS[n % len(WORDS)].title()} room {n}", None,
                                     n % 2 == 0, "shared", members((ME, "Bob"), ("@alice:example.org", "Alice")),
                                     unread=n % 5, highlight=int(n % 50 == 0), last_active=active))
    rooms[count // 3] = replace(rooms[count // 3], name="Quarterly planning")
    plain = [r for r in rooms if not r.is_direct]
    for s in range(5):
        kids = tuple(SpaceChild(r.room_id, None, None, True) for r in plain[s * 10:(s + 1) * 10])
        kids += tuple(SpaceChild(f"!unjoined{s}-{k}:example.org", f"Unjoined {s}-{k}", None, False) for k in range(3))
        rooms.append(RoomSummary(f"!space{s}:example.org", f"Space {s}", None, False, "shared",
                                 members((ME, "Bob")), unread=0, is_space=True, children=kids))
    return rooms


def new_app(count: int) -> tuple[TuiApp, EngineHost, FakeEngine]:
    engine = FakeEngine(rooms=world(count), invites=[], timelines={})
    host = EngineHost(engine)  # type: ignore[arg-type]
    app = TuiApp(host, restored=True, settings=Settings(), time_format=TimeFormatter(timezone.utc),
                 now=lambda: 1741089600.0, profile="bench")
    return app, host, engine


async def until(pilot, predicate, timeout: float = 30.0, step: float = 0.002) -> None:
    deadline = time.perf_counter() + timeout
    while not predicate():
        if time.perf_counter() > deadline:
            raise TimeoutError("the app did not get there in time")
        await pilot.pause(step)


async def one_run(count: int) -> dict[str, object]:
    t0 = time.perf_counter()
    app, host, engine = new_app(count)
    expected = count + 5  # rooms and spaces (plus headers and unjoined rows)
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            def listed() -> bool:
                screen = app.screen
                if not isinstance(screen, MainScreen):
                    return False
                room_list = screen.query_one(RoomList)
                return len(room_list.entries) >= expected and screen.current_room is not None
            await until(pilot, listed)
            room_list = app.screen.query_one(RoomList)
            room_list.focus()
            before = room_list.highlighted
            driver = app._driver
            assert driver is not None
            key = events.Key("down", None)
            key.set_sender(app)
            driver.send_message(key)
            await until(pilot, lambda: room_list.highlighted != before, step=0.0005)
            interactive = time.perf_counter() - t0

            frames: list[float] = []
            display = app._display

            def drawn(screen, renderable) -> None:  # type: ignore[no-untyped-def]
                display(screen, renderable)
                frames.append(time.perf_counter())

            app._display = drawn  # type: ignore[method-assign]

            # One room becomes the most recently active: the engine sends the whole list again.
            rooms = list(engine._rooms)
            index = next(i for i in range(len(rooms) - 1, -1, -1)
                         if not rooms[i].is_space and not rooms[i].is_direct and rooms[i].name != "Quarterly planning"
                         and i < len(rooms) - 5 and i % 10 != 0 and i > 60)
            bumped = replace(rooms[index], last_active=ts(5, 0, 0), unread=9)
            engine._rooms = [bumped] + rooms[:index] + rooms[index + 1:]
            t1 = time.perf_counter()
            engine.emit(RoomsChanged(tuple(engine._rooms), ()))

            def on_top() -> bool:
                keys = [e.key for e in room_list.entries]
                return "header:ROOMS" in keys and keys[keys.index("header:ROOMS") + 1] == bumped.room_id
            await until(pilot, on_top, step=0.0005)
            listed_at = time.perf_counter()
            await until(pilot, lambda: frames and frames[-1] > listed_at, step=0.0005)
            update = next(f for f in frames if f > listed_at) - t1

            # The switcher, one key at a time.
            await pilot.press("ctrl+k")
            await until(pilot, lambda: isinstance(app.screen, RoomSwitcher))
            switcher = app.screen
            assert isinstance(switcher, RoomSwitcher)
            searching: list[float] = []
            searched_at: list[float] = []
            original = switcher.show_results

            def timed(query: str) -> None:
                s0 = time.perf_counter()
                original(query)
                searched_at.append(time.perf_counter())
                searching.append(searched_at[-1] - s0)

            switcher.show_results = timed  # type: ignore[method-assign]
            per_key: list[float] = []
            typed = ""
            for ch in "quarterly":
                typed += ch
                # The key goes in as the terminal driver would deliver it; the latency is until
                # the first frame drawn after the results for it were built.
                k0 = time.perf_counter()
                event = events.Key(ch, ch)
                event.set_sender(app)
                driver.send_message(event)
                await until(pilot, lambda: len(searching) == len(typed), step=0.0005)
                done = searched_at[-1]
                await until(pilot, lambda: frames and frames[-1] > done, step=0.0005)
                per_key.append(next(f for f in frames if f > done) - k0)
                await pilot.pause(0.02)
            app._display = display  # type: ignore[method-assign]
            assert switcher.matches and switcher.matches[0].candidate.label == "Quarterly planning"
            await pilot.press("escape")
    finally:
        host.stop()
    return {"interactive": interactive, "update": update, "keys": per_key, "search": searching}


def fmt(values: list[float]) -> str:
    return f"best {min(values) * 1000:7.1f} ms   median {statistics.median(values) * 1000:7.1f} ms"


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[200, 1000])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    print(f"load average: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores")
    for count in args.sizes:
        results = [await one_run(count) for _ in range(args.runs)]
        print(f"\n{count} rooms ({args.runs} runs)")
        print(f"  start → interactive room list   {fmt([r['interactive'] for r in results])}   (target ≤ 1000 ms)")
        print(f"  room list update (one room moved) {fmt([r['update'] for r in results])}")
        keys = [k for r in results for k in r["keys"]]  # type: ignore[union-attr]
        search = [k for r in results for k in r["search"]]  # type: ignore[union-attr]
        print(f"  switcher, per keystroke          {fmt(keys)}   worst {max(keys) * 1000:.1f} ms   (target ≤ 50 ms)")
        print(f"    of which search + option list  {fmt(search)}")
    print(f"\nload average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    asyncio.run(main())
