"""The Engine facade: one nio client per profile, its lifecycle, the sync loop, commands, and
typed events out. Everything the UI and the CLI do goes through here.

The engine is loop-agnostic: the CLI drives it with `asyncio.run`, the TUI runs it on its own
thread and loop (see `host.py`) so that nothing nio does can freeze the interface.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nio import responses as r
from nio.api import MessageDirection, RoomPreset, RoomVisibility
from nio.events import MegolmEvent, RoomCreateEvent, RoomHistoryVisibilityEvent, UnknownToDeviceEvent
from nio.exceptions import LocalProtocolError

from .. import paths
from ..config import HISTORY_VISIBILITIES, Settings
from ..safe_text import clean_id
from .client import EngineClient
from .crypto.olm import DecryptedOlmEvent, changed
from .errors import EngineError, StoreError
from .history_sharing.bundle import BUNDLE_EVENT_TYPES, HISTORY_NOT_SHARED, HISTORY_NOT_SHARED_CODES
from .history_sharing.service import (
    AcceptState,
    HistorySharing,
    ImportResult,
    InviteeFacts,
    SharePreview,
    SharingError,
    ShareResult,
)
from .events import (
    EngineErrorEvent,
    EngineEvent,
    IdentityChanged,
    OwnTrustChanged,
    InviteReceived,
    Notice,
    RoomsChanged,
    SyncStateChanged,
    TimelineItemsAdded,
    TimelineItemUpdated,
    TimelineReset,
)
from . import inspect as _inspect
from .crypto.key_export import (
    KeyExportError,
    decrypt_export,
    encrypt_export,
    export_entries,
    parse_export_entries,
    to_session,
)
from .identity import IdentityError, IdentityManager, OwnTrust
from .lock import ProfileLock
from .models import (
    Decryption,
    EventDetails,
    Invite,
    KeyProvenance,
    Member,
    RoomInspection,
    RoomSummary,
    SyncState,
    TimelineItem,
    Whoami,
)
from .render import text_content
from .room_keys import Origin, SessionMeta
from .session import SessionInfo, delete_session, load_session, save_session, write_private_file
from .store_guard import STORE_SUFFIXES, check_readable, check_store, set_aside, store_path
from .timeline import RoomTimeline, item_from_event

logger = logging.getLogger(__name__)

Listener = Callable[[EngineEvent], None]


class NotLoggedIn(EngineError):
    pass


class SharingFailed(EngineError):
    """Sharing history with an invitee failed, so the invite was not sent (the user decides)."""


def _error_text(resp: Any) -> str:
    message = getattr(resp, "message", None) or str(resp)
    code = getattr(resp, "status_code", None)
    return f"{message} ({code})" if code and code not in str(message) else message


def _classify_decryption_error(error: str, first_known_index: int) -> tuple[str, str]:
    """A failure code and a sentence for a Megolm decryption that failed although we hold a key."""
    lowered = error.lower()
    if "unknown message index" in lowered:
        return (
            "index",
            f"the key we hold for this session starts after this message (from index {first_known_index})",
        )
    if "replay" in lowered:
        return "replay", "refused: it reuses the position of an earlier message (possible replay attack)"
    if "parsing payload" in lowered:
        return "malformed", "malformed event: the decrypted content is not valid JSON"
    if "utf-8" in lowered:
        return "malformed", error
    if "base64" in lowered or "damaged" in lowered or "mac" in lowered or "signature" in lowered:
        detail = error.split(": ", 1)[-1] if error.startswith("Error decrypting") else error
        return "damaged", f"the encrypted message is damaged or forged ({detail})"
    return "error", f"could not decrypt: {error or 'unknown error'}"


class Engine:
    def __init__(
        self,
        profile: str = "default",
        *,
        settings: Settings | None = None,
        profile_dir: Path | None = None,
        clock: Callable[[], float] = time.time,
        legacy_no_shared_history: bool = False,
    ) -> None:
        self.profile = paths.validate_profile_name(profile)
        self.dir = profile_dir or paths.profile_dir(profile)
        self.settings = settings or Settings()
        self.clock = clock
        self.legacy_no_shared_history = legacy_no_shared_history
        self.client: EngineClient | None = None
        self.session: SessionInfo | None = None
        self._lock = ProfileLock(paths.ensure_private_dir(self.dir), self.profile)
        self._listeners: list[Listener] = []
        self._timelines: dict[str, RoomTimeline] = {}
        self._sync_lock = asyncio.Lock()
        self._sync_task: asyncio.Task | None = None
        self._synced = asyncio.Event()
        self._wake = asyncio.Event()
        self._first_sync_done = False
        self._known_invites: set[str] = set()
        self._identity_checked = False
        self.sync_state = SyncState("stopped")
        self.identity = IdentityManager(self)
        self.identity.on_identity_changed = self._on_identity_changed
        self.identity.on_own_trust_changed = lambda trust: self.emit(OwnTrustChanged(trust))
        self._sharing: HistorySharing | None = None
        self._tasks: set[asyncio.Task] = set()
        self._startup_done = False
        # Why the saved session's crypto store cannot be used (open(broken_store_ok=True) only).
        self.store_problem: str | None = None

    # -- subscription ---------------------------------------------------------------------

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

    @property
    def sharing(self) -> HistorySharing:
        """History sharing (MSC4268) for the logged-in profile."""
        if self._sharing is None:
            raise NotLoggedIn(f"profile {self.profile!r} is not logged in; run `tui-client login` first")
        return self._sharing

    def spawn(self, coro: Any, name: str) -> asyncio.Task:
        """Run background work on the engine loop; errors are logged, never raised."""
        return self._spawn(coro, name)

    async def query_keys(self, users: set[str]) -> None:
        """Ask the server for `users`' devices and cross-signing keys. Raises EngineError if it
        did not answer: what we knew before may be stale, and the caller must not act on it as
        if it were the server's answer."""
        resp = await self._query_keys(users)
        if not isinstance(resp, r.KeysQueryResponse):
            raise EngineError(f"the server did not answer a key query ({_error_text(resp)})")

    def _spawn(self, coro: Any, name: str) -> asyncio.Task:
        """Run background work on the engine loop; errors are logged, never raised."""

        async def guarded() -> None:
            try:
                await coro
            except asyncio.CancelledError:
                raise
            except Exception:
                logger.exception("background task %s failed", name)

        def done(task: asyncio.Task) -> None:
            self._tasks.discard(task)
            if task.cancelled():
                coro.close()  # cancelled before it started: no "never awaited" warning

        task = asyncio.get_running_loop().create_task(guarded(), name=name)
        self._tasks.add(task)
        task.add_done_callback(done)
        return task

    # -- lifecycle --------------------------------------------------------------------------

    @property
    def logged_in(self) -> bool:
        return self.client is not None and bool(self.client.access_token)

    @property
    def user_id(self) -> str:
        return self.client.user_id if self.client else ""

    @property
    def device_id(self) -> str:
        return self.client.device_id if self.client else ""

    def _require_client(self) -> EngineClient:
        if not self.client or not self.client.access_token:
            raise NotLoggedIn(
                f"profile {self.profile!r} is not logged in; run `tui-client login` first"
            )
        return self.client

    async def open(self, *, broken_store_ok: bool = False) -> bool:
        """Lock the profile and restore its saved session. True if a session was restored.

        Raises StoreError, before anything is written, if the session's crypto store is missing,
        empty, damaged or not readable with its key (see store_guard): a new Olm account under
        the old device id would lose the device. With `broken_store_ok` the session is restored
        without a store instead (`store_problem` says why): enough to log out or run doctor."""
        self._lock.acquire()
        info = load_session(self.dir)
        if info is None:
            return False
        self.session = info
        try:
            check_store(self.dir, self.profile, info)
        except StoreError as exc:
            logger.warning("%s", exc)
            if not broken_store_ok:
                raise
            self.store_problem = str(exc)
            self.client = EngineClient(info.homeserver, info.user_id, info.device_id, "", info.store_key)
            self.client.restore_login(info.user_id, info.device_id, info.access_token)
            return True
        self.client = EngineClient(info.homeserver, info.user_id, info.device_id, str(self.dir), info.store_key)
        try:
            self.client.restore_login(info.user_id, info.device_id, info.access_token)
            self._wire_olm()
            self._restore_invites()
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
        if self.client is not None:
            await self._close_client()
        check_readable(self.dir, self.profile)
        store_key = SessionInfo.new_store_key()
        client = EngineClient(homeserver, user, None, str(self.dir), store_key)
        try:
            resp = await client.login(password, device_name=device_name)
        except Exception as exc:
            await client.close()
            raise EngineError(f"cannot reach {homeserver}: {exc or type(exc).__name__}") from exc
        if not isinstance(resp, r.LoginResponse):
            await client.close()
            code = getattr(resp, "status_code", "")
            if code == "M_FORBIDDEN":
                raise EngineError("wrong user name or password")
            raise EngineError(f"login failed: {_error_text(resp)}")
        self.client = client
        self.session = SessionInfo(homeserver, resp.user_id, resp.device_id, resp.access_token, store_key)
        save_session(self.dir, self.session)
        self._wire_olm()
        logger.info("logged in as %s on new device %s", resp.user_id, resp.device_id)
        await self._maintain_keys()
        await self._check_identity(password)
        return self.session

    async def _check_identity(self, password: str | None = None) -> None:
        """Publish an identity if the account has none and sign this device when we can."""
        self._identity_checked = True
        try:
            trust = await self.identity.ensure(password)
        except IdentityError as exc:
            logger.warning("cross-signing: %s", exc)
            self.emit(Notice(f"Cross-signing: {exc}", level="warning"))
            return
        except Exception as exc:  # network trouble: try again on the next start
            self._identity_checked = False
            logger.warning("cross-signing check failed: %s", exc)
            return
        if not trust.device_verified:
            self.emit(Notice(f"Cross-signing: {trust.detail}", level="warning"))

    def own_trust(self) -> OwnTrust:
        return self.identity.own_trust()

    def _on_identity_changed(self, user_id: str, old: str | None, new: str) -> None:
        self.emit(IdentityChanged(user_id, old, new))
        self.emit(
            Notice(
                f"{user_id} has a new cryptographic identity. If you did not expect this, "
                "check with them before trusting new messages or shared history.",
                level="warning",
            )
        )

    async def verify_with_recovery_key(self, key_or_passphrase: str) -> OwnTrust:
        self._require_client()
        try:
            trust = await self.identity.verify_with_recovery_key(key_or_passphrase)
        except IdentityError as exc:
            raise EngineError(str(exc)) from None
        self.emit(OwnTrustChanged(trust))
        return trust

    async def setup_recovery(self) -> str:
        """New secret storage for our cross-signing keys; returns the recovery key (show it once)."""
        self._require_client()
        try:
            return await self.identity.setup_recovery()
        except IdentityError as exc:
            raise EngineError(str(exc)) from None

    async def reset_identity(self, password: str) -> OwnTrust:
        self._require_client()
        try:
            trust = await self.identity.reset(password)
        except IdentityError as exc:
            raise EngineError(str(exc)) from None
        self.emit(OwnTrustChanged(trust))
        return trust

    def accept_identity(self, user_id: str) -> None:
        """Accept a user's changed identity (after checking with them): pin the new master key."""
        self._require_client()
        try:
            self.identity.accept_change(user_id)
        except IdentityError as exc:
            raise EngineError(str(exc)) from None
        # Key bundles held because this identity had changed are evaluated again.
        self.sharing.identity_accepted(user_id)

    def changed_identities(self) -> list[str]:
        """Users whose identity changed since we pinned it and who the user has not accepted yet."""
        self._require_client()
        return [i.user_id for i in self.client.store.list_identities()
                if i.previous_master_key and i.master_key != i.pinned_master_key]

    async def refresh_keys(self, user_id: str) -> None:
        """Fetch `user_id`'s devices and cross-signing keys now."""
        self._require_client()
        await self._query_keys({user_id})

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
        if self._sharing is not None:
            self._sharing.close()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._close_client()
        self._lock.release()

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait for background work (e.g. a key bundle import) to finish."""
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=timeout)

    async def _close_client(self) -> None:
        if self.client is None:
            return
        try:
            await self.client.close()
        finally:
            if self.client.store is not None:
                try:
                    self.client.store.database.close()
                except Exception:
                    pass
            self.client = None
            self._sharing = None

    def _wire_olm(self) -> None:
        assert self.client and self.client.olm
        olm = self.client.olm
        olm.history_visibility_of = self._history_visibility
        olm.on_keys_added = self._on_keys_added
        olm.own_device_keys = self.identity.own_device_keys
        olm.legacy_no_shared_history = self.legacy_no_shared_history
        self.client.on_keys_query = self.identity.process_keys_query
        self.client.on_sync_response = self._process_sync
        assert self.client.store
        self._sharing = HistorySharing(self, self.client.store)
        self.identity.load()

    # -- sync --------------------------------------------------------------------------------

    def _set_sync_state(self, state: str, detail: str | None = None, retry_in: float | None = None) -> None:
        new = SyncState(state, detail, retry_in, self.clock())
        if (new.state, new.detail, new.retry_in) != (
            self.sync_state.state, self.sync_state.detail, self.sync_state.retry_in,
        ):
            self.sync_state = new
            self.emit(SyncStateChanged(new))

    async def sync_once(self, timeout_ms: int = 0) -> None:
        """One /sync plus the key upkeep that follows it. Raises EngineError on failure."""
        client = self._require_client()
        async with self._sync_lock:
            full_state = True if not self._first_sync_done else None
            try:
                resp = await client.sync(timeout=timeout_ms, full_state=full_state)
            except Exception as exc:
                raise EngineError(f"cannot reach the homeserver: {exc or type(exc).__name__}") from exc
            if not isinstance(resp, r.SyncResponse):
                if getattr(resp, "status_code", "") in ("M_UNKNOWN_TOKEN", "M_MISSING_TOKEN"):
                    self._set_sync_state("logged_out", "the server no longer accepts this session; log in again")
                    raise NotLoggedIn("the server no longer accepts this session; log in again")
                raise EngineError(f"sync failed: {_error_text(resp)}")
            self._first_sync_done = True  # (the client ran _process_sync on it, in its transaction)
        await self._maintain_keys()
        if not self._identity_checked:
            await self._check_identity()
        if not self._startup_done:
            self._startup_done = True
            # Bundles whose import a crash or a quit interrupted, and expired records: in the
            # background, so no start waits for a media server.
            self.sharing.start()
        self._synced.set()
        self._synced = asyncio.Event()

    def start_sync(self) -> None:
        if self._sync_task is None or self._sync_task.done():
            self._sync_task = asyncio.get_running_loop().create_task(self._sync_loop(), name="sync-loop")

    async def stop_sync(self) -> None:
        task, self._sync_task = self._sync_task, None
        if task is not None and not task.done():
            task.cancel()
            try:
                await task
            except (asyncio.CancelledError, Exception):
                pass
        if self.sync_state.state != "logged_out":
            self._set_sync_state("stopped")

    @property
    def syncing(self) -> bool:
        return self._sync_task is not None and not self._sync_task.done()

    def retry_now(self) -> None:
        """Skip the current backoff wait (a user pressed 'reconnect')."""
        self._wake.set()

    async def _sync_loop(self) -> None:
        failures = 0
        self._set_sync_state("connecting")
        while True:
            try:
                # After a failure, sync without long-polling so "syncing" shows as soon as the
                # server answers again.
                timeout = 0 if not self._first_sync_done or failures else self.settings.sync_timeout_ms
                await self.sync_once(timeout)
                failures = 0
                self._set_sync_state("syncing")
            except asyncio.CancelledError:
                raise
            except NotLoggedIn as exc:
                self.emit(EngineErrorEvent(str(exc)))
                return
            except Exception as exc:
                failures += 1
                delay = min(15.0, 0.5 * 2 ** min(failures - 1, 5)) * random.uniform(0.8, 1.2)
                reason = str(exc) if isinstance(exc, EngineError) else f"{type(exc).__name__}: {exc}"
                logger.warning("sync failed (%s); retrying in %.1f s", reason, delay)
                self._set_sync_state("retrying", reason, round(delay, 1))
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except asyncio.TimeoutError:
                    pass

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        """Wait (syncing ourselves if no loop runs) until `predicate()` holds."""
        deadline = asyncio.get_running_loop().time() + timeout
        while not predicate():
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                return False
            if self.syncing:
                synced = self._synced
                try:
                    await asyncio.wait_for(synced.wait(), remaining)
                except asyncio.TimeoutError:
                    return predicate()
            else:
                await self.sync_once(timeout_ms=int(min(remaining, 5) * 1000))
        return True

    async def _maintain_keys(self) -> None:
        """What nio's sync_forever does between syncs: upload, query, claim, send to-device."""
        client = self._require_client()
        try:
            if client.should_upload_keys:
                await client.keys_upload()
            if client.should_query_keys:
                await self._query_keys()
            if client.should_claim_keys:
                await client.keys_claim(client.get_users_for_key_claiming())
            if client.outgoing_to_device_messages:
                await client.send_to_device_messages()
        except LocalProtocolError as exc:
            logger.debug("key upkeep skipped: %s", exc)

    async def _query_keys(self, users: set[str] | None = None) -> Any:
        client = self._require_client()
        resp = await client.keys_query_full(users)
        if not isinstance(resp, r.KeysQueryResponse):
            logger.warning("key query failed: %s", _error_text(resp))
        return resp

    # -- processing a sync response -----------------------------------------------------------

    def _process_to_device(self, resp: r.SyncResponse) -> set[str]:
        """Key bundles and withheld notices; returns rooms whose invite or UTDs may change."""
        touched: set[str] = set()
        for event in resp.to_device_events:
            try:
                if isinstance(event, DecryptedOlmEvent) and event.type in BUNDLE_EVENT_TYPES:
                    record = self.sharing.on_announcement(event.sender, event.sender_key, event.payload)
                    if record is not None:
                        touched.add(record.room_id)
                elif isinstance(event, UnknownToDeviceEvent) and event.type in BUNDLE_EVENT_TYPES:
                    self.sharing.on_plaintext_bundle(event.sender, event.type)
                elif isinstance(event, UnknownToDeviceEvent) and event.type == "m.room_key.withheld":
                    room_id = self.sharing.on_withheld(event.sender, event.source.get("content"))
                    if room_id is not None:
                        touched.add(room_id)
            except Exception:
                logger.exception("could not handle a to-device event from %s", getattr(event, "sender", "?"))
        return touched

    def _process_sync(self, resp: r.SyncResponse) -> None:
        touched = self._process_to_device(resp)
        rooms_changed = bool(touched)
        raw_invites = (getattr(resp, "raw", None) or {}).get("rooms", {}).get("invite", {})
        stored_invites = None
        for room_id in resp.rooms.invite:
            rooms_changed = True
            self._apply_raw_invite_state(room_id, raw_invites.get(room_id))
            stored_invites = stored_invites if stored_invites is not None else self._stored_invites()
            stored_invites[room_id] = raw_invites.get(room_id, {})
            if room_id not in self._known_invites:
                self._known_invites.add(room_id)
                invite = self._invite_model(room_id)
                if invite is not None:
                    self.emit(InviteReceived(invite))
        for room_id, info in resp.rooms.join.items():
            rooms_changed = True
            self._known_invites.discard(room_id)
            # A join we asked for whose answer we may not have seen: this is the acceptance.
            self.sharing.joined(room_id)
            try:
                self._process_joined_room(room_id, info)
            except Exception:
                logger.exception("could not process the update of room %s", room_id)
        for room_id in resp.rooms.leave:
            rooms_changed = True
            if room_id in resp.rooms.invite or room_id in resp.rooms.join:
                continue  # left, then invited or joined again within this sync: the latter holds
            self._known_invites.discard(room_id)
            self._on_left_room(room_id)
        gone = (set(resp.rooms.join) | set(resp.rooms.leave)) - set(resp.rooms.invite)
        if gone or stored_invites is not None:
            stored_invites = stored_invites if stored_invites is not None else self._stored_invites()
            if stored_invites.keys() & gone or resp.rooms.invite:
                for room_id in gone:
                    stored_invites.pop(room_id, None)
                self._save_invites(stored_invites)
        for room_id in touched:
            self.refresh_failures(room_id)
        if rooms_changed:
            self.emit_rooms()

    # Synapse does not repeat pending invites in an incremental sync, even with full_state, so we
    # keep their stripped state ourselves and rebuild nio's invited rooms from it on start.

    def _stored_invites(self) -> dict[str, Any]:
        assert self.client and self.client.store
        value = self.client.store.get_kv("invites", {})
        return value if isinstance(value, dict) else {}

    def _save_invites(self, invites: dict[str, Any]) -> None:
        assert self.client and self.client.store
        self.client.store.put_kv("invites", invites)

    def _restore_invites(self) -> None:
        from nio.events import InviteEvent

        assert self.client
        for room_id, raw in self._stored_invites().items():
            events = raw.get("invite_state", {}).get("events", []) if isinstance(raw, dict) else []
            room = self.client._get_invited_room(room_id)
            for event_dict in events if isinstance(events, list) else []:
                try:
                    event = InviteEvent.parse_event(event_dict)
                    if event is not None:
                        room.handle_event(event)
                except Exception as exc:
                    logger.warning("skipped a stored invite event of %s: %s", room_id, exc)
            self._apply_raw_invite_state(room_id, raw)
            self._known_invites.add(room_id)

    def _apply_raw_invite_state(self, room_id: str, raw: Any) -> None:
        """nio keeps only names and members of invite state; read encryption and topic too."""
        room = self.client.invited_rooms.get(room_id) if self.client else None
        events = raw.get("invite_state", {}).get("events", []) if isinstance(raw, dict) else []
        if room is None or not isinstance(events, list):
            return
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("content"), dict):
                continue
            if event.get("type") == "m.room.encryption":
                room.encrypted = True
            elif event.get("type") == "m.room.topic" and isinstance(event["content"].get("topic"), str):
                room.topic = event["content"]["topic"]

    def _process_joined_room(self, room_id: str, info: Any) -> None:
        timeline = self._timelines.get(room_id)
        if timeline is None:
            timeline = self._timelines[room_id] = RoomTimeline(room_id, prev_batch=info.timeline.prev_batch)
        elif info.timeline.limited:
            timeline.reset(info.timeline.prev_batch)
            self.emit(TimelineReset(room_id))
        for event in list(info.state) + list(info.timeline.events):
            if isinstance(event, RoomHistoryVisibilityEvent):
                # Sessions are tied to the visibility they were created under (MSC4268).
                assert self.client and self.client.olm
                self.client.olm.discard_outbound_session(room_id, "history visibility changed")
        pairs = []
        for event in info.timeline.events:
            item = self._item(room_id, event)
            if item is not None:
                pairs.append((item, event))
            if isinstance(event, RoomCreateEvent) and not timeline.items:
                timeline.at_start = True  # nothing earlier to paginate to
        added = timeline.append(pairs)
        if added:
            self.emit(TimelineItemsAdded(room_id, tuple(added)))

    def _on_left_room(self, room_id: str) -> None:
        self._timelines.pop(room_id, None)
        if self._sharing is not None:
            self._sharing.left(room_id)
        if self.client:
            self.client.rooms.pop(room_id, None)
            self.client.invited_rooms.pop(room_id, None)

    def _item(self, room_id: str, event: Any) -> TimelineItem | None:
        try:
            return item_from_event(self, room_id, event)
        except Exception:
            logger.exception("could not show event %s", getattr(event, "event_id", "?"))
            return None

    # -- TimelineContext (used by item_from_event) ---------------------------------------------

    @property
    def own_user_id(self) -> str:
        return self.user_id

    def display_name(self, room_id: str, user_id: str) -> str:
        if self.client:
            room = self.client.rooms.get(room_id) or self.client.invited_rooms.get(room_id)
            if room is not None:
                name = room.user_name(user_id)
                if name:
                    return name
        return user_id

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None:
        if not self.client or not self.client.olm:
            return None
        meta = self.client.olm.meta_for(room_id, session_id)
        if meta is None or meta.origin is not Origin.BUNDLE or not meta.forwarder_user:
            return None
        return KeyProvenance(
            meta.forwarder_user, meta.forwarder_device,
            self.display_name(room_id, meta.forwarder_user), meta.received_at,
        )

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]:
        assert self.client and self.client.olm
        olm = self.client.olm
        session_id = getattr(event, "session_id", "") or ""
        # The id is the sender's cleartext: shown escaped, or an escape sequence in it would eat
        # the rest of the sentence when a front end strips it.
        short = f"{clean_id(session_id[:10])}…" if session_id else "unknown"
        have = olm.inbound_group_store.get(room_id, getattr(event, "sender_key", ""), session_id)
        if have is not None:
            return _classify_decryption_error(
                olm.decryption_errors.get(event.event_id, ""), have.first_known_index
            )
        withheld = self.sharing.withheld(room_id, session_id) if session_id else None
        if withheld is not None:
            if withheld.code in HISTORY_NOT_SHARED_CODES:
                return (
                    "not_shared",
                    f"not shared: the sender's history settings did not allow it ({HISTORY_NOT_SHARED})",
                )
            why = f" — {withheld.reason}" if withheld.reason else ""
            return "withheld", f"withheld: {withheld.code}{why}"
        sent = getattr(event, "server_timestamp", 0) or 0
        explained = self.sharing.explain(
            room_id, sent if isinstance(sent, int) else 0, own_device_cross_signed=self.own_trust().device_verified
        )
        if explained is not None:
            return explained
        return "missing_key", f"no key for this message yet (session {short})"

    def refresh_failures(self, room_id: str) -> None:
        """Re-try and re-explain every undecryptable item of a room (keys or news arrived)."""
        self.retry_decryption(room_id, None)

    # -- keys arriving --------------------------------------------------------------------------

    def _on_keys_added(self, keys: list[tuple[str, str]]) -> None:
        by_room: dict[str, set[str]] = {}
        for room_id, session_id in keys:
            by_room.setdefault(room_id, set()).add(session_id)
        for room_id, session_ids in by_room.items():
            self.retry_decryption(room_id, session_ids)

    def retry_decryption(self, room_id: str, session_ids: set[str] | None = None) -> int:
        """Re-try undecryptable items of a room (all, or those of `session_ids`); emit updates."""
        timeline = self._timelines.get(room_id)
        if timeline is None or not self.client or not self.client.olm:
            return 0
        fixed = 0
        for item in list(timeline.items):
            if item.decryption is Decryption.DECRYPTED and session_ids and item.session_id in session_ids:
                # Same key, maybe new metadata (a direct copy replaced a shared one): re-derive.
                refreshed = self._item(room_id, timeline.raw.get(item.event_id))
                if refreshed is not None and refreshed != item:
                    timeline.replace(refreshed)
                    self.emit(TimelineItemUpdated(room_id, refreshed))
                continue
            if item.decryption is not Decryption.FAILED:
                continue
            raw = timeline.raw.get(item.event_id)
            if not isinstance(raw, MegolmEvent):
                continue
            if session_ids is not None and raw.session_id not in session_ids:
                continue
            decrypted = self.client.olm._decrypt_megolm_no_error(raw, room_id)
            new_raw = decrypted if decrypted is not None else raw
            new_item = self._item(room_id, new_raw)
            if new_item is not None and new_item != item:
                timeline.replace(new_item, new_raw)
                self.emit(TimelineItemUpdated(room_id, new_item))
                fixed += decrypted is not None
        return fixed

    # -- state for the UI ---------------------------------------------------------------------

    def _history_visibility(self, room_id: str) -> str | None:
        room = self.client.rooms.get(room_id) if self.client else None
        return room.history_visibility if room else None

    def rooms(self) -> list[RoomSummary]:
        if not self.client:
            return []
        out = [self._summary(room) for room in self.client.rooms.values()]
        out.sort(key=lambda s: (-self._last_ts(s.room_id), s.name.lower()))
        return out

    def _last_ts(self, room_id: str) -> int:
        tl = self._timelines.get(room_id)
        return tl.items[-1].timestamp if tl and tl.items else 0

    def _summary(self, room: Any) -> RoomSummary:
        members = tuple(
            sorted(
                (
                    Member(uid, u.display_name, "invite" if u.invited else "join")
                    for uid, u in room.users.items()
                ),
                key=lambda m: (m.membership, m.name.lower()),
            )
        )
        return RoomSummary(
            room_id=room.room_id,
            name=room.display_name or room.room_id,
            topic=room.topic,
            encrypted=room.encrypted,
            history_visibility=room.history_visibility,
            members=members,
            unread=room.unread_notifications,
            highlight=room.unread_highlights,
            incoming_keys=self.sharing.incoming(room.room_id),
        )

    def room(self, room_id: str) -> RoomSummary | None:
        room = self.client.rooms.get(room_id) if self.client else None
        return self._summary(room) if room else None

    def invites(self) -> list[Invite]:
        if not self.client:
            return []
        return [i for room_id in list(self.client.invited_rooms) if (i := self._invite_model(room_id))]

    def _invite_model(self, room_id: str) -> Invite | None:
        room = self.client.invited_rooms.get(room_id) if self.client else None
        if room is None:
            return None
        inviter = room.inviter
        bundle = self.sharing.bundle(room_id, inviter) if inviter else None
        return Invite(
            room_id=room_id,
            name=room.display_name or room_id,
            inviter=inviter,
            inviter_name=room.user_name(inviter) if inviter else None,
            encrypted=room.encrypted,
            bundle=bundle.summary() if bundle else None,
        )

    def emit_rooms(self) -> None:
        self.emit(RoomsChanged(tuple(self.rooms()), tuple(self.invites())))

    def timeline(self, room_id: str) -> list[TimelineItem]:
        tl = self._timelines.get(room_id)
        return list(tl.items) if tl else []

    def timeline_at_start(self, room_id: str) -> bool:
        tl = self._timelines.get(room_id)
        return bool(tl and tl.at_start)

    def whoami(self) -> Whoami:
        client = self._require_client()
        assert client.olm
        keys = client.olm.account.identity_keys
        return Whoami(client.user_id, client.device_id, client.homeserver, keys["ed25519"], keys["curve25519"])

    # -- commands -------------------------------------------------------------------------------

    async def create_room(
        self,
        name: str,
        *,
        encrypted: bool = True,
        history_visibility: str | None = None,
        topic: str | None = None,
        invite: tuple[str, ...] = (),
    ) -> str:
        client = self._require_client()
        visibility = history_visibility or self.settings.default_history_visibility
        if visibility not in HISTORY_VISIBILITIES:
            raise EngineError(
                f"unknown history visibility {visibility!r}; use one of {', '.join(HISTORY_VISIBILITIES)}"
            )
        initial_state = [
            {"type": "m.room.history_visibility", "state_key": "", "content": {"history_visibility": visibility}}
        ]
        if encrypted:
            initial_state.append(
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}}
            )
        resp = await client.room_create(
            visibility=RoomVisibility.private,
            name=name,
            topic=topic,
            preset=RoomPreset.private_chat,
            initial_state=initial_state,
        )
        if not isinstance(resp, r.RoomCreateResponse):
            raise EngineError(f"could not create the room: {_error_text(resp)}")
        room_id = resp.room_id
        logger.info("created room %s (%s, encrypted=%s, history=%s)", room_id, name, encrypted, visibility)
        await self.wait_until(lambda: self._room_ready(room_id, encrypted), 30)
        for user_id in invite:
            await self.invite(room_id, user_id)
        return room_id

    def _room_ready(self, room_id: str, encrypted: bool) -> bool:
        room = self.client.rooms.get(room_id) if self.client else None
        return room is not None and (room.encrypted or not encrypted)

    async def _ensure_joined_room(self, room_id: str) -> Any:
        client = self._require_client()
        if room_id not in client.rooms:
            await self.wait_until(lambda: room_id in client.rooms, 10)
        room = client.rooms.get(room_id)
        if room is None:
            raise EngineError(f"you are not in room {room_id}")
        return room

    async def send_text(self, room_id: str, text: str, *, emote: bool = False, notice: bool = False) -> str:
        client = self._require_client()
        if not text.strip():
            raise EngineError("nothing to send")
        room = await self._ensure_joined_room(room_id)
        msgtype = "m.emote" if emote else "m.notice" if notice else "m.text"
        content = text_content(text, msgtype=msgtype)
        if room.encrypted:
            await self._prepare_encrypted_send(room_id)
        try:
            resp = await client.room_send(room_id, "m.room.message", content, ignore_unverified_devices=True)
        except Exception as exc:
            raise EngineError(f"could not send: {exc or type(exc).__name__}") from exc
        if not isinstance(resp, r.RoomSendResponse):
            raise EngineError(f"could not send: {_error_text(resp)}")
        return resp.event_id

    async def _prepare_encrypted_send(self, room_id: str) -> None:
        """Make sure we know every member's devices before a new Megolm session goes out."""
        client = self._require_client()
        room = client.rooms[room_id]
        if not room.members_synced:
            await client.joined_members(room_id)
        if client.should_query_keys:
            await self._query_keys()

    def share_preview(self, room_id: str) -> SharePreview:
        """What inviting someone into `room_id` now would share (for a warning before inviting)."""
        self._require_client()
        return self.sharing.preview(room_id)

    async def preview_invite(self, room_id: str, user_id: str) -> SharePreview:
        """What inviting `user_id` into `room_id` would do to its history, having asked the
        server about them first (their devices and cross-signing; whether they exist)."""
        self._require_client()
        facts: InviteeFacts = await self.sharing.invitee_facts(user_id)
        return self.sharing.preview(room_id, facts)

    async def invite(
        self, room_id: str, user_id: str, *, share_history: bool = True, invite_if_sharing_fails: bool = False
    ) -> ShareResult | None:
        """Invite `user_id`, first sharing the room's history keys with them (MSC4268).

        If sharing fails (rather than simply not applying), the invite is not sent and
        SharingFailed is raised, unless `invite_if_sharing_fails`.
        """
        client = self._require_client()
        await self._ensure_joined_room(room_id)
        result: ShareResult | None = None
        if share_history:
            try:
                result = await self.sharing.share(room_id, user_id)
            except SharingError as exc:
                if not invite_if_sharing_fails:
                    raise SharingFailed(f"{exc}; the invite was not sent") from exc
                logger.warning("inviting %s without sharing history: %s", user_id, exc)
                result = ShareResult(False, str(exc))
        resp = await client.room_invite(room_id, user_id)
        if not isinstance(resp, r.RoomInviteResponse):
            raise EngineError(f"could not invite {user_id}: {_error_text(resp)}")
        logger.info("invited %s to %s", user_id, room_id)
        # Count the invitee as a member right away (as the next sync would): our next message
        # then goes out in a new Megolm session that their devices receive.
        room = client.rooms.get(room_id)
        if room is not None and room.add_member(user_id, None, None, invited=True):
            client.invalidate_outbound_session(room_id)
            client.olm.users_for_key_query.add(user_id)
        return result

    async def share_history(self, room_id: str, user_id: str) -> ShareResult:
        """Send `user_id` a key bundle for the room now (what invite() does first)."""
        self._require_client()
        try:
            return await self.sharing.share(room_id, user_id)
        except SharingError as exc:
            raise SharingFailed(str(exc)) from exc

    async def join(self, room: str, *, wait_for_keys: float = 2.0) -> str:
        """Join a room or accept an invite.

        Accepting an invite is recorded before `/join` goes out, so neither a lost answer nor a
        crash loses who invited us. The inviter's key bundle is then imported in the background;
        this waits up to `wait_for_keys` seconds for it and returns either way."""
        client = self._require_client()
        invited = client.invited_rooms.get(room)
        inviter = invited.inviter if invited is not None else None
        if inviter:
            self.sharing.before_join(room, inviter)
        try:
            resp = await client.join(room)
        except Exception as exc:
            raise EngineError(
                f"the server did not answer the join ({exc or type(exc).__name__}); if it went through, "
                "the room appears with the next sync and the keys shared with you are imported then"
            ) from exc
        if not isinstance(resp, r.JoinResponse):
            status = getattr(getattr(resp, "transport_response", None), "status", None)
            if inviter and isinstance(status, int) and 400 <= status < 500:
                self.sharing.join_refused(room)  # a definite no; after a 5xx the join may have happened
            raise EngineError(f"could not join {room}: {_error_text(resp)}")
        room_id = resp.room_id
        await self.wait_until(lambda: room_id in client.rooms, 15)
        if inviter and room_id in client.rooms:
            self.sharing.joined(room_id)
            result: ImportResult | None = await self.sharing.wait(room_id, wait_for_keys)
            if result is None:
                logger.info("key bundle for %s: still being imported in the background", room_id)
            else:
                logger.info("key bundle for %s after joining: %s (%s)", room_id, result.state, result.detail)
        return room_id

    async def decline(self, room_id: str) -> None:
        await self.leave(room_id)

    async def leave(self, room_id: str) -> None:
        client = self._require_client()
        self.sharing.left(room_id)
        resp = await client.room_leave(room_id)
        if not isinstance(resp, r.RoomLeaveResponse):
            raise EngineError(f"could not leave {room_id}: {_error_text(resp)}")
        self._on_left_room(room_id)
        self._known_invites.discard(room_id)
        self.emit_rooms()

    async def set_history_visibility(self, room_id: str, visibility: str) -> None:
        client = self._require_client()
        if visibility not in HISTORY_VISIBILITIES:
            raise EngineError(
                f"unknown history visibility {visibility!r}; use one of {', '.join(HISTORY_VISIBILITIES)}"
            )
        await self._ensure_joined_room(room_id)
        resp = await client.room_put_state(
            room_id, "m.room.history_visibility", {"history_visibility": visibility}
        )
        if not isinstance(resp, r.RoomPutStateResponse):
            raise EngineError(f"could not change the history visibility: {_error_text(resp)}")
        assert client.olm
        client.olm.discard_outbound_session(room_id, "history visibility changed")
        await self.wait_until(lambda: self._history_visibility(room_id) == visibility, 10)

    async def mark_read(self, room_id: str) -> None:
        client = self._require_client()
        tl = self._timelines.get(room_id)
        if not tl or not tl.items:
            return
        room = client.rooms.get(room_id)
        if room is not None:
            room.unread_notifications = 0
            room.unread_highlights = 0
        last = tl.items[-1].event_id
        try:
            await client.room_read_markers(room_id, fully_read_event=last, read_event=last)
        except Exception as exc:
            logger.info("could not send a read marker: %s", exc)
        self.emit_rooms()

    # -- history ----------------------------------------------------------------------------------

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        """Fetch older events into the live timeline; returns the items added (oldest first)."""
        client = self._require_client()
        tl = self._timelines.setdefault(room_id, RoomTimeline(room_id))
        if tl.at_start:
            return []
        resp = await client.room_messages(room_id, start=tl.prev_batch, limit=limit, direction=MessageDirection.back)
        if not isinstance(resp, r.RoomMessagesResponse):
            raise EngineError(f"could not load older messages: {_error_text(resp)}")
        tl.paginated_once = True
        pairs = []
        for event in reversed(resp.chunk):
            item = self._item(room_id, event)
            if item is not None:
                pairs.append((item, event))
        if not resp.chunk or not resp.end:
            tl.at_start = True
        tl.prev_batch = resp.end
        added = tl.prepend(pairs)
        if added:
            self.emit(TimelineItemsAdded(room_id, tuple(added), at_start=True))
        return added

    async def load_full_history(self, room_id: str, page: int = 100) -> list[TimelineItem]:
        """Everything the server will give us of a room, oldest first."""
        await self._ensure_joined_room(room_id)
        tl = self._timelines.setdefault(room_id, RoomTimeline(room_id))
        while not tl.at_start:
            await self.paginate_back(room_id, page)
        return self.timeline(room_id)

    # -- QA: inspector, event details, key files, doctor ---------------------------------------

    def inspect_room(self, room_id: str) -> RoomInspection:
        self._require_client()
        return _inspect.inspect_room(self, room_id)

    def event_details(self, room_id: str, event_id: str) -> EventDetails | None:
        self._require_client()
        return _inspect.event_details(self, room_id, event_id)

    async def export_keys(self, path: Path, passphrase: str, room_id: str | None = None) -> int:
        """Write our Megolm keys (all, or one room's) to a passphrase-protected file (0600)."""
        client = self._require_client()
        olm = client.olm
        sessions = [
            (s, bool((m := olm.meta_for(s.room_id, s.id)) and m.shared_history))
            for s in olm.inbound_group_store
            if room_id is None or s.room_id == room_id
        ]
        data = json.dumps(export_entries(sessions)).encode()
        try:
            text = await asyncio.to_thread(encrypt_export, data, passphrase)
            await asyncio.to_thread(write_private_file, Path(path), text.encode())
        except KeyExportError as exc:
            raise EngineError(str(exc)) from None
        except OSError as exc:
            raise EngineError(f"cannot write {path}: {exc.strerror or exc}") from None
        logger.info("exported %d room keys to %s", len(sessions), path)
        return len(sessions)

    async def import_keys(self, path: Path, passphrase: str) -> tuple[int, int, int]:
        """Import keys from an Element-style key file. Returns (imported, already had, skipped).

        A wrong passphrase or a damaged file raises EngineError and changes nothing."""
        client = self._require_client()
        try:
            text = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise EngineError(f"cannot read {path}: {exc}") from None
        try:
            data = await asyncio.to_thread(decrypt_export, text, passphrase)
            keys, skipped = parse_export_entries(data)
        except KeyExportError as exc:
            raise EngineError(str(exc)) from None
        candidates = []
        for key in keys:
            try:
                session = to_session(key)
            except KeyExportError as exc:
                logger.warning("skipped a key from %s: %s", path, exc)
                skipped += 1
                continue
            meta = SessionMeta(
                key.room_id, key.session_id, key.sender_key, key.shared_history, Origin.IMPORT,
                received_at=self.clock(),
            )
            candidates.append((session, meta))
        outcomes = client.olm.merge_sessions(candidates)
        client.olm.persist(*changed(outcomes))
        imported = sum(1 for o in outcomes if o.stored)
        logger.info("imported %d keys from %s (%d already known, %d skipped)", imported, path, len(outcomes) - imported, skipped)
        return imported, len(outcomes) - imported, skipped

    async def doctor(self) -> dict[str, Any]:
        """Everything a tester or a bug report needs, without secrets."""
        report: dict[str, Any] = {
            "versions": _inspect.versions(),
            "paths": {**_inspect.all_paths(), "profile_dir": str(self.dir), "log_file": str(paths.log_dir() / "tui-client.log")},
            "profile": self.profile,
            "logged_in": self.logged_in,
        }
        if not self.logged_in:
            return report
        client = self._require_client()
        report["account"] = {"user_id": client.user_id, "device_id": client.device_id, "homeserver": client.homeserver}
        try:
            status, body = await client.raw_json("GET", "/_matrix/client/versions", timeout=10)
            report["homeserver"] = {"reachable": status == 200, "versions": body.get("versions", [])}
            status, body = await client.raw_json("GET", "/_matrix/federation/v1/version", timeout=10)
            if status == 200:
                report["homeserver"]["server"] = body.get("server")
        except Exception as exc:
            report["homeserver"] = {"reachable": False, "error": f"{type(exc).__name__}: {exc}"}
        problems: list[str] = []
        report["problems"] = problems
        if self.store_problem:
            report["store"] = {"path": str(store_path(self.dir)), "usable": False, "problem": self.store_problem}
            problems.append(self.store_problem)
            report["device_keys"], _ = await _inspect.device_keys_check(self)
            return report
        trust = self.own_trust()
        report["cross_signing"] = {
            "identity": "published" if trust.identity_exists else "none",
            "master_key": trust.master_key,
            "device_verified": trust.device_verified,
            "can_sign": trust.have_private_keys,
            "detail": trust.detail,
        }
        report["store"] = _inspect.store_health(self)
        if report["store"]["integrity"] != "ok":
            problems.append(f"the crypto store is damaged: {report['store']['integrity']}")
        report["device_keys"], problem = await _inspect.device_keys_check(self)
        if problem:
            problems.append(problem)
        report["pending_bundles"] = [
            {"room_id": p.room_id, "inviter": p.inviter, "accepted_at": p.accepted_at, "state": p.state.value}
            for p in self.sharing.records.acceptances(AcceptState.JOINING, AcceptState.JOINED)
        ]
        report["received_bundles"] = [
            {"room_id": b.room_id, "sender": b.sender_user, "state": b.state.value, "detail": b.detail,
             "key_count": b.key_count, "imported": b.imported_count}
            for b in self.sharing.records.bundles()
        ]
        report["sync"] = {"state": self.sync_state.state, "detail": self.sync_state.detail}
        return report
