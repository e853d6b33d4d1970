"""What a user does to rooms: create, send, invite (sharing the history first), join (accepting
an invite), leave, change who can read the history, mark as read.

A little over the usual length because there are many commands; each is short, and anything
with rules of its own lives apart (`history_sharing`, `directs`, `transfers`).
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.api import RoomPreset, RoomVisibility

from ..config import HISTORY_VISIBILITIES, Settings
from .errors import EngineError, SharingFailed
from .history_sharing.rules import InviteeFacts
from .history_sharing.service import ImportResult, SharePreview, SharingError, ShareResult
from .models import SharePrediction, TimelineItem
from .outgoing import (
    MAX_REACTION_KEY,
    edit_content,
    reaction_content,
    reply_content,
    text_content,
    thread_content,
    with_edit_mentions,
    with_mentions,
)
from .timeline.timelines import error_text

if TYPE_CHECKING:
    from .directs import DirectChats
    from .history_sharing.service import HistorySharing
    from .notifications.notifier import Notifier
    from .spaces import Spaces
    from .nio.client import EngineClient
    from .rooms import Rooms
    from .sync import SyncLoop
    from .timeline.timelines import Timelines

logger = logging.getLogger(__name__)

USER_ID = re.compile(r"^@[^:\s]+:\S+$")


class RoomCommands:
    def __init__(
        self,
        client: EngineClient,
        sync: SyncLoop,
        rooms: Rooms,
        timelines: Timelines,
        sharing: HistorySharing,
        settings: Settings,
    ) -> None:
        self._client = client
        self._sync = sync
        self._rooms = rooms
        self._timelines = timelines
        self._sharing = sharing
        self._settings = settings
        # Set by the engine once they exist.
        self.directs: DirectChats | None = None
        self.notifier: Notifier | None = None
        self.spaces: Spaces | None = None

    async def resolve(self, room: str, *, invited_ok: bool = False) -> str:
        """A room id from an id, an alias or an exact room name."""
        if room.startswith("!"):
            return room
        if room.startswith("#"):
            resp = await self._client.room_resolve_alias(room)
            room_id = getattr(resp, "room_id", None)
            if not room_id:
                raise EngineError(f"no room has the alias {room}")
            return str(room_id)
        candidates = [s.room_id for s in self._rooms.summaries() if s.name == room]
        if invited_ok:
            candidates += [i.room_id for i in self._rooms.invites() if i.name == room]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            raise EngineError(f"no room called {room!r} (use a room id, an alias or an exact name)")
        raise EngineError(f"{len(candidates)} rooms are called {room!r}; use the room id")

    async def create_room(
        self,
        name: str,
        *,
        encrypted: bool = True,
        history_visibility: str | None = None,
        topic: str | None = None,
        invite: tuple[str, ...] = (),
    ) -> str:
        visibility = history_visibility or self._settings.default_history_visibility
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
        resp = await self._client.room_create(
            visibility=RoomVisibility.private,
            name=name,
            topic=topic,
            preset=RoomPreset.private_chat,
            initial_state=initial_state,
        )
        if not isinstance(resp, r.RoomCreateResponse):
            raise EngineError(f"could not create the room: {error_text(resp)}")
        room_id = resp.room_id
        logger.info("created room %s (%s, encrypted=%s, history=%s)", room_id, name, encrypted, visibility)
        await self._sync.wait_until(lambda: self._room_ready(room_id, encrypted), 30)
        for user_id in invite:
            await self.invite(room_id, user_id)
        return room_id

    def _room_ready(self, room_id: str, encrypted: bool) -> bool:
        room = self._client.rooms.get(room_id)
        return room is not None and (room.encrypted or not encrypted)

    async def joined_room(self, room_id: str) -> Any:
        client = self._client
        if room_id not in client.rooms:
            await self._sync.wait_until(lambda: room_id in client.rooms, 10)
        room = client.rooms.get(room_id)
        if room is None:
            raise EngineError(f"you are not in room {room_id}")
        return room

    async def send_text(self, room_id: str, text: str, *, emote: bool = False, notice: bool = False) -> str:
        if not text.strip():
            raise EngineError("nothing to send")
        room = await self.joined_room(room_id)
        msgtype = "m.emote" if emote else "m.notice" if notice else "m.text"
        content = with_mentions(text_content(text, msgtype=msgtype), self._members(room), self._client.user_id)
        return await self.send_event(room_id, "m.room.message", content)

    @staticmethod
    def _members(room: Any) -> dict[str, str | None]:
        """Who a message may mention: the room's members and their display names."""
        return {uid: u.display_name for uid, u in room.users.items()}

    # -- replies, threads, edits, reactions, deletions --------------------------------------------

    async def _target(self, room_id: str, event_id: str, doing: str) -> tuple[Any, TimelineItem]:
        room = await self.joined_room(room_id)
        item = await self._timelines.fetch(room_id, event_id)
        if item is None:
            raise EngineError(f"cannot {doing}: there is no message {event_id} in this room (or it is not one you can see)")
        if item.redacted:
            raise EngineError(f"cannot {doing}: that message was deleted")
        return room, item

    async def reply(self, room_id: str, event_id: str, text: str, *, in_thread: bool = False, emote: bool = False) -> str:
        """Reply to a message. Inside a thread the reply stays there. `in_thread`: write in the
        thread of `event_id` (started from it if it is not in one yet) without replying to it."""
        if not text.strip():
            raise EngineError("nothing to send")
        msgtype = "m.emote" if emote else "m.text"
        room, target = await self._target(room_id, event_id, "reply")
        if in_thread:
            root = target.thread_root or target.event_id
            latest = self._timelines.latest_in_thread(room_id, root)
            content = thread_content(text, root, latest, msgtype=msgtype)
        else:
            content = reply_content(
                text, target.event_id, target.sender, own_user_id=self._client.user_id, msgtype=msgtype,
                thread_root=target.thread_root,
            )
        # Whom the reply mentions in its text, besides whom it replies to.
        content = with_mentions(content, self._members(room), self._client.user_id)
        return await self.send_event(room_id, "m.room.message", content, "reply")

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        """Replace the text of one of our own messages."""
        if not text.strip():
            raise EngineError("nothing to send (to delete a message, delete it)")
        room, target = await self._target(room_id, event_id, "edit")
        if not target.own:
            raise EngineError("you can only edit your own messages")
        if not target.editable:
            raise EngineError("only text messages can be edited")
        content = edit_content(text, event_id, msgtype=target.msgtype or "m.text")
        content = with_edit_mentions(content, self._members(room), self._client.user_id, target.body or "")
        return await self.send_event(room_id, "m.room.message", content, "edit")

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        """React to a message with `key` (an emoji or a short text)."""
        key = key.strip()
        if not key:
            raise EngineError("a reaction needs a key, e.g. 👍")
        if len(key) > MAX_REACTION_KEY:
            raise EngineError(f"a reaction is at most {MAX_REACTION_KEY} characters")
        _, target = await self._target(room_id, event_id, "react")
        held = target.reaction(key)
        if held is not None and held.own_event_id is not None:
            raise EngineError(f"you already reacted with {key}; delete that reaction to take it back")
        return await self.send_event(room_id, "m.reaction", reaction_content(event_id, key), "react")

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        """Delete a message (ours, or anyone's with the power to), and our own edits of it, whose
        text would otherwise stay on the server. Returns the redaction's event id."""
        await self.joined_room(room_id)
        item = await self._timelines.fetch(room_id, event_id)
        if item is not None and item.redacted:
            raise EngineError("that message is already deleted")
        resp = await self._client.room_redact(room_id, event_id, reason or None)
        if not isinstance(resp, r.RoomRedactResponse):
            raise EngineError(f"could not delete: {error_text(resp)}")
        for version in (item.edits[1:] if item is not None and item.own else ()):
            edit = await self._client.room_redact(room_id, version.event_id, reason or None)
            if not isinstance(edit, r.RoomRedactResponse):
                logger.warning("could not delete the edit %s of %s: %s", version.event_id, event_id, error_text(edit))
        return str(resp.event_id)

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any], what: str = "send") -> str:
        """Send any room event as it is (encrypted in an encrypted room, its m.relates_to copied
        into the clear by nio; reactions go unencrypted, as Element sends them). Returns its
        event id."""
        room = await self.joined_room(room_id)
        if room.encrypted:
            await self._prepare_encrypted_send(room_id)
        try:
            resp = await self._client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
        except Exception as exc:
            raise EngineError(f"could not {what}: {exc or type(exc).__name__}") from exc
        if not isinstance(resp, r.RoomSendResponse):
            raise EngineError(f"could not {what}: {error_text(resp)}")
        return str(resp.event_id)

    async def send_content(self, room_id: str, content: dict[str, Any], what: str = "send") -> str:
        """Send an m.room.message with `content` as it is (encrypted in an encrypted room)."""
        return await self.send_event(room_id, "m.room.message", content, what)

    def display_name_in(self, room_id: str | None, user_id: str) -> str | None:
        room = self._client.rooms.get(room_id) if room_id else None
        name = room.user_name(user_id) if room is not None else None
        return str(name) if name else None

    # -- direct chats, for verification ----------------------------------------------------------------

    def _direct_rooms(self, user_id: str) -> list[tuple[bool, str]]:
        """(they joined, room id) of encrypted rooms holding exactly us and `user_id`."""
        found = []
        for room_id, room in self._client.rooms.items():
            users = room.users
            if not room.encrypted or set(users) != {self._client.user_id, user_id}:
                continue
            found.append((not users[user_id].invited, room_id))
        return sorted(found, reverse=True)

    async def direct_room(self, user_id: str, timeout: float = 120.0) -> str:
        """An encrypted direct chat with `user_id` that they have joined: an existing one, or the
        one `open_dm` makes (they are invited and we wait up to `timeout` seconds for them)."""
        found = self._direct_rooms(user_id)
        if found and found[0][0]:
            return found[0][1]
        room_id = found[0][1] if found else await self.open_dm(user_id)
        client = self._client

        def joined() -> bool:
            room = client.rooms.get(room_id)
            member = room.users.get(user_id) if room is not None else None
            return member is not None and not member.invited

        if not await self._sync.wait_until(joined, timeout):
            raise EngineError(f"{user_id} has not joined the direct chat yet; try again once they have")
        return room_id

    async def _prepare_encrypted_send(self, room_id: str) -> None:
        """Make sure we know every member's devices before a new Megolm session goes out."""
        room = self._client.rooms[room_id]
        if not room.members_synced:
            await self._client.joined_members(room_id)
        if self._client.should_query_keys:
            await self._sync.query_keys()
        assert self._client.olm is not None
        # A session kept from an earlier run continues only if the room is as it was.
        self._client.olm.check_outbound_session(room_id, room.users, room.history_visibility)

    # -- inviting, with the history -----------------------------------------------------------------

    def share_preview(self, room_id: str) -> SharePreview:
        return self._sharing.preview(room_id)

    async def preview_invite(self, room_id: str, user_id: str) -> SharePreview:
        await self._sharing.sender.restore_first(room_id)  # count what the key backup holds too
        facts = await self._sharing.invitee_facts(user_id)
        return self._sharing.preview(room_id, facts)

    async def share_prediction(self, room_id: str, user_id: str) -> SharePrediction:
        """Message by message, what `user_id` would read of the loaded history if invited now."""
        return self._predict(room_id, await self._sharing.invitee_facts(user_id))

    def _predict(self, room_id: str, facts: InviteeFacts) -> SharePrediction:
        events = self._timelines.message_facts(room_id)
        names = {uid: self._timelines.display_name(room_id, uid) for uid in self._member_ids(room_id)}
        return self._sharing.predict(room_id, events, facts, names)

    def _member_ids(self, room_id: str) -> list[str]:
        room = self._client.rooms.get(room_id)
        return list(room.users) if room is not None else []

    async def invite(
        self, room_id: str, user_id: str, *, share_history: bool = True, invite_if_sharing_fails: bool = False
    ) -> ShareResult | None:
        """Invite `user_id`, first sharing the room's history keys with them (MSC4268).

        If sharing fails (rather than simply not applying), the invite is not sent and
        SharingFailed is raised, unless `invite_if_sharing_fails`."""
        client = self._client
        await self.joined_room(room_id)
        result: ShareResult | None = None
        if share_history:
            try:
                facts = await self._sharing.invitee_facts(user_id)
                result = await self._sharing.share(
                    room_id, user_id, facts=facts, predicted=self._predict(room_id, facts)
                )
            except SharingError as exc:
                if not invite_if_sharing_fails:
                    raise SharingFailed(f"{exc}; the invite was not sent") from exc
                logger.warning("inviting %s without sharing history: %s", user_id, exc)
                result = ShareResult(False, str(exc))
        resp = await client.room_invite(room_id, user_id)
        if not isinstance(resp, r.RoomInviteResponse):
            raise EngineError(f"could not invite {user_id}: {error_text(resp)}")
        logger.info("invited %s to %s", user_id, room_id)
        # Count the invitee as a member right away (as the next sync would): our next message
        # then goes out in a new Megolm session that their devices receive.
        room = client.rooms.get(room_id)
        if room is not None and room.add_member(user_id, None, None, invited=True):
            client.invalidate_outbound_session(room_id)
            assert client.olm is not None
            client.olm.users_for_key_query.add(user_id)
        return result

    async def share_history(self, room_id: str, user_id: str) -> ShareResult:
        """Send `user_id` a key bundle for the room now (what invite() does first)."""
        try:
            return await self._sharing.share(room_id, user_id)
        except SharingError as exc:
            raise SharingFailed(str(exc)) from exc

    # -- joining, leaving -------------------------------------------------------------------------------

    async def join(self, room: str, *, wait_for_keys: float = 2.0, via: tuple[str, ...] = ()) -> str:
        """Join a room or accept an invite.

        Accepting an invite is recorded before `/join` goes out, so neither a lost answer nor a
        crash loses who invited us. The inviter's key bundle is then imported in the background;
        this waits up to `wait_for_keys` seconds for it and returns either way."""
        client = self._client
        invited = client.invited_rooms.get(room)
        inviter = invited.inviter if invited is not None else None
        direct = inviter is not None and self._rooms.invite_is_direct(room)
        if inviter:
            self._sharing.before_join(room, inviter)
        if not via and invited is None and self.spaces is not None:
            via = self.spaces.via(room)  # a space's child: join through the servers it names
        try:
            resp = await (self._join_via(room, via) if via else client.join(room))
        except Exception as exc:
            raise EngineError(
                f"the server did not answer the join ({exc or type(exc).__name__}); if it went through, "
                "the room appears with the next sync and the keys shared with you are imported then"
            ) from exc
        if not isinstance(resp, r.JoinResponse):
            status = getattr(getattr(resp, "transport_response", None), "status", None)
            if inviter and isinstance(status, int) and 400 <= status < 500:
                self._sharing.join_refused(room)  # a definite no; after a 5xx the join may have happened
            raise EngineError(f"could not join {room}: {error_text(resp)}")
        room_id = resp.room_id
        await self._sync.wait_until(lambda: room_id in client.rooms, 15)
        if direct and inviter and self.directs is not None:
            # The inviter said this is a direct chat: list it as one (Element does the same).
            try:
                await self.directs.add(inviter, room_id)
                self._rooms.emit_rooms()
            except EngineError as exc:
                logger.warning("joined the direct chat %s but %s", room_id, exc)
        if inviter and room_id in client.rooms:
            self._sharing.joined(room_id)
            result: ImportResult | None = await self._sharing.wait(room_id, wait_for_keys)
            if result is None:
                logger.info("key bundle for %s: still being imported in the background", room_id)
            else:
                logger.info("key bundle for %s after joining: %s (%s)", room_id, result.state, result.detail)
        return room_id

    async def _join_via(self, room: str, via: tuple[str, ...]) -> Any:
        """POST /join with `server_name`s (nio's join cannot give them)."""
        query = "&".join(f"server_name={urllib.parse.quote(server, safe='')}" for server in via[:10])
        path = f"/_matrix/client/v3/join/{urllib.parse.quote(room, safe='')}?{query}"
        status, body = await self._client.raw_json("POST", path, {})
        if status == 200 and isinstance(body.get("room_id"), str):
            return r.JoinResponse(body["room_id"])
        return r.JoinError(body.get("error") or f"HTTP {status}", body.get("errcode"))

    # -- direct chats ---------------------------------------------------------------------------

    def existing_dm(self, user_id: str) -> str | None:
        """A direct chat with `user_id` we are in and they are in (or invited to), newest first."""
        if self.directs is None:
            return None
        for room_id in reversed(self.directs.rooms_with(user_id)):
            room = self._client.rooms.get(room_id)
            if room is not None and user_id in room.users:
                return room_id
        return None

    async def open_dm(self, user_id: str) -> str:
        """The direct chat with `user_id`: the one we have, a pending invite to one from them
        (accepted), or a new encrypted room that invites them and is listed in m.direct."""
        if not USER_ID.match(user_id):
            raise EngineError(f"{user_id!r} is not a user id; use the full form @name:server")
        if user_id == self._client.user_id:
            raise EngineError("a direct chat needs someone else")
        found = self.existing_dm(user_id)
        if found is not None:
            return found
        for room_id, room in list(self._client.invited_rooms.items()):
            if room.inviter == user_id and self._rooms.invite_is_direct(room_id):
                return await self.join(room_id)
        visibility = self._settings.default_history_visibility
        resp = await self._client.room_create(
            visibility=RoomVisibility.private,
            is_direct=True,
            preset=RoomPreset.trusted_private_chat,
            invite=[user_id],
            initial_state=[
                {"type": "m.room.history_visibility", "state_key": "",
                 "content": {"history_visibility": visibility}},
                {"type": "m.room.encryption", "state_key": "", "content": {"algorithm": "m.megolm.v1.aes-sha2"}},
            ],
        )
        if not isinstance(resp, r.RoomCreateResponse):
            raise EngineError(f"could not create the direct chat: {error_text(resp)}")
        room_id = resp.room_id
        logger.info("created a direct chat %s with %s", room_id, user_id)
        if self.directs is not None:
            await self.directs.add(user_id, room_id)
        await self._sync.wait_until(lambda: self._room_ready(room_id, True), 30)
        self._rooms.emit_rooms()
        return room_id

    async def leave(self, room_id: str) -> None:
        self._sharing.left(room_id)
        resp = await self._client.room_leave(room_id)
        if not isinstance(resp, r.RoomLeaveResponse):
            raise EngineError(f"could not leave {room_id}: {error_text(resp)}")
        self._rooms.on_left(room_id)
        self._rooms.emit_rooms()

    async def set_history_visibility(self, room_id: str, visibility: str) -> None:
        if visibility not in HISTORY_VISIBILITIES:
            raise EngineError(
                f"unknown history visibility {visibility!r}; use one of {', '.join(HISTORY_VISIBILITIES)}"
            )
        await self.joined_room(room_id)
        resp = await self._client.room_put_state(
            room_id, "m.room.history_visibility", {"history_visibility": visibility}
        )
        if not isinstance(resp, r.RoomPutStateResponse):
            raise EngineError(f"could not change the history visibility: {error_text(resp)}")
        assert self._client.olm
        self._client.olm.discard_outbound_session(room_id, "history visibility changed")
        await self._sync.wait_until(lambda: self._rooms.history_visibility(room_id) == visibility, 10)

    async def mark_read(self, room_id: str) -> None:
        items = self._timelines.items(room_id)
        if not items:
            return
        room = self._client.rooms.get(room_id)
        if room is not None:
            room.unread_notifications = 0
            room.unread_highlights = 0
        if self.notifier is not None:
            self.notifier.read_up_to(room_id, None)
        last = items[-1].event_id
        try:
            await self._client.room_read_markers(room_id, fully_read_event=last, read_event=last)
        except Exception as exc:
            logger.info("could not send a read marker: %s", exc)
        self._rooms.emit_rooms()
