"""The room list: pending invites on top (with who invited you and their key bundle), then
direct chats, spaces as collapsible trees (with the rooms they list that you have not joined),
then the other rooms; each with an encryption marker and an unread count (red for mentions).
What goes where is `ui.room_tree`'s (pure) business.

It is an `OptionList` whose prompts (room_prompts.py) are built for the current width (so
unread counts line up on the right) and kept per room while the room does not change (a list of
1,000 rooms rebuilds only what moved); it posts `RoomList.RoomHighlighted` / `RoomList.InviteHighlighted` /
`RoomList.SpaceHighlighted` when the cursor lands on a different entry, `RoomList.AcceptInvite`
/ `RoomList.DeclineInvite` for `a` / `d`, and `RoomList.JoinChild` for a space's unjoined room.
How its rows are drawn and repainted is quick_options.py's.
"""

from __future__ import annotations

from textual import events, on
from textual.binding import Binding
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.reactive import Reactive
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...engine.models import Invite, RoomSummary, SpaceChild
from .. import room_tree
from ..room_tree import INVITE_PREFIX, JOIN_PREFIX, Entry
from .quick_options import QuickOptionList
from .room_prompts import invite_prompt, room_prompt, space_prompt, unjoined_prompt
from .scrollbar import QuickScrollBars

__all__ = ["INVITE_PREFIX", "JOIN_PREFIX", "RoomList", "invite_prompt", "room_prompt"]


