"""The Engine facade: one nio client per profile, its lifecycle, and the parts that do the work.

Everything the UI and the CLI do goes through here (`engine.api.EngineAPI` lists it). The
facade owns the profile lock, the session and the event listeners; once a client exists
(`open` or `login`) it builds the parts around it, each with one job and narrow inputs:

- `sync.SyncLoop`: /sync, backoff, key upkeep, waiting for something to show up;
- `rooms.Rooms`: what a sync changes for rooms, invites and memberships; room summaries;
- `timeline.timelines.Timelines`: timelines, paging back, decryption retry, why a message is
  unreadable;
- `commands.RoomCommands`: create, send, invite (sharing history first), join, leave, …;
- `history_sharing.service.HistorySharing`: MSC4268, both sides;
- `keys.identity.IdentityManager`: cross-signing;
- `keys.backup.BackupManager`: the server-side key backup (restore, upload);
- `keys.verification.service.Verifications`: emoji (SAS) verification, to-device with our own
  devices and in a direct chat with others; `keys.gossip.Gossip`: room keys and secrets between
  our own verified devices (`keys.router.KeyEvents` hands both their part of each sync);
- `keyfiles.KeyFiles`, `diagnostics`: key files; the inspector, event details and doctor.

The engine is loop-agnostic: the CLI drives it with `asyncio.run`, the TUI runs it on its own
thread and loop (see `host.py`) so that nothing nio does can freeze the interface.

This module is longer than most because it is the whole front-end surface: one short method per
call in `api.EngineAPI`, each delegating to a part, plus the lifecycle that owns the session,
the profile lock and the parts.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nio import responses as r

from .. import paths
from ..config import Settings
from . import diagnostics
from .activity import Activity
from .claim import ClaimedProfile
from .commands import RoomCommands
from .directs import DirectChats
from .errors import EngineError, NotLoggedIn, SharingFailed, StoreError
from .events import EngineEvent, IdentityChanged, Notice, OwnTrustChanged
from .history_sharing.service import HistorySharing
from .keyfiles import KeyFiles
from .crypto.backup import BACKUP_SECRET
from .keys.backup import BackupManager
from .keys.gossip import Gossip
from .keys.identity import IdentityError, IdentityManager
from .keys.router import KeyEvents
from .keys.verification.service import VerificationError, Verifications
from .lock import ProfileLock
from .models import (
    BackupStatus,
    DeviceInfo,
    EventDetails,
    IdentityInfo,
    Invite,
    OwnTrust,
    RestoreResult,
    RoomInspection,
    RoomSummary,
    SharePrediction,
    SharePreview,
    ShareResult,
    SyncState,
    TimelineItem,
    VerificationInfo,
    Whoami,
)
from .nio.client import EngineClient, OlmHooks
from .notifications.notifier import Notifier
from .rooms import Rooms
from .session import SessionInfo, delete_session, load_session, save_session
from .spaces import Spaces
from .transfers import Transfers
from .store_guard import STORE_SUFFIXES, check_readable, check_store, set_aside, store_path
from .sync import SyncLoop
from .timeline.cache import TimelineCache
from .timeline.timelines import Timelines, error_text

__all__ = ["Engine", "EngineError", "NotLoggedIn", "SharingFailed", "StoreError"]

logger = logging.getLogger(__name__)

FIRST_FLUSH_DELAY = 0.5  # seconds after the first sync of a run before its cache write

Listener = Callable[[EngineEvent], None]


@dataclass
class _Parts:
    """Everything that exists while a client does."""

    client: EngineClient
    identity: IdentityManager
    sharing: HistorySharing
    timelines: Timelines
    rooms: Rooms
    commands: RoomCommands
    keyfiles: KeyFiles
    backup: BackupManager
    gossip: Gossip
    verifications: Verifications
    keys: KeyEvents
    directs: DirectChats
    spaces: Spaces
    notifier: Notifier
    activity: Activity
    transfers: Transfers

    def keys_added(self, keys: list[tuple[str, str]]) -> None:
        """New or better Megolm sessions are stored: re-decrypt, and queue them for the backup."""
        self.timelines.on_keys_added(keys)
        self.backup.on_keys_added(keys)


class Engine:
    def __init__(
        self,
        profile: str = "default",
        *,
        settings: Settings | None = None,
        profile_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        legacy_no_shared_history: bool = False,
        claimed: ClaimedProfile | None = None,
    ) -> None:
        self.profile = paths.validate_profile_name(profile)
        self.dir = profile_dir or paths.profile_dir(profile)
        self._claimed = claimed  # the profile's lock and session, taken before the engine (claim.py)
        self.settings = settings or Settings()
        self.clock = clock
        self.legacy_no_shared_history = legacy_no_shared_history
        self.session: SessionInfo | None = None
        # Why the saved session's crypto store cannot be used (open(broken_store_ok=True) only).
        self.store_problem: str | None = None
        self._lock = claimed.lock if claimed else ProfileLock(paths.ensure_private_dir(self.dir), self.profile)
        self._listeners: list[Listener] = []
        self._tasks: set[asyncio.Task[Any]] = set()
        self._client: EngineClient | None = None
        self._parts: _Parts | None = None
        self._identity_checked = False
        self._startup_done = False
        # The first sync's offline-cache write, held back while the UI draws its rooms.
        self._first_flush: tuple[set[str], str | None] | None = None
        self._sync = SyncLoop(self._require_client, self._after_sync, self.emit, clock, self.settings)

    # -- events out ---------------------------------------------------------------------------

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        self._listeners.append(listener)

        def unsubscribe() -> None:
            if listener in self._listeners:
                self._listeners.remove(listener)

        return unsubscribe

    def emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            try:
                listener(event)
            except Exception:
                logger.exception("an engine listener failed on %s", type(event).__name__)

    def notice(self, message: str, *, room_id: str | None = None, level: str = "information") -> None:
        self.emit(Notice(message, room_id, level))

    def spawn(self, coro: Coroutine[Any, Any, Any], name: str) -> asyncio.Task[Any]:
        """Run background work on the engine loop; errors are logged, never raised."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background task %s failed", name)

        def done(task: asyncio.Task[Any]) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                coro.close()  # cancelled before it started: no "never awaited" warning

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(done)
        return task

    # -- the parts ----------------------------------------------------------------------------------

    @property
    def client(self) -> EngineClient | None:
        """The nio client, for the engine's own parts and tests; front ends never use it."""
        return self._client

    def _require_client(self) -> EngineClient:
        if not self._client or not self._client.access_token:
            raise NotLoggedIn(f"profile {self.profile!r} is not logged in; run `tui-client login` first")
        return self._client

    def _require(self) -> _Parts:
        self._require_client()
        if self._parts is None:
            raise StoreError(self.store_problem or f"profile {self.profile!r} has no usable crypto store")
        return self._parts

    @property
    def identity(self) -> IdentityManager:
        return self._require().identity

    @property
    def sharing(self) -> HistorySharing:
        return self._require().sharing

    @property
    def backup(self) -> BackupManager:
        """The key backup: `await engine.backup.use_backup_key(key)` takes a decryption key that
        arrived another way (secret gossip from a verified device of ours)."""
        return self._require().backup

    @property
    def gossip(self) -> Gossip:
        """Keys and secrets between our own devices (for the engine's parts and tests)."""
        return self._require().gossip

    def _new_client(self, homeserver: str, user: str, device_id: str | None, store: bool, store_key: str) -> EngineClient:
        hooks = OlmHooks(
            history_visibility_of=lambda room_id: self._parts.rooms.history_visibility(room_id) if self._parts else None,
            own_device_keys=lambda: self._parts.identity.own_device_keys() if self._parts else None,
            on_keys_added=lambda keys: self._parts.keys_added(keys) if self._parts else None,
            on_keys_query=lambda resp: self._parts.identity.process_keys_query(resp) if self._parts else None,
            forward_refusal=lambda *a: self._parts.gossip.forward_refusal(*a) if self._parts else "not ready",
            key_request_refusal=lambda *a: self._parts.gossip.key_request_refusal(*a) if self._parts else "not ready",
            on_sync_response=lambda resp: self._on_sync(resp) if self._parts else None,
            legacy_no_shared_history=self.legacy_no_shared_history,
            clock=self.clock,
        )
        return EngineClient(homeserver, user, device_id, str(self.dir) if store else "", store_key, hooks)

    def _build_parts(self, client: EngineClient, store_key: str) -> None:
        """Wire the parts around a client whose store is open."""
        assert client.store is not None and client.olm is not None
        identity = IdentityManager(client, store_key, self._sync.query_keys, self.clock)
        identity.on_identity_changed = self._on_identity_changed
        backup = BackupManager(
            client, store_key, identity, emit=self.emit, spawn=self.spawn, clock=self.clock, settings=self.settings
        )

        def own_trust_changed(trust: OwnTrust) -> None:
            self.emit(OwnTrustChanged(trust))
            backup.trust_changed()

        identity.on_own_trust_changed = own_trust_changed
        sharing = HistorySharing(self, client.store, before_share=backup.before_sharing)
        gossip = Gossip(client, identity, store_key, self.clock, self.spawn, self._sync.query_keys)
        # The backup's key, when another verified device of ours sends it, goes to the backup
        # (which checks it against the server's backup and restores); and the key we hold is
        # what we send when one of our devices asks for it.
        def backup_key_received(key: bytes, version: str | None) -> None:
            self.spawn(backup.use_backup_key(key, source="another of your devices"), "key-backup-received-key")

        gossip.on_backup_key = backup_key_received
        gossip.backup_key_provider = backup.current_key
        timelines = Timelines(
            client, sharing, lambda: identity.own_trust().device_verified, self.emit,
            spawn=self.spawn, cache=TimelineCache(client.store, store_key), clock=self.clock,
            on_missing_key=gossip.want_key,
        )
        rooms = Rooms(client, sharing, timelines, self.emit)
        commands = RoomCommands(client, self._sync, rooms, timelines, sharing, self.settings)
        verifications = Verifications(
            client, identity, commands, self.emit, self.clock, self.spawn, self._sync.query_keys,
            gossip.trust_device, gossip.after_own_identity_proved,
        )
        directs = DirectChats(client)
        spaces = Spaces(client)

        def room_name(room_id: str) -> str:
            summary = rooms.summary(room_id)
            return summary.name if summary is not None else room_id

        notifier = Notifier(client, self.emit, directs.is_direct, room_name)
        activity = Activity(client, timelines.items, timelines.display_name, self.emit, self._own_receipt)
        timelines.notifier = notifier
        rooms.directs, rooms.spaces, rooms.notifier, rooms.activity = directs, spaces, notifier, activity
        rooms.refresh_space = lambda space_id: self.spawn(self._refresh_space(space_id), f"space-{space_id}")
        commands.directs, commands.notifier, commands.spaces = directs, notifier, spaces
        self._parts = _Parts(
            client, identity, sharing, timelines, rooms, commands, KeyFiles(client.olm, self.clock), backup,
            gossip, verifications, KeyEvents(verifications, gossip),
            directs, spaces, notifier, activity, Transfers(client, timelines, commands, self.settings, self.emit),
        )
        identity.load()

    # -- lifecycle ----------------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self._client is not None and bool(self._client.access_token)

    @property
    def user_id(self) -> str:
        return self._client.user_id if self._client else ""

    @property
    def device_id(self) -> str:
        return self._client.device_id if self._client else ""

    async def open(self, *, broken_store_ok: bool = False) -> bool:
        """Lock the profile and restore its saved session. True if a session was restored.

        Raises StoreError, before anything is written, if the session's crypto store is missing,
        empty, damaged or not readable with its key (see store_guard): a new Olm account under
        the old device id would lose the device. With `broken_store_ok` the session is restored
        without a store instead (`store_problem` says why): enough to log out or run doctor."""
        self._lock.acquire()
        claimed, self._claimed = self._claimed, None
        info = claimed.session if claimed else load_session(self.dir)
        if info is None:
            return False
        self.session = info
        try:
            if claimed is None:  # (a claim has checked it)
                check_store(self.dir, self.profile, info)
        except StoreError as exc:
            logger.warning("%s", exc)
            if not broken_store_ok:
                raise
            self.store_problem = str(exc)
            self._client = self._new_client(info.homeserver, info.user_id, info.device_id, False, info.store_key)
            self._client.restore_login(info.user_id, info.device_id, info.access_token)
            return True
        self._client = self._new_client(info.homeserver, info.user_id, info.device_id, True, info.store_key)
        self._client.early_sync = claimed.early_sync if claimed else None
        try:
            self._client.restore_login(info.user_id, info.device_id, info.access_token)
            self._build_parts(self._client, info.store_key)
            assert self._parts is not None
            self._parts.rooms.restore_invites()
            # What the last run saw, before the server answers (or when it cannot).
            self._parts.rooms.restore_cached(self._parts.timelines.restore(self._client.loaded_sync_token))
        except StoreError:
            await self._close_client()
            raise
        except Exception as exc:  # damage the check could not see, e.g. in a session table
            logger.warning("opening the crypto store failed: %s: %s", type(exc).__name__, exc)
            await self._close_client()
            raise StoreError(
                f"the crypto store of profile {self.profile!r} is damaged ({type(exc).__name__}: {exc}). "
                f"Restore {store_path(self.dir)} from a backup, or run `tui-client --profile {self.profile} "
                "logout` and log in again as a new device."
            ) from None
        logger.info("restored session of %s on device %s", info.user_id, info.device_id)
        return True

    async def login(self, homeserver: str, user: str, password: str, device_name: str = "tui_client") -> SessionInfo:
        """Password login; saves the session (0600) and uploads our device keys."""
        self._lock.acquire()
        homeserver = homeserver.rstrip("/")
        if not homeserver.startswith(("http://", "https://")):
            raise EngineError(f"bad homeserver URL {homeserver!r}: it must start with http:// or https://")
        existing = load_session(self.dir)
        if existing is not None:
            # A second account (or device) in one profile would mix two stores' secrets.
            raise EngineError(
                f"profile {self.profile!r} is already logged in as {existing.user_id} "
                f"(device {existing.device_id}); log out first or use another --profile"
            )
        if self._client is not None:
            await self._close_client()
        check_readable(self.dir, self.profile)
        store_key = SessionInfo.new_store_key()
        client = self._new_client(homeserver, user, None, True, store_key)
        try:
            resp = await client.login(password, device_name=device_name)
        except Exception as exc:
            await client.close()
            raise EngineError(f"cannot reach {homeserver}: {exc or type(exc).__name__}") from exc
        if not isinstance(resp, r.LoginResponse):
            await client.close()
            if getattr(resp, "status_code", "") == "M_FORBIDDEN":
                raise EngineError("wrong user name or password")
            raise EngineError(f"login failed: {error_text(resp)}")
        self._client = client
        self.session = SessionInfo(homeserver, resp.user_id, resp.device_id, resp.access_token, store_key)
        save_session(self.dir, self.session)
        self._build_parts(client, store_key)
        logger.info("logged in as %s on new device %s", resp.user_id, resp.device_id)
        await self._sync.maintain_keys()
        await self._check_identity(password)
        return self.session

    async def logout(self) -> None:
        client = self._require_client()
        await self.stop_sync()
        try:
            await client.logout()
        except Exception as exc:
            logger.warning("server logout failed (%s); forgetting the session anyway", exc)
        await self._close_client()
        delete_session(self.dir)
        if self.store_problem:  # keep the unusable store: the user may still restore it
            moved = set_aside(self.dir)
            if moved is not None:
                logger.info("set the unusable crypto store aside as %s", moved)
        else:
            for suffix in STORE_SUFFIXES:
                Path(f"{store_path(self.dir)}{suffix}").unlink(missing_ok=True)
        self.session = None

    async def close(self) -> None:
        await self.stop_sync()
        if self._parts is not None:
            self._write_first_flush()
            self._parts.timelines.flush_cache({}, None)  # what changed since the last sync
            self._parts.sharing.close()
            self._parts.backup.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_client()
        self._lock.release()

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait for background work (e.g. a key bundle import) to finish. Work that lasts as
        long as the engine (the key backup's upload loop) is not waited for: `flush` that."""
        lasting = self._parts.backup.lasting_tasks() if self._parts else set()
        pending = [task for task in self._tasks if task not in lasting]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _close_client(self) -> None:
        client, self._client, self._parts = self._client, None, None
        if client is None:
            return
        try:
            await client.close()
        finally:
            if client.store is not None:
                try:
                    client.store.database.close()
                except Exception:
                    pass

    # -- sync ------------------------------------------------------------------------------------------

    @property
    def sync_state(self) -> SyncState:
        return self._sync.state

    @property
    def syncing(self) -> bool:
        return self._sync.running

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One /sync plus the key upkeep that follows it. Raises EngineError on failure."""
        self._require()
        await self._sync.sync_once(timeout_ms)

    def start_sync(self) -> None:
        self._sync.start()

    async def stop_sync(self) -> None:
        await self._sync.stop()

    def retry_now(self) -> None:
        """Skip the current backoff wait (a user pressed 'reconnect')."""
        self._sync.retry_now()

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait (syncing ourselves if no loop runs) until `predicate()` holds."""
        return await self._sync.wait_until(predicate, timeout)

    async def flush(self) -> None:
        """Send what is waiting to go out (keys to upload, to-device messages): before exiting."""
        if self._parts is not None:
            await self._sync.maintain_keys()
            await self._parts.backup.flush()

    async def query_keys(self, users: set[str]) -> None:
        """Ask the server for `users`' devices and cross-signing keys. Raises EngineError if it
        did not answer: what we knew before may be stale, and the caller must not act on it as
        if it were the server's answer."""
        try:
            resp = await self._sync.query_keys(users)
        except Exception as exc:
            raise EngineError(f"the server did not answer a key query ({exc or type(exc).__name__})") from exc
        if not isinstance(resp, r.KeysQueryResponse):
            raise EngineError(f"the server did not answer a key query ({error_text(resp)})")

    def _on_sync(self, resp: r.SyncResponse) -> None:
        parts = self._require()
        parts.rooms.on_sync(resp)
        parts.keys.on_sync(resp)
        touched = set(resp.rooms.join) | parts.timelines.dirty_rooms()
        if not self._sync.first_sync_done:
            # The first sync of a run (on a first start, every room's state and messages) is on
            # the user's screen as soon as this returns; writing the cache now (0.1 s of Python
            # for 100 rooms) would compete with drawing it. A crash before the write leaves the
            # cache's token behind nio's, and the next start reads its timelines as stale.
            self._first_flush = (touched, parts.client.next_batch)
            asyncio.get_running_loop().call_later(FIRST_FLUSH_DELAY, self._write_first_flush)
            return
        if self._first_flush is not None:
            touched |= self._first_flush[0]
            self._first_flush = None
        self._write_cache(touched, parts.client.next_batch)

    def _write_cache(self, rooms: set[str], sync_token: str | None) -> None:
        """The summaries of `rooms` and every changed timeline, with the sync token they match
        (inside that sync's transaction, or after it when no later sync was handled since)."""
        parts = self._require()
        summaries = {s.room_id: s for room_id in rooms if (s := parts.rooms.summary(room_id)) is not None}
        parts.timelines.flush_cache(summaries, sync_token)

    def _write_first_flush(self) -> None:
        if self._first_flush is None or self._parts is None:
            return
        store = self._parts.client.store
        if store is not None and store.database.in_transaction():
            # A later sync is being handled: it writes this one's rooms with its own token.
            return
        rooms, token = self._first_flush
        self._first_flush = None
        self._write_cache(rooms, token)

    async def _after_sync(self) -> None:
        parts = self._require()
        await parts.keys.after_sync()
        # From now on new messages are news: notify about them (not about the backlog the first
        # sync of a run brings).
        parts.notifier.live = True
        if not self._identity_checked:
            await self._check_identity()
        if not self._startup_done:
            self._startup_done = True
            # Bundles whose import a crash or a quit interrupted, and expired records; the key
            # backup (a restore to resume, keys to back up): in the background, so no start
            # waits for a media server.
            self.sharing.start()
            parts = self._require()
            parts.backup.start(received_key=parts.gossip.received_backup_key())

    # -- identities ------------------------------------------------------------------------------------

    async def _check_identity(self, password: str | None = None) -> None:
        """Publish an identity if the account has none and sign this device when we can."""
        self._identity_checked = True
        try:
            trust = await self.identity.ensure(password)
        except IdentityError as exc:
            logger.warning("cross-signing: %s", exc)
            self.notice(f"Cross-signing: {exc}", level="warning")
            return
        except Exception as exc:  # network trouble: try again on the next start
            self._identity_checked = False
            logger.warning("cross-signing check failed: %s", exc)
            return
        if not trust.device_verified:
            self.notice(f"Cross-signing: {trust.detail}", level="warning")

    def _on_identity_changed(self, user_id: str, old: str | None, new: str) -> None:
        self.emit(IdentityChanged(user_id, old, new))
        self.notice(
            f"{user_id} has a new cryptographic identity. If you did not expect this, "
            "check with them before trusting new messages or shared history.",
            level="warning",
        )

    def own_trust(self) -> OwnTrust:
        return self.identity.own_trust()

    def identity_info(self, user_id: str) -> IdentityInfo:
        return self.identity.identity_info(user_id)

    def devices(self, user_id: str) -> list[DeviceInfo]:
        return self.identity.devices(user_id)

    async def _identity_call(self, coro: Coroutine[Any, Any, Any]) -> Any:
        try:
            return await coro
        except IdentityError as exc:
            raise EngineError(str(exc)) from None

    async def verify_with_recovery_key(self, key_or_passphrase: str) -> OwnTrust:
        """Sign this device with the identity's keys from secret storage; then take the key
        backup's key from there too and restore the backup in the background."""
        trust, secrets = await self._identity_call(self.identity.verify_and_read(key_or_passphrase, (BACKUP_SECRET,)))
        self.emit(OwnTrustChanged(trust))
        try:
            note = await self._require().backup.use_secret_storage(secrets.values, secrets.problems)
        except Exception as exc:  # the device is verified; the backup can be restored later
            logger.warning("could not use the key backup after verifying: %s", exc)
            note = f"the key backup could not be used: {exc}"
        self.notice(f"Key backup: {note}")
        return trust

    async def setup_recovery(self) -> str:
        """New secret storage for our cross-signing keys and the key backup's key (a backup is
        created if the account has none); returns the recovery key (show it once)."""
        try:
            secret, note = await self._require().backup.secret_for_recovery()
        except EngineError as exc:  # recovery of the identity is worth having without a backup
            logger.warning("setting up recovery without a key backup: %s", exc)
            secret, note = None, f"none was set up ({exc}); run setup-recovery again later to add one"
        extra = {BACKUP_SECRET: secret} if secret is not None else None
        key: str = await self._identity_call(self.identity.setup_recovery(extra))
        self.notice(f"Key backup: {note}")
        return key

    # -- the key backup ----------------------------------------------------------------------------------

    def backup_status(self) -> BackupStatus:
        return self._require().backup.status()

    async def refresh_backup(self) -> BackupStatus:
        """Ask the server about the key backup now."""
        return await self._require().backup.refresh()

    async def restore_backup(self, room_id: str | None = None) -> RestoreResult:
        """Restore one room's keys, or the whole backup (joining a restore already running)."""
        parts = self._require()
        if parts.backup.info is None:
            await parts.backup.refresh()
        return await parts.backup.restore(room_id)

    def room_opened(self, room_id: str) -> None:
        """A front end shows `room_id`: its keys are restored from the backup first."""
        if self._parts is not None:
            self._parts.backup.room_opened(room_id)

    async def reset_identity(self, password: str) -> OwnTrust:
        trust: OwnTrust = await self._identity_call(self.identity.reset(password))
        self.emit(OwnTrustChanged(trust))
        return trust

    def accept_identity(self, user_id: str) -> None:
        """Accept a user's changed identity (after checking with them): pin the new master key."""
        try:
            self.identity.accept_change(user_id)
        except IdentityError as exc:
            raise EngineError(str(exc)) from None
        # Key bundles held because this identity had changed are evaluated again.
        self.sharing.identity_accepted(user_id)

    def changed_identities(self) -> list[str]:
        """Users whose identity changed since we pinned it and who the user has not accepted yet."""
        return self.identity.changed_identities()

    # -- emoji verification ----------------------------------------------------------------------------

    def verifications(self) -> list[VerificationInfo]:
        """Verifications in progress, and those that ended within the last hour."""
        return self._parts.verifications.all() if self._parts else []

    async def _verification_call(self, coro: Coroutine[Any, Any, VerificationInfo]) -> VerificationInfo:
        try:
            return await coro
        except VerificationError as exc:
            raise EngineError(str(exc)) from None

    async def request_verification(self, user_id: str, *, device_id: str | None = None,
                                   timeout: float = 120.0) -> VerificationInfo:
        """Ask `user_id` to compare emoji: our other devices (all, or `device_id`) to-device;
        anyone else in a direct chat, created (and waited for, up to `timeout`) if needed."""
        return await self._verification_call(self._require().verifications.request(user_id, device_id, timeout))

    async def accept_verification(self, flow_id: str) -> VerificationInfo:
        return await self._verification_call(self._require().verifications.accept(flow_id))

    async def confirm_verification(self, flow_id: str) -> VerificationInfo:
        """The emoji match."""
        return await self._verification_call(self._require().verifications.confirm(flow_id))

    async def mismatch_verification(self, flow_id: str) -> VerificationInfo:
        """The emoji do not match: cancels with m.mismatched_sas."""
        return await self._verification_call(self._require().verifications.mismatch(flow_id))

    async def cancel_verification(self, flow_id: str) -> VerificationInfo:
        """Decline a request or stop a verification (m.user)."""
        return await self._verification_call(self._require().verifications.cancel(flow_id))

    def received_backup_key(self) -> bytes | None:
        """The key backup's private key another device of ours sent us after an emoji
        verification (checked against the server's backup when it arrived), if any."""
        return self._parts.gossip.received_backup_key() if self._parts else None

    async def refresh_keys(self, user_id: str) -> None:
        """Fetch `user_id`'s devices and cross-signing keys now."""
        self._require()
        await self._sync.query_keys({user_id})

    # -- what front ends read ---------------------------------------------------------------------------

    def rooms(self) -> list[RoomSummary]:
        return self._parts.rooms.summaries() if self._parts else []

    def room(self, room_id: str) -> RoomSummary | None:
        return self._parts.rooms.summary(room_id) if self._parts else None

    def invites(self) -> list[Invite]:
        return self._parts.rooms.invites() if self._parts else []

    def emit_rooms(self) -> None:
        if self._parts:
            self._parts.rooms.emit_rooms()

    def timeline(self, room_id: str) -> list[TimelineItem]:
        return self._parts.timelines.items(room_id) if self._parts else []

    def thread(self, room_id: str, root_id: str) -> list[TimelineItem]:
        """A thread as far as we have it: its root, then its replies, oldest first."""
        return self._parts.timelines.thread(room_id, root_id) if self._parts else []

    async def load_thread(self, room_id: str, root_id: str) -> list[TimelineItem]:
        """A thread with every reply the server has."""
        return await self._require().timelines.load_thread(room_id, root_id)

    def timeline_at_start(self, room_id: str) -> bool:
        return bool(self._parts and self._parts.timelines.at_start(room_id))

    def display_name(self, room_id: str, user_id: str) -> str:
        return self._parts.timelines.display_name(room_id, user_id) if self._parts else user_id

    def refresh_failures(self, room_id: str) -> None:
        if self._parts:
            self._parts.timelines.refresh_failures(room_id)

    def whoami(self) -> Whoami:
        client = self._require_client()
        assert client.olm
        keys = client.olm.account.identity_keys
        return Whoami(client.user_id, client.device_id, client.homeserver, keys["ed25519"], keys["curve25519"])

    # -- room commands -------------------------------------------------------------------------------------

    async def resolve_room(self, room: str, *, invited_ok: bool = False) -> str:
        """A room id from an id, an alias or an exact room name."""
        return await self._require().commands.resolve(room, invited_ok=invited_ok)

    async def create_room(
        self,
        name: str,
        *,
        encrypted: bool = True,
        history_visibility: str | None = None,
        topic: str | None = None,
        invite: tuple[str, ...] = (),
    ) -> str:
        return await self._require().commands.create_room(
            name, encrypted=encrypted, history_visibility=history_visibility, topic=topic, invite=invite
        )

    async def send_text(self, room_id: str, text: str, *, emote: bool = False, notice: bool = False) -> str:
        return await self._require().commands.send_text(room_id, text, emote=emote, notice=notice)

    async def reply(
        self, room_id: str, event_id: str, text: str, *, in_thread: bool = False, emote: bool = False
    ) -> str:
        """Reply to a message (staying in its thread, if it is in one); `in_thread`: write in the
        thread of `event_id` instead, starting one from it if needed."""
        return await self._require().commands.reply(room_id, event_id, text, in_thread=in_thread, emote=emote)

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        return await self._require().commands.edit(room_id, event_id, text)

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        return await self._require().commands.react(room_id, event_id, key)

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        """Delete a message (or take back a reaction: redact its event)."""
        return await self._require().commands.redact(room_id, event_id, reason)

    def share_preview(self, room_id: str) -> SharePreview:
        """What inviting someone into `room_id` now would share (for a warning before inviting)."""
        return self._require().commands.share_preview(room_id)

    async def preview_invite(self, room_id: str, user_id: str) -> SharePreview:
        """What inviting `user_id` into `room_id` would do to its history, having asked the
        server about them first (their devices and cross-signing; whether they exist)."""
        return await self._require().commands.preview_invite(room_id, user_id)

    async def share_prediction(self, room_id: str, user_id: str) -> SharePrediction:
        """Message by message, what `user_id` would read of the loaded history if invited now
        (and why not); asks the server about them first."""
        return await self._require().commands.share_prediction(room_id, user_id)

    async def invite(
        self, room_id: str, user_id: str, *, share_history: bool = True, invite_if_sharing_fails: bool = False
    ) -> ShareResult | None:
        """Invite `user_id`, first sharing the room's history keys with them (MSC4268); see
        `commands.RoomCommands.invite`."""
        return await self._require().commands.invite(
            room_id, user_id, share_history=share_history, invite_if_sharing_fails=invite_if_sharing_fails
        )

    async def share_history(self, room_id: str, user_id: str) -> ShareResult:
        """Send `user_id` a key bundle for the room now (what invite() does first)."""
        return await self._require().commands.share_history(room_id, user_id)

    async def join(self, room: str, *, wait_for_keys: float = 2.0, via: tuple[str, ...] = ()) -> str:
        """Join a room or accept an invite; see `commands.RoomCommands.join`. `via`: servers to
        join through (a space's child names them; found by itself when a known space lists it)."""
        return await self._require().commands.join(room, wait_for_keys=wait_for_keys, via=via)

    # -- direct chats, spaces, typing, receipts ----------------------------------------------------------

    async def open_dm(self, user_id: str) -> str:
        """The direct chat with `user_id`: the existing one, their pending DM invite (accepted),
        or a new encrypted room listed in m.direct."""
        return await self._require().commands.open_dm(user_id)

    async def refresh_space(self, space_id: str) -> None:
        """Ask the server about the rooms a space lists (names of those we have not joined)."""
        await self._refresh_space(space_id)

    async def _refresh_space(self, space_id: str) -> None:
        parts = self._require()
        room = parts.client.rooms.get(space_id)
        if room is None:
            return
        if await parts.spaces.refresh(space_id, room.children):
            parts.rooms.emit_rooms()

    # -- files -------------------------------------------------------------------------------------------

    async def save_attachment(self, room_id: str, event_id: str, path: Path | None = None) -> Path:
        """Download a message's file (decrypted, its hash checked, at most download_max_bytes)
        to `path` (a file or a directory) or the downloads directory; returns where it went."""
        return await self._require().transfers.save(room_id, event_id, path)

    async def attachment_bytes(self, room_id: str, event_id: str, *, thumbnail: bool = False) -> bytes:
        """A message's file (or its thumbnail, if it has one) in memory, checked and decrypted."""
        _, data = await self._require().transfers.download(room_id, event_id, thumbnail=thumbnail)
        return data

    async def send_file(self, room_id: str, path: Path, *, transfer_id: str | None = None) -> str:
        """Upload a file and send it (m.image for images, else m.file); TransferProgress events
        carry `transfer_id`; `cancel_transfer(transfer_id)` stops it. Returns the event id."""
        return await self._require().transfers.send_file(room_id, path, transfer_id=transfer_id)

    def cancel_transfer(self, transfer_id: str) -> bool:
        return bool(self._parts and self._parts.transfers.cancel(transfer_id))

    def typing(self, room_id: str) -> tuple[str, ...]:
        return self._parts.activity.typing(room_id) if self._parts else ()

    async def set_typing(self, room_id: str, typing: bool) -> None:
        """Tell the room we are typing (or stopped); never fails (a notice is not worth an error)."""
        if self._parts is not None and self.settings.send_typing:
            await self._parts.activity.set_typing(room_id, typing)

    def receipts(self, room_id: str) -> dict[str, tuple[str, ...]]:
        """event id -> who (display names) read up to that message."""
        return self._parts.activity.receipts(room_id) if self._parts else {}

    def read_marker(self, room_id: str) -> str | None:
        """The event our read marker (m.fully_read) is on: "new messages" start after it."""
        return self._parts.activity.read_marker(room_id) if self._parts else None

    def _own_receipt(self, room_id: str, event_id: str) -> None:
        """Another of our devices read the room up to `event_id`."""
        parts = self._parts
        if parts is None:
            return
        order = [i.event_id for i in parts.timelines.items(room_id)]
        if event_id in order:
            if parts.notifier.read_up_to(room_id, order[: order.index(event_id) + 1]):
                parts.rooms.emit_rooms()

    async def decline(self, room_id: str) -> None:
        await self.leave(room_id)

    async def leave(self, room_id: str) -> None:
        await self._require().commands.leave(room_id)

    async def set_history_visibility(self, room_id: str, visibility: str) -> None:
        await self._require().commands.set_history_visibility(room_id, visibility)

    async def mark_read(self, room_id: str) -> None:
        await self._require().commands.mark_read(room_id)

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        """Fetch older events into the live timeline; returns the items added (oldest first)."""
        return await self._require().timelines.paginate_back(room_id, limit)

    async def load_full_history(self, room_id: str, page: int = 100) -> list[TimelineItem]:
        """Everything the server will give us of a room, oldest first."""
        await self._require().commands.joined_room(room_id)
        return await self._require().timelines.load_all(room_id, page)

    # -- QA: inspector, event details, key files, doctor ------------------------------------------------------

    def _diagnostics(self) -> diagnostics.Context:
        parts = self._require()
        return diagnostics.Context(parts.client, parts.identity, parts.sharing, parts.timelines, parts.backup)

    def inspect_room(self, room_id: str) -> RoomInspection:
        return diagnostics.inspect_room(self._diagnostics(), room_id)

    def event_details(self, room_id: str, event_id: str) -> EventDetails | None:
        return diagnostics.event_details(self._diagnostics(), room_id, event_id)

    async def export_keys(self, path: Path, passphrase: str, room_id: str | None = None) -> int:
        """Write our Megolm keys (all, or one room's) to a passphrase-protected file (0600)."""
        return await self._require().keyfiles.export(path, passphrase, room_id)

    async def import_keys(self, path: Path, passphrase: str) -> tuple[int, int, int]:
        """Import keys from an Element-style key file. Returns (imported, already had, skipped).

        A wrong passphrase or a damaged file raises EngineError and changes nothing."""
        return await self._require().keyfiles.import_(path, passphrase)

    async def doctor(self) -> dict[str, Any]:
        """Everything a tester or a bug report needs, without secrets."""
        parts = self._parts
        return await diagnostics.doctor(
            profile=self.profile,
            profile_dir=self.dir,
            client=self._client if self.logged_in else None,
            context=self._diagnostics() if parts is not None else None,
            store_problem=self.store_problem,
            sync_state=self.sync_state,
        )
