"""Encrypted history sharing (MSC4268) with I/O: the inviter builds, uploads and sends a key
bundle before `/invite`; the invitee keeps the newest bundle per (room, sender), and imports the
inviter's once it joined from that invite, within the acceptance window.

The rules follow matrix-rust-sdk where the spec leaves room (msc4268.md §3–§5).
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import urllib.parse
from dataclasses import dataclass, replace
from typing import Any

from nio.crypto import InboundGroupSession

from .component import EngineComponent
from .crypto.cross_signing import check_sender_device_keys, device_signed_by_identity
from .crypto.history_sharing import (
    BUNDLE_EVENT_TYPE,
    HISTORY_NOT_SHARED_CODES,
    KEY_COUNT_HINT,
    MESSAGE_COUNT_HINT,
    WITHHELD_COUNT_HINT,
    BundleError,
    ParsedBundle,
    build_bundle,
    bundle_content,
    check_bundle_content,
    count_hint,
    decrypt_file,
    encrypt_file,
    import_keys,
    parse_bundle,
    parse_media_url,
    serialize_bundle,
)
from .crypto.olm import SHAREABLE_VISIBILITIES
from .store import PendingBundle, ReceivedBundle, SessionMeta, WithheldRecord

logger = logging.getLogger(__name__)


class SharingError(Exception):
    """Sharing history with an invitee failed for a reason the user should decide about."""


@dataclass(frozen=True)
class SharePreview:
    shareable: bool
    reason: str  # why not, or what will be shared
    key_count: int = 0
    withheld_count: int = 0


@dataclass(frozen=True)
class ShareResult:
    shared: bool
    reason: str
    key_count: int = 0
    withheld_count: int = 0
    devices: tuple[str, ...] = ()


@dataclass(frozen=True)
class ImportResult:
    state: str  # "imported" | "rejected" | "waiting" | "expired" | "nothing"
    detail: str
    imported: int = 0
    key_count: int = 0
    withheld_count: int = 0


class HistorySharing(EngineComponent):
    def __init__(self, engine: Any) -> None:
        super().__init__(engine)
        self._accepting: dict[str, asyncio.Lock] = {}

    # -- sending ------------------------------------------------------------------------------

    def preview(self, room_id: str) -> SharePreview:
        """What inviting someone now would share, without doing it."""
        room = self.client.rooms.get(room_id)
        if room is None:
            return SharePreview(False, "you are not in this room")
        if not room.encrypted:
            return SharePreview(False, "the room is not encrypted: its history is readable anyway")
        visibility = room.history_visibility
        if visibility not in SHAREABLE_VISIBILITIES:
            return SharePreview(
                False,
                f"the room's history visibility is '{visibility}', so earlier messages are not shared",
            )
        trust = self.engine.identity.own_trust()
        if not trust.device_verified:
            return SharePreview(False, f"history is only shared from a cross-signed device ({trust.detail})")
        bundle = self._build(room_id)
        keys, withheld = len(bundle["room_keys"]), len(bundle["withheld"])
        if not keys and not withheld:
            return SharePreview(False, "there are no earlier messages to share keys for")
        return SharePreview(
            True,
            f"the keys to earlier messages ({keys} session{'s' if keys != 1 else ''}) will be shared",
            keys, withheld,
        )

    def _build(self, room_id: str) -> dict[str, Any]:
        sessions = []
        for sender_sessions in self.olm.inbound_group_store[room_id].values():
            for session in sender_sessions.values():
                meta = self.olm.session_meta.get(session.id)
                sessions.append((session, bool(meta and meta.shared_history)))
        received = [r.content for r in self.store.load_withheld(room_id) if r.code in HISTORY_NOT_SHARED_CODES]
        return build_bundle(room_id, sessions, received, self.client.device_id)

    async def share(self, room_id: str, invitee: str) -> ShareResult:
        """Build, upload and send the room's key bundle to `invitee`'s cross-signed devices.

        Returns `shared=False` with a reason when there is nothing to do (not shareable, no
        eligible device); raises SharingError when sharing should have happened but failed.
        """
        preview = self.preview(room_id)
        if not preview.shareable:
            logger.info("not sharing history of %s with %s: %s", room_id, invitee, preview.reason)
            return ShareResult(False, preview.reason)
        await self.engine._query_keys({invitee})
        info = self.engine.identity.identity_info(invitee)
        if info.state == "unknown":
            return ShareResult(False, f"{invitee} has no cross-signing identity, so no device of theirs may receive the keys")
        if info.state == "changed":
            raise SharingError(
                f"{invitee}'s identity changed since you first saw it; not sharing history with them "
                "until you accept the new identity"
            )
        devices = [
            d for d in self.olm.device_store.active_user_devices(invitee)
            if self.engine.identity.device_cross_signed(invitee, d.id)
        ]
        if not devices:
            return ShareResult(False, f"none of {invitee}'s devices is cross-signed by its owner")
        bundle = await asyncio.to_thread(self._build, room_id)
        data = serialize_bundle(bundle)
        ciphertext, file = await asyncio.to_thread(encrypt_file, data)
        try:
            file["url"] = await self.engine.client.upload_bytes(ciphertext)
        except Exception as exc:
            raise SharingError(f"could not upload the key bundle: {exc}") from exc
        content = bundle_content(
            room_id, file, len(bundle["room_keys"]), len(bundle["withheld"]), await self._message_count(room_id, bundle)
        )
        sent = await self.send_to_devices(invitee, [d.id for d in devices], content)
        result = ShareResult(
            True,
            f"shared the keys to {len(bundle['room_keys'])} session(s) with {len(sent)} device(s) of {invitee}",
            len(bundle["room_keys"]), len(bundle["withheld"]), tuple(sent),
        )
        logger.info("history of %s: %s", room_id, result.reason)
        return result

    async def _message_count(self, room_id: str, bundle: dict[str, Any], max_pages: int = 3) -> int | None:
        """How many messages the shared keys open (a hint for the invitee's invite card).

        Counted only when we hold the room's whole timeline; up to `max_pages` of older events
        are fetched to get there, so a long room simply gets no count."""
        for _ in range(max_pages):
            if self.engine.timeline_at_start(room_id):
                break
            try:
                await self.engine.paginate_back(room_id, 100)
            except Exception as exc:
                logger.info("could not load older events to count shared messages: %s", exc)
                return None
        if not self.engine.timeline_at_start(room_id):
            return None
        shared = {k["session_id"] for k in bundle["room_keys"]}
        return sum(1 for i in self.engine.timeline(room_id) if i.is_message and i.session_id in shared)

    async def send_to_devices(
        self, user_id: str, device_ids: list[str], content: dict[str, Any], event_type: str = BUNDLE_EVENT_TYPE
    ) -> list[str]:
        """Olm-encrypt `content` as `event_type` for each device and send it in one request."""
        missing = [
            d for d in device_ids
            if (dev := self.olm.device_store[user_id].get(d)) is not None and not self.olm.session_store.get(dev.curve25519)
        ]
        if missing:
            await self.client.keys_claim({user_id: missing})
        messages: dict[str, Any] = {}
        for device_id in device_ids:
            device = self.olm.device_store[user_id].get(device_id)
            session = self.olm.session_store.get(device.curve25519) if device else None
            if session is None:
                logger.warning("no Olm session with %s %s; the key bundle is not sent to it", user_id, device_id)
                continue
            messages[device_id] = self.olm._olm_encrypt(session, device, event_type, content)
        if not messages:
            raise SharingError(f"could not open an encrypted channel to any device of {user_id}")
        status, body = await self.client.raw_json(
            "PUT",
            f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{secrets.token_hex(12)}",
            {"messages": {user_id: messages}},
        )
        if status != 200:
            raise SharingError(f"could not send the key bundle: {body.get('error') or f'HTTP {status}'}")
        return list(messages)

    # -- receiving ----------------------------------------------------------------------------

    def on_bundle_event(self, sender: str, sender_key: str, payload: dict[str, Any]) -> ReceivedBundle | None:
        """An Olm-decrypted m.room_key_bundle: validate and keep it (newest per room+sender)."""
        content = payload.get("content")
        problem = check_bundle_content(content)
        sdk = payload.get("sender_device_keys")
        keys = payload.get("keys") if isinstance(payload.get("keys"), dict) else {}
        if problem is None:
            problem = check_sender_device_keys(
                sdk, sender=sender, claimed_ed25519=keys.get("ed25519"), olm_sender_curve25519=sender_key
            )
            if problem is None and sdk is None:
                problem = "it carries no sender_device_keys"
        device_id = sdk.get("device_id") if isinstance(sdk, dict) else None
        if problem is None:
            known = self.olm.device_store[sender].get(device_id) if device_id else None
            if known is not None and known.ed25519 != keys.get("ed25519"):
                problem = "its signing key differs from the one we know for that device"
        if problem is not None:
            logger.warning("ignored a key bundle from %s: %s", sender, problem)
            self.engine.notice(f"Ignored a key bundle from {sender}: {problem}", level="warning")
            return None
        record = ReceivedBundle(
            room_id=content["room_id"],
            sender_user=sender,
            sender_device=device_id,
            sender_key=sender_key,
            sender_device_keys=sdk,
            file=content["file"],
            received_at=self.engine.clock(),
            state="waiting",
            key_count=count_hint(content, KEY_COUNT_HINT),
            withheld_count=count_hint(content, WITHHELD_COUNT_HINT),
            message_count=count_hint(content, MESSAGE_COUNT_HINT),
        )
        self.store.put_received_bundle(record)
        logger.info("received a key bundle for %s from %s (%s); kept until we accept an invite from them",
                    record.room_id, sender, device_id)
        return record

    def on_plaintext_bundle(self, sender: str, event_type: str) -> None:
        logger.warning("ignored an unencrypted %s from %s: key bundles must arrive Olm-encrypted", event_type, sender)
        self.engine.notice(f"Ignored an unencrypted key bundle from {sender}", level="warning")

    def on_withheld(self, sender: str, content: Any) -> None:
        """A plaintext m.room_key.withheld: remember it to explain the undecryptable message."""
        if not isinstance(content, dict):
            return
        fields = [content.get(k) for k in ("room_id", "session_id", "code")]
        if not all(isinstance(f, str) and f for f in fields):
            logger.info("ignored a malformed m.room_key.withheld from %s", sender)
            return
        self.store.save_withheld([
            WithheldRecord(
                content["room_id"], content["session_id"], content.get("sender_key"), content["code"],
                content.get("reason") if isinstance(content.get("reason"), str) else None,
                sender, content.get("from_device") if isinstance(content.get("from_device"), str) else None,
                "to_device", self.engine.clock(), content,
            )
        ])

    # -- accepting ----------------------------------------------------------------------------

    def record_accepted_invite(self, room_id: str, inviter: str) -> None:
        self.store.put_pending_bundle(PendingBundle(room_id, inviter, self.engine.clock()))
        self.store.put_kv(f"joined:{room_id}", {"at": self.engine.clock(), "inviter": inviter})

    def forget_room(self, room_id: str) -> None:
        self.store.clear_pending_bundle(room_id)

    async def retry_pending(self) -> None:
        """At start-up: finish imports that were interrupted, drop records that are too old."""
        for pending in self.store.list_pending_bundles():
            try:
                await self.maybe_accept(pending.room_id)
            except Exception:
                logger.exception("retrying the key bundle of %s failed", pending.room_id)

    async def maybe_accept(self, room_id: str) -> ImportResult:
        lock = self._accepting.setdefault(room_id, asyncio.Lock())
        async with lock:  # the join path and the arrival path may race; one import is enough
            return await self._maybe_accept(room_id)

    async def _maybe_accept(self, room_id: str) -> ImportResult:
        pending = self.store.get_pending_bundle(room_id)
        if pending is None:
            return ImportResult("nothing", "no invite was accepted for this room on this device")
        window = self.engine.settings.bundle_accept_window
        age = self.engine.clock() - pending.accepted_at
        if age > window:
            self.store.clear_pending_bundle(room_id)
            detail = (
                f"the invite was accepted {age / 3600:.0f} h ago, longer than the {window / 3600:.0f} h "
                "in which shared keys are accepted"
            )
            logger.info("not importing keys for %s: %s", room_id, detail)
            bundle = self.store.get_received_bundle(room_id, pending.inviter)
            if bundle is not None and bundle.state == "waiting":
                self._finish(bundle, "rejected", detail)
            return ImportResult("expired", detail)
        if room_id not in self.client.rooms:
            return ImportResult("waiting", "not joined yet")
        bundle = self.store.get_received_bundle(room_id, pending.inviter)
        others = [b.sender_user for b in self.store.list_received_bundles(room_id) if b.sender_user != pending.inviter]
        if others:
            logger.warning(
                "ignoring key bundle(s) for %s from %s: only the bundle of the inviter (%s) is accepted",
                room_id, ", ".join(sorted(set(others))), pending.inviter,
            )
        if bundle is None:
            return ImportResult("waiting", f"no key bundle from {pending.inviter} yet")
        if bundle.state in ("imported", "rejected"):
            self.store.clear_pending_bundle(room_id)
            return ImportResult(bundle.state, bundle.detail or "")
        return await self._import(bundle)

    def _finish(self, bundle: ReceivedBundle, state: str, detail: str, **counts: Any) -> ReceivedBundle:
        done = replace(bundle, state=state, detail=detail, finished_at=self.engine.clock(), **counts)
        with self.store.transaction():
            self.store.put_received_bundle(done)
            if state in ("imported", "rejected"):
                self.store.clear_pending_bundle(bundle.room_id)
        return done

    def _reject(self, bundle: ReceivedBundle, detail: str) -> ImportResult:
        logger.warning("refused the key bundle for %s from %s: %s", bundle.room_id, bundle.sender_user, detail)
        self._finish(bundle, "rejected", detail)
        self.engine.notice(
            f"Refused the keys {bundle.sender_user} shared for earlier messages: {detail}",
            room_id=bundle.room_id, level="warning",
        )
        self.engine.refresh_failures(bundle.room_id)
        return ImportResult("rejected", detail)

    def _trust_problem(self, bundle: ReceivedBundle) -> str | None:
        """The sending device must be cross-signed by its owner's identity, which must not have
        changed since we pinned it (msc4268.md §5.1)."""
        identity_info = self.engine.identity.identity_info(bundle.sender_user)
        if identity_info.state == "unknown":
            return f"{bundle.sender_user} has no cross-signing identity"
        if identity_info.state == "changed":
            return f"{bundle.sender_user}'s identity changed since we first saw it"
        identity = self.engine.identity.identity_of(bundle.sender_user)
        device = self.olm.device_store.device_from_sender_key(bundle.sender_user, bundle.sender_key)
        candidates = []
        if device is not None:
            stored = self.store.get_device_json(bundle.sender_user, device.id)
            if stored is not None:
                candidates.append(stored)
        if bundle.sender_device_keys is not None:
            candidates.append(bundle.sender_device_keys)
        if identity is None or not any(device_signed_by_identity(c, identity) for c in candidates):
            return f"the device of {bundle.sender_user} that sent it is not cross-signed by its owner"
        return None

    async def _import(self, bundle: ReceivedBundle) -> ImportResult:
        started = time.perf_counter()
        bundle = replace(bundle, state="importing")
        self.store.put_received_bundle(bundle)
        await self.engine._query_keys({bundle.sender_user})
        problem = self._trust_problem(bundle)
        if problem:
            return self._reject(bundle, problem)
        try:
            ciphertext = await self._download(bundle.file["url"])
        except BundleError as exc:
            return self._reject(bundle, str(exc))
        except Exception as exc:  # network: keep it for a retry at the next start
            detail = f"download failed ({exc or type(exc).__name__}); will retry"
            logger.warning("key bundle for %s: %s", bundle.room_id, detail)
            self.store.put_received_bundle(replace(bundle, state="waiting", detail=detail))
            return ImportResult("waiting", detail)
        downloaded = time.perf_counter()
        try:
            parsed, sessions = await asyncio.to_thread(self._decode, ciphertext, bundle)
        except BundleError as exc:
            return self._reject(bundle, str(exc))
        decoded = time.perf_counter()
        imported = self._store_import(bundle, parsed, sessions)
        if parsed.other_room_entries:
            logger.warning(
                "the key bundle from %s for %s named other rooms in %d entries; those were ignored",
                bundle.sender_user, bundle.room_id, parsed.other_room_entries,
            )
        logger.info(
            "imported %d of %d shared keys (+%d not-shared records) for %s from %s "
            "(download %.0f ms, decrypt+parse+verify %.0f ms, store %.0f ms)",
            imported, len(parsed.room_keys), len(parsed.withheld), bundle.room_id, bundle.sender_user,
            (downloaded - started) * 1000, (decoded - downloaded) * 1000, (time.perf_counter() - decoded) * 1000,
        )
        name = self.engine.display_name(bundle.room_id, bundle.sender_user)
        count = len(parsed.room_keys)
        if bundle.message_count:
            what = f"{bundle.message_count} earlier message{'s' if bundle.message_count != 1 else ''}"
        else:
            what = f"earlier messages ({count} session key{'s' if count != 1 else ''})"
        self.engine.notice(f"You can read {what}: {name} shared the keys", room_id=bundle.room_id)
        self.engine.refresh_failures(bundle.room_id)
        return ImportResult("imported", "ok", imported, len(parsed.room_keys), len(parsed.withheld))

    def _decode(self, ciphertext: bytes, bundle: ReceivedBundle) -> tuple[ParsedBundle, list[InboundGroupSession]]:
        plaintext = decrypt_file(ciphertext, bundle.file)
        parsed = parse_bundle(plaintext, bundle.room_id)
        return parsed, import_keys(parsed.room_keys, bundle.sender_key)

    def _store_import(self, bundle: ReceivedBundle, parsed: ParsedBundle, sessions: list[InboundGroupSession]) -> int:
        identity = self.engine.identity.identity_of(bundle.sender_user)
        now = self.engine.clock()
        master = identity.master.public_key if identity else None
        candidates = [
            (s, SessionMeta(s.id, s.room_id, s.sender_key, True, "bundle", bundle.sender_user,
                            bundle.sender_device, master, now))
            for s in sessions
        ]
        to_save, metas, results = self.olm.merge_sessions(candidates)
        # Brand-new sessions go into one encrypted blob for this bundle; a session that replaced
        # a copy we already stored goes through nio's table (which wins over blobs on load).
        exported = {k.session_id: k.session_key for k in parsed.room_keys}
        stored_results = [r for r in results if r.stored]
        new_entries = [
            (m.session_id, s.sender_key, s.ed25519, exported[m.session_id])
            for s, m, r in zip(to_save, metas, stored_results)
            if r.reason == "new session"
        ]
        replaced = [s for s, r in zip(to_save, stored_results) if r.reason != "new session"]
        withheld = [
            WithheldRecord(
                w["room_id"], w["session_id"], w.get("sender_key") if isinstance(w.get("sender_key"), str) else None,
                w["code"], w.get("reason") if isinstance(w.get("reason"), str) else None,
                bundle.sender_user, w.get("from_device") if isinstance(w.get("from_device"), str) else None,
                "bundle", now, w,
            )
            for w in parsed.withheld
        ]
        done = replace(
            bundle, state="imported", detail="ok", finished_at=now, key_count=len(parsed.room_keys),
            withheld_count=len(parsed.withheld), imported_count=len(to_save),
        )
        with self.store.transaction():
            if new_entries:
                self.store.save_bundle_sessions(bundle.room_id, bundle.sender_key, new_entries)
            if replaced:
                self.store.save_inbound_group_sessions(replaced)
            if metas:
                self.store.save_session_meta(metas)
            if withheld:
                self.store.save_withheld(withheld)
            self.store.put_received_bundle(done)
            self.store.clear_pending_bundle(bundle.room_id)
        if to_save:
            self.olm.on_keys_added([(s.room_id, s.id) for s in to_save])
        return len(to_save)

    async def _download(self, url: str) -> bytes:
        server, media_id = parse_media_url(url)
        limit = self.engine.settings.bundle_max_bytes
        path = (
            f"/_matrix/client/v1/media/download/{urllib.parse.quote(server)}/{urllib.parse.quote(media_id)}"
        )
        return await self.client.download_bytes(path, limit)
