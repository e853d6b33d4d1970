"""Restoring keys from the key backup: the whole backup in the background (room by room when the
server will not send it at once), or one room's keys when the room is opened or before its
history is shared. Entries are decrypted in a worker thread and merged like every other copy
(`AppOlm.merge_sessions`, origin `Origin.BACKUP`)."""

from __future__ import annotations

import asyncio
import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import vodozemac

from ....config import Settings
from ....records import record
from ...crypto.backup import BackupEntry, BackupError, BackupInfo, Decryptor, iter_room, iter_rooms
from ...crypto.key_export import ExportedKey
from ...crypto.megolm import MegolmKeyError, import_exported
from ...errors import DownloadError, EngineError
from ...events import EngineEvent, Notice
from ...models import BackupRestore, RestoreResult
from ...nio.olm import changed, inbound_session
from ...room_keys import Origin, SessionMeta
from .shared import PATH, RESTORED_KV, BackupView
from .upload import Uploader

if TYPE_CHECKING:
    from nio.crypto import InboundGroupSession

    from ...nio.client import EngineClient
    from ...nio.olm import AppOlm
    from ...nio.store import AppStore

logger = logging.getLogger(__name__)

CHUNK = 500  # entries decrypted and stored together during a restore
ROOM_INTERVAL = 60.0  # a room opened again within this many seconds is not restored again
SHARE_INTERVAL = 10.0  # nor before sharing its history, within this many
MAX_LOGGED_FAILURES = 20  # per restore; the rest are counted


@record
class _Decoded:
    key: ExportedKey
    inner: vodozemac.InboundGroupSession
    server_index: int  # the first index of the copy the backup holds


