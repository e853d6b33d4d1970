"""Our subclass of nio's Olm machine.

What it adds to nio 0.26:
- robustness: a pre-key message with an unknown one-time key, a Megolm plaintext that is not
  UTF-8, or any other hostile to-device/room event is logged and skipped instead of raising
  out of ``sync()`` (nio would lose the rest of that sync);
- per-session metadata (``SessionMeta``): shareable flag (MSC4268 ``shared_history``), origin,
  and who shared it when it came from a key bundle; kept in memory and in ``tc_session_meta``,
  keyed by room and session id;
- one way in for every copy of a session (direct, forwarded, bundle, file), through the merge
  rules of `engine.room_keys`: a better (earlier) ratchet is kept, a less trusted source never
  replaces the metadata of a more trusted one, and of two copies that do not connect, the one
  its creator sent us directly wins;
- the ``org.matrix.msc3061.shared_history`` flag in the ``m.room_key`` we send, and MSC4147
  ``sender_device_keys`` in every Olm plaintext we send;
- an Olm fallback key (nio never uploads one): uploaded with the device's keys, and replaced
  when the server says it was used, so a peer can still open an Olm session to this device
  (to send it a key bundle, say) after its one-time keys ran out while it was offline;
- delivery of Olm-decrypted event types nio does not know (``m.room_key_bundle``,
  ``m.secret.send``) instead of dropping them;
- our outbound Megolm sessions kept in the store (nio keeps them in memory only, so every
  start, and every CLI call, began a new session): restored on open, saved whenever one is
  created, shared or used, forgotten when it is discarded. nio's rotation rules still apply
  (age, message count, membership changes while running), and ours: a session is also replaced
  when the room's members or its history visibility differ from when it was shared;
- our trust rules instead of nio's for forwarded room keys and for answering key requests (only
  our own devices that our identity signed: `OlmHooks.forward_refusal`, `key_request_refusal`),
  and none of nio's legacy, request-less SAS (`keys.verification` handles verification).

It is longer than most modules because each item above overrides methods of nio's `Olm`, which
nio calls on one object and which share its private state; the rules themselves live elsewhere
(`room_keys`, `keys.gossip_rules`, `history_sharing.rules`).
"""

from __future__ import annotations

import logging
import re
import time
from collections import OrderedDict
from datetime import datetime
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import vodozemac
from nio.api import Api
from nio.crypto import InboundGroupSession, Olm, OutboundGroupSession
from nio.events import BadEvent, ForwardedRoomKeyEvent, UnknownBadEvent
from nio.exceptions import EncryptionError
from unpaddedbase64 import encode_base64

from ...records import record
from ..history_sharing.bundle import BUNDLE_EVENT_TYPES
from ..history_sharing.rules import SHAREABLE_VISIBILITIES
from ..room_keys import (
    NEW_SESSION,
    SHARED_HISTORY_SEND_KEY,
    CopyFacts,
    MergeAction,
    MergeDecision,
    Origin,
    SessionMeta,
    decide_merge,
    shared_history_flag,
)
from .lazy_sessions import Pending
from .store import AppStore

logger = logging.getLogger(__name__)

SECRET_SEND = "m.secret.send"


def _no_visibility(room_id: str) -> str | None:
    return None


_SURROGATES = re.compile("[\ud800-\udfff]")


def _storable(*texts: Any) -> bool:
    """False if a text holds a lone surrogate (a legal JSON escape that SQLite cannot store:
    the key would live in memory only and be gone after a restart)."""
    return not any(isinstance(t, str) and _SURROGATES.search(t) for t in texts)


def _no_device_keys() -> dict[str, Any] | None:
    return None


def _ignore(*args: Any) -> None:
    return None


def _refuse_forward(*args: Any) -> str | None:
    return "this client does not take forwarded keys here"


def _refuse_key_request(*args: Any) -> str | None:
    return "this client does not answer key requests here"


