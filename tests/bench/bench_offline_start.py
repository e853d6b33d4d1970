"""What an offline start costs: reading the cached rooms and timelines from the store and
aggregating them into items (what `Engine.open()` adds before the TUI can draw), no server.

    python tests/bench/bench_offline_start.py [ROOMS] [EVENTS_PER_ROOM]

Builds a store with ROOMS rooms (default 50) of EVENTS_PER_ROOM events each (default: the
cache's window, 150; a tenth are reactions, a tenth edits, some replies and thread messages),
then times what a start needs: the room list (summaries), the newest room's items (unseal,
decode, aggregate), and, for comparison, every room's timeline (read lazily, on first view).
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
sys.path.insert(0, str(ROOT))

from nio.crypto import OlmAccount  # noqa: E402

from tests.timeline_events import ALICE, BOB, Ctx, decrypted, edit, in_thread, plain, reaction, reply, text  # noqa: E402
from tui_client.engine.models import Member, RoomSummary  # noqa: E402
from tui_client.engine.nio.store import AppStore  # noqa: E402
from tui_client.engine.timeline.cache import WINDOW, CacheRow, TimelineCache  # noqa: E402
from tui_client.engine.timeline.relations import Aggregator  # noqa: E402


def room_events(ctx: Ctx, n: int) -> list:
    facts = []
    last = None
    root = None
    for i in range(n):
        kind = i % 10
        if kind == 1 and last is not None:
            facts.append(plain(ctx, reaction(BOB, last, "👍")))
        elif kind == 2 and last is not None:
            facts.append(decrypted(ctx, edit(ALICE, last, f"edited {i}")))
        elif kind == 3 and last is not None:
            facts.append(decrypted(ctx, reply(BOB, last, ALICE, "q", f"reply {i}")))
        elif kind == 4 and root is not None:
            facts.append(decrypted(ctx, in_thread(BOB, root, f"thread {i}")))
        else:
            event = text(ALICE, f"message {i} " + "words " * 10)
            facts.append(decrypted(ctx, event))
            last = event["event_id"]
            root = root or last
    return facts


def main() -> int:
    rooms = int(sys.argv[1]) if len(sys.argv) > 1 else 50
    per_room = int(sys.argv[2]) if len(sys.argv) > 2 else WINDOW
    ctx = Ctx()
    with tempfile.TemporaryDirectory() as tmp:
        store = AppStore("@me:x", "DEV", tmp, "store-key", "crypto.db")
        store.save_account(OlmAccount())
        cache = TimelineCache(store, "store-key")
        rows = {}
        for r in range(rooms):
            room_id = f"!room{r}:x"
            summary = RoomSummary(room_id, f"Room {r}", None, True, "shared",
                                  (Member(ALICE, "Alice", "join"), Member(BOB, "Bob", "join")), 0)
            rows[room_id] = CacheRow(summary, room_events(ctx, per_room), False, r)
        cache.save(rows, "token", 1.0)
        store.database.close()

        started = time.perf_counter()
        store = AppStore("@me:x", "DEV", tmp, "store-key", "crypto.db")
        cache = TimelineCache(store, "store-key")
        loaded = cache.load()
        listed = time.perf_counter()  # the room list can be drawn
        newest = max(loaded, key=lambda room: room.last_ts)
        decoded = cache.timeline(newest)
        assert decoded is not None
        aggregator = Aggregator(BOB)
        aggregator.add(decoded[0])
        first = len(aggregator.items())
        opened = time.perf_counter()  # ... and the room it opens on
        shown = first
        for room in loaded:
            if room is newest:
                continue
            decoded = cache.timeline(room)
            assert decoded is not None
            aggregator = Aggregator(BOB)
            aggregator.add(decoded[0])
            shown += len(aggregator.items())
        done = time.perf_counter()
        size = Path(tmp, "crypto.db").stat().st_size + Path(tmp, "crypto.db-wal").stat().st_size
    print(f"{rooms} rooms x {per_room} events ({shown} items shown), store {size / 1e6:.1f} MB")
    print(f"room list: {1000 * (listed - started):.0f} ms; the first room's {first} items: "
          f"{1000 * (opened - started):.0f} ms; every room's timeline: {1000 * (done - started):.0f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
