"""Rooms, invites and memberships: what a sync response changes, and the summaries front ends
read. Key bundles and withheld notices arriving over to-device go to history sharing; timeline
sections go to the timelines."""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.events import InviteEvent, RoomHistoryVisibilityEvent, UnknownToDeviceEvent

from .events import EngineEvent, InviteReceived, RoomsChanged
from .history_sharing.bundle import BUNDLE_EVENT_TYPES
from .models import Invite, Member, RoomSummary, SpaceChild, listing_order
from .nio.olm import DecryptedOlmEvent
from .spaces import children as space_children

if TYPE_CHECKING:
    from .activity import Activity
    from .directs import DirectChats
    from .history_sharing.service import HistorySharing
    from .nio.client import EngineClient
    from .notifications.notifier import Notifier
    from .spaces import Spaces
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
        # Set by the engine once the parts exist (they need each other).
        self.directs: DirectChats | None = None
        self.spaces: Spaces | None = None
        self.notifier: Notifier | None = None
        self.activity: Activity | None = None
        self.refresh_space: Callable[[str], object] = lambda space_id: None
        # What an invite's stripped state says beyond nio's model: (is_direct, is_space).
        self._invite_flags: dict[str, tuple[bool, bool]] = {}

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
        rooms_changed |= self._account_data(getattr(resp, "raw", None) or {})
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
            if self.activity is not None and info.ephemeral:
                try:
                    self.activity.on_ephemeral(room_id, info.ephemeral)
                except Exception:
                    logger.exception("could not process typing or receipts in %s", room_id)
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
        self._check_spaces(resp.rooms.join)
        if rooms_changed:
            self.emit_rooms()

    def _account_data(self, raw: dict[str, Any]) -> bool:
        """m.direct and m.push_rules from a sync; True if the rooms shown change."""
        found = raw.get("account_data")
        data = found if isinstance(found, dict) else {}
        changed = False
        if "m.direct" in data and self.directs is not None:
            changed = self.directs.on_account_data(data["m.direct"])
        if "m.push_rules" in data and self.notifier is not None:
            self.notifier.on_push_rules(data["m.push_rules"])
        return changed

    def _check_spaces(self, joined: Any) -> None:
        """Ask the server about the children of spaces whose list of children changed."""
        if self.spaces is None:
            return
        for room_id in joined:
            room = self._client.rooms.get(room_id)
            if room is not None and room.room_type == "m.space" and self.spaces.stale(room_id, room.children):
                self.refresh_space(room_id)

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
        self._invite_flags.pop(room_id, None)
        if self.notifier is not None:
            self.notifier.forget(room_id)
        if self.spaces is not None:
            self.spaces.forget(room_id)
        if self.activity is not None:
            self.activity.forget(room_id)
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
                    # (nio's parsers take fields out of the dict: give it a copy, the raw state
                    # is read again below.)
                    event = InviteEvent.parse_event(copy.deepcopy(event_dict))
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
        is_direct = is_space = False
        for event in events:
            if not isinstance(event, dict) or not isinstance(event.get("content"), dict):
                continue
            content = event["content"]
            if event.get("type") == "m.room.encryption":
                room.encrypted = True
            elif event.get("type") == "m.room.topic" and isinstance(content.get("topic"), str):
                room.topic = content["topic"]
            elif event.get("type") == "m.room.create":
                is_space = content.get("type") == "m.space"
            elif (
                event.get("type") == "m.room.member"
                and event.get("state_key") == self._client.user_id
                and content.get("membership") == "invite"
            ):
                # The inviter's client says whether this is a direct chat (createRoom is_direct).
                is_direct = content.get("is_direct") is True
        self._invite_flags[room_id] = (is_direct, is_space)

    # -- what front ends read -------------------------------------------------------------------------

    def history_visibility(self, room_id: str) -> str | None:
        room = self._client.rooms.get(room_id)
        return room.history_visibility if room else None

    def summaries(self) -> list[RoomSummary]:
        out = [self._summary(room) for room in self._client.rooms.values()]
        if not self._live:
            out += [s for room_id, s in self._cached.items() if room_id not in self._client.rooms]
        # (A cached room's summary is as old as the cache; its timeline may be newer.)
        out.sort(key=lambda s: listing_order(s, self._timelines.last_timestamp(s.room_id)))
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
        room_id = room.room_id
        dm_user = self.directs.partner(room_id, room.users) if self.directs is not None else None
        name = room.display_name or room_id
        if dm_user is not None and not room.name:
            # A direct chat is called after the person, whatever the server's heroes say.
            name = room.user_name(dm_user) or dm_user
        is_space = room.room_type == "m.space"
        children: tuple[SpaceChild, ...] = ()
        if is_space and self.spaces is not None:
            children = space_children(room_id, room.children, self.spaces.known(room_id), self._client.rooms.get)
        local = self.notifier.unread_highlights(room_id) if self.notifier is not None else 0
        return RoomSummary(
            room_id=room_id,
            name=name,
            topic=room.topic,
            encrypted=room.encrypted,
            history_visibility=room.history_visibility,
            members=members,
            unread=max(room.unread_notifications, local),
            highlight=max(room.unread_highlights, local),
            incoming_keys=self._sharing.incoming(room_id),
            is_direct=dm_user is not None,
            dm_user=dm_user,
            is_space=is_space,
            children=children,
            last_active=self._timelines.last_timestamp(room_id),
        )

    def invites(self) -> list[Invite]:
        return [i for room_id in list(self._client.invited_rooms) if (i := self.invite(room_id))]

    def invite(self, room_id: str) -> Invite | None:
        room = self._client.invited_rooms.get(room_id)
        if room is None:
            return None
        inviter = room.inviter
        bundle = self._sharing.bundle(room_id, inviter) if inviter else None
        is_direct, is_space = self._invite_flags.get(room_id, (False, False))
        return Invite(
            room_id=room_id,
            name=room.display_name or room_id,
            inviter=inviter,
            inviter_name=room.user_name(inviter) if inviter else None,
            encrypted=room.encrypted,
            bundle=bundle.summary() if bundle else None,
            is_direct=is_direct,
            is_space=is_space,
        )

    def invite_is_direct(self, room_id: str) -> bool:
        return self._invite_flags.get(room_id, (False, False))[0]

    def emit_rooms(self) -> None:
        self._emit(RoomsChanged(tuple(self.summaries()), tuple(self.invites())))