class RoomList(QuickScrollBars, QuickOptionList):
    """Invites, direct chats, spaces and rooms; the highlighted entry is what the rest of the
    screen shows."""

    # The list's height is the screen's, whatever it holds: a room more or less changes only its
    # virtual size, which Textual's attribute answers with a layout of the whole screen (10-18 ms
    # each time the rooms changed during a sync or an import). The scroll bar follows it without.
    virtual_size = Reactive(Size(0, 0), layout=False)
    BINDINGS = [
        Binding("down,j", "cursor_down", "Next", id="cursor_down", show=False),
        Binding("up,k", "cursor_up", "Previous", id="cursor_up", show=False),
        Binding("enter", "select", "Open", id="open_room", show=False,
                tooltip="Write in the room, answer the invite, fold or unfold the space, join the room"),
        Binding("a", "accept_invite", "Accept", id="accept_invite", tooltip="Accept the highlighted invite"),
        Binding("d", "decline_invite", "Decline", id="decline_invite", tooltip="Decline the highlighted invite"),
        Binding("space", "toggle_space", "Fold", id="toggle_space", tooltip="Fold or unfold the highlighted space"),
        Binding("J", "join_child", "Join", id="join_child", tooltip="Join the highlighted room of the space"),
    ]

    class RoomHighlighted(Message):
        def __init__(self, room_id: str) -> None:
            super().__init__()
            self.room_id = room_id

    class InviteHighlighted(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    class Opened(Message):
        """Enter on an entry: the user wants to write in the room, or to answer the invite."""

        def __init__(self, option_id: str) -> None:
            super().__init__()
            self.option_id = option_id

    class AcceptInvite(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    class DeclineInvite(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    class SpaceHighlighted(Message):
        def __init__(self, space: RoomSummary) -> None:
            super().__init__()
            self.space = space

    class ChildHighlighted(Message):
        """The cursor is on a room a space lists that we have not joined."""

        def __init__(self, child: SpaceChild) -> None:
            super().__init__()
            self.child = child

    class JoinChild(Message):
        def __init__(self, child: SpaceChild) -> None:
            super().__init__()
            self.child = child

    class SpaceExpanded(Message):
        """A space was unfolded: the screen asks the engine about its unjoined rooms."""

        def __init__(self, space_id: str) -> None:
            super().__init__()
            self.space_id = space_id

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rooms: tuple[RoomSummary, ...] = ()
        self.invites: tuple[Invite, ...] = ()
        self.changed: frozenset[str] = frozenset()  # users whose identity changed
        self.collapsed: set[str] = set()  # spaces folded by the user
        self.entries: list[Entry] = []
        self._by_key: dict[str, Entry] = {}
        self._prompts: dict[str, tuple[object, int, bool, Content]] = {}  # key -> (what, width, warn, prompt)
        self.known = True  # False: the engine has not said yet which rooms there are
        self._current: str | None = None
        self._width = 0
        self._auto_selected = False  # the highlight was our choice, not the user's
        self._deferred: tuple[str | None] | None = None  # data arrived before the first layout

    # -- data --------------------------------------------------------------------------------

    def set_data(
        self, rooms: tuple[RoomSummary, ...], invites: tuple[Invite, ...], changed: frozenset[str] = frozenset(),
        *, known: bool = True,
    ) -> None:
        """`known`: False while the engine has not answered yet (the list says it is loading)."""
        rooms, invites, changed = tuple(rooms), tuple(invites), frozenset(changed)
        if (
            (rooms, invites, changed, known) == (self.rooms, self.invites, self.changed, self.known)
            and self._deferred is None and self.options
        ):
            return  # the same list again (a sync that changed nothing here): nothing to redraw
        self.rooms, self.invites, self.changed, self.known = rooms, invites, changed, known
        keep = self._current
        if self._auto_selected and self.rooms and self.current_invite is not None:
            keep = self.rooms[0].room_id  # rooms arrived after the invites: open one
        if self._content_width() <= 0:
            # Not laid out, and no width to expect: prompts fitted to a made-up width would wrap
            # the names into shreds for a frame ("Ali / ce"). The first resize builds them.
            self._deferred = (keep,)
            self.call_after_refresh(self._build_deferred)
            return
        self._deferred = None
        self._rebuild(keep)

    def _build_deferred(self) -> None:
        if self._deferred is not None and self.scrollable_content_region.width > 0:
            deferred, self._deferred = self._deferred, None
            self._rebuild(deferred[0])

    def _prompt_width(self) -> int:
        padding = self.get_component_styles("option-list--option").padding
        return max(self._content_width() - padding.width, 10)

    def _content_width(self) -> int:
        """The options' width: once laid out, the list's own; before its first layout, what the
        stylesheet will give it (a share of the screen's width, clamped, less its border and its
        scroll bar's column, always there), so that rooms handed over before the first layout (those the
        cache kept, at start-up) are in the first frame. 0 when that cannot be told."""
        width = self.scrollable_content_region.width
        if width > 0 or not self.is_mounted:
            return width
        styles, screen = self.styles, self.app.size
        if styles.width is None or styles.width.is_auto or styles.overflow_y != "scroll":
            return 0
        cells = styles.width.resolve(screen, screen)
        if styles.min_width is not None:
            cells = max(cells, styles.min_width.resolve(screen, screen))
        if styles.max_width is not None:
            cells = min(cells, styles.max_width.resolve(screen, screen))
        return max(int(cells) - styles.gutter.width - styles.scrollbar_size_vertical, 0)

    def _rebuild(self, keep: str | None = None) -> None:
        """Re-create the options for the current width, keeping `keep` (default: the current
        entry) highlighted."""
        width = self._prompt_width()
        if width != self._width:
            self._prompts.clear()
        self._width = width
        keep = keep or self._current
        self.entries = room_tree.build(self.rooms, self.invites, frozenset(self.collapsed))
        self._by_key = {e.key: e for e in self.entries}
        options: list[Option | None] = [self._option(entry, width) for entry in self.entries]
        if not any(e.kind == "room" or e.kind == "space" for e in self.entries):
            empty = "no rooms yet — ctrl+n creates one" if self.known else "loading your rooms…"
            options.append(Option(Content.styled(empty, "italic $foreground-muted"), disabled=True))
        prompts = {e.key for e in self.entries}
        for key in [k for k in self._prompts if k not in prompts]:
            del self._prompts[key]
        with self.prevent(OptionList.OptionHighlighted):
            self.set_options(options)
        self._restore_highlight(keep)

    def _option(self, entry: Entry, width: int) -> Option:
        if entry.kind == "header":
            return Option(Content.styled(entry.label, "bold $foreground-muted"), id=entry.key, disabled=True)
        what: object
        if entry.kind == "room":
            assert entry.room is not None
            what = (entry.room, entry.depth)
            warn = self.warns(entry.room)
        elif entry.kind == "space":
            what, warn = entry, False
        elif entry.kind == "unjoined":
            what, warn = (entry.child, entry.depth), False
        else:
            what, warn = entry.invite, False
        cached = self._prompts.get(entry.key)
        if cached is not None and cached[1] == width and cached[2] == warn and cached[0] == what:
            prompt = cached[3]
        else:
            if entry.kind == "room":
                assert entry.room is not None
                prompt = room_prompt(entry.room, width, warn, entry.depth)
            elif entry.kind == "space":
                prompt = space_prompt(entry, width)
            elif entry.kind == "unjoined":
                assert entry.child is not None
                prompt = unjoined_prompt(entry.child, entry.depth, width)
            else:
                assert entry.invite is not None
                prompt = invite_prompt(entry.invite, width)
            self._prompts[entry.key] = (what, width, warn, prompt)
        return Option(prompt, id=entry.key)

    def warns(self, room: RoomSummary) -> bool:
        """Whether someone in `room` has a changed identity the user has not accepted."""
        return bool(self.changed) and any(m.user_id in self.changed for m in room.members)

    def _restore_highlight(self, option_id: str | None) -> None:
        index = None
        if option_id is not None and option_id in self._by_key:
            index = self.get_option_index(option_id)
        if index is None:
            # The entry is gone (left, joined, declined, folded away): fall back to the first
            # room, else the first invite.
            first = next((e for e in self.entries if e.kind == "room"), None) or next(
                (e for e in self.entries if e.kind in ("space", "invite")), None)
            if first is None:
                self._current = None
                return
            index = self.get_option_index(first.key)
            self._auto_selected = True
        self.highlighted = index

    def on_resize(self, event: events.Resize) -> None:
        if self.scrollable_content_region.width <= 0:
            return
        if self._deferred is not None:
            self._build_deferred()
        elif self._prompt_width() != self._width:
            self._rebuild()

    def on_key(self, event: events.Key) -> None:
        self._auto_selected = False  # from now on the user chooses

    def on_click(self, event: events.Click) -> None:
        self._auto_selected = False

    def select_id(self, option_id: str) -> bool:
        """Highlight a room (or `invite:` + room id, or a space's unjoined `join:` + room id),
        unfolding the spaces it is in; False if it is not listed (yet)."""
        self._auto_selected = False
        if option_id not in self._by_key:
            full = room_tree.build(self.rooms, self.invites)
            parents = room_tree.parents_of(full, option_id)
            if not any(e.key == option_id for e in full):
                return False
            if any(p in self.collapsed for p in parents):
                self.collapsed.difference_update(parents)
                self._rebuild()
            if option_id not in self._by_key:
                return False
        self.highlighted = self.get_option_index(option_id)
        return True

    @property
    def current_entry(self) -> Entry | None:
        return self._by_key.get(self._current) if self._current else None

    @property
    def current_invite(self) -> Invite | None:
        if self._current and self._current.startswith(INVITE_PREFIX):
            room_id = self._current[len(INVITE_PREFIX):]
            return next((i for i in self.invites if i.room_id == room_id), None)
        return None

    def move(self, step: int) -> None:
        """Highlight the next (+1) or previous (-1) selectable entry, wrapping around."""
        selectable = [i for i, o in enumerate(self.options) if not o.disabled]
        if not selectable:
            return
        current = self.highlighted if self.highlighted in selectable else selectable[0]
        position = (selectable.index(current) + step) % len(selectable)
        self.highlighted = selectable[position]

    # -- events ------------------------------------------------------------------------------

    @on(OptionList.OptionHighlighted)
    def _highlighted(self, event: OptionList.OptionHighlighted) -> None:
        event.stop()
        option_id = event.option.id
        if option_id is None or option_id == self._current:
            return
        self._current = option_id
        self.refresh_bindings()
        entry = self._by_key.get(option_id)
        if entry is None:
            return
        if entry.kind == "invite" and entry.invite is not None:
            self.post_message(self.InviteHighlighted(entry.invite))
        elif entry.kind == "space" and entry.room is not None:
            self.post_message(self.SpaceHighlighted(entry.room))
        elif entry.kind == "unjoined" and entry.child is not None:
            self.post_message(self.ChildHighlighted(entry.child))
        elif entry.kind == "room":
            self.post_message(self.RoomHighlighted(option_id))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        entry = self._by_key.get(event.option.id or "")
        if entry is None:
            return
        if entry.kind == "space":
            self.action_toggle_space()
        elif entry.kind == "unjoined":
            self.action_join_child()
        else:
            self.post_message(self.Opened(entry.key))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("accept_invite", "decline_invite"):
            return self.current_invite is not None
        entry = self.current_entry
        if action == "toggle_space":
            return entry is not None and entry.kind == "space"
        if action == "join_child":
            return entry is not None and entry.kind == "unjoined"
        return True

    def action_accept_invite(self) -> None:
        if (invite := self.current_invite) is not None:
            self.post_message(self.AcceptInvite(invite))

    def action_decline_invite(self) -> None:
        if (invite := self.current_invite) is not None:
            self.post_message(self.DeclineInvite(invite))

    def action_toggle_space(self) -> None:
        entry = self.current_entry
        if entry is None or entry.kind != "space":
            return
        if entry.key in self.collapsed:
            self.collapsed.discard(entry.key)
            self.post_message(self.SpaceExpanded(entry.key))
        else:
            self.collapsed.add(entry.key)
        self._rebuild(entry.key)

    def action_join_child(self) -> None:
        entry = self.current_entry
        if entry is not None and entry.kind == "unjoined" and entry.child is not None:
            self.post_message(self.JoinChild(entry.child))
