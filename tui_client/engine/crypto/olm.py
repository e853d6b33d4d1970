"""Our subclass of nio's Olm machine.

What it adds to nio 0.26:
- robustness: a pre-key message with an unknown one-time key, a Megolm plaintext that is not
  UTF-8, or any other hostile to-device/room event is logged and skipped instead of raising
  out of ``sync()`` (nio would lose the rest of that sync);
- per-session metadata (``SessionMeta``): shareable flag (MSC4268 ``shared_history``), origin,
  and who shared it when it came from a key bundle; kept in memory and in ``tc_session_meta``;
- the merge rules of matrix-rust-sdk when a session we already hold arrives again: a better
  (earlier) ratchet is kept, a less trusted source never replaces the metadata of a more
  trusted one, and a copy whose ratchet does not connect to ours is refused;
- the ``org.matrix.msc3061.shared_history`` flag in the ``m.room_key`` we send, and MSC4147
  ``sender_device_keys`` in every Olm plaintext we send;
- delivery of Olm-decrypted event types nio does not know (``m.room_key_bundle``) instead of
  dropping them.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import vodozemac
from nio.api import Api
from nio.crypto import InboundGroupSession, Olm
from nio.exceptions import EncryptionError
from unpaddedbase64 import encode_base64

from ..store import AppStore, SessionMeta
from .history_sharing import BUNDLE_EVENT_TYPES

logger = logging.getLogger(__name__)

SHAREABLE_VISIBILITIES = frozenset({"shared", "world_readable"})
# The spelling Element's Rust crypto reads today (it also reads "m.shared_history"); it must be
# the only one we write: rust-sdk rejects an m.room_key carrying two aliases of the flag.
SHARED_HISTORY_SEND_KEY = "org.matrix.msc3061.shared_history"
SHARED_HISTORY_READ_KEYS = ("shared_history", "m.shared_history", "org.matrix.msc3061.shared_history")

# Trust of where a copy of a session came from; higher wins on merge.
ORIGIN_RANK = {"own": 3, "direct": 2, "forwarded": 1, "bundle": 1, "import": 1}


def shared_history_flag(content: Any) -> bool:
    """True if any accepted spelling of the flag is literally `true` (missing or odd = false)."""
    if not isinstance(content, dict):
        return False
    return any(content.get(k) is True for k in SHARED_HISTORY_READ_KEYS)


@dataclass(frozen=True)
class DecryptedOlmEvent:
    """An Olm-decrypted to-device event of a type nio does not handle itself."""

    sender: str
    sender_key: str
    type: str
    payload: dict[str, Any]

    @property
    def content(self) -> Any:
        return self.payload.get("content")


@dataclass(frozen=True)
class MergeResult:
    stored: bool  # something changed (ratchet or metadata)
    reason: str


class AppOlm(Olm):
    # Olm event types that our engine handles (nio's own are dispatched by nio).
    custom_olm_types: frozenset[str] = BUNDLE_EVENT_TYPES
    # A "legacy client" (for tests and the demo): never marks its sessions shareable and does
    # not send the flag at all, like clients from before MSC4268.
    legacy_no_shared_history = False

    def __init__(self, user_id: str, device_id: str, store: AppStore) -> None:
        self.app_store = store
        self.session_meta: dict[str, SessionMeta] = store.load_session_meta()
        # Filled in by the engine:
        self.history_visibility_of: Callable[[str], str | None] = lambda room_id: None
        self.own_device_keys: Callable[[], dict[str, Any] | None] = lambda: None
        self.on_keys_added: Callable[[list[tuple[str, str]]], None] = lambda keys: None
        # Why the last few Megolm decryptions failed, by event id (for UTD reasons).
        self.decryption_errors: OrderedDict[str, str] = OrderedDict()
        # The encrypted form of recently decrypted events, for the event-details view.
        self.encrypted_sources: OrderedDict[str, dict[str, Any]] = OrderedDict()
        self._creating_outbound = False
        super().__init__(user_id, device_id, store)

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
        self._creating_outbound = True
        try:
            super().create_outbound_group_session(room_id)
        finally:
            self._creating_outbound = False

    def create_group_session(
        self, sender_key: str, sender_fp_key: str, room_id: str, session_id: str, session_key: str
    ) -> None:
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
            meta = SessionMeta(session_id, room_id, sender_key, shareable, "own", received_at=time.time())
            logger.info(
                "new outbound Megolm session %s… for %s (history visibility %s, shareable=%s)",
                session_id[:8], room_id, visibility, meta.shared_history,
            )
        else:
            content = getattr(self, "_incoming_room_key", None)
            meta = SessionMeta(
                session_id, room_id, sender_key, shared_history_flag(content), "direct",
                received_at=time.time(),
            )
        sessions, metas, _ = self.merge_sessions([(session, meta)])
        self.persist(sessions, metas)

    def merge_sessions(
        self, candidates: Iterable[tuple[InboundGroupSession, SessionMeta]]
    ) -> tuple[list[InboundGroupSession], list[SessionMeta], list[MergeResult]]:
        """Apply the merge rules in memory; return what must be persisted and why."""
        to_save: list[InboundGroupSession] = []
        metas: list[SessionMeta] = []
        results: list[MergeResult] = []
        entries = self.inbound_group_store._entries
        for new, new_meta in candidates:
            sid = new_meta.session_id  # == new.id, which vodozemac recomputes on each access
            old = entries[new.room_id][new.sender_key].get(sid)
            old_meta = self.session_meta.get(sid)
            result, keep_session, keep_meta = _merge(old, old_meta, new, new_meta)
            results.append(result)
            if not result.stored:
                continue
            if keep_session is not old:
                entries[new.room_id][new.sender_key][sid] = keep_session
            self.session_meta[sid] = keep_meta
            to_save.append(keep_session)
            metas.append(keep_meta)
        return to_save, metas, results

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

    def meta_for(self, session_id: str | None) -> SessionMeta | None:
        return self.session_meta.get(session_id) if session_id else None

    # -- what we send ------------------------------------------------------------------------

    def _olm_encrypt(self, session: Any, recipient_device: Any, message_type: str, content: Any) -> dict[str, Any]:
        if message_type == "m.room_key" and isinstance(content, dict) and not self.legacy_no_shared_history:
            meta = self.session_meta.get(content.get("session_id", ""))
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


def _merge(
    old: InboundGroupSession | None,
    old_meta: SessionMeta | None,
    new: InboundGroupSession,
    new_meta: SessionMeta,
) -> tuple[MergeResult, InboundGroupSession, SessionMeta]:
    if old is None:
        return MergeResult(True, "new session"), new, new_meta
    old_meta = old_meta or SessionMeta(old.id, old.room_id, old.sender_key, False, "direct")
    if not _connected(old, new):
        logger.warning(
            "refused a copy of session %s… for %s: its ratchet does not match the one we hold",
            new.id[:8], new.room_id,
        )
        return MergeResult(False, "unconnected ratchet"), old, old_meta
    old_rank, new_rank = ORIGIN_RANK.get(old_meta.origin, 1), ORIGIN_RANK.get(new_meta.origin, 1)
    better = new.first_known_index < old.first_known_index
    equal = new.first_known_index == old.first_known_index
    if better and new_rank >= old_rank:
        return MergeResult(True, "better ratchet"), new, new_meta
    if equal and new_rank > old_rank:
        return MergeResult(True, "more trusted source"), new, new_meta
    if better and new_rank < old_rank:
        # New ratchet, old (more trusted) metadata; the session object takes the old signing key.
        new.ed25519 = old.ed25519
        new.forwarding_chain = list(old.forwarding_chain)
        return MergeResult(True, "earlier ratchet, kept trusted metadata"), new, old_meta
    if not better and not equal and new_rank > old_rank:
        # Old ratchet, new (more trusted) metadata.
        old.ed25519 = new.ed25519
        old.forwarding_chain = list(new.forwarding_chain)
        return MergeResult(True, "kept earlier ratchet, upgraded metadata"), old, new_meta
    return MergeResult(False, "no improvement"), old, old_meta

