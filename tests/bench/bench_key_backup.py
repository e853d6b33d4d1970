#!/usr/bin/env python3
"""Benchmark: restoring a 10,000-key server-side key backup, ours and Element's.

    .venv/bin/python tests/bench/bench_key_backup.py [--keys 10000] [--no-js]

Runs against a private Synapse on loopback. A first device of the account holds `--keys` Megolm
sessions (as if it had received that many) and backs them up the way it always does (batches of
100, PUT /room_keys/keys). A second device, verified with the recovery key, then restores the
whole backup, timed from the call to the last key persisted:
- download: GET /room_keys/keys (one JSON answer) and parsing it in a worker thread;
- decrypt + store: per entry, X25519 + HKDF + AES-CBC (vodozemac's PkDecryption), the
  BackedUpSessionData checks, the session id check, then the merge rules and persisting, in
  chunks of 500 (one transaction each).
While the restore runs on the engine thread (as in the TUI), two tickers record stalls: one on the
engine's own loop (what sync waits on) and one on another thread (the UI). With --no-js left out,
a new matrix-js-sdk device (Rust crypto, what Element Web runs) of the same account restores the
same backup with the same recovery key, and its time is printed beside ours.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import resource
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

import vodozemac  # noqa: E402
from nio.crypto import InboundGroupSession  # noqa: E402

from tui_client.config import Settings  # noqa: E402
from tui_client.engine.crypto.canonical import b64encode  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.engine.host import EngineHost  # noqa: E402
from tui_client.engine.nio.olm import changed  # noqa: E402
from tui_client.engine.room_keys import Origin, SessionMeta  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402


def received_history(engine: Engine, room_id: str, count: int) -> None:
    """Give `engine` `count` inbound sessions of the room, as if others had sent that many."""
    olm = engine.client.olm
    now = time.time()
    pairs = []
    for n in range(count):
        group = vodozemac.GroupSession()
        sender = b64encode(os.urandom(32))
        session = InboundGroupSession(group.session_key.to_base64(), b64encode(os.urandom(32)), sender, room_id)
        pairs.append((session, SessionMeta(room_id, session.id, sender, n % 2 == 0, Origin.DIRECT, received_at=now)))
    olm.persist(*changed(olm.merge_sessions(pairs)))


class ThreadTicker:
    """A stand-in for the UI thread: an asyncio loop ticking every 10 ms, recording delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(_tick(self.delays, self._stop.is_set)), daemon=True)

    def __enter__(self) -> "ThreadTicker":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def _tick(delays: list[float], stop) -> None:
    loop = asyncio.get_running_loop()
    expected = loop.time() + 0.01
    while not stop():
        await asyncio.sleep(0.01)
        now = loop.time()
        delays.append(max(0.0, now - expected))
        expected = now + 0.01


def worst(delays: list[float]) -> tuple[float, float]:
    ordered = sorted(delays) or [0.0]
    return ordered[-1] * 1000, ordered[max(0, int(len(ordered) * 0.99) - 1)] * 1000


class Phases(logging.Handler):
    """Picks the engine's own timing line of a whole restore out of its log."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.download_ms: float | None = None
        self.store_ms: float | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage().startswith("restored ") and "download" in record.getMessage():
            self.download_ms, self.store_ms = float(record.args[-2]), float(record.args[-1])  # type: ignore[index]


async def js_restore(server: SynapseServer, user: str, password: str, recovery_key: str, workdir: Path) -> dict:
    from tests.interop.jspeer import JsPeer, ensure_node_modules

    ensure_node_modules()
    peer = JsPeer("element-bench", log_dir=workdir / "jspeer", cmd_timeout=600, log_level="info")
    await peer.start()
    try:
        await peer.login(server.url, user, password)
        t0 = time.perf_counter()
        result = await peer.restore_key_backup(recovery_key, timeout_ms=600_000)
        result["wall_ms"] = (time.perf_counter() - t0) * 1000
        return result
    finally:
        await peer.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--no-js", action="store_true", help="skip the matrix-js-sdk comparison")
    args = parser.parse_args()
    count = args.keys
    python = synapse_python() or ensure_synapse()
    phases = Phases()
    logging.getLogger("tui_client.engine.keys.backup").addHandler(phases)
    logging.getLogger("tui_client.engine.keys.backup").setLevel(logging.INFO)
    with tempfile.TemporaryDirectory(prefix="tui-bench-backup-") as tmp:
        workdir = Path(tmp)
        with SynapseServer(workdir / "synapse", python=python) as server:
            print(f"Synapse at {server.url}; Python {sys.version.split()[0]}; {os.cpu_count()} CPUs")
            server.register_user("alice", "pw")
            first = Engine("first", profile_dir=workdir / "first")
            await first.login(server.url, "alice", "pw")
            await first.sync_once()
            room_id = await first.create_room("Bench", history_visibility="shared")
            recovery_key = await first.setup_recovery()
            received_history(first, room_id, count)
            t0 = time.perf_counter()
            await first.backup.flush(timeout=900)
            upload_s = time.perf_counter() - t0
            status = await first.refresh_backup()
            assert status.keys_on_server == count and status.uploading == 0, status
            await first.close()
            print(f"backing up {count:,} keys (batches of 100): {upload_s:.1f} s")

            second = Engine("second", profile_dir=workdir / "second", settings=Settings(backup_restore_all=False))
            host = EngineHost(second)
            host.start()
            try:
                host.submit(second.login(server.url, "alice", "pw")).result(60)
                host.submit(second.sync_once()).result(60)
                host.submit(second.verify_with_recovery_key(recovery_key)).result(60)
                loop_delays: list[float] = []
                stop = threading.Event()
                monitor = host.submit(_tick(loop_delays, stop.is_set))
                with ThreadTicker() as ui:
                    t0 = time.perf_counter()
                    result = host.submit(second.restore_backup()).result(900)
                    restore_s = time.perf_counter() - t0
                stop.set()
                monitor.result(10)
                assert result.imported == count and result.failed == 0, result
                loop_max, loop_p99 = worst(loop_delays)
                ui_max, ui_p99 = worst(ui.delays)
            finally:
                host.stop()
            print(f"ours (tui_client, nio 0.26 + vodozemac): restored {result.imported:,} keys in "
                  f"{restore_s:.2f} s ({restore_s / result.total * 1e6:.0f} µs a key): download + parse "
                  f"{phases.download_ms or 0:.0f} ms, decrypt + check + store {phases.store_ms or 0:.0f} ms")
            print(f"  while restoring: engine loop stalled at most {loop_max:.0f} ms (p99 {loop_p99:.0f} ms); "
                  f"another thread (the UI) at most {ui_max:.0f} ms (p99 {ui_p99:.0f} ms)")
            if not args.no_js:
                try:
                    js = await js_restore(server, "@alice:localhost", "pw", recovery_key, workdir)
                except Exception as exc:  # no Node here: say so rather than fail the figures above
                    print(f"matrix-js-sdk: not measured ({type(exc).__name__}: {str(exc).splitlines()[0]})")
                else:
                    print(f"matrix-js-sdk 43 + Rust crypto (Element Web): restored {js['imported']:,} of "
                          f"{js['total']:,} keys in {js['ms'] / 1000:.2f} s (restoreKeyBackup; "
                          f"{js['wall_ms'] / 1000:.2f} s with unlocking secret storage)")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process: {peak:.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