@record
class OlmHooks:
    """How the Olm machine (and the client around it) learns from and tells the engine."""

    history_visibility_of: Callable[[str], str | None] = _no_visibility  # a room's, now
    own_device_keys: Callable[[], dict[str, Any] | None] = _no_device_keys  # signed, for MSC4147
    on_keys_added: Callable[[list[tuple[str, str]]], None] = _ignore  # (room, session) pairs
    on_keys_query: Callable[[Any], None] = _ignore  # every /keys/query answer, cross-signing included
    # Why not to take a forwarded room key (sender, sender curve25519 key, room, session,
    # algorithm), or None to take it; why not to answer a key request (requester, device).
    forward_refusal: Callable[[str, str, str, str, Any], str | None] = _refuse_forward
    key_request_refusal: Callable[[str, str], str | None] = _refuse_key_request
    # Every sync response, inside the transaction that stores what nio made of it and the next
    # sync token (see EngineClient._handle_sync).
    on_sync_response: Callable[[Any], None] = _ignore
    clock: Callable[[], float] = time.time
    # A "legacy client" (for tests and the demo): never marks its sessions shareable and does
    # not send the flag at all, like clients from before MSC4268.
    legacy_no_shared_history: bool = False


@record
class MergeOutcome:
    """What happened to one offered copy of a session."""

    decision: MergeDecision
    session: InboundGroupSession | Pending | None  # what we now hold, if it changed (Pending: new, not made yet)
    meta: SessionMeta | None

    @property
    def stored(self) -> bool:
        return self.session is not None


def inbound_session(
    inner: vodozemac.InboundGroupSession, room_id: str, sender_key: str, ed25519: str, chain: list[str]
) -> InboundGroupSession:
    """nio's wrapper around a vodozemac session imported from an export."""
    return InboundGroupSession("", ed25519, sender_key, room_id, chain, session=inner)


UNUSABLE_OFFER = MergeDecision(MergeAction.KEEP, "the offered key is unusable")


def changed(outcomes: Iterable[MergeOutcome]) -> tuple[list[InboundGroupSession | Pending], list[SessionMeta]]:
    """The sessions and metadata to persist after a merge."""
    kept = [o for o in outcomes if o.session is not None and o.meta is not None]
    return [o.session for o in kept], [o.meta for o in kept]  # type: ignore[misc]


@record
class DecryptedOlmEvent:
    """An Olm-decrypted to-device event of a type nio does not handle itself."""

    sender: str
    sender_key: str
    type: str
    payload: dict[str, Any]

    @property
    def content(self) -> Any:
        return self.payload.get("content")


@dataclass
class OutboundFacts:
    """What an outbound session was made for: the room's history visibility when it was
    created, and its members (joined and invited) when it was last shared."""

    visibility: str | None
    members: frozenset[str] | None = None


class _OutboundSessions(dict[str, OutboundGroupSession]):
    """nio's room -> outbound session map, telling us about every change so it is persisted."""

    def __init__(self, changed: Callable[[str], None]) -> None:
        super().__init__()
        self._changed = changed

    def __setitem__(self, room_id: str, session: OutboundGroupSession) -> None:
        super().__setitem__(room_id, session)
        self._changed(room_id)

    def __delitem__(self, room_id: str) -> None:
        super().__delitem__(room_id)
        self._changed(room_id)

    def pop(self, room_id: str, *default: Any) -> Any:
        had = room_id in self
        value = super().pop(room_id, *default)
        if had:
            self._changed(room_id)
        return value

    def restore(self, room_id: str, session: OutboundGroupSession) -> None:
        super().__setitem__(room_id, session)


