"""Uploading to the key backup: the queue of inbound sessions the account's current backup lacks
(or holds a worse copy of), and the loop that sends them in batches, retried with backoff, each
with its shareable flag. What the server holds is remembered per session (backup version and
first known index), in the store and here."""

from __future__ import annotations

import asyncio
import logging
import urllib.parse
from collections.abc import Callable, Coroutine, Iterable
from itertools import islice
from typing import TYPE_CHECKING, Any

from ...crypto.backup import Encryptor
from ...crypto.key_export import ExportedKey
from .shared import PATH, BackupView

if TYPE_CHECKING:
    from nio.crypto import InboundGroupSession

    from ...nio.client import EngineClient
    from ...nio.olm import AppOlm
    from ...nio.store import AppStore

logger = logging.getLogger(__name__)

BATCH = 100  # sessions per upload request (as matrix-rust-sdk)
MAX_RETRY_DELAY = 300.0


class Uploader:
    """The upload queue and loop of one `BackupManager` (`backup`)."""

    def __init__(
        self,
        backup: BackupView,
        client: EngineClient,
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
    ) -> None:
        assert client.store is not None and client.olm is not None, "the client's store must be open"
        self._backup = backup
        self._client = client
        self._store: AppStore = client.store
        self._olm: AppOlm = client.olm
        self._spawn = spawn
        self._backed_up = self._store.load_backed_up()
        self._pending: dict[tuple[str, str], None] = {}  # an ordered set
        self._wake: asyncio.Event | None = None
        self._upload_lock: asyncio.Lock | None = None
        self._uploader: asyncio.Task[Any] | None = None
        self._failures = 0
        self.problem: str | None = None  # why uploading is failing, while it is

    @property
    def waiting(self) -> int:
        """Sessions queued for upload."""
        return len(self._pending)

    def lasting_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks that run as long as the engine (nobody should wait for them to end)."""
        return {self._uploader} if self._uploader is not None else set()

    def ensure_running(self) -> None:
        """Start the upload loop if it is not running, and wake it when something waits."""
        if self._wake is None:
            self._wake = asyncio.Event()
            self._upload_lock = asyncio.Lock()
        if self._uploader is None or self._uploader.done():
            self._uploader = self._spawn(self._upload_loop(), "key-backup-upload")
        if self._pending:
            self._wake.set()

    def wake(self) -> None:
        """Have the loop look at the queue now (if it runs)."""
        if self._wake is not None:
            self._wake.set()

    def rescan(self) -> None:
        """A new backup (or a new key for it): queue again from scratch."""
        self._pending.clear()
        self.scan()

    def remember(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        """(room, session, backup version, first index) rows the backup holds (already in the store)."""
        for room_id, session_id, version, index in rows:
            self._backed_up[(room_id, session_id)] = (version, index)

    def held(self, room_id: str, session_id: str) -> InboundGroupSession | None:
        """The copy of (room, session) we hold, if any."""
        room = self._olm.inbound_group_store._entries.get(room_id)
        if not room:
            return None
        meta = self._olm.meta_for(room_id, session_id)
        if meta is not None and session_id in room.get(meta.sender_key, {}):
            return room[meta.sender_key][session_id]
        for per_sender in room.values():
            if session_id in per_sender:
                return per_sender[session_id]
        return None

    def _needs_upload(self, room_id: str, session_id: str, session: InboundGroupSession) -> bool:
        info = self._backup.info
        assert info is not None
        record = self._backed_up.get((room_id, session_id))
        return record is None or record[0] != info.version or record[1] > session.first_known_index

    def scan(self) -> None:
        """Queue every session the current backup lacks (or holds a worse copy of), as the
        store's records say: reading every session to compare would load them all at start."""
        info = self._backup.info
        if not self._backup.can_upload or info is None:
            return
        for key in self._store.sessions_to_back_up(info.version):
            self._pending[key] = None
        if self._pending:
            logger.info("%d sessions to back up to key backup version %s", len(self._pending), info.version)

    def on_keys_added(self, keys: Iterable[tuple[str, str]]) -> None:
        """New or better sessions were stored: queue those the backup lacks."""
        if not self._backup.can_upload:
            return
        added = False
        for room_id, session_id in keys:
            session = self.held(room_id, session_id)
            if session is not None and self._needs_upload(room_id, session_id, session):
                self._pending[(room_id, session_id)] = None
                added = True
        if added and self._wake is not None:
            self._wake.set()

    async def _upload_loop(self) -> None:
        assert self._wake is not None
        while True:
            delay = None if not self._failures else min(MAX_RETRY_DELAY, 2.0 ** self._failures)
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            while self._pending and self._backup.can_upload:
                if not await self._upload_batch():
                    break

    async def flush(self, timeout: float = 15.0) -> None:
        """Upload what is waiting now (before a command-line run exits); never raises."""
        if not self._pending or not self._backup.can_upload:
            return
        if self._upload_lock is None:
            self._upload_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending and self._backup.can_upload and loop.time() < deadline:
            if not await self._upload_batch():
                break

    async def _upload_batch(self) -> bool:
        """One PUT of up to BATCH sessions; False when it failed (retry later)."""
        assert self._upload_lock is not None
        async with self._upload_lock:
            info = self._backup.info
            if not self._pending or info is None or info.public_key is None or not self._backup.can_upload:
                return True
            encryptor = Encryptor(info.public_key)
            rooms: dict[str, dict[str, Any]] = {}
            sent: list[tuple[str, str, str, int]] = []
            for room_id, session_id in list(islice(self._pending, BATCH)):
                session = self.held(room_id, session_id)
                if session is None:
                    self._pending.pop((room_id, session_id), None)
                    continue
                meta = self._olm.meta_for(room_id, session_id)
                index = session.first_known_index
                key = ExportedKey(
                    room_id, session.sender_key, session_id, session.export_session(index), session.ed25519,
                    tuple(session.forwarding_chain), bool(meta and meta.shared_history),
                )
                forwarded = 0 if meta is not None and meta.origin.authenticated else 1
                rooms.setdefault(room_id, {"sessions": {}})["sessions"][session_id] = encryptor.entry(key, index, forwarded)
                sent.append((room_id, session_id, info.version, index))
            if not sent:
                return True
            path = f"{PATH}/keys?version={urllib.parse.quote(info.version)}"
            try:
                status, body = await self._client.raw_json("PUT", path, {"rooms": rooms}, timeout=60)
            except Exception as exc:
                return self._upload_failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            if status == 200:
                self._sent(sent)
                count = body.get("count")
                if isinstance(count, int) and not isinstance(count, bool):
                    self._backup.keys_on_server = count
                self._failures, self.problem = 0, None
                logger.info("backed up %d sessions to key backup version %s (%d waiting)", len(sent), info.version,
                            len(self._pending))
                self._backup.emit_status(force=not self._pending)
                return True
            errcode = body.get("errcode")
            if status == 404 or errcode == "M_WRONG_ROOM_KEYS_VERSION":
                logger.warning("key backup version %s is gone (%s); looking again", info.version, errcode or status)
            elif status in (400, 413):
                # Retrying the same request cannot help; one refused batch must not hold up the rest.
                for room_id, session_id, _, _ in sent:
                    self._pending.pop((room_id, session_id), None)
                logger.warning("the server refused to back up %d sessions (%s); they stay out of the backup "
                               "until they change", len(sent), body.get("error") or f"HTTP {status}")
                return True
        if status == 404 or errcode == "M_WRONG_ROOM_KEYS_VERSION":
            await self._backup.refresh()
            current = self._backup.info
            return current is not None and current.version != info.version
        return self._upload_failed(body.get("error") or f"HTTP {status}")

    def _sent(self, sent: list[tuple[str, str, str, int]]) -> None:
        """The server took these (room, session, version, index) copies. A session that got a
        better copy while they were on their way stays queued, and unmarked in the store."""
        done = []
        for room_id, session_id, version, index in sent:
            session = self.held(room_id, session_id)
            if session is None or session.first_known_index >= index:
                done.append((room_id, session_id, version, index))
        self._store.mark_backed_up(done)
        self.remember(done)
        for room_id, session_id, _, _ in done:
            self._pending.pop((room_id, session_id), None)

    def _upload_failed(self, why: str) -> bool:
        self._failures += 1
        self.problem = why
        logger.warning(
            "backing up %d sessions failed (%s); retrying in %.0f s", len(self._pending), why,
            min(MAX_RETRY_DELAY, 2.0 ** self._failures),
        )
        self._backup.emit_status(force=True)
        return False
