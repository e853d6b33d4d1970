"""The server-side key backup with I/O (`m.megolm_backup.v1.curve25519-aes-sha2`): find the
account's backup, decide whether this device may use it, restore keys from it (all of them in
the background, a room's first when it is opened or before its history is shared), and upload
every new inbound session to it, batched and retried, with its shareable flag.

The crypto and every check of what the server sends are in `crypto.backup`; restored keys go
through the same merge rules as every other copy (`AppOlm.merge_sessions`) with origin
`Origin.BACKUP`, ranked like a key file: a backup never replaces a better or more trusted key.

Where the decryption key comes from: secret storage when the user verifies with the recovery
key (`use_secret_storage`), a new backup made by `setup-recovery` (`secret_for_recovery`), or
another of our devices by secret gossip (`use_backup_key`). It is kept sealed in the store with
the profile's store key, with the backup version it belongs to.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Iterable
from dataclasses import dataclass, replace
from itertools import islice
from typing import TYPE_CHECKING, Any, Protocol

import vodozemac

from ...config import Settings
from ..crypto.backup import (
    BACKUP_ALGORITHM,
    BACKUP_SECRET,
    BackupEntry,
    BackupError,
    BackupInfo,
    BackupTrust,
    Decryptor,
    Encryptor,
    backup_trust,
    decode_backup_key,
    encode_backup_key,
    iter_room,
    iter_rooms,
    new_auth_data,
    new_backup_key,
    parse_backup_info,
    public_key_of,
)
from ..crypto.key_export import ExportedKey
from ..crypto.megolm import MegolmKeyError, import_exported
from ..crypto.symmetric import seal, store_subkey, unseal
from ..errors import DownloadError, EngineError
from ..events import BackupChanged, EngineEvent, Notice
from ..models import BackupRestore, BackupState, BackupStatus, RestoreResult
from ..nio.olm import changed, inbound_session
from ..room_keys import Origin, SessionMeta

if TYPE_CHECKING:
    from nio.crypto import InboundGroupSession

    from ..nio.client import EngineClient
    from ..nio.olm import AppOlm
    from ..nio.store import AppStore

logger = logging.getLogger(__name__)

_SECRET_NAME = "megolm_backup_key"
_RESTORED_KV = "backup_restored_version"  # the backup version whose whole restore finished
_PATH = "/_matrix/client/v3/room_keys"

BATCH = 100  # sessions per upload request (as matrix-rust-sdk)
CHUNK = 500  # entries decrypted and stored together during a restore
PROGRESS_INTERVAL = 0.25  # seconds between progress events
ROOM_INTERVAL = 60.0  # a room opened again within this many seconds is not restored again
SHARE_INTERVAL = 10.0  # nor before sharing its history, within this many
MAX_RETRY_DELAY = 300.0
MAX_LOGGED_FAILURES = 20  # per restore; the rest are counted


class BackupIdentity(Protocol):
    """What the backup needs of our cross-signing identity."""

    def own_master_key(self) -> str | None: ...

    def verified_own_devices(self) -> dict[str, str]: ...

    def sign_own(self, obj: dict[str, Any]) -> dict[str, Any]: ...


@dataclass(frozen=True)
class _Decoded:
    key: ExportedKey
    inner: vodozemac.InboundGroupSession
    server_index: int  # the first index of the copy the backup holds


class BackupManager:
    def __init__(
        self,
        client: EngineClient,
        store_key: str,
        identity: BackupIdentity,
        *,
        emit: Callable[[EngineEvent], None],
        spawn: Callable[[Coroutine[Any, Any, Any], str], asyncio.Task[Any]],
        clock: Callable[[], float],
        settings: Settings,
    ) -> None:
        assert client.store is not None and client.olm is not None, "the client's store must be open"
        self._client = client
        self._store: AppStore = client.store
        self._olm: AppOlm = client.olm
        self._identity = identity
        self._emit = emit
        self._spawn = spawn
        self._clock = clock
        self._settings = settings
        self._secret_key = store_subkey(store_key, "megolm backup key")
        self.info: BackupInfo | None = None
        self._checked = False  # asked the server at least once
        self._problem: str | None = None  # why the last look at the server failed
        self._key: bytes | None = None
        self._key_version: str | None = None
        self._trust: BackupTrust | None = None
        self._backed_up = self._store.load_backed_up()
        self._pending: dict[tuple[str, str], None] = {}  # an ordered set
        self._keys_on_server: int | None = None
        self._restored_count: int | None = None  # cached; None = count again
        self._restore: BackupRestore | None = None
        self._full_task: asyncio.Task[Any] | None = None
        self._full_result: RestoreResult | None = None
        self._room_restored_at: dict[str, float] = {}  # when each room's restore last finished
        self._room_opened_at: dict[str, float] = {}
        self._room_tasks: dict[str, asyncio.Task[Any]] = {}
        self._wake: asyncio.Event | None = None
        self._upload_lock: asyncio.Lock | None = None
        self._uploader: asyncio.Task[Any] | None = None
        self._failures = 0
        self._upload_problem: str | None = None
        self._emitted_at = 0.0
        self._load_key()

    # -- the key we hold ------------------------------------------------------------------------

    def _load_key(self) -> None:
        blob = self._store.get_secret(_SECRET_NAME)
        if not blob:
            return
        try:
            plain = json.loads(unseal(self._secret_key, base64.b64decode(blob), _SECRET_NAME.encode()))
            self._key = decode_backup_key(plain["key"])
            self._key_version = str(plain["version"])
        except Exception as exc:
            logger.error("the stored key backup key cannot be read (%s); verify again to restore from the backup", exc)
            self._key = self._key_version = None

    def _save_key(self, key: bytes, version: str) -> None:
        plain = json.dumps({"key": encode_backup_key(key), "version": version}).encode()
        sealed = seal(self._secret_key, plain, _SECRET_NAME.encode())
        with self._store.transaction():
            self._store.put_secret(_SECRET_NAME, base64.b64encode(sealed).decode())
        self._key, self._key_version = key, version

    def current_key(self) -> bytes | None:
        """The decryption key of the account's current backup, if this device holds it (for
        answering a secret request from another verified device of ours)."""
        return self._key if self._key_matches() else None

    def _key_matches(self) -> bool:
        return bool(self._trust and self._trust.key_matches)

    @property
    def can_upload(self) -> bool:
        return self.info is not None and self.info.supported and bool(self._trust and self._trust.can_upload)

    # -- what the server has --------------------------------------------------------------------------

    async def refresh(self) -> BackupStatus:
        """Ask the server for the current backup version and decide what we may do with it."""
        try:
            status, body = await self._client.raw_json("GET", f"{_PATH}/version", timeout=30)
        except Exception as exc:
            self._problem = f"could not ask the server about the key backup ({type(exc).__name__}: {exc})"
            logger.warning("%s", self._problem)
            self._emit_status(force=True)
            return self.status()
        if status == 404:
            self._set_info(None)
        elif status != 200:
            self._problem = f"could not ask the server about the key backup ({body.get('error') or f'HTTP {status}'})"
            logger.warning("%s", self._problem)
        else:
            try:
                self._set_info(parse_backup_info(body))
            except BackupError as exc:
                self._problem = f"the server's description of the key backup is unusable: {exc}"
                logger.warning("%s", self._problem)
                self.info, self._trust = None, None
        self._checked = True
        self._emit_status(force=True)
        return self.status()

    def _set_info(self, info: BackupInfo | None) -> None:
        old = self.info
        self.info = info
        self._problem = None
        self._keys_on_server = info.count if info else None
        self._evaluate()
        if info is not None and (old is None or old.version != info.version):
            logger.info(
                "key backup version %s (%s): %s", info.version, info.algorithm,
                self._trust.describe() if self._trust else "unsupported",
            )
            self._pending.clear()
            self._scan()

    def _evaluate(self) -> None:
        info = self.info
        if info is None or not info.supported:
            self._trust = None
            return
        self._trust = backup_trust(
            info, self._client.user_id, self._key, self._identity.own_master_key(),
            self._identity.verified_own_devices(),
        )
        if self._trust.key_matches and self._key_version != info.version and self._key is not None:
            self._save_key(self._key, info.version)  # the same key, now for this version

    def trust_changed(self) -> None:
        """Our identity's view of this device changed: what we may do with the backup may too."""
        could = self.can_upload
        self._evaluate()
        if self.can_upload and not could:
            self._scan()
            if self._wake is not None:
                self._wake.set()
        self._emit_status(force=True)

    # -- status ------------------------------------------------------------------------------------------

    def status(self) -> BackupStatus:
        info = self.info
        state, detail = self._state()
        return BackupStatus(
            state=state,
            detail=detail,
            version=info.version if info else None,
            algorithm=info.algorithm if info else None,
            keys_on_server=self._keys_on_server,
            keys_restored=self._count_restored(),
            uploading=len(self._pending) if self.can_upload else 0,
            restore=self._restore,
        )

    def _state(self) -> tuple[BackupState, str]:
        info = self.info
        if not self._checked:
            return (BackupState.ERROR, self._problem) if self._problem else (BackupState.UNKNOWN, "not checked yet")
        if info is None:
            if self._problem:
                return BackupState.ERROR, self._problem
            return BackupState.NONE, "this account has no key backup; `setup-recovery` creates one"
        if not info.supported:
            return BackupState.UNSUPPORTED, f"the key backup uses an algorithm this client does not know ({info.algorithm})"
        if self._key_matches():
            assert self._trust is not None
            detail = f"restoring from and backing up to version {info.version} ({self._trust.describe()})"
            if self._upload_problem:
                detail += f"; uploading is failing ({self._upload_problem}), retrying"
            return BackupState.READY, detail
        if self._trust and self._trust.signed_by:
            return BackupState.UPLOAD_ONLY, (
                f"new keys are backed up to version {info.version} ({self._trust.describe()}); verify this "
                "device with your recovery key to restore from it"
            )
        if self._key is not None:
            return BackupState.NO_KEY, (
                f"the key backup was replaced (now version {info.version}) and this device holds the key of an "
                "earlier one: verify again with your recovery key"
            )
        return BackupState.NO_KEY, (
            f"this device cannot read the key backup (version {info.version}): verify it with your recovery key"
        )

    def _count_restored(self) -> int:
        if self._restored_count is None:
            self._restored_count = sum(1 for m in self._olm.session_meta.values() if m.origin is Origin.BACKUP)
        return self._restored_count

    def _emit_status(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._emitted_at < PROGRESS_INTERVAL:
            return
        self._emitted_at = now
        self._emit(BackupChanged(self.status()))

    # -- start-up -------------------------------------------------------------------------------------------

    def start(self, received_key: bytes | None = None) -> None:
        """After the first sync: look at the server's backup, resume an interrupted restore,
        and start backing up what is not yet backed up. `received_key`: a backup key another
        device of ours sent earlier, taken if we hold none that matches."""
        self._spawn(self._startup(received_key), "key-backup-start")

    async def _startup(self, received_key: bytes | None = None) -> None:
        await self.refresh()
        if received_key is not None and not self._key_matches():
            if await self.use_backup_key(received_key, source="another of your devices (received earlier)"):
                return
        self._ensure_uploader()
        if self._key_matches() and self._settings.backup_restore_all and self.info is not None:
            if self._store.get_kv(_RESTORED_KV) != self.info.version:
                self.start_full_restore()

    def lasting_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks that run as long as the engine (nobody should wait for them to end)."""
        return {self._uploader} if self._uploader is not None else set()

    def _ensure_uploader(self) -> None:
        if self._wake is None:
            self._wake = asyncio.Event()
            self._upload_lock = asyncio.Lock()
        if self._uploader is None or self._uploader.done():
            self._uploader = self._spawn(self._upload_loop(), "key-backup-upload")
        if self._pending:
            self._wake.set()

    # -- getting the key --------------------------------------------------------------------------------

    async def use_backup_key(self, key: bytes, *, source: str = "another of your devices", restore: bool = True) -> bool:
        """Take the backup's decryption key (e.g. received by secret gossip from a verified
        device of ours): if it is the key of the account's current backup, keep it (sealed),
        start backing up to it and, with `restore`, restore the whole backup in the background.
        False, with the reason in the log, if it is not."""
        try:
            public = public_key_of(key)
        except BackupError as exc:
            logger.warning("ignored a key backup key from %s: %s", source, exc)
            return False
        if self.info is None or not self._checked:
            await self.refresh()
        info = self.info
        if info is None or not info.supported:
            logger.warning("ignored a key backup key from %s: the account has no usable key backup", source)
            return False
        if public != info.public_key:
            logger.warning(
                "ignored a key backup key from %s: it is not the key of backup version %s", source, info.version
            )
            return False
        self._save_key(key, info.version)
        self._evaluate()
        logger.info("holding the key of key backup version %s (from %s): %s", info.version, source,
                    self._trust.describe() if self._trust else "?")
        self._pending.clear()
        self._scan()
        self._ensure_uploader()
        if restore and self._store.get_kv(_RESTORED_KV) != info.version:
            self.start_full_restore()
        self._emit_status(force=True)
        return True

    async def use_secret_storage(self, values: dict[str, str], problems: dict[str, str]) -> str:
        """After verifying with the recovery key: take the backup key secret storage holds.
        Returns a sentence for the user about the backup."""
        secret = values.get(BACKUP_SECRET)
        await self.refresh()
        info = self.info
        if secret is None:
            if BACKUP_SECRET in problems:
                return f"the key backup's key in secret storage cannot be read: {problems[BACKUP_SECRET]}"
            if info is None:
                return "this account has no key backup"
            return (f"secret storage holds no key for the key backup (version {info.version}), so this device "
                    "cannot restore from it")
        try:
            key = decode_backup_key(secret)
        except BackupError as exc:
            logger.warning("the key backup key in secret storage is unusable: %s", exc)
            return f"the key backup's key in secret storage is unusable: {exc}"
        if info is None:
            return "secret storage holds a key backup key, but the account has no key backup"
        if not await self.use_backup_key(key, source="secret storage", restore=self._settings.backup_restore_all):
            return (f"the key in secret storage is not the key of the account's key backup (version {info.version}); "
                    "it was left alone")
        if self._full_task is not None and not self._full_task.done():
            count = f"{info.count} keys" if info.count is not None else "its keys"
            return f"restoring {count} from the key backup (version {info.version}) in the background"
        return f"this device now uses the key backup (version {info.version})"

    async def secret_for_recovery(self, *, create: bool = True) -> tuple[str | None, str]:
        """For `setup-recovery`: the backup key to put into the new secret storage, creating a
        backup first when the account has none (as Element's "Set up recovery" does), and a
        sentence for the user. (None, why) when the account's backup is not ours to read."""
        await self.refresh()
        if self._problem:
            raise EngineError(self._problem)
        info = self.info
        if info is None:
            if not create:
                return None, "this account has no key backup"
            version = await self._create()
            assert self._key is not None
            return encode_backup_key(self._key), (
                f"created a key backup (version {version}): this device backs up its keys to it, and the recovery "
                "key restores them on a new device"
            )
        if self._key_matches() and self._key is not None:
            return encode_backup_key(self._key), f"the key backup (version {info.version}) is kept; its key is stored too"
        if not info.supported:
            return None, f"the account's key backup uses an algorithm this client does not know ({info.algorithm})"
        return None, (f"this device cannot read the account's key backup (version {info.version}), so the new "
                      "recovery key will not restore it")

    async def _create(self) -> str:
        key = new_backup_key()
        auth_data = self._identity.sign_own(new_auth_data(key))
        status, body = await self._client.raw_json(
            "POST", f"{_PATH}/version", {"algorithm": BACKUP_ALGORITHM, "auth_data": auth_data}
        )
        version = body.get("version")
        if status != 200 or not isinstance(version, str):
            raise EngineError(f"could not create a key backup: {body.get('error') or f'HTTP {status}'}")
        self._save_key(key, version)
        logger.info("created key backup version %s", version)
        await self.refresh()
        self._store.put_kv(_RESTORED_KV, version)  # nothing to restore from a backup we just made
        self._ensure_uploader()
        return version

    # -- uploading -------------------------------------------------------------------------------------------

    def _session(self, room_id: str, session_id: str) -> InboundGroupSession | None:
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
        assert self.info is not None
        record = self._backed_up.get((room_id, session_id))
        return record is None or record[0] != self.info.version or record[1] > session.first_known_index

    def _scan(self) -> None:
        """Queue every session the current backup lacks (or holds a worse copy of)."""
        if not self.can_upload:
            return
        for room_id, per_room in self._olm.inbound_group_store._entries.items():
            for per_sender in per_room.values():
                for session_id, session in per_sender.items():
                    if self._needs_upload(room_id, session_id, session):
                        self._pending[(room_id, session_id)] = None
        if self._pending:
            logger.info("%d sessions to back up to key backup version %s", len(self._pending), self.info.version if self.info else "?")

    def on_keys_added(self, keys: Iterable[tuple[str, str]]) -> None:
        """New or better sessions were stored: queue those the backup lacks."""
        self._restored_count = None
        if not self.can_upload:
            return
        added = False
        for room_id, session_id in keys:
            session = self._session(room_id, session_id)
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
            while self._pending and self.can_upload:
                if not await self._upload_batch():
                    break

    async def flush(self, timeout: float = 15.0) -> None:
        """Upload what is waiting now (before a command-line run exits); never raises."""
        if not self._pending or not self.can_upload:
            return
        if self._upload_lock is None:
            self._upload_lock = asyncio.Lock()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while self._pending and self.can_upload and loop.time() < deadline:
            if not await self._upload_batch():
                break

    async def _upload_batch(self) -> bool:
        """One PUT of up to BATCH sessions; False when it failed (retry later)."""
        assert self._upload_lock is not None
        async with self._upload_lock:
            info = self.info
            if not self._pending or info is None or info.public_key is None or not self.can_upload:
                return True
            encryptor = Encryptor(info.public_key)
            rooms: dict[str, dict[str, Any]] = {}
            sent: list[tuple[str, str, str, int]] = []
            for room_id, session_id in list(islice(self._pending, BATCH)):
                session = self._session(room_id, session_id)
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
            path = f"{_PATH}/keys?version={urllib.parse.quote(info.version)}"
            try:
                status, body = await self._client.raw_json("PUT", path, {"rooms": rooms}, timeout=60)
            except Exception as exc:
                return self._upload_failed(f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
            if status == 200:
                self._store.mark_backed_up(sent)
                for room_id, session_id, version, index in sent:
                    self._backed_up[(room_id, session_id)] = (version, index)
                    session = self._session(room_id, session_id)
                    if session is None or session.first_known_index >= index:
                        self._pending.pop((room_id, session_id), None)
                count = body.get("count")
                if isinstance(count, int) and not isinstance(count, bool):
                    self._keys_on_server = count
                self._failures, self._upload_problem = 0, None
                logger.info("backed up %d sessions to key backup version %s (%d waiting)", len(sent), info.version,
                            len(self._pending))
                self._emit_status(force=not self._pending)
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
            await self.refresh()
            return self.info is not None and self.info.version != info.version
        return self._upload_failed(body.get("error") or f"HTTP {status}")

    def _upload_failed(self, why: str) -> bool:
        self._failures += 1
        self._upload_problem = why
        logger.warning(
            "backing up %d sessions failed (%s); retrying in %.0f s", len(self._pending), why,
            min(MAX_RETRY_DELAY, 2.0 ** self._failures),
        )
        self._emit_status(force=True)
        return False

    # -- restoring -------------------------------------------------------------------------------------------

    def start_full_restore(self) -> None:
        if self._full_task is None or self._full_task.done():
            count = self.info.count if self.info is not None else None
            self._restore = BackupRestore(None, count or 0, 0, 0, 0)  # under way from now on
            self._full_task = self._spawn(self._restore_all(), "key-backup-restore")

    async def restore(self, room_id: str | None = None) -> RestoreResult:
        """Restore the whole backup (joining one already running), or one room's keys."""
        if room_id is not None:
            return await self.restore_room(room_id)
        self._require_key()
        self.start_full_restore()
        assert self._full_task is not None
        await asyncio.shield(self._full_task)
        if self._full_result is None:
            error = self._restore.error if self._restore else None
            raise EngineError(f"restoring from the key backup failed: {error or 'see the log'}")
        return self._full_result

    def _require_key(self) -> BackupInfo:
        info = self.info
        if info is None or not self._key_matches():
            state, detail = self._state()
            raise EngineError(f"cannot restore from the key backup: {detail}")
        return info

    def room_opened(self, room_id: str) -> None:
        """A room is on screen: restore its keys first (in the background, once a minute)."""
        if not self._key_matches():
            return
        now = self._clock()
        if now - self._room_opened_at.get(room_id, float("-inf")) < ROOM_INTERVAL:
            return
        self._room_opened_at[room_id] = now
        self._spawn(self._restore_room_quietly(room_id), f"key-backup-room-{room_id}")

    async def before_sharing(self, room_id: str) -> None:
        """Before a key bundle for `room_id` is built: restore that room's keys, so we pass on
        what the backup holds too (as matrix-rust-sdk does). Never raises."""
        if not self._key_matches():
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
        info = self._require_key()
        assert self._key is not None
        path = f"{_PATH}/keys/{urllib.parse.quote(room_id, safe='')}?version={urllib.parse.quote(info.version)}"
        status, body = await self._client.raw_json("GET", path, timeout=60)
        if status == 404:
            self._room_restored_at[room_id] = self._clock()
            return RestoreResult(0, 0, 0, room_id)
        if status != 200:
            raise EngineError(f"the server did not give the room's backed-up keys ({body.get('error') or f'HTTP {status}'})")
        entries = list(iter_room(room_id, body))
        total, imported, failed = await self._import(entries, info, Decryptor(self._key), None)
        self._room_restored_at[room_id] = self._clock()
        if imported:
            logger.info("restored %d keys of %s from the key backup (%d entries, %d refused)", imported, room_id,
                        total, failed)
        return RestoreResult(total, imported, failed, room_id)

    async def _restore_all(self) -> None:
        self._full_result = None
        try:
            info = self._require_key()
            assert self._key is not None
            self._emit_status(force=True)
            started = time.perf_counter()
            path = f"{_PATH}/keys?version={urllib.parse.quote(info.version)}"
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
                total, imported, failed = await self._import(entries, info, Decryptor(self._key), self._restore)
                result = RestoreResult(total, imported, failed)
                logger.info(
                    "restored %d of %d keys from key backup version %s (%d refused; download %.0f ms, "
                    "decrypt+store %.0f ms)", imported, total, info.version, failed,
                    (downloaded - started) * 1000, (time.perf_counter() - downloaded) * 1000,
                )
            self._store.put_kv(_RESTORED_KV, info.version)
            self._full_result = result
            self._restore = BackupRestore(None, result.total, result.total, result.imported, result.failed, True)
            self._emit_status(force=True)
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
            previous = self._restore or BackupRestore(None, 0, 0, 0, 0)
            self._restore = replace(previous, finished=True, error=message)
            self._emit_status(force=True)
            self._emit(Notice(f"Restoring keys from the key backup failed: {message}", level="warning"))

    async def _restore_room_by_room(self, info: BackupInfo) -> RestoreResult:
        total = imported = failed = 0
        for room_id in list(self._client.rooms):
            result = await self.restore_room(room_id)
            total, imported, failed = total + result.total, imported + result.imported, failed + result.failed
            self._restore = BackupRestore(None, total, total, imported, failed)
            self._emit_status()
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
                self._restore = BackupRestore(None, total, min(total, start + CHUNK), imported, failed)
                self._emit_status()
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
        rows = [(d.key.room_id, d.key.session_id, version, d.server_index) for d in decoded]
        with self._store.transaction():
            if sessions:
                self._store.save_inbound_group_sessions(sessions)
            if metas:
                self._store.save_session_meta(metas)
            self._store.mark_backed_up(rows)
        for room_id, session_id, _, index in rows:
            self._backed_up[(room_id, session_id)] = (version, index)
        if sessions:
            self._olm.on_keys_added([(m.room_id, m.session_id) for m in metas])
        self._restored_count = None
        return len(sessions)

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