class Restorer:
    """The restores of one `BackupManager` (`backup`); what they store is recorded as backed up
    in `uploader`, so that it is not uploaded again."""

    def __init__(
        self,
        backup: BackupView,
        client: EngineClient,
        uploader: Uploader,
        *,
        emit: Callable[[EngineEvent], None],
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
        clock: Callable[[], float],
        settings: Settings,
    ) -> None:
        assert client.store is not None and client.olm is not None, "the client's store must be open"
        self._backup = backup
        self._client = client
        self._store: AppStore = client.store
        self._olm: AppOlm = client.olm
        self._uploader = uploader
        self._emit = emit
        self._spawn = spawn
        self._clock = clock
        self._settings = settings
        self._restored_count: int | None = None  # cached; None = count again
        self.progress: BackupRestore | None = None  # of the whole restore, once one was started
        self._full_task: asyncio.Task[Any] | None = None
        self._full_result: RestoreResult | None = None
        self._room_restored_at: dict[str, float] = {}  # when each room's restore last finished
        self._room_opened_at: dict[str, float] = {}
        self._room_tasks: dict[str, asyncio.Task[Any]] = {}

    @property
    def running(self) -> bool:
        """Whether a whole restore is under way."""
        return self._full_task is not None and not self._full_task.done()

    def restored_count(self) -> int:
        """How many of the sessions we hold came from the backup (counted in the store: reading
        every session's metadata into memory to count them would undo the lazy store)."""
        if self._restored_count is None:
            self._restored_count = self._store.count_sessions_by_origin(Origin.BACKUP)
        return self._restored_count

    def forget_count(self) -> None:
        """Sessions were stored: count the restored ones again when asked."""
        self._restored_count = None

    def start_full_restore(self) -> None:
        if self._full_task is None or self._full_task.done():
            info = self._backup.info
            count = info.count if info is not None else None
            self.progress = BackupRestore(None, count or 0, 0, 0, 0)  # under way from now on
            self._full_task = self._spawn(self._restore_all(), "key-backup-restore")

    async def restore_all(self) -> RestoreResult:
        """Restore the whole backup (joining one already running)."""
        self._backup.require_key()
        self.start_full_restore()
        assert self._full_task is not None
        await asyncio.shield(self._full_task)
        if self._full_result is None:
            error = self.progress.error if self.progress else None
            raise EngineError(f"restoring from the key backup failed: {error or 'see the log'}")
        return self._full_result

    def room_opened(self, room_id: str) -> None:
        """A room is on screen: restore its keys first (in the background, once a minute)."""
        if not self._backup.key_matches():
            return
        now = self._clock()
        if now - self._room_opened_at.get(room_id, float("-inf")) < ROOM_INTERVAL:
            return
        self._room_opened_at[room_id] = now
        self._spawn(self._restore_room_quietly(room_id), f"key-backup-room-{room_id}")

    async def before_sharing(self, room_id: str) -> None:
        """Before a key bundle for `room_id` is built: restore that room's keys, so we pass on
        what the backup holds too (as matrix-rust-sdk does). Never raises."""
        if not self._backup.key_matches():
            return
        if self._clock() - self._room_restored_at.get(room_id, float("-inf")) < SHARE_INTERVAL:
            return  # just done (the invite's preview, a moment ago)
        await self._restore_room_quietly(room_id)

    async def _restore_room_quietly(self, room_id: str) -> None:
        try:
            await self.restore_room(room_id)
        except Exception as exc:
            logger.warning("could not restore the keys of %s from the key backup: %s", room_id, exc)

    async def restore_room(self, room_id: str) -> RestoreResult:
        running = self._room_tasks.get(room_id)
        if running is not None and not running.done():
            result: RestoreResult = await asyncio.shield(running)
            return result
        task = asyncio.get_running_loop().create_task(self._restore_room(room_id))
        self._room_tasks[room_id] = task
        try:
            return await asyncio.shield(task)
        finally:
            if task.done():
                self._room_tasks.pop(room_id, None)

    async def _restore_room(self, room_id: str) -> RestoreResult:
        info = self._backup.require_key()
        assert self._backup.held_key is not None
        path = f"{PATH}/keys/{urllib.parse.quote(room_id, safe='')}?version={urllib.parse.quote(info.version)}"
        status, body = await self._client.raw_json("GET", path, timeout=60)
        if status == 404:
            self._room_restored_at[room_id] = self._clock()
            return RestoreResult(0, 0, 0, room_id)
        if status != 200:
            raise EngineError(f"the server did not give the room's backed-up keys ({body.get('error') or f'HTTP {status}'})")
        entries = list(iter_room(room_id, body))
        total, imported, failed = await self._import(entries, info, Decryptor(self._backup.held_key), None)
        self._room_restored_at[room_id] = self._clock()
        if imported:
            logger.info("restored %d keys of %s from the key backup (%d entries, %d refused)", imported, room_id,
                        total, failed)
        return RestoreResult(total, imported, failed, room_id)

    async def _restore_all(self) -> None:
        self._full_result = None
        try:
            info = self._backup.require_key()
            assert self._backup.held_key is not None
            self._backup.emit_status(force=True)
            started = time.perf_counter()
            path = f"{PATH}/keys?version={urllib.parse.quote(info.version)}"
            try:
                status, body = await self._client.get_json_limited(path, limit=self._settings.backup_max_bytes)
            except DownloadError as exc:
                if exc.status != 413:
                    raise EngineError(f"could not download the key backup: {exc}") from None
                logger.warning("the key backup is too large to download at once (%s); restoring room by room", exc)
                result = await self._restore_room_by_room(info)
            else:
                if status != 200 or body is None:
                    error = body.get("error") if isinstance(body, dict) else None
                    raise EngineError(f"could not download the key backup: {error or f'HTTP {status}'}")
                downloaded = time.perf_counter()
                try:
                    entries = list(iter_rooms(body))
                except BackupError as exc:
                    raise EngineError(f"the key backup is unusable: {exc}") from None
                del body
                total, imported, failed = await self._import(entries, info, Decryptor(self._backup.held_key), self.progress)
                result = RestoreResult(total, imported, failed)
                logger.info(
                    "restored %d of %d keys from key backup version %s (%d refused; download %.0f ms, "
                    "decrypt+store %.0f ms)", imported, total, info.version, failed,
                    (downloaded - started) * 1000, (time.perf_counter() - downloaded) * 1000,
                )
            self._store.put_kv(RESTORED_KV, info.version)
            self._full_result = result
            self.progress = BackupRestore(None, result.total, result.total, result.imported, result.failed, True)
            self._backup.emit_status(force=True)
            self._emit(Notice(
                f"Restored {result.imported} keys from the key backup"
                + (f" ({result.failed} entries were refused; the log says why)" if result.failed else ""),
                level="warning" if result.failed else "information",
            ))
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            message = str(exc) if isinstance(exc, (EngineError, BackupError)) else f"{type(exc).__name__}: {exc}"
            logger.warning("restoring from the key backup failed: %s", message)
            previous = self.progress or BackupRestore(None, 0, 0, 0, 0)
            self.progress = replace(previous, finished=True, error=message)
            self._backup.emit_status(force=True)
            self._emit(Notice(f"Restoring keys from the key backup failed: {message}", level="warning"))

    async def _restore_room_by_room(self, info: BackupInfo) -> RestoreResult:
        total = imported = failed = 0
        for room_id in list(self._client.rooms):
            result = await self.restore_room(room_id)
            total, imported, failed = total + result.total, imported + result.imported, failed + result.failed
            self.progress = BackupRestore(None, total, total, imported, failed)
            self._backup.emit_status()
        return RestoreResult(total, imported, failed)

    async def _import(
        self, entries: list[BackupEntry | BackupError], info: BackupInfo, decryptor: Decryptor,
        progress: BackupRestore | None,
    ) -> tuple[int, int, int]:
        """Decrypt (in a worker thread), check, merge and store entries in chunks; (total,
        imported, refused)."""
        total = len(entries)
        imported = failed = logged = 0
        for start in range(0, total, CHUNK):
            chunk = entries[start:start + CHUNK]
            decoded, problems = await asyncio.to_thread(_decode_chunk, decryptor, chunk)
            failed += len(problems)
            for problem in problems:
                if logged < MAX_LOGGED_FAILURES:
                    logger.warning("refused an entry of the key backup: %s", problem)
                logged += 1
            imported += self._store_chunk(decoded, info.version)
            if progress is not None:
                self.progress = BackupRestore(None, total, min(total, start + CHUNK), imported, failed)
                self._backup.emit_status()
            await asyncio.sleep(0)  # let sync and the UI's reads through between chunks
        if logged > MAX_LOGGED_FAILURES:
            logger.warning("… and %d more refused entries", logged - MAX_LOGGED_FAILURES)
        return total, imported, failed

    def _store_chunk(self, decoded: list[_Decoded], version: str) -> int:
        """Merge restored sessions like any other copy; record what the backup holds."""
        now = self._clock()
        candidates = [
            (
                inbound_session(d.inner, d.key.room_id, d.key.sender_key, d.key.sender_claimed_ed25519,
                                list(d.key.forwarding_chain)),
                SessionMeta(d.key.room_id, d.key.session_id, d.key.sender_key, d.key.shared_history, Origin.BACKUP,
                            received_at=now),
            )
            for d in decoded
        ]
        outcomes = self._olm.merge_sessions(candidates)
        sessions, metas = changed(outcomes)
        rows = [
            (d.key.room_id, d.key.session_id, version, d.server_index)
            for d, outcome in zip(decoded, outcomes)
            if not self._we_hold_better(d, outcome.session)
        ]
        with self._store.transaction():
            if sessions:
                self._store.save_inbound_group_sessions(sessions)
            if metas:
                self._store.save_session_meta(metas)
            self._store.mark_backed_up(rows)
        self._uploader.remember(rows)
        if sessions:
            self._olm.on_keys_added([(m.room_id, m.session_id) for m in metas])
        self._restored_count = None
        return len(sessions)

    def _we_hold_better(self, d: _Decoded, kept: InboundGroupSession | None) -> bool:
        """Whether our copy (`kept` by the merge, or the one held before) starts earlier than
        the backup's: then the backup lacks part of it, and it is not marked as backed up."""
        held = kept or self._uploader.held(d.key.room_id, d.key.session_id)
        return held is not None and held.first_known_index < d.server_index

    def close(self) -> None:
        for task in self._room_tasks.values():
            task.cancel()


def _decode_chunk(
    decryptor: Decryptor, chunk: list[BackupEntry | BackupError]
) -> tuple[list[_Decoded], list[str]]:
    """Runs in a worker thread: decrypt and check each entry; a bad one is refused alone."""
    decoded: list[_Decoded] = []
    problems: list[str] = []
    for entry in chunk:
        if isinstance(entry, BackupError):
            problems.append(str(entry))
            continue
        where = f"session {entry.session_id[:10]}… of {entry.room_id}"
        try:
            key = decryptor.decrypt(entry.room_id, entry.session_id, entry.data)
            inner = import_exported(key.session_key, key.session_id)
        except (BackupError, MegolmKeyError) as exc:
            problems.append(f"{where}: {exc}")
            continue
        decoded.append(_Decoded(key, inner, inner.first_known_index))
    return decoded, problems
