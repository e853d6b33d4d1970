"""A tui_client engine in its own process, for the kill -9 tests (tests/integration/
test_crash_recovery.py): it opens a saved profile and joins a room (and so imports the
inviter's key bundle) or syncs, printing a line at each point a test may kill it at.

    python -m tests.crash_helper PROFILE_DIR join ROOM_ID [--hold txn|roomkey|committed]
    python -m tests.crash_helper PROFILE_DIR sync [--hold ...] [--idle]

Lines: OPEN, SYNCED, JOINED, BUNDLE <state> (each state the received bundle is stored in),
TXN (the bundle's sessions are written, the transaction is open), ROOMKEY <n> (room keys
written, their transaction open), COMMITTED (an import's keys are committed). With --hold X
the process stops at X and waits there to be killed (inside the open transaction for txn and
roomkey). With --idle it syncs once and then waits, doing nothing more. Nothing here changes what the engine does; it only watches and waits.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from pathlib import Path


def mark(line: str) -> None:
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def hold(point: str, wanted: str | None) -> None:
    if point == wanted:
        mark(f"HOLDING {point}")
        time.sleep(120)  # blocks the engine right here; the test kills us


def instrument(wanted: str | None) -> None:
    from tui_client.engine.history_sharing.store import SharingStore
    from tui_client.engine.nio.store import AppStore
    from tui_client.engine.timeline.timelines import Timelines

    put_bundle = SharingStore.put_bundle

    def put_bundle_marked(self, bundle):  # type: ignore[no-untyped-def]
        put_bundle(self, bundle)
        mark(f"BUNDLE {bundle.state.value}")

    save_blob = AppStore.save_bundle_sessions

    def save_blob_marked(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        save_blob(self, *args, **kwargs)
        mark("TXN")
        hold("txn", wanted)

    save_sessions = AppStore.save_inbound_group_sessions

    def save_sessions_marked(self, sessions):  # type: ignore[no-untyped-def]
        save_sessions(self, sessions)
        mark(f"ROOMKEY {len(sessions)}")
        hold("roomkey", wanted)

    keys_added = Timelines.on_keys_added

    def keys_added_marked(self, keys):  # type: ignore[no-untyped-def]
        keys_added(self, keys)
        if len(keys) > 1:
            mark("COMMITTED")
            hold("committed", wanted)

    SharingStore.put_bundle = put_bundle_marked  # type: ignore[method-assign]
    AppStore.save_bundle_sessions = save_blob_marked  # type: ignore[method-assign]
    AppStore.save_inbound_group_sessions = save_sessions_marked  # type: ignore[method-assign]
    Timelines.on_keys_added = keys_added_marked  # type: ignore[method-assign]


async def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("profile_dir", type=Path)
    parser.add_argument("action", choices=["join", "sync"])
    parser.add_argument("room_id", nargs="?")
    parser.add_argument("--hold", choices=["txn", "roomkey", "committed"])
    parser.add_argument("--idle", action="store_true", help="after the first sync, wait to be killed")
    args = parser.parse_args(argv)
    instrument(args.hold)
    from tui_client.engine.engine import Engine

    engine = Engine("crash", profile_dir=args.profile_dir)
    assert await engine.open(), "no saved session"
    mark("OPEN")
    await engine.sync_once()
    mark("SYNCED")
    if args.action == "join" and args.room_id in {i.room_id for i in engine.invites()}:
        await engine.join(args.room_id, wait_for_keys=0)
        mark("JOINED")
    if args.idle:
        await asyncio.sleep(120)  # only what the engine does by itself after a sync runs now
    while True:  # keep syncing (and importing in the background) until killed
        await engine.sync_once(timeout_ms=200)
        mark("SYNCED")


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
