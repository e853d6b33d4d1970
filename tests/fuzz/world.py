"""A profile without a server, for the stateful fuzz targets: a real SQLite store and Olm
machine in a temporary directory, a history-sharing receiver on a stand-in host, and a
snapshot of everything stored, to prove that refused input changed nothing."""

from __future__ import annotations

import asyncio
import atexit
import shutil
import sqlite3
import tempfile
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tui_client.config import Settings
from tui_client.engine.nio.olm import AppOlm
from tui_client.engine.history_sharing.receiver import BundleReceiver
from tui_client.engine.history_sharing.rules import SenderTrust
from tui_client.engine.history_sharing.store import SharingStore
from tui_client.engine.nio.store import AppStore

USER, DEVICE = "@me:localhost", "MYDEVICE"
TABLES = ("tc_inbound_session", "tc_session_meta", "tc_withheld", "tc_bundle_sessions", "tc_received_bundle",
          "tc_accepted_invite", "tc_kv", "megolminboundsessions")


_SCRATCH = Path(tempfile.mkdtemp(prefix="tui-client-fuzz-"))
atexit.register(shutil.rmtree, _SCRATCH, True)


def scratch(prefix: str) -> Path:
    """A new directory for one fuzz target's profile, removed when the test run ends."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=_SCRATCH))


def machine(directory: Path) -> AppOlm:
    store = AppStore(USER, DEVICE, str(directory), "store-key", "crypto.db")
    return AppOlm(USER, DEVICE, store)


def snapshot(olm: AppOlm, tables: tuple[str, ...] = TABLES) -> dict[str, Any]:
    """Every row of our tables and the sessions the Olm machine holds in memory."""
    conn: sqlite3.Connection = olm.app_store.conn
    out: dict[str, Any] = {}
    for table in tables:
        out[table] = sorted(map(repr, conn.execute(f"SELECT * FROM {table}").fetchall()))
    out["memory"] = sorted((s.room_id, s.sender_key, s.id, s.first_known_index) for s in olm.inbound_group_store)
    out["meta"] = sorted(map(repr, olm.session_meta.items()))
    return out


class Host:
    """What the receiver needs of an engine (`SharingHost`), with no network: a download
    answers with `self.ciphertext`, every sender is cross-signed."""

    def __init__(self, olm: AppOlm, joined: set[str]) -> None:
        self.settings = Settings()
        self.clock = lambda: 1_000_000.0
        self.notices: list[str] = []
        self.ciphertext = b""
        self.identity = SimpleNamespace(
            sender_trust=lambda *a: SenderTrust.CROSS_SIGNED, identity_of=lambda user: None,
        )
        self.client = SimpleNamespace(
            olm=olm, store=olm.app_store, rooms={r: object() for r in joined}, invited_rooms={},
            download_media=self._download,
        )

    async def _download(self, server: str, media_id: str, *, limit: int, on_progress: Any) -> bytes:
        on_progress(len(self.ciphertext), len(self.ciphertext))
        return self.ciphertext

    async def query_keys(self, users: set[str]) -> None:
        return None

    def display_name(self, room_id: str, user_id: str) -> str:
        return user_id

    def notice(self, message: str, *, room_id: str | None = None, level: str = "information") -> None:
        self.notices.append(message)

    def refresh_failures(self, room_id: str) -> None:
        pass

    def emit_rooms(self) -> None:
        pass

    def spawn(self, coro: Any, name: str) -> asyncio.Task:
        return asyncio.get_running_loop().create_task(coro, name=name)

    def timeline(self, room_id: str) -> list:
        return []

    def timeline_at_start(self, room_id: str) -> bool:
        return True


def receiver(directory: Path, joined: set[str]) -> tuple[BundleReceiver, Host]:
    olm = machine(directory)
    host = Host(olm, joined)
    return BundleReceiver(host, SharingStore(olm.app_store)), host


_SHARED: dict[str, tuple[BundleReceiver, Host]] = {}


def shared_receiver(name: str, joined: set[str]) -> tuple[BundleReceiver, Host]:
    """One receiver and store per fuzz target, kept across its examples (opening a store and
    creating an Olm account for each example would take most of the time). Each example
    compares the store before and after itself."""
    if name not in _SHARED:
        _SHARED[name] = receiver(scratch(f"{name}-"), joined)
    rx, host = _SHARED[name]
    host.notices.clear()
    return rx, host
