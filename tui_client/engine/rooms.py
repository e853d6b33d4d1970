"""Rooms, invites and memberships: what a sync response changes, and the summaries front ends
read. Key bundles and withheld notices arriving over to-device go to history sharing; timeline
sections go to the timelines."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.events import InviteEvent, RoomHistoryVisibilityEvent, UnknownToDeviceEvent

from .events import EngineEvent, InviteReceived, RoomsChanged
from .history_sharing.bundle import BUNDLE_EVENT_TYPES
from .models import Invite, Member, RoomSummary
from .nio.olm import DecryptedOlmEvent

if TYPE_CHECKING:
    from .history_sharing.service import HistorySharing
    from .nio.client import EngineClient
    from .timeline.timelines import Timelines

logger = logging.getLogger(__name__)


class Rooms:
    def __init__(
        self,
        client: EngineClient,
        sharing: HistorySharing,
        timelines: Timelines,
        emit: Callable[[EngineEvent], None],
    ) -> None:
        self._client = client
        self._sharing = sharing
        self._timelines = timelines
        self._emit = emit
        self._known_invites: set[str] = set()
        # Rooms as the last run saw them, until the first sync says how they are now.
        self._cached: dict[str, RoomSummary] = {}
        self._live = False

    # -- a sync response -----------------------------------------------------------------------------

    def restore_cached(self, summaries: list[RoomSummary]) -> None:
        self._cached = {s.room_id: s for s in summaries}

    @property
    def offline_view(self) -> bool:
        """The rooms shown are the cached ones: no sync has answered since the start."""
        return not self._live

    def on_sync(self, resp: r.SyncResponse) -> None:
        self._live = True
        self._cached = {}
        touched = self._to_device(resp)
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
                invite = self.invite(room_id)
                if invite is not None:
                    self._emit(InviteReceived(invite))
        for room_id, info in resp.rooms.join.items():
            rooms_changed = True
            self._known_invites.discard(room_id)
            # A join we asked for whose answer we may not have seen: this is the acceptance.
            self._sharing.joined(room_id)
            try:
                self._joined_room(room_id, info)
            except Exception:
                logger.exception("could not process the update of room %s", room_id)
        for room_id in resp.rooms.leave:
            rooms_changed = True
            if room_id in resp.rooms.invite or room_id in resp.rooms.join:
                continue  # left, then invited or joined again within this sync: the latter holds
            self._known_invites.discard(room_id)
            self.on_left(room_id)
        gone = (set(resp.rooms.join) | set(resp.rooms.leave)) - set(resp.rooms.invite)
        if gone or stored_invites is not None:
            stored_invites = stored_invites if stored_invites is not None else self._stored_invites()
            if stored_invites.keys() & gone or resp.rooms.invite:
                for room_id in gone:
                    stored_invites.pop(room_id, None)
                self._save_invites(stored_invites)
        for room_id in touched:
            self._timelines.refresh_failures(room_id)
        if rooms_changed:
            self.emit_rooms()

    def _to_device(self, resp: r.SyncResponse) -> set[str]:
        """Key bundles and withheld notices; returns rooms whose invite or UTDs may change."""
        touched: set[str] = set()
        for event in resp.to_device_events:
            try:
                if isinstance(event, DecryptedOlmEvent) and event.type in BUNDLE_EVENT_TYPES:
                    record = self._sharing.on_announcement(event.sender, event.sender_key, event.payload)
                    if record is not None:
                        touched.add(record.room_id)
                elif isinstance(event, UnknownToDeviceEvent) and event.type in BUNDLE_EVENT_TYPES:
                    self._sharing.on_plaintext_bundle(event.sender, event.type)
                elif isinstance(event, UnknownToDeviceEvent) and event.type == "m.room_key.withheld":
                    room_id = self._sharing.on_withheld(event.sender, event.source.get("content"))
                    if room_id is not None:
                        touched.add(room_id)
            except Exception:
                logger.exception("could not handle a to-device event from %s", getattr(event, "sender", "?"))
        return touched

    def _joined_room(self, room_id: str, info: Any) -> None:
        olm = self._client.olm
        for event in info.timeline.events:
            if isinstance(event, RoomHistoryVisibilityEvent) and olm is not None:
                # Sessions are tied to the visibility they were created under (MSC4268). A
                # visibility in the state section (every full sync repeats it) is compared with
                # the session's before the next send (AppOlm.check_outbound_session).
                olm.discard_outbound_session(room_id, "history visibility changed")
        self._timelines.on_sync(room_id, info)

    def on_left(self, room_id: str) -> None:
        self._timelines.forget(room_id)
        self._sharing.left(room_id)
        self._client.rooms.pop(room_id, None)
        self._client.invited_rooms.pop(room_id, None)
        self._known_invites.discard(room_id)

    # -- invites we keep ourselves ---------------------------------------------------------------------
    # Synapse does not repeat pending invites in an incremental sync, even with full_state, so we
    # keep their stripped state and rebuild nio's invited rooms from it on start.

    def _stored_invites(self) -> dict[str, Any]:
        assert self._client.store
        value = self._client.store.get_kv("invites", {})
        return value if isinstance(value, dict) else {}

    def _save_invites(self, invites: dict[str, Any]) -> None:
        assert self._client.store
        self._client.store.put_kv("invites", invites)

    def restore_invites(self) -> None:
        for room_id, raw in self._stored_invites().items():
            events = raw.get("invite_state", {}).get("events", []) if isinstance(raw, dict) else []
            room = self._client._get_invited_room(room_id)
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
        room = self._client.invited_rooms.get(room_id)
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

    # -- what front ends read -------------------------------------------------------------------------

    def history_visibility(self, room_id: str) -> str | None:
        room = self._client.rooms.get(room_id)
        return room.history_visibility if room else None

    def summaries(self) -> list[RoomSummary]:
        out = [self._summary(room) for room in self._client.rooms.values()]
        if not self._live:
            out += [s for room_id, s in self._cached.items() if room_id not in self._client.rooms]
        out.sort(key=lambda s: (-self._timelines.last_timestamp(s.room_id), s.name.lower()))
        return out

    def summary(self, room_id: str) -> RoomSummary | None:
        room = self._client.rooms.get(room_id)
        if room is None:
            return None if self._live else self._cached.get(room_id)
        return self._summary(room)

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
            incoming_keys=self._sharing.incoming(room.room_id),
        )

    def invites(self) -> list[Invite]:
        return [i for room_id in list(self._client.invited_rooms) if (i := self.invite(room_id))]

    def invite(self, room_id: str) -> Invite | None:
        room = self._client.invited_rooms.get(room_id)
        if room is None:
            return None
        inviter = room.inviter
        bundle = self._sharing.bundle(room_id, inviter) if inviter else None
        return Invite(
            room_id=room_id,
            name=room.display_name or room_id,
            inviter=inviter,
            inviter_name=room.user_name(inviter) if inviter else None,
            encrypted=room.encrypted,
            bundle=bundle.summary() if bundle else None,
        )

    def emit_rooms(self) -> None:
        self._emit(RoomsChanged(tuple(self.summaries()), tuple(self.invites())))