class AppOlm(Olm):
    # Olm event types that our engine handles (nio's own are dispatched by nio).
    custom_olm_types: frozenset[str] = BUNDLE_EVENT_TYPES | {SECRET_SEND}
    def __init__(self, user_id: str, device_id: str, store: AppStore, hooks: OlmHooks | None = None) -> None:
        self.app_store = store
        self.hooks = hooks = hooks or OlmHooks()
        self.session_meta: dict[tuple[str, str], SessionMeta] = store.load_session_meta()
        self.history_visibility_of = hooks.history_visibility_of
        self.own_device_keys = hooks.own_device_keys
        self.on_keys_added = hooks.on_keys_added
        self.legacy_no_shared_history = hooks.legacy_no_shared_history
        self.clock = hooks.clock
        # Why the last few Megolm decryptions failed, by event id (for UTD reasons).
        self.decryption_errors: OrderedDict[str, str] = OrderedDict()
        # The encrypted form of recently decrypted events, for the event-details view.
        self.encrypted_sources: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._creating_outbound = False
        self.outbound_facts: dict[str, OutboundFacts] = {}
        # Per room, the session ids held without metadata (stores from before it existed);
        # a room's set is made when a merge first needs it.
        self._unlabelled: dict[str, set[str]] = {}
        super().__init__(user_id, device_id, store)
        self.outbound_group_sessions = _OutboundSessions(self._outbound_changed)
        self._restore_outbound_sessions()

    # -- the fallback key ----------------------------------------------------------------------

    FALLBACK_KEY_TYPE = "signed_curve25519"

    def _unpublished_fallback_keys(self) -> dict[str, Any]:
        keys: dict[str, Any] = self.account._account.fallback_key
        return keys

    def note_unused_fallback_keys(self, types: object) -> None:
        """From each sync (`device_unused_fallback_key_types`): when the server no longer holds
        an unused fallback key of ours (never uploaded, or claimed by someone), make a new one for
        the next key upload. The one before stays usable for messages already on their way."""
        if not isinstance(types, list) or self.FALLBACK_KEY_TYPE in types:
            return
        if self._unpublished_fallback_keys():
            return  # made already; the upload is pending
        self.account._account.generate_fallback_key()
        logger.info("the server holds no unused fallback key for this device: made a new one to upload")

    @property
    def should_upload_keys(self) -> bool:
        return bool(super().should_upload_keys) or bool(self._unpublished_fallback_keys())

    def share_keys(self) -> dict[str, Any]:
        if not self.account.shared and not self._unpublished_fallback_keys():
            self.account._account.generate_fallback_key()  # the first upload carries one
        try:
            content: dict[str, Any] = super().share_keys()
        except ValueError:  # no one-time keys are wanted: only the fallback key goes up
            content = {}
        fallback = {}
        for key_id, key in self._unpublished_fallback_keys().items():
            obj: dict[str, Any] = {"key": key.to_base64(), "fallback": True}
            obj["signatures"] = {self.user_id: {f"ed25519:{self.device_id}": self.sign_json(obj)}}
            fallback[f"{self.FALLBACK_KEY_TYPE}:{key_id}"] = obj
        if fallback:
            content["fallback_keys"] = fallback
        return content

    # -- robustness ------------------------------------------------------------------------

    def handle_to_device_event(self, event: Any) -> Any:
        try:
            return super().handle_to_device_event(event)
        except Exception as exc:  # one hostile to-device event must not abort the sync
            logger.warning(
                "dropped a to-device event of type %s from %s: %s: %s",
                type(event).__name__, getattr(event, "sender", "?"), type(exc).__name__, exc,
            )
            return None

    def decrypt(self, sender: str, sender_key: str, message: Any) -> Any:
        try:
            return super().decrypt(sender, sender_key, message)
        except vodozemac.SessionCreationException as exc:
            # nio 0.26 lets this escape (e.g. a pre-key message naming a one-time key we no
            # longer have): treat it like any other undecryptable Olm message.
            logger.warning(
                "could not open an Olm session from %s (%s): %s", sender, sender_key[:8], exc
            )
            self._mark_device_for_unwedging(sender, sender_key)
            return None

    def decrypt_megolm_event(self, event: Any, room_id: str | None = None) -> Any:
        try:
            decrypted = super().decrypt_megolm_event(event, room_id)
            event_id = getattr(event, "event_id", None)
            if event_id and isinstance(getattr(event, "source", None), dict):
                self.encrypted_sources[event_id] = event.source
                while len(self.encrypted_sources) > 2000:
                    self.encrypted_sources.popitem(last=False)
            return decrypted
        except EncryptionError as exc:
            logger.info(
                "cannot decrypt event %s from %s: %s",
                getattr(event, "event_id", "?"), getattr(event, "sender", "?"), exc,
            )
            self._remember_failure(event, str(exc))
            raise
        except UnicodeDecodeError as exc:
            message = f"the decrypted message is not valid UTF-8 ({exc.reason})"
        except (vodozemac.MegolmDecryptionException, vodozemac.DecodeException) as exc:
            message = f"the encrypted message is damaged ({exc})"
        except Exception as exc:
            message = f"{type(exc).__name__}: {exc}"
        logger.warning(
            "cannot decrypt event %s from %s: %s",
            getattr(event, "event_id", "?"), getattr(event, "sender", "?"), message,
        )
        self._remember_failure(event, message)
        raise EncryptionError(message)

    def _decrypt_megolm_no_error(self, event: Any, room_id: str | None = None) -> Any:
        try:
            return self.decrypt_megolm_event(event, room_id)
        except EncryptionError:
            return None

    def _remember_failure(self, event: Any, message: str) -> None:
        event_id = getattr(event, "event_id", None)
        if not event_id:
            return
        self.decryption_errors[event_id] = message
        self.decryption_errors.move_to_end(event_id)
        while len(self.decryption_errors) > 5000:
            self.decryption_errors.popitem(last=False)

    # -- verification and key requests: ours, not nio's ---------------------------------------

    def handle_key_verification(self, event: Any) -> None:
        """nio's SAS is the legacy, request-less one: `keys.verification` handles every
        verification event from the raw sync instead."""
        return None

    def _should_accept_forward(self, sender: str, sender_key: str, event: Any) -> bool:
        """Forwarded keys only from another device of ours that our identity signed, and only
        for a session we asked for (`keys.gossip_rules.forward_refusal`)."""
        reason = self.hooks.forward_refusal(sender, sender_key, event.room_id, event.session_id, event.algorithm)
        if reason is not None:
            logger.warning(
                "refused a forwarded key for session %s… of %s from %s (%s…): %s",
                str(event.session_id)[:8], event.room_id, sender, sender_key[:8], reason,
            )
            return False
        return True

    def share_with_ourselves(self, event: Any) -> None:
        """Answer a room key request from another device of ours (nio's, with our trust rule and
        a lookup by room and session id)."""
        reason = self.hooks.key_request_refusal(event.sender, event.requesting_device_id)
        if reason is not None:
            logger.warning(
                "did not answer the key request of %s %s for session %s…: %s",
                event.sender, event.requesting_device_id, str(event.session_id)[:8], reason,
            )
            return
        group_session = next(
            (s for per_sender in self.inbound_group_store._entries.get(event.room_id, {}).values()
             for sid, s in per_sender.items() if sid == event.session_id),
            None,
        )
        if group_session is None:
            logger.info("key request of %s for session %s…: we do not hold it", event.requesting_device_id,
                        str(event.session_id)[:8])
            return
        device = self.device_store[event.sender].get(event.requesting_device_id)
        if device is None:
            return
        session = self.session_store.get(device.curve25519)
        if not session:
            # nio claims a one-time key for the device and retries the request afterwards.
            if device not in self.key_request_devices_no_session:
                self.key_request_devices_no_session.append(device)
            self.key_requests_waiting_for_session[(device.user_id, device.device_id)][event.request_id] = event
            return
        logger.info("forwarding session %s… of %s to our device %s", str(event.session_id)[:8], event.room_id,
                    device.device_id)
        self.outgoing_to_device_messages.append(
            self._encrypt_forwarding_key(event.room_id, group_session, session, device)
        )

    # -- Olm events nio does not know --------------------------------------------------------

    def _handle_olm_event(self, sender: str, sender_key: str, payload: dict[str, Any]) -> Any:
        event_type = payload.get("type")
        if event_type in self.custom_olm_types:
            logger.info("received Olm event %s from %s", event_type, sender)
            return DecryptedOlmEvent(sender, sender_key, event_type, payload)
        return super()._handle_olm_event(sender, sender_key, payload)

    def _handle_room_key_event(self, sender: str, sender_key: str, payload: dict[str, Any]) -> Any:
        # Remember the flag of this m.room_key for the create_group_session call nio makes next.
        self._incoming_room_key = payload.get("content")
        try:
            return super()._handle_room_key_event(sender, sender_key, payload)
        finally:
            self._incoming_room_key = None

    # -- sessions: creation, metadata and merging --------------------------------------------

    def create_outbound_group_session(self, room_id: str) -> None:
        self.outbound_facts[room_id] = OutboundFacts(self.history_visibility_of(room_id))
        self._creating_outbound = True
        try:
            super().create_outbound_group_session(room_id)
        finally:
            self._creating_outbound = False

    # -- outbound sessions kept across restarts -----------------------------------------------

    def group_encrypt(self, room_id: str, plaintext_dict: dict[Any, Any]) -> dict[str, str]:
        result: dict[str, str] = super().group_encrypt(room_id, plaintext_dict)
        self._outbound_changed(room_id)  # one more message in the ratchet
        return result

    def outbound_shared(self, room_id: str, members: Iterable[str]) -> None:
        """The session of `room_id` went out to the devices of `members` (nio marked it shared)."""
        facts = self.outbound_facts.get(room_id)
        if facts is not None and room_id in self.outbound_group_sessions:
            facts.members = frozenset(members)
            self._outbound_changed(room_id)

    def check_outbound_session(self, room_id: str, members: Iterable[str], visibility: str | None) -> None:
        """Before sending: replace the session if the room changed since it was shared (a
        member came or went while we were not running, the visibility changed), and share it
        with devices that appeared since (a member's new device) instead of starting over."""
        session = self.outbound_group_sessions.get(room_id)
        if session is None:
            return
        facts = self.outbound_facts.get(room_id)
        current = frozenset(members)
        if facts is None or facts.visibility != visibility:
            self.discard_outbound_session(room_id, "history visibility changed")
            return
        if facts.members is not None and facts.members != current:
            self.discard_outbound_session(room_id, "the room's members changed")
            return
        if session.shared and not session.expired:
            known = session.users_shared_with | session.users_ignored
            for user_id in current:
                for device in self.device_store.active_user_devices(user_id):
                    if (
                        device.id != self.device_id and (user_id, device.id) not in known
                        and not self.is_device_blacklisted(device)
                    ):
                        logger.info("sharing the Megolm session of %s with the new device %s of %s",
                                    room_id, device.id, user_id)
                        session.shared = False  # nio shares it with the devices that lack it
                        return

    def _outbound_changed(self, room_id: str) -> None:
        session = self.outbound_group_sessions.get(room_id)
        try:
            if session is None:
                self.outbound_facts.pop(room_id, None)
                self.app_store.delete_outbound_session(room_id)
                return
            facts = self.outbound_facts.setdefault(room_id, OutboundFacts(self.history_visibility_of(room_id)))
            created = session.creation_time.timestamp()
            self.app_store.save_outbound_session(room_id, session.id, created, {
                "pickle": session.pickle(self.app_store.pickle_key).decode(),
                "created_at": created,
                "message_count": session.message_count,
                "shared": session.shared,
                "users_shared_with": sorted(session.users_shared_with),
                "users_ignored": sorted(session.users_ignored),
                "visibility": facts.visibility,
                "members": sorted(facts.members) if facts.members is not None else None,
            })
        except Exception:
            # Not fatal: the next start makes a new session, as nio always did.
            logger.exception("could not store the outbound Megolm session of %s", room_id)

    def _restore_outbound_sessions(self) -> None:
        sessions = self.outbound_group_sessions
        assert isinstance(sessions, _OutboundSessions)
        for room_id, state in self.app_store.load_outbound_sessions().items():
            try:
                session = OutboundGroupSession.from_pickle(str(state["pickle"]).encode(), self.app_store.pickle_key)
                session.creation_time = datetime.fromtimestamp(float(state["created_at"]))
                session.message_count = int(state["message_count"])
                session.shared = bool(state["shared"])
                session.users_shared_with = {(str(u), str(d)) for u, d in state["users_shared_with"]}
                session.users_ignored = {(str(u), str(d)) for u, d in state["users_ignored"]}
                members = state.get("members")
                visibility = state.get("visibility")
                facts = OutboundFacts(
                    visibility if isinstance(visibility, str) else None,
                    frozenset(str(m) for m in members) if isinstance(members, list) else None,
                )
            except Exception as exc:
                logger.warning("dropped the stored outbound Megolm session of %s: %s: %s",
                               room_id, type(exc).__name__, exc)
                self.app_store.delete_outbound_session(room_id)
                continue
            if session.expired:
                self.app_store.delete_outbound_session(room_id)
                continue
            sessions.restore(room_id, session)
            self.outbound_facts[room_id] = facts
            logger.info("continuing the outbound Megolm session %s… of %s (%d messages)",
                        session.id[:8], room_id, session.message_count)

    def create_group_session(
        self, sender_key: str, sender_fp_key: str, room_id: str, session_id: str, session_key: str
    ) -> None:
        if not _storable(sender_key, sender_fp_key, room_id):
            logger.warning("ignored a room key whose room id or keys are not valid text")
            return
        try:
            session = InboundGroupSession(session_key, sender_fp_key, sender_key, room_id)
        except Exception as exc:
            logger.warning("ignored an unusable room key for %s: %s", room_id, exc)
            return
        if session.id != session_id:
            logger.warning("ignored a room key for %s whose session id does not match its key", room_id)
            return
        if self._creating_outbound:
            visibility = self.history_visibility_of(room_id)
            shareable = visibility in SHAREABLE_VISIBILITIES and not self.legacy_no_shared_history
            meta = SessionMeta(room_id, session_id, sender_key, shareable, Origin.OWN, received_at=self.clock())
            logger.info(
                "new outbound Megolm session %s… for %s (history visibility %s, shareable=%s)",
                session_id[:8], room_id, visibility, meta.shared_history,
            )
        else:
            # An m.room_key over Olm: nio took `sender_key` from the Olm session, so the device
            # that created the session vouches for it.
            content = getattr(self, "_incoming_room_key", None)
            meta = SessionMeta(
                room_id, session_id, sender_key, shared_history_flag(content), Origin.DIRECT,
                received_at=self.clock(),
            )
        self.persist(*changed(self.merge_sessions([(session, meta)])))

    def _handle_forwarded_room_key_event(self, sender: str, sender_key: str, payload: dict[str, Any]) -> Any:
        """nio's, but the key goes through the merge rules instead of replacing what we hold."""
        event = ForwardedRoomKeyEvent.from_dict(payload, sender, sender_key)
        if isinstance(event, (BadEvent, UnknownBadEvent)):
            return event
        if not self._should_accept_forward(sender, sender_key, event):
            return None
        content = payload["content"]
        chain = list(content["forwarding_curve25519_key_chain"]) + [content["sender_key"]]
        if not _storable(event.room_id, content["sender_claimed_ed25519_key"], *chain):
            logger.warning("ignored a forwarded room key whose room id or keys are not valid text")
            return None
        session = Olm._import_group_session(
            content["session_key"], content["sender_claimed_ed25519_key"], content["sender_key"], event.room_id, chain
        )
        if not session:
            return None
        meta = SessionMeta(
            event.room_id, session.id, session.sender_key, shared_history_flag(content), Origin.FORWARDED,
            forwarder_user=sender, received_at=self.clock(),
        )
        self.persist(*changed(self.merge_sessions([(session, meta)])))
        key_request = self.outgoing_key_requests.pop(event.session_id, None)
        if key_request is not None:
            self.store.remove_outgoing_key_request(key_request)
            self.outgoing_to_device_messages.append(key_request.as_cancellation(self.user_id, self.device_id))
        return event

    def merge_sessions(
        self, candidates: Iterable[tuple[InboundGroupSession | Pending, SessionMeta]]
    ) -> list[MergeOutcome]:
        """Apply the merge rules in memory; one outcome per candidate (persist `changed(...)`).
        A `Pending` candidate (a key bundle's, checked but not made yet) is held as it is when
        it is new, and made here only when a held copy must be weighed against it."""
        outcomes: list[MergeOutcome] = []
        entries = self.inbound_group_store._entries
        held: dict[str, set[str]] = {}  # per room: the session ids we hold, under any creator's key
        for offered, new_meta in candidates:
            room_id, sid = new_meta.room_id, new_meta.session_id  # new.id is recomputed on each access
            held_ids = held.get(room_id)
            if held_ids is None:
                held_ids = held[room_id] = self._held_ids(room_id)
            # The common case (a bundle of sessions we never had) has no copy to weigh: the ids
            # the room holds say so without looking for one (or for its metadata).
            old_meta = old = None
            if sid in held_ids:
                old_meta = self.session_meta.get((room_id, sid))
                old = self._held_copy(room_id, sid, offered.sender_key, old_meta)
            if old is None:
                entries[room_id][offered.sender_key][sid] = offered
                self.session_meta[(room_id, sid)] = new_meta
                held_ids.add(sid)
                outcomes.append(MergeOutcome(NEW_SESSION, offered, new_meta))
                continue
            if isinstance(offered, Pending):
                try:
                    new = offered.opener(offered)
                except Exception as exc:  # its signing key is no key: keep what we hold
                    logger.warning("session %s… of %s: the offered key is unusable (%s); kept ours",
                                   sid[:8], room_id, exc)
                    outcomes.append(MergeOutcome(UNUSABLE_OFFER, None, None))
                    continue
            else:
                new = offered
            self._unlabelled.get(room_id, set()).discard(sid)
            if old is not None and old_meta is None:
                old_meta = SessionMeta(room_id, sid, old.sender_key, False, Origin.DIRECT)
            connected = old is not None and old.sender_key == new.sender_key and _connected(old, new)
            decision = decide_merge(
                CopyFacts(old.sender_key, old.first_known_index, old_meta.origin) if old and old_meta else None,
                CopyFacts(new.sender_key, new.first_known_index, new_meta.origin),
                connected,
            )
            keep_session, keep_meta = new, new_meta
            action = decision.action
            if action is MergeAction.KEEP:
                if old is not None and not connected:
                    logger.warning(
                        "session %s… of %s: %s (offered by %s as %s)",
                        sid[:8], room_id, decision.reason, new_meta.forwarder_user or "its creator", new_meta.origin.value,
                    )
                outcomes.append(MergeOutcome(decision, None, None))
                continue
            if action is MergeAction.REPLACE:
                assert old is not None and old_meta is not None
                logger.warning(
                    "session %s… of %s: %s; dropped the copy from %s (%s)",
                    sid[:8], room_id, decision.reason, old_meta.forwarder_user or "unknown", old_meta.origin.value,
                )
                entries[room_id][old.sender_key].pop(sid, None)
            elif action is MergeAction.NEW_RATCHET_OLD_META:
                assert old is not None and old_meta is not None
                new.ed25519 = old.ed25519
                new.forwarding_chain = list(old.forwarding_chain)
                keep_meta = old_meta
            elif action is MergeAction.OLD_RATCHET_NEW_META:
                assert old is not None
                old.ed25519 = new.ed25519
                old.forwarding_chain = list(new.forwarding_chain)
                keep_session = old
            entries[room_id][keep_session.sender_key][sid] = keep_session
            self.session_meta[(room_id, sid)] = keep_meta
            outcomes.append(MergeOutcome(decision, keep_session, keep_meta))
        return outcomes

    def _held_copy(
        self, room_id: str, session_id: str, sender_key: str, meta: SessionMeta | None
    ) -> InboundGroupSession | None:
        """The copy of (room, session) we hold, whichever creator it names."""
        room = self.inbound_group_store._entries.get(room_id)
        if not room:
            return None
        found = room.get(sender_key, {}).get(session_id)
        if found is not None:
            return found
        if meta is not None and meta.sender_key in room:
            found = room[meta.sender_key].get(session_id)
            if found is not None:
                return found
        if meta is None and session_id in self._unlabelled_in(room_id, room):
            for per_sender in room.values():  # rare: a copy naming another creator, without metadata
                if session_id in per_sender:
                    return per_sender[session_id]
        return None

    def _held_ids(self, room_id: str) -> set[str]:
        """The ids of the room's sessions we hold (not made yet: only the ids are read)."""
        senders = self.inbound_group_store._entries[room_id]  # reads the room, as a merge must
        return {sid for per_sender in dict.values(senders) for sid in dict.keys(per_sender)}

    def _unlabelled_in(self, room_id: str, room: dict[str, dict[str, InboundGroupSession]]) -> set[str]:
        """The room's sessions held without metadata: only they can hide under another creator's
        key (a scan of the whole room for every new session would make a large import
        quadratic). Per room: a merge only ever looks at its own room, and reading every room
        would load every stored session into memory."""
        found = self._unlabelled.get(room_id)
        if found is None:
            found = self._unlabelled[room_id] = {
                session_id
                for per_sender in room.values()
                for session_id in per_sender
                if (room_id, session_id) not in self.session_meta
            }
        return found

    def persist(self, sessions: list[InboundGroupSession], metas: list[SessionMeta]) -> None:
        if not sessions and not metas:
            return
        with self.app_store.transaction():
            if sessions:
                self.app_store.save_inbound_group_sessions(sessions)
            if metas:
                self.app_store.save_session_meta(metas)
        if sessions:
            try:
                self.on_keys_added([(s.room_id, s.id) for s in sessions])
            except Exception:
                logger.exception("key-arrival listener failed")

    def meta_for(self, room_id: str, session_id: str | None) -> SessionMeta | None:
        return self.session_meta.get((room_id, session_id)) if session_id else None

    # -- what we send ------------------------------------------------------------------------

    def _olm_encrypt(self, session: Any, recipient_device: Any, message_type: str, content: Any) -> dict[str, Any]:
        if (message_type in ("m.room_key", "m.forwarded_room_key") and isinstance(content, dict)
                and not self.legacy_no_shared_history):
            meta = self.session_meta.get((content.get("room_id", ""), content.get("session_id", "")))
            content = {**content, SHARED_HISTORY_SEND_KEY: bool(meta and meta.shared_history)}
        payload: dict[str, Any] = {
            "sender": self.user_id,
            "sender_device": self.device_id,
            "keys": {"ed25519": self.account.identity_keys["ed25519"]},
            "recipient": recipient_device.user_id,
            "recipient_keys": {"ed25519": recipient_device.ed25519},
            "type": message_type,
            "content": content,
        }
        device_keys = self.own_device_keys()
        if device_keys:
            payload["sender_device_keys"] = device_keys
        olm_message = session.encrypt(Api.to_json(payload))
        self.store.save_session(recipient_device.curve25519, session)
        msg_type, ciphertext = olm_message.to_parts()
        return {
            "algorithm": self._olm_algorithm,
            "sender_key": self.account.identity_keys["curve25519"],
            "ciphertext": {
                recipient_device.curve25519: {"type": msg_type, "body": encode_base64(ciphertext)}
            },
        }

    def discard_outbound_session(self, room_id: str, why: str) -> None:
        if self.outbound_group_sessions.pop(room_id, None) is not None:
            logger.info("discarded the outbound Megolm session of %s: %s", room_id, why)


def _connected(a: InboundGroupSession, b: InboundGroupSession) -> bool:
    """Two copies of one session are the same ratchet if they export identically at the later
    of their first known indexes."""
    index = max(a.first_known_index, b.first_known_index)
    try:
        ea = a._session.export_at(index)
        eb = b._session.export_at(index)
    except Exception:
        return False
    return ea is not None and eb is not None and ea.to_base64() == eb.to_base64()
