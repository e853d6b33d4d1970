"""The main screen: room list on the left; on the right the open room (header, timeline, detail
line, composer) or the highlighted invite; status bar and footer at the bottom.

It turns what the user does into engine commands (in workers, through the app's bridge) and feeds
the timeline with what the app forwards from the engine.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from pathlib import Path
from dataclasses import replace
from typing import TYPE_CHECKING, Any, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.reactive import reactive
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import ContentSwitcher, Static, TextArea

from ...engine.api import EngineAPI
from ...engine.errors_text import LAST_MEMBER_EFFECT, is_last_member
from ...engine.models import RoomSummary, SpaceChild, TimelineItem
from .. import slash_commands
from ..describe import backup_line, identity_warning, person, room_line, trust_line, typing_line, visibility_line
from ..formatting import clean
from ..widgets.composer import Composer
from ..widgets.footer import Footer
from ..widgets.invite_card import InviteCard
from ..widgets.message import MessageView, item_details
from ..widgets.room_list import INVITE_PREFIX, RoomList
from ..widgets.space_card import ChildCard, SpaceCard
from ..widgets.status import StatusBar
from ..widgets.timeline import Timeline
from .confirm import ConfirmScreen
from .message_actions import MessageActions
from .share_preview import SharePreviewScreen
from ..workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TuiApp

logger = logging.getLogger(__name__)


def _setter(target: object, name: str) -> Callable[[object], None]:
    def set_value(value: object) -> None:
        setattr(target, name, value)

    return set_value


class MainScreen(ReportsWorkerErrors, MessageActions, Screen):
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

    current_room: reactive[str | None] = reactive(None, init=False)

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
                yield Static(id="room-header", markup=False)
                yield Static(id="identity-warning", markup=False)
                with ContentSwitcher(initial="conversation", id="pane"):
                    with Vertical(id="conversation"):
                        yield Timeline(self.tui.time_format, id="timeline")
                        yield Static(id="detail", markup=False)
                        yield Static(id="typing", markup=False)
                        yield Static(id="transfer", markup=False)
                        yield Static(id="composer-context", markup=False)
                        yield Composer(id="composer")
                    yield Vertical(id="invite-pane")
                    yield Vertical(id="space-pane")
        yield StatusBar(now=self.tui.now, id="status")
        yield Footer(compact=True)

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
            self.query_one("#invite-pane InviteCard").focus()  # focus follows the pane

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
        if self.query_one(ContentSwitcher).current == "invite-pane":
            header.update(Content.styled("Invitation", "bold"))
            self._update_warning(None)
            return
        if self.query_one(ContentSwitcher).current == "space-pane":
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

    # -- the timeline ------------------------------------------------------------------------

    @work(exclusive=True, group="timeline", name="Loading the timeline", exit_on_error=False)
    async def load_timeline(self, room_id: str) -> None:
        # Engine events for this room that arrive while we read its snapshot and build the
        # views would find no view to update: hold them and replay them afterwards, in order.
        # (Each carries the item as it was when emitted, so replaying them in order ends on the
        # newest state whether or not the snapshot already had it.)
        self._loading_room, self._held = room_id, []
        # Typing and receipts that change while we read the room's state: the newest wins over
        # what the read returned (it may be older than they are).
        self._held_typing, self._held_readers = None, None
        try:
            def opened(engine: EngineAPI) -> tuple[Any, ...]:
                engine.room_opened(room_id)  # its keys come from the key backup first, in the background
                return (engine.timeline(room_id), engine.timeline_at_start(room_id), engine.read_marker(room_id),
                        engine.receipts(room_id), engine.typing(room_id))

            items, at_start, marker, readers, typing = await self.tui.bridge.read(opened)
            if room_id != self.current_room:
                return
            timeline = self.query_one(Timeline)
            await timeline.show(room_id, items, at_start, read_marker=marker, readers=readers)
        finally:
            held, self._held = self._held, []
            held_typing, held_readers = self._held_typing, self._held_readers
            self._held_typing = self._held_readers = None
            if self._loading_room == room_id:
                self._loading_room = None
        self._set_typing(held_typing if held_typing is not None else typing)
        if held_readers is not None:
            timeline.set_readers(held_readers)
        for item_or_items, at_start_flag in held:
            if isinstance(item_or_items, tuple):
                await timeline.add_items(item_or_items, at_start=at_start_flag)
            else:
                timeline.update_item(item_or_items)
        self.mark_read(room_id)

    async def timeline_items_added(self, room_id: str, items: tuple[TimelineItem, ...], at_start: bool) -> None:
        if room_id == self._loading_room:
            self._held.append((items, at_start))
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            await timeline.add_items(items, at_start=at_start)
            if not at_start:
                self.mark_read(room_id)

    def timeline_item_updated(self, room_id: str, item: TimelineItem) -> None:
        if room_id == self._loading_room:
            self._held.append((item, False))
            return
        if room_id == self.current_room:
            self.query_one(Timeline).update_item(item)

    async def timeline_items_removed(self, room_id: str, event_ids: tuple[str, ...]) -> None:
        if room_id == self._loading_room:
            self.load_timeline(room_id)  # (rare) read the room again once it is loaded
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            await timeline.remove_items(event_ids)

    def typing_changed(self, room_id: str, names: tuple[str, ...]) -> None:
        if room_id == self._loading_room:
            self._held_typing = names
        elif room_id == self.current_room:
            self._set_typing(names)

    def receipts_changed(self, room_id: str, readers: dict[str, tuple[str, ...]]) -> None:
        if room_id == self._loading_room:
            self._held_readers = readers
            return
        timeline = self.query_one(Timeline)
        if room_id == self.current_room and timeline.room_id == room_id:
            timeline.set_readers(readers)

    def _set_typing(self, names: tuple[str, ...]) -> None:
        line = self.query_one("#typing", Static)
        line.update(Content(clean(typing_line(names))))
        line.display = bool(names)

    def timeline_reset(self, room_id: str) -> None:
        if room_id == self.current_room:
            self.load_timeline(room_id)

    @on(Timeline.OlderWanted)
    def _older_wanted(self, message: Timeline.OlderWanted) -> None:
        self.load_older(message.room_id)

    @work(exclusive=True, group="older", name="Loading older messages", exit_on_error=False)
    async def load_older(self, room_id: str) -> None:
        timeline = self.query_one(Timeline)
        try:
            added = await self.tui.bridge.call(lambda e: e.paginate_back(room_id, 40))
            at_start = await self.tui.bridge.read(lambda e: e.timeline_at_start(room_id))
        except Exception:
            if timeline.room_id == room_id:
                timeline.loading_older = False
            raise
        if timeline.room_id == room_id:
            await timeline.add_items(added, at_start=True)
            timeline.older_loaded(at_start)

    @on(Timeline.DetailsWanted)
    def _details_wanted(self, message: Timeline.DetailsWanted) -> None:
        from .event_details import EventDetailsScreen

        room = self.room(message.item.room_id)
        self.app.push_screen(EventDetailsScreen(message.item, room.name if room else message.item.room_id))

    # -- replying, editing, reacting, deleting, threads ---------------------------------------

    def _actions_room(self) -> str | None:
        return self.current_room

    @on(Timeline.MessageAction)
    def _message_action(self, message: Timeline.MessageAction) -> None:
        self.message_action(message.action, message.item)

    def open_thread(self, item: TimelineItem) -> None:
        from .thread import ThreadScreen

        room = self.room(item.room_id)
        root = item
        if item.thread_root is not None:
            root = next((i for i in self.query_one(Timeline).items if i.event_id == item.thread_root), item)
            if root.event_id != item.thread_root:  # the root is not loaded: the thread screen loads it
                root = replace(item, event_id=item.thread_root, body=None, thread_root=None, reply=None)
        self.app.push_screen(ThreadScreen(item.room_id, room.name if room else item.room_id, root))

    @on(Composer.ContextChanged)
    def _context_changed(self, message: Composer.ContextChanged) -> None:
        label = self.query_one("#composer-context", Static)
        binding = next(b for b in Composer.BINDINGS if isinstance(b, Binding) and b.id == "cancel_context")
        content = self.context_label(message.context, self.tui.keys_for(binding).split(" / ")[0])
        label.update(content or "")
        label.display = content is not None

    @on(Timeline.Selected)
    def _selected(self, message: Timeline.Selected) -> None:
        detail = self.query_one("#detail", Static)
        if message.item is None:
            detail.display = False
            return
        detail.update(item_details(message.item, self.tui.time_format))
        detail.display = True

    @work(exclusive=True, group="mark_read", name="Marking as read", exit_on_error=False)
    async def mark_read(self, room_id: str) -> None:
        await asyncio.sleep(0.5)  # one read marker per burst of messages
        await self.tui.bridge.call(lambda e: e.mark_read(room_id))

    # -- the composer ------------------------------------------------------------------------

    @on(TextArea.Changed, "#composer")
    def _composer_changed(self, event: TextArea.Changed) -> None:
        """Tell the room we are typing (at most every 20 s while we do), and that we stopped
        when the text is gone, sent, or left alone for 5 s."""
        room_id = self.current_room
        text = event.text_area.text
        active = bool(room_id) and bool(text.strip()) and not text.startswith("/")
        if self._typing_idle is not None:
            self._typing_idle.stop()
            self._typing_idle = None
        if active:
            now = time.monotonic()
            if self._typing_room != room_id or now - self._typing_at > 20:
                self._send_typing(room_id, True)
                self._typing_at = now
            self._typing_idle = self.set_timer(5, self._stop_typing)
        else:
            self._stop_typing()

    def _stop_typing(self) -> None:
        if self._typing_room is not None:
            self._send_typing(self._typing_room, False)

    def _send_typing(self, room_id: str | None, typing: bool) -> None:
        if room_id is None or not self.tui.settings.send_typing:
            return
        if typing and self._typing_room not in (None, room_id):
            self._send_typing(self._typing_room, False)
        self._typing_room = room_id if typing else None
        if not typing:
            self._typing_at = 0.0
        self.run_worker(self.tui.bridge.call(lambda e: e.set_typing(room_id, typing)),
                        group="typing", name="Typing notice", exit_on_error=False)

    @on(Composer.Submitted)
    def _submitted(self, message: Composer.Submitted) -> None:
        composer = self.query_one(Composer)
        try:
            action = slash_commands.parse(message.text)
        except slash_commands.CommandError as exc:
            self.notify(str(exc), title="Command", severity="error")
            composer.restore(message.text, message.context)
            return
        if isinstance(action, slash_commands.CommandHelp):
            self.app.action_help()
            return
        if isinstance(action, slash_commands.JoinRoom):
            self.join_room(action.room)
            return
        if isinstance(action, slash_commands.DirectChat):
            self.open_dm(action.user_id)
            return
        if isinstance(action, slash_commands.SendFile):
            if self.current_room is None:
                self.notify("Open a room first.", severity="warning")
                composer.restore(message.text)
                return
            self.send_file(self.current_room, action.path)
            return
        room = self.room(self.current_room)
        if room is None:
            self.notify("Open a room first (or /join one).", severity="warning")
            composer.restore(message.text)
            return
        if isinstance(action, slash_commands.SendText):
            self.send_with_context(room.room_id, action.text, action.emote, message.context)
        elif isinstance(action, slash_commands.InviteUser):
            self.invite_user(room, action.user_id)
        elif isinstance(action, slash_commands.LeaveRoom):
            self._confirm_leave(room)
        elif isinstance(action, slash_commands.SetVisibility):
            self.set_visibility(room.room_id, action.visibility)

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

    # -- files -----------------------------------------------------------------------------------

    @work(group="upload", name="Sending the file", exit_on_error=False)
    async def send_file(self, room_id: str, path_text: str) -> None:
        path = Path(path_text).expanduser()
        transfer_id = f"upload-{len(self._uploads)}-{time.monotonic_ns()}"
        self._uploads[transfer_id] = path.name
        self._show_transfer(f"Sending {path.name}…")
        try:
            await self.tui.bridge.call(lambda e: e.send_file(room_id, path, transfer_id=transfer_id))
        finally:
            self._uploads.pop(transfer_id, None)
            self._show_transfer(None)
            self.refresh_bindings()

    def transfer_progress(self, event: Any) -> None:
        if event.upload and event.transfer_id in self._uploads:
            percent = f"{100 * event.done // event.total}%" if event.total else f"{event.done:,} bytes"
            self._show_transfer(f"Sending {event.name}… {percent} ({self._key('cancel_upload')} cancels)")
            self.refresh_bindings()

    def _show_transfer(self, text: str | None) -> None:
        line = self.query_one("#transfer", Static)
        line.update(Content.styled(clean(text or ""), "$text-accent"))
        line.display = bool(text)

    def action_cancel_upload(self) -> None:
        transfers = list(self._uploads)

        def cancel(engine: Any) -> None:
            for transfer_id in transfers:
                engine.cancel_transfer(transfer_id)

        self.run_worker(self.tui.bridge.read(cancel), name="Cancelling the upload", exit_on_error=False)
        self.notify("Upload cancelled.")

    def ask_send_file(self) -> None:
        from .send_file import SendFileScreen

        def chosen(path: str | None) -> None:
            if path and self.current_room:
                self.send_file(self.current_room, path)

        if self.current_room is None:
            self.notify("Open a room first.", severity="warning")
            return
        self.app.push_screen(SendFileScreen(), chosen)

    @on(Timeline.FileWanted)
    def _file_wanted(self, message: Timeline.FileWanted) -> None:
        self.save_file(message.item.room_id, message.item.event_id, message.open)

    @on(MessageView.PreviewWanted)
    def _preview_wanted(self, message: MessageView.PreviewWanted) -> None:
        if self.tui.settings.image_previews:
            self.load_preview(message.view)

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

    # -- crypto: inspector, identities, key files ---------------------------------------------

    def _inspected(self) -> tuple[str, str] | None:
        """(room id, name) of what the inspector would show: the open room or highlighted invite."""
        switchers = self.query(ContentSwitcher)
        if not switchers:
            return None
        if switchers.first().current == "invite-pane":
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

        room = self.room(self.current_room) if self.query_one(ContentSwitcher).current == "conversation" else None
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
