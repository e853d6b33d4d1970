"""How the TUI process runs Python's garbage collector and threads, so the interface never waits.

The engine runs on its own thread in the same process (engine.host), so whatever it does holds
the GIL the Textual loop needs. Two things made the loop stall for 100-350 ms while a key bundle
imported or a sync arrived (measured with tests/bench/bench_scale.py):

- a full (generation 2) collection: allocations on the engine thread trigger it, and it walks
  every tracked object in the process (Textual's DOM, nio's state, every session) with the GIL
  held. After start-up, `gc.freeze()` moves everything alive then (modules, classes, the app,
  the engine) out of the collector's sight, so a full collection walks only what came later;
  larger thresholds make young collections rarer (each is still short: it walks young objects).
- the GIL's switch interval: a thread that computes keeps the GIL up to 5 ms before another may
  take it; 1 ms lets the loop in sooner for the cost of more switches.

A separate process for the engine would remove the sharing altogether, but every command the UI
sends and every event it receives would then cross a process boundary (pickling timeline items,
rooms and sessions). With the engine's hot paths made cheap (lazy store, compiled schema checks,
cached trust, the collector paused during bulk imports) and these settings, the engine's share of
the stalls is small: what remains (worst 23-70 ms, p99 22-60 ms; targets 50 and 16) is the app's
own frames (mounting and laying out a screenful of messages, one widget each: 10-35 ms; painting
the timeline after a layout, 10-25 ms), twice as long while the engine computes beside them; see
the README.

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

GC_THRESHOLDS = (20_000, 20, 40)  # Python's defaults: (700, 10, 10) in 3.11
SWITCH_INTERVAL = 0.001  # seconds; Python's default is 0.005


def tune() -> None:
    """Before the app starts: collector thresholds and the GIL switch interval."""
    gc.set_threshold(*GC_THRESHOLDS)
    sys.setswitchinterval(SWITCH_INTERVAL)


def freeze_start_up() -> None:
    """Once the app has started (its first screen drawn): what is alive now lives as long as the
    process, so the collector need not walk it again."""
    gc.freeze()
