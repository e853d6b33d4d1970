"""The main screen: room list on the left; on the right the open room (header, timeline, detail
line, composer) or the highlighted invite; status bar and footer at the bottom.

It turns what the user does into engine commands (in workers, through the app's bridge) and feeds
the timeline with what the app forwards from the engine. `MainScreen` holds the layout, the
bindings, the room list's side and the state; its methods come by concern from three mixins:
main_live.py (the engine's live updates: timeline, typing, receipts, upload progress),
main_messages.py (messages, the composer's commands, files) and main_rooms.py (room actions and
the crypto entry points).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import var
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Static

from ...engine.models import RoomSummary, SpaceChild
from ..describe import backup_line, identity_warning, person, room_line
from ..formatting import clean
from ..widgets.composer import Composer
from ..widgets.footer import Footer
from ..widgets.invite_card import InviteCard
from ..widgets.line import Line
from ..widgets.room_list import INVITE_PREFIX, RoomList
from ..widgets.space_card import ChildCard, SpaceCard
from ..widgets.status import StatusBar
from ..widgets.timeline import Timeline
from .main_live import MainLive
from .main_messages import MainMessages
from .main_rooms import MainRooms
from ..workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TuiApp

logger = logging.getLogger(__name__)


def _setter(target: object, name: str) -> Callable[[object], None]:
    def set_value(value: object) -> None:
        setattr(target, name, value)

    return set_value


class MainScreen(ReportsWorkerErrors, MainMessages, MainLive, MainRooms):
    BINDINGS = [
        # A priority binding: the composer (a TextArea) would take ctrl+k for "delete to the end
        # of the line"; Element's users expect the room switcher there.
        Binding("ctrl+k", "switch_room", "Find room", id="switch_room", priority=True,
                tooltip="Go to a room, direct chat or invite by typing part of its name"),
        Binding("ctrl+n", "create_room", "New room", id="create_room"),
        Binding("f12", "cancel_upload", "Cancel upload", id="cancel_upload", priority=True,
                tooltip="Stop sending the file that is going up"),
        Binding("ctrl+o", "invites", "Invites", id="invites"),
        Binding("ctrl+r", "retry_sync", "Reconnect", id="retry_sync"),
        Binding("alt+down,ctrl+down", "next_room", "Next room", id="next_room", show=False),
        Binding("alt+up,ctrl+up", "prev_room", "Previous room", id="prev_room", show=False),
        Binding("escape", "focus_composer", "Write", id="focus_composer", show=False),
        Binding("f2", "focus_rooms", "Rooms", id="focus_rooms", show=False),
        Binding("f3", "focus_timeline", "Messages", id="focus_timeline", show=False),
        Binding("f4", "inspector", "Inspector", id="crypto_inspector", show=False,
                tooltip="Crypto inspector: this room's sessions, withheld keys, bundles, devices"),
        Binding("ctrl+t", "verify_device", "Verify device", id="verify_device", show=False,
                tooltip="Verify this device with your recovery key or passphrase"),
        Binding("f10", "verify_someone", "Verify by emoji", id="verify_by_emoji", show=False,
                tooltip="Compare emoji with someone (in your direct chat) or with your other devices"),
        Binding("ctrl+g", "accept_identity", "Accept identity", id="accept_identity", show=False,
                tooltip="Accept the new identity of someone in this room, after checking with them"),
        # f5-f8 are priority bindings: the composer (a TextArea) would take f6 and f7 otherwise.
        Binding("f5", "export_keys", "Export keys", id="export_keys", show=False, priority=True,
                tooltip="Save room keys to a passphrase-protected file"),
        Binding("f6", "import_keys", "Import keys", id="import_keys", show=False, priority=True,
                tooltip="Read room keys from a key file"),
        Binding("f7", "setup_recovery", "Set up recovery", id="setup_recovery", show=False, priority=True,
                tooltip="Create a recovery key that lets your other devices verify themselves"),
        Binding("f8", "reset_identity", "Reset identity", id="reset_identity", show=False, priority=True,
                tooltip="Replace your cryptographic identity (when the recovery key is lost)"),
    ]

    # The composer from the first frame: focusing the room list first (Textual's default) then
    # the composer re-renders the footer and the list once more before the first key is read.
    AUTO_FOCUS = "#composer"

    current_room: var[str | None] = var(None, init=False)

    def __init__(self) -> None:
        super().__init__()
        self._pending_select: str | None = None
        self._send_lock = asyncio.Lock()
        self._loading_room: str | None = None
        self._held: list[tuple[Any, bool]] = []
        self._typing_room: str | None = None  # where we last said we are typing
        self._typing_at = 0.0
        self._typing_idle: Timer | None = None
        self._uploads: dict[str, str] = {}  # transfer id -> file name, while it goes up
        self._held_typing: tuple[str, ...] | None = None
        self._held_readers: dict[str, tuple[str, ...]] | None = None

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        with Horizontal(id="body"):
            yield RoomList(id="rooms")
            with Vertical(id="room-pane"):
                yield Line(id="room-header", markup=False)
                yield Line(id="identity-warning", markup=False)
                with ContentSwitcher(initial="conversation", id="pane"):
                    with Vertical(id="conversation"):
                        yield Timeline(self.tui.time_format, id="timeline")
                        yield Line(id="detail", markup=False)
                        yield Line(id="typing", markup=False)
                        yield Line(id="transfer", markup=False)
                        yield Line(id="composer-context", markup=False)
                        yield Composer(id="composer")
                    yield Vertical(id="invite-pane")
                    yield Vertical(id="space-pane")
        yield StatusBar(now=self.tui.now, id="status")
        yield Footer()

    def on_resize(self, event: events.Resize) -> None:
        # Textual hands a screen every resize the terminal reports, also one to the size it is
        # laid out at already (the app ignores those itself, but still forwards them): at start
        # two come right after the first frame, each a layout and repaint of the whole screen
        # (12-16 ms here) that the first key typed waited behind. Not Screen's own handler then.
        if event.size == self.outer_size:  # (the size it was laid out at; `size` is the app's)
            event.prevent_default()

    def on_mount(self) -> None:
        status = self.query_one(StatusBar)
        for name in ("sync_state", "user_id", "device_id"):
            self.watch(self.app, name, _setter(status, name))
        self.watch(self.app, "trust", lambda _: self._trust_changed())
        self.watch(self.app, "backup", lambda value: setattr(status, "backup", backup_line(value)))
        self.watch(self.app, "own_trust", lambda _: self._trust_changed(), init=False)
        self.watch(self.app, "rooms", lambda _: self._lists_changed())
        self.watch(self.app, "invites", lambda _: self._lists_changed(), init=False)
        self.watch(self.app, "changed_identities", lambda _: self._lists_changed(), init=False)
        self.watch(self.app, "rooms_known", lambda _: self._lists_changed(), init=False)
        self.query_one("#detail").display = False
        self.query_one("#composer-context").display = False
        self.query_one("#typing").display = False
        self.query_one("#transfer").display = False
        self.query_one("#identity-warning").display = False
        self.query_one(Composer).focus()

    # -- the room list -----------------------------------------------------------------------

    def _lists_changed(self) -> None:
        rooms, invites = self.tui.rooms, self.tui.invites
        self.query_one(RoomList).set_data(rooms, invites, frozenset(self.tui.changed_identities),
                                          known=getattr(self.tui, "rooms_known", True))
        if self._pending_select and any(r.room_id == self._pending_select for r in rooms):
            room_id, self._pending_select = self._pending_select, None
            self.query_one(RoomList).select_id(room_id)
        self._update_header()
        pane = self.query_one("#invite-pane")
        for card in pane.query(InviteCard):
            newer = next((i for i in invites if i.room_id == card.invite.room_id), None)
            if newer is not None:
                card.set_invite(newer)
        for space_card in self.query_one("#space-pane").query(SpaceCard):
            space = self.room(space_card.space.room_id)
            if space is not None:
                space_card.set_space(space, {r.room_id: r for r in rooms})
        if not rooms and not invites:
            self.current_room = None
            self.query_one(ContentSwitcher).current = "conversation"
            self.run_worker(self.query_one(Timeline).show(None, [], True), group="timeline", exclusive=True)

    def _focus_in(self, container_id: str) -> bool:
        """Whether nothing has focus or the focused widget is inside `#container_id`."""
        node = self.focused
        while node is not None and node is not self:
            if node.id == container_id:
                return True
            node = node.parent  # type: ignore[assignment]
        return self.focused is None

    def select_when_listed(self, room_id: str) -> None:
        """Open `room_id` now if it is listed, else as soon as it appears (after a join or a
        create), and put the cursor in its composer."""
        if not self.query_one(RoomList).select_id(room_id):
            self._pending_select = room_id
        if self.app.screen is self:
            self.query_one(Composer).focus()

    def room(self, room_id: str | None) -> RoomSummary | None:
        return next((r for r in self.tui.rooms if r.room_id == room_id), None)

    @on(RoomList.RoomHighlighted)
    def _room_highlighted(self, message: RoomList.RoomHighlighted) -> None:
        if self._focus_in("invite-pane") or self._focus_in("space-pane"):
            self.query_one(Composer).focus()  # focus follows the pane
        self.query_one(ContentSwitcher).current = "conversation"
        self.query_one("#invite-pane").remove_children()
        self.query_one("#space-pane").remove_children()
        if message.room_id != self.current_room:
            self.current_room = message.room_id
            composer = self.query_one(Composer)
            if composer.context is not None:
                composer.set_context(None)  # a reply or an edit belongs to the room it was started in
            self.load_timeline(message.room_id)
        self._update_header()

    @on(RoomList.SpaceHighlighted)
    async def _space_highlighted(self, message: RoomList.SpaceHighlighted) -> None:
        """A space has no chat of its own: the pane says what it is and what it lists."""
        self.current_room = None
        self._set_typing(())
        pane = self.query_one("#space-pane")
        await pane.remove_children()
        await pane.mount(SpaceCard(message.space, {r.room_id: r for r in self.tui.rooms}))
        self.query_one(ContentSwitcher).current = "space-pane"
        self._update_header()
        self.refresh_space(message.space.room_id)

    @on(RoomList.ChildHighlighted)
    async def _child_highlighted(self, message: RoomList.ChildHighlighted) -> None:
        self.current_room = None
        self._set_typing(())
        pane = self.query_one("#space-pane")
        await pane.remove_children()
        await pane.mount(ChildCard(message.child))
        self.query_one(ContentSwitcher).current = "space-pane"
        self._update_header()

    @on(RoomList.SpaceExpanded)
    def _space_expanded(self, message: RoomList.SpaceExpanded) -> None:
        self.refresh_space(message.space_id)

    @work(group="space", name="Asking about the space's rooms", exit_on_error=False)
    async def refresh_space(self, space_id: str) -> None:
        await self.tui.bridge.call(lambda e: e.refresh_space(space_id))

    @on(RoomList.JoinChild)
    @on(ChildCard.JoinWanted)
    def _join_child(self, message: RoomList.JoinChild | ChildCard.JoinWanted) -> None:
        self.join_child(message.child)

    @work(group="join", name="Joining", exit_on_error=False)
    async def join_child(self, child: SpaceChild) -> None:
        name = child.name or child.room_id
        self.notify(f"Joining {name}…")
        room_id = await self.tui.bridge.call(lambda e: e.join(child.room_id, via=child.via))
        self.notify(f"You joined {name}", title="Joined")
        self.select_when_listed(room_id)

    @on(RoomList.InviteHighlighted)
    async def _invite_highlighted(self, message: RoomList.InviteHighlighted) -> None:
        self.current_room = None
        pane = self.query_one("#invite-pane")
        await pane.remove_children()
        await pane.mount(InviteCard(message.invite))
        self.query_one(ContentSwitcher).current = "invite-pane"
        self._update_header()
        if self._focus_in("conversation"):
            # Focus follows the pane, at once: `focus()` would move it after the messages queued
            # now, and when one of them highlights a room (at start, the list settles on the
            # first room) the focus would land on this card after it was taken away, and keys
            # would go nowhere.
            self.set_focus(self.query_one("#invite-pane InviteCard"))

    @on(RoomList.Opened)
    def _opened(self, message: RoomList.Opened) -> None:
        room = self.room(message.option_id)
        if message.option_id.startswith(INVITE_PREFIX):
            self._focus_first("#invite-pane InviteCard")
        elif room is None or room.is_space:
            self._focus_first("#space-pane ChildCard")
        else:
            self.query_one(Composer).focus()

    def _focus_first(self, selector: str) -> None:
        found = self.query(selector)
        if found:
            found.first().focus()
        else:
            self.query_one(RoomList).focus()

    def _trust_changed(self) -> None:
        """The status bar's trust slot, with the key that fixes it when this device is not verified."""
        text = self.tui.trust
        if self.check_action("verify_device", ()) and text.startswith("✗"):
            text += f" ({self._key('verify_device')})"
        self.query_one(StatusBar).trust = text
        self.refresh_bindings()

    def _key(self, binding_id: str) -> str:
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return self.tui.keys_for(binding).split(" / ")[0]

    def changed_members(self, room: RoomSummary | None) -> list[tuple[str, str | None]]:
        """(user id, display name) of the members of `room` whose identity changed."""
        changed = set(self.tui.changed_identities)
        if room is None or not changed:
            return []
        return [(m.user_id, m.display_name) for m in room.members if m.user_id in changed]

    def _update_warning(self, room: RoomSummary | None) -> None:
        warning = self.query_one("#identity-warning", Static)
        people = self.changed_members(room)
        if people:
            labels = [person(user_id, name) for user_id, name in people]
            warning.update(Content.styled(clean(identity_warning(labels, self._key("accept_identity"))), "bold"))
        warning.display = bool(people)

    def _update_header(self) -> None:
        self.refresh_bindings()  # what the footer offers depends on the room (inspector, accept identity)
        header = self.query_one("#room-header", Static)
        pane = self._pane()
        shown = pane.current if pane is not None else None
        if shown == "invite-pane":
            header.update(Content.styled("Invitation", "bold"))
            self._update_warning(None)
            return
        if shown == "space-pane":
            header.update(Content.styled("Space", "bold"))
            self._update_warning(None)
            return
        room = self.room(self.current_room)
        self._update_warning(room)
        if room is None:
            header.update(Content.styled("No room open", "$foreground-muted"))
            return
        marker = "🔒 " if room.encrypted else ""
        header.update(
            Content.assemble(
                marker, (clean(room.name), "bold"), ("  ·  ", "$foreground-muted"), (clean(room_line(room)), "$foreground-muted")
            )
        )

    # -- invites -----------------------------------------------------------------------------

    @on(RoomList.AcceptInvite)
    @on(InviteCard.Accepted)
    def _accept(self, message: RoomList.AcceptInvite | InviteCard.Accepted) -> None:
        self.tui.accept_invite(message.invite)

    @on(RoomList.DeclineInvite)
    @on(InviteCard.Declined)
    def _decline(self, message: RoomList.DeclineInvite | InviteCard.Declined) -> None:
        self.tui.ask_decline(message.invite)

    # -- actions -----------------------------------------------------------------------------

    def action_switch_room(self) -> None:
        from .switcher import RoomSwitcher

        def chosen(key: str | None) -> None:
            if key is None:
                return
            room_list = self.query_one(RoomList)
            if room_list.select_id(key):
                self.post_message(RoomList.Opened(key))
            else:
                self.notify("That room is no longer listed.", severity="warning")

        self.app.push_screen(RoomSwitcher(self.tui.rooms, self.tui.invites), chosen)

    def action_next_room(self) -> None:
        self.query_one(RoomList).move(+1)

    def action_prev_room(self) -> None:
        self.query_one(RoomList).move(-1)

    def action_focus_composer(self) -> None:
        if self.query_one(ContentSwitcher).current == "conversation":
            self.query_one(Composer).focus()

    def action_focus_rooms(self) -> None:
        self.query_one(RoomList).focus()

    def action_focus_timeline(self) -> None:
        if self.query_one(ContentSwitcher).current == "conversation":
            self.query_one(Timeline).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_upload":
            return bool(self._uploads)
        if action == "retry_sync":
            return self.tui.sync_state.state in ("retrying", "offline")
        if action == "verify_device":
            trust = self.tui.own_trust
            return trust is None or getattr(trust, "device_verified", None) is not True
        if action == "setup_recovery":
            return bool(getattr(self.tui.own_trust, "have_private_keys", False))
        if action == "accept_identity":
            return bool(self.changed_members(self.room(self.current_room)))
        if action == "inspector":
            return self._inspected() is not None
        return True
