"""How the TUI process runs Python's garbage collector and threads, so the interface never waits.

The engine runs on its own thread in the same process (engine.host), so whatever it does holds
the GIL the Textual loop needs. Two things made the loop stall for 100-350 ms while a key bundle
imported or a sync arrived (measured with tests/bench/bench_scale.py):

- a full (generation 2) collection: allocations on the engine thread trigger it, and it walks
  every tracked object in the process (Textual's DOM, nio's state, every session) with the GIL
  held. After start-up, `gc.freeze()` moves everything alive then (modules, classes, the app,
  the engine) out of the collector's sight, and once more when the first sync is in (its rooms
  and members), so a full collection walks only what came later;
  larger thresholds make young collections rarer (each is still short: it walks young objects).
- the GIL's switch interval: a thread that computes keeps the GIL up to 5 ms before another may
  take it; 1 ms lets the loop in sooner for the cost of more switches.

A separate process for the engine would remove the sharing altogether, but every command the UI
sends and every event it receives would then cross a process boundary (pickling timeline items,
rooms and sessions). With the engine's hot paths made cheap (lazy store, compiled schema checks,
cached trust, the collector paused during bulk imports) and these settings, the engine's share of
the stalls is small. What was left were the app's own frames (a widget per message, a widget per
footer key, a layout of the screen whenever a scroll bar came or went); those are gone too (the
timeline and the footer draw lines, the bars keep their column), and the worst stalls are now
the first frame of the main screen and a first sync's rooms drawn: see the README.

Nor does the key bundle import get a worker process of its own, though it was tried (issue 15):
in the TUI the worst stalls during an import were the same with the work in another process:
they were the app's own frames. Those are now cheaper (one-line texts repaint without a layout,
the room list keeps its rows), and the longest single C call of the import, `json.loads` of 5 MB
(15 ms holding the GIL), is now one call per entry (engine/json_slices.py): the worst stall
during an import went from 38-99 ms to 20-28 ms. A spawned worker also re-imports the main script and costs a second
interpreter, for 30-50 ms less import time. What did cost the loop was the engine reading every
stored session in the middle of an import or a start (a merge's store-wide scan, the backup's
counts): those now read one room, or ask the store.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Callable

from .. import records

GC_THRESHOLDS = (20_000, 20, 40)  # Python's defaults: (700, 10, 10) in 3.11
SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def tune() -> None:
    """Before the app starts: collector thresholds and the GIL switch interval."""
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)


# The records (tui_client/records.py) a run that syncs uses in its first second: the sync's events,
# the timeline's items and how they are drawn, the rooms. Made on first use, they were 25 ms of
# compiling inside the first sync (0.6-3.5 ms each, with the GIL held; the first room's
# drawing waited 3 ms for its rows' class): after the first frame, while the server prepares the
# sync, they are made one per turn of the loop instead.
SOON_USED = ("tui_client.ui.", "tui_client.engine.models", "tui_client.engine.events", "tui_client.engine.timeline.",
             "tui_client.engine.notifications.", "tui_client.engine.activity")


def make_records_soon(schedule: Callable[[Callable[[], None]], object], modules: tuple[str, ...] = SOON_USED) -> int:
    """Make the pending records of `modules` (those imported by now), one per call that
    `schedule` arranges (a turn of the loop each); the interface's first, then the engine's.
    Returns how many there are."""
    waiting = sorted(
        (cls for cls in records.all_records() if records.pending(cls) and cls.__module__.startswith(modules)),
        key=lambda cls: (not cls.__module__.startswith("tui_client.ui."), cls.__module__, cls.__qualname__))
    left = iter(waiting)

    def step() -> None:
        for cls in left:
            if records.pending(cls):  # (a thread may have used it meanwhile)
                records.made(cls)
                schedule(step)
                return

    if waiting:
        schedule(step)
    return len(waiting)


def freeze_start_up() -> None:
    """Once the app has started (its first screen drawn): what is alive now lives as long as the
    process, so the collector need not walk it again."""
    gc.freeze()


_first_sync_frozen = False


def freeze_first_sync() -> None:
    """Once, when the first sync is in and drawn: its rooms, members and state (nio's and ours)
    live as long as the session does. Left to the collector, they were walked by the first full
    collection a moment later, 7-18 ms of the UI loop at the end of an initial sync of 100 rooms
    (issue 15); frozen, each later full collection walks only what came after. Whatever garbage is
    alive at that moment (a few hundred objects) stays: the price of not walking 100 rooms' worth
    of objects to find it."""
    global _first_sync_frozen
    if not _first_sync_frozen:
        _first_sync_frozen = True
        gc.freeze()
