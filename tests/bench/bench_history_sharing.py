#!/usr/bin/env python3
"""Benchmark: building and importing MSC4268 key bundles of 1,000 and 10,000 sessions.

    python tests/bench/bench_history_sharing.py [--sizes 1000 10000] [--keep]

Runs against a private Synapse on loopback with two real engines (cross-signed users), so the
figures include everything a user waits for:
- build: export every session at its first known index, JSON, AES-CTR + SHA-256;
- share: build + upload + Olm-encrypted to-device (what happens before /invite);
- import: download → hash check + decrypt → parse + session-id verification → merge and
  persist in one transaction (what happens after accepting the invite).
While the 10,000-session import runs on the engine thread (as in the TUI), a "UI" thread ticks
every 10 ms; the largest delay between ticks shows whether the interface would stall.
"""

from __future__ import annotations

import argparse
import asyncio
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

from tui_client.engine.crypto.attachments import encrypt_attachment  # noqa: E402
from tui_client.engine.nio.olm import changed  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.engine.history_sharing.bundle import build_bundle, serialize_bundle  # noqa: E402
from tui_client.engine.host import EngineHost  # noqa: E402
from tui_client.engine.room_keys import Origin, SessionMeta  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402


def fake_history(alice: Engine, room_id: str, count: int) -> None:
    """Give alice `count` shareable Megolm sessions for the room, as if she had sent that many."""
    olm = alice.client.olm
    keys = olm.account.identity_keys
    now = time.time()
    pairs = []
    for _ in range(count):
        group = vodozemac.GroupSession()
        session = InboundGroupSession(group.session_key.to_base64(), keys["ed25519"], keys["curve25519"], room_id)
        pairs.append((session, SessionMeta(room_id, session.id, keys["curve25519"], True, Origin.OWN, received_at=now)))
    olm.persist(*changed(olm.merge_sessions(pairs)))


def time_build(alice: Engine, room_id: str, rounds: int = 3) -> tuple[float, int]:
    best = float("inf")
    size = 0
    for _ in range(rounds):
        t0 = time.perf_counter()
        bundle = alice.sharing.sender.build(room_id)
        data = serialize_bundle(bundle)
        ciphertext, _ = encrypt_attachment(data)
        best = min(best, time.perf_counter() - t0)
        size = len(ciphertext)
    return best, size


def time_pure_build(alice: Engine, room_id: str) -> float:
    """Plan + export every session + the bundle's JSON structure (no serialising, no crypto)."""
    sender = alice.sharing.sender
    t0 = time.perf_counter()
    plan = sender.plan(room_id)
    build_bundle(sender._export(room_id, plan), plan.withheld)
    return time.perf_counter() - t0


class UiTicker:
    """A stand-in for the UI thread: an asyncio loop ticking every 10 ms, recording delays."""

    def __init__(self) -> None:
        self.delays: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def tick() -> None:
            loop = asyncio.get_running_loop()
            expected = loop.time() + 0.01
            while not self._stop.is_set():
                await asyncio.sleep(0.01)
                now = loop.time()
                self.delays.append(max(0.0, now - expected))
                expected = now + 0.01

        asyncio.run(tick())

    def __enter__(self) -> "UiTicker":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


async def run_size(server: SynapseServer, workdir: Path, count: int, ui_check: bool) -> dict[str, float]:
    stamp = f"{count}-{int(time.time() * 1000) % 10**8}"
    server.register_user(f"alice-{stamp}", "pw")
    server.register_user(f"bob-{stamp}", "pw")
    alice = Engine("alice", profile_dir=workdir / f"alice-{stamp}")
    await alice.login(server.url, f"alice-{stamp}", "pw")
    await alice.sync_once()
    room_id = await alice.create_room(f"Bench {count}")
    fake_history(alice, room_id, count)
    build_s, size = time_build(alice, room_id)
    pure_build_s = time_pure_build(alice, room_id)

    bob = Engine("bob", profile_dir=workdir / f"bob-{stamp}")
    host = EngineHost(bob)
    host.start()
    try:
        host.submit(bob.login(server.url, f"bob-{stamp}", "pw")).result(60)
        host.submit(bob.sync_once()).result(60)
        t0 = time.perf_counter()
        result = await alice.invite(room_id, bob.user_id)
        share_s = time.perf_counter() - t0
        assert result.shared and result.key_count == count, result

        async def wait_invite() -> None:
            await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 60)

        host.submit(wait_invite()).result(90)
        importer = bob.sharing.receiver.importer
        original = importer.run
        timing: dict[str, float] = {}

        async def timed_import(acceptance, bundle):  # the part after the join: download → … → persist
            t = time.perf_counter()
            out, retry = await original(acceptance, bundle)
            timing["import"] = time.perf_counter() - t
            timing["imported"] = out.imported
            return out, retry

        importer.run = timed_import  # type: ignore[method-assign]

        async def join_and_import() -> None:
            await bob.join(room_id)
            await bob.sharing.wait(room_id, 120)

        if ui_check:
            with UiTicker() as ticker:
                host.submit(join_and_import()).result(150)
            delays = sorted(ticker.delays)
            timing["ui_max_ms"] = delays[-1] * 1000 if delays else 0.0
            timing["ui_p99_ms"] = delays[int(len(delays) * 0.99) - 1] * 1000 if delays else 0.0
            timing["ui_ticks"] = len(delays)
        else:
            host.submit(join_and_import()).result(150)
        assert timing.get("imported") == count, timing
    finally:
        host.stop()
        await alice.close()
    return {"build": build_s, "pure_build": pure_build_s, "share": share_s, "bytes": size, **timing}


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    python = synapse_python() or ensure_synapse()
    with tempfile.TemporaryDirectory(prefix="tui-bench-") as tmp:
        workdir = Path(tmp)
        with SynapseServer(workdir / "synapse", python=python) as server:
            print(f"Synapse at {server.url}; Python {sys.version.split()[0]}; vodozemac {vodozemac.__version__ if hasattr(vodozemac, '__version__') else ''}")
            print(f"{'sessions':>9} {'bundle':>9} {'build':>9} {'(export)':>9} {'share':>9} {'import':>9} {'UI max':>8} {'UI p99':>8}")
            for count in args.sizes:
                r = await run_size(server, workdir, count, ui_check=count == max(args.sizes))
                ui_max = f"{r['ui_max_ms']:.0f} ms" if "ui_max_ms" in r else "-"
                ui_p99 = f"{r['ui_p99_ms']:.0f} ms" if "ui_p99_ms" in r else "-"
                print(
                    f"{count:>9} {r['bytes'] / 1e6:>7.2f}MB {r['build'] * 1000:>7.0f}ms {r['pure_build'] * 1000:>7.0f}ms "
                    f"{r['share'] * 1000:>7.0f}ms {r['import'] * 1000:>7.0f}ms {ui_max:>8} {ui_p99:>8}",
                    flush=True,
                )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS of this process (two engines + bundles): {peak:.0f} MB")
    print("build = export + JSON + encrypt; share = build + upload + Olm to-device; "
          "import = download + hash/decrypt + parse/verify + merge/persist (one transaction)")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
