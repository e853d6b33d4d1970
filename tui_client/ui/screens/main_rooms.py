"""The main screen's room side: what the user does to rooms, and the crypto entry points.

`MainRooms` is mixed into `MainScreen` (see main.py): invite (saying first what happens to the
room's history), leave, join, direct chats, history visibility, create a room, the invites
screen, reconnect; and the crypto inspector, verification, recovery, identity reset, accepting
a new identity, and key files.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from textual import work
from textual.reactive import reactive
from textual.screen import Screen
from textual.widgets import ContentSwitcher

from ...engine.errors_text import LAST_MEMBER_EFFECT, is_last_member
from ...engine.models import RoomSummary
from ..describe import trust_line, visibility_line
from ..widgets.room_list import RoomList
from .confirm import ConfirmScreen
from .share_preview import SharePreviewScreen

if TYPE_CHECKING:
    from ..app import TuiApp


class MainRooms(Screen[Any]):
    """For `MainScreen` only (see main.py)."""

    current_room: reactive[str | None]

    if TYPE_CHECKING:
        @property
        def tui(self) -> TuiApp: ...

        def room(self, room_id: str | None) -> RoomSummary | None: ...

        def select_when_listed(self, room_id: str) -> None: ...

        def changed_members(self, room: RoomSummary | None) -> list[tuple[str, str | None]]: ...

        def _key(self, binding_id: str) -> str: ...

    @work(group="invite", name="Inviting", exit_on_error=False)
    async def invite_user(self, room: RoomSummary, user_id: str) -> None:
        """Invite, first saying what happens to the room's history when it could be shared."""

        prediction = await self.tui.bridge.call(lambda e: e.share_prediction(room.room_id, user_id))
        preview = prediction.preview
        share = True
        if room.history_shareable or preview.shareable or preview.warning:
            # The timeline as the invitee will see it, message by message (what we have loaded).
            items = await self.tui.bridge.read(lambda e: e.timeline(room.room_id))
            screen = SharePreviewScreen(room.name, user_id, prediction, {i.event_id: i for i in items})
            answer = await self.app.push_screen_wait(screen)
            if answer is None:
                return
            share = answer == "yes"

        async def invite(engine: Any) -> Any:
            if share:
                return await engine.invite(room.room_id, user_id)
            return await engine.invite(room.room_id, user_id, share_history=False)

        result = await self.tui.bridge.call(invite)
        self.tui.invited(room.room_id, user_id, result)
        if result is not None and getattr(result, "shared", False):
            self.notify(f"Invited {user_id}; {result.reason}")
        elif result is not None and share and getattr(result, "reason", None):
            self.notify(f"Invited {user_id}; history not shared: {result.reason}")
        else:
            self.notify(f"Invited {user_id}")

    def _confirm_leave(self, room: RoomSummary) -> None:
        def answered(answer: str | None) -> None:
            if answer == "yes":
                self.leave_room(room)

        question = f"Leave {room.name}?"
        if is_last_member(room, self.tui.user_id):
            question += f"\n\nYou are the only member left: if you leave, {LAST_MEMBER_EFFECT}."
        self.app.push_screen(ConfirmScreen(question, confirm="Leave"), answered)

    @work(group="leave", name="Leaving the room", exit_on_error=False)
    async def leave_room(self, room: RoomSummary) -> None:
        await self.tui.bridge.call(lambda e: e.leave(room.room_id))
        self.notify(f"You left {room.name}")

    @work(group="join", name="Joining", exit_on_error=False)
    async def join_room(self, target: str) -> None:
        self.notify(f"Joining {target}…")
        room_id = await self.tui.bridge.call(lambda e: e.join(target))
        self.notify(f"Joined {target}", title="Joined")
        self.select_when_listed(room_id)

    @work(group="join", name="Opening the direct chat", exit_on_error=False)
    async def open_dm(self, user_id: str) -> None:
        room_id = await self.tui.bridge.call(lambda e: e.open_dm(user_id))
        self.select_when_listed(room_id)

    def ask_direct_chat(self, user_id: str = "") -> None:
        from .direct_chat import DirectChatScreen

        def opened(room_id: str | None) -> None:
            if room_id:
                self.select_when_listed(room_id)

        self.app.push_screen(DirectChatScreen(user_id), opened)

    @work(group="visibility", name="Changing the history visibility", exit_on_error=False)
    async def set_visibility(self, room_id: str, visibility: str) -> None:
        await self.tui.bridge.call(lambda e: e.set_history_visibility(room_id, visibility))
        self.notify(visibility_line(visibility), title=f"History visibility: {visibility}")

    def action_create_room(self) -> None:
        from .create_room import CreateRoomRequest, CreateRoomScreen

        def created(request: CreateRoomRequest | None) -> None:
            if request is not None:
                self.tui.create_room(request.name, request.encrypted, request.history_visibility)

        self.app.push_screen(CreateRoomScreen(self.tui.settings.default_history_visibility), created)

    def action_invites(self) -> None:
        from .invites import InvitesScreen

        self.app.push_screen(InvitesScreen())

    def action_retry_sync(self) -> None:
        self.run_worker(self.tui.bridge.read(lambda e: e.retry_now()), name="Reconnecting", exit_on_error=False)
        self.notify("Reconnecting…")

    # -- crypto: inspector, identities, key files ---------------------------------------------

    _pane_switcher: ContentSwitcher | None = None

    def _pane(self) -> ContentSwitcher | None:
        """The switcher of the right-hand pane (conversation, invite, space), None before it is
        composed. Found once: a query walks every widget on the screen, and the footer asks
        `check_action` (so `_inspected`) on every refresh of the bindings."""
        if self._pane_switcher is None or self._pane_switcher.parent is None:
            found = self.query(ContentSwitcher)
            self._pane_switcher = found.first() if found else None
        return self._pane_switcher

    def _inspected(self) -> tuple[str, str] | None:
        """(room id, name) of what the inspector would show: the open room or highlighted invite."""
        pane = self._pane()
        if pane is None:
            return None
        if pane.current == "invite-pane":
            invite = self.query_one(RoomList).current_invite
            return (invite.room_id, invite.name) if invite is not None else None
        room = self.room(self.current_room)
        return (room.room_id, room.name) if room is not None else None

    def action_inspector(self) -> None:
        from .inspector import CryptoInspectorScreen

        target = self._inspected()
        if target is None:
            self.notify("Open a room first.", severity="warning")
            return
        self.app.push_screen(CryptoInspectorScreen(*target))

    def action_verify_device(self) -> None:
        from .identity import VerifyDeviceScreen

        def done(trust: Any) -> None:
            if trust is None:
                return
            if trust == "emoji":  # "compare emoji with another device" instead
                self.tui.open_verification(ask=self.tui.user_id)
                return
            self.tui.own_trust = trust
            self.tui.trust = trust_line(trust)
            if getattr(trust, "device_verified", False):
                self.notify("This device is now verified by your identity.", title="Verified")
            else:
                self.notify(getattr(trust, "detail", "") or "This device is still not verified.", severity="warning")

        self.app.push_screen(VerifyDeviceScreen(), done)

    def _direct_partner(self) -> str | None:
        """The other member of the open room, when it is a chat between two people."""
        room = self.room(self.current_room)
        if room is None:
            return None
        others = [m.user_id for m in room.members if m.user_id != self.tui.user_id]
        return others[0] if len(others) == 1 else None

    def action_verify_someone(self) -> None:
        from .verification import VerifyWhoScreen

        def chosen(user_id: str | None) -> None:
            if user_id:
                self.tui.open_verification(ask=user_id)

        self.app.push_screen(VerifyWhoScreen(self.tui.user_id, self._direct_partner()), chosen)

    def action_setup_recovery(self) -> None:
        from .identity import RecoveryScreen

        def done(key: str | None) -> None:
            if key:
                self.notify("Recovery is set up: your other devices can verify with the new recovery key.",
                            title="Recovery")

        self.app.push_screen(RecoveryScreen(), done)

    def action_reset_identity(self) -> None:
        from .identity import ResetIdentityScreen

        def done(trust: Any) -> None:
            if trust is None:
                return
            self.tui.own_trust = trust
            self.tui.trust = trust_line(trust)
            self.notify(
                "You have a new identity and this device is verified by it. Set up recovery "
                f"({self._key('setup_recovery')}) so your other devices can verify again.",
                title="Identity reset",
                timeout=15,
            )

        self.app.push_screen(ResetIdentityScreen(), done)

    def action_accept_identity(self) -> None:
        people = self.changed_members(self.room(self.current_room))
        if people:
            user_id, name = people[0]
            self.tui.ask_accept_identity(user_id, name)

    def action_export_keys(self) -> None:
        from .key_files import ExportKeysScreen

        def done(result: tuple[int, Path] | None) -> None:
            if result is not None:
                count, path = result
                self.notify(f"Exported {count} room key{'s' if count != 1 else ''} to {path}", title="Keys exported")

        pane = self._pane()
        room = self.room(self.current_room) if pane is not None and pane.current == "conversation" else None
        self.app.push_screen(ExportKeysScreen(room), done)

    def action_import_keys(self) -> None:
        from .key_files import ImportKeysScreen

        def done(result: tuple[int, int, int] | None) -> None:
            if result is not None:
                imported, known, skipped = result
                text = f"Imported {imported} room key{'s' if imported != 1 else ''}; {known} already known"
                if skipped:
                    text += f"; {skipped} skipped (unusable)"
                self.notify(text, title="Keys imported")

        self.app.push_screen(ImportKeysScreen(), done)
