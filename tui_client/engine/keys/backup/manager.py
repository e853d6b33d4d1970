"""`BackupManager`, what the rest of the engine talks to about the key backup: which backup the
account has, the decryption key this device holds for it (kept sealed in the store with the
profile's store key, with its backup version), what this device may do with the backup (trust),
the status front ends see, and taking a key from secret storage, another of our devices or a
backup it creates. Restoring is in `restore`, uploading in `upload`; the manager owns both and
forwards to them."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import TYPE_CHECKING, Any, Protocol

from ....config import Settings
from ...crypto.backup import (
    BACKUP_ALGORITHM,
    BACKUP_SECRET,
    BackupError,
    BackupInfo,
    BackupTrust,
    backup_trust,
    decode_backup_key,
    encode_backup_key,
    new_auth_data,
    new_backup_key,
    parse_backup_info,
    public_key_of,
)
from ...crypto.symmetric import seal, store_subkey, unseal
from ...errors import EngineError
from ...events import BackupChanged, EngineEvent
from ...models import BackupState, BackupStatus, RestoreResult
from .restore import Restorer
from .shared import PATH, RESTORED_KV
from .upload import Uploader

if TYPE_CHECKING:
    from ...nio.client import EngineClient
    from ...nio.store import AppStore

logger = logging.getLogger(__name__)

_SECRET_NAME = "megolm_backup_key"

PROGRESS_INTERVAL = 0.25  # seconds between progress events


class BackupIdentity(Protocol):
    """What the backup needs of our cross-signing identity."""

    def own_master_key(self) -> str | None: ...

    def verified_own_devices(self) -> dict[str, str]: ...

    def sign_own(self, obj: dict[str, Any]) -> dict[str, Any]: ...


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
        self._identity = identity
        self._emit = emit
        self._spawn = spawn
        self._settings = settings
        self._secret_key = store_subkey(store_key, "megolm backup key")
        self.info: BackupInfo | None = None
        self._checked = False  # asked the server at least once
        self._problem: str | None = None  # why the last look at the server failed
        self._key: bytes | None = None
        self._key_version: str | None = None
        self._trust: BackupTrust | None = None
        self.keys_on_server: int | None = None
        self._uploader = Uploader(self, client, spawn)
        self._restorer = Restorer(self, client, self._uploader, emit=emit, spawn=spawn, clock=clock, settings=settings)
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
        return self._key if self.key_matches() else None

    @property
    def held_key(self) -> bytes | None:
        """The decryption key this device holds, whether or not it is the current backup's."""
        return self._key

    def key_matches(self) -> bool:
        """Whether the key this device holds is the current backup's (so it may restore)."""
        return bool(self._trust and self._trust.key_matches)

    @property
    def can_upload(self) -> bool:
        return self.info is not None and self.info.supported and bool(self._trust and self._trust.can_upload)

    # -- what the server has --------------------------------------------------------------------------

    async def refresh(self) -> BackupStatus:
        """Ask the server for the current backup version and decide what we may do with it."""
        try:
            status, body = await self._client.raw_json("GET", f"{PATH}/version", timeout=30)
        except Exception as exc:
            self._problem = f"could not ask the server about the key backup ({type(exc).__name__}: {exc})"
            logger.warning("%s", self._problem)
            self.emit_status(force=True)
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
        self.emit_status(force=True)
        return self.status()

    def _set_info(self, info: BackupInfo | None) -> None:
        old = self.info
        self.info = info
        self._problem = None
        self.keys_on_server = info.count if info else None
        self._evaluate()
        if info is not None and (old is None or old.version != info.version):
            logger.info(
                "key backup version %s (%s): %s", info.version, info.algorithm,
                self._trust.describe() if self._trust else "unsupported",
            )
            self._uploader.rescan()

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
            self._uploader.scan()
            self._uploader.wake()
        self.emit_status(force=True)

    # -- status ------------------------------------------------------------------------------------------

    def status(self) -> BackupStatus:
        info = self.info
        state, detail = self._state()
        return BackupStatus(
            state=state,
            detail=detail,
            version=info.version if info else None,
            algorithm=info.algorithm if info else None,
            keys_on_server=self.keys_on_server,
            keys_restored=self._restorer.restored_count(),
            uploading=self._uploader.waiting if self.can_upload else 0,
            restore=self._restorer.progress,
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
        if self.key_matches():
            assert self._trust is not None
            detail = f"restoring from and backing up to version {info.version} ({self._trust.describe()})"
            if self._uploader.problem:
                detail += f"; uploading is failing ({self._uploader.problem}), retrying"
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

    def emit_status(self, *, force: bool = False) -> None:
        """Tell front ends the status (at most every PROGRESS_INTERVAL, unless `force`)."""
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
        if received_key is not None and not self.key_matches():
            if await self.use_backup_key(received_key, source="another of your devices (received earlier)"):
                return
        self._uploader.ensure_running()
        if self.key_matches() and self._settings.backup_restore_all and self.info is not None:
            if self._store.get_kv(RESTORED_KV) != self.info.version:
                self.start_full_restore()

    def lasting_tasks(self) -> set[asyncio.Task[Any]]:
        """Tasks that run as long as the engine (nobody should wait for them to end)."""
        return self._uploader.lasting_tasks()

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
        self._uploader.rescan()
        self._uploader.ensure_running()
        if restore and self._store.get_kv(RESTORED_KV) != info.version:
            self.start_full_restore()
        self.emit_status(force=True)
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
        if self._restorer.running:
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
        if self.key_matches() and self._key is not None:
            return encode_backup_key(self._key), f"the key backup (version {info.version}) is kept; its key is stored too"
        if not info.supported:
            return None, f"the account's key backup uses an algorithm this client does not know ({info.algorithm})"
        return None, (f"this device cannot read the account's key backup (version {info.version}), so the new "
                      "recovery key will not restore it")

    async def _create(self) -> str:
        key = new_backup_key()
        auth_data = self._identity.sign_own(new_auth_data(key))
        status, body = await self._client.raw_json(
            "POST", f"{PATH}/version", {"algorithm": BACKUP_ALGORITHM, "auth_data": auth_data}
        )
        version = body.get("version")
        if status != 200 or not isinstance(version, str):
            raise EngineError(f"could not create a key backup: {body.get('error') or f'HTTP {status}'}")
        self._save_key(key, version)
        logger.info("created key backup version %s", version)
        await self.refresh()
        self._store.put_kv(RESTORED_KV, version)  # nothing to restore from a backup we just made
        self._uploader.ensure_running()
        return version

    # -- uploading (see `upload`) ------------------------------------------------------------------------------

    def on_keys_added(self, keys: Iterable[tuple[str, str]]) -> None:
        """New or better sessions were stored: queue those the backup lacks."""
        self._restorer.forget_count()
        self._uploader.on_keys_added(keys)

    async def flush(self, timeout: float = 15.0) -> None:
        """Upload what is waiting now (before a command-line run exits); never raises."""
        await self._uploader.flush(timeout)

    # -- restoring (see `restore`) ------------------------------------------------------------------------------

    def require_key(self) -> BackupInfo:
        """The current backup, when this device holds its key; EngineError saying why not otherwise."""
        info = self.info
        if info is None or not self.key_matches():
            state, detail = self._state()
            raise EngineError(f"cannot restore from the key backup: {detail}")
        return info

    def start_full_restore(self) -> None:
        self._restorer.start_full_restore()

    async def restore(self, room_id: str | None = None) -> RestoreResult:
        """Restore the whole backup (joining one already running), or one room's keys."""
        if room_id is not None:
            return await self.restore_room(room_id)
        return await self._restorer.restore_all()

    def room_opened(self, room_id: str) -> None:
        """A room is on screen: restore its keys first (in the background, once a minute)."""
        self._restorer.room_opened(room_id)

    async def before_sharing(self, room_id: str) -> None:
        """Before a key bundle for `room_id` is built: restore that room's keys, so we pass on
        what the backup holds too (as matrix-rust-sdk does). Never raises."""
        await self._restorer.before_sharing(room_id)

    async def restore_room(self, room_id: str) -> RestoreResult:
        return await self._restorer.restore_room(room_id)

    def close(self) -> None:
        self._restorer.close()
