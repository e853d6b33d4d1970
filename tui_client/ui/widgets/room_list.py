"""The room list: pending invites on top (with who invited you and their key bundle), then rooms
with an encryption marker and an unread count.

It is an `OptionList` whose prompts are built for the current width (so unread counts line up on
the right); it posts `RoomList.RoomHighlighted` / `RoomList.InviteHighlighted` when the cursor
lands on a different entry, and `RoomList.AcceptInvite` / `RoomList.DeclineInvite` for `a` / `d`.
"""

from __future__ import annotations

import textwrap

from textual import events, on
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from ...engine.models import Invite, RoomSummary
from ..describe import bundle_line
from ..formatting import clean

INVITE_PREFIX = "invite:"


def room_prompt(room: RoomSummary, width: int, warn: bool = False) -> Content:
    """"🔒 General          3" fitted to `width` cells; `warn` adds a ⚠ (a member's identity
    changed)."""
    marker = Content("🔒 " if room.encrypted else "   ")
    badge = Content.styled(f" {room.unread} ", "bold $text-error" if room.highlight else "bold $text-accent")
    if not room.unread:
        badge = Content("")
    if warn:
        badge = Content.assemble(Content.styled(" ⚠", "bold $text-warning"), badge)
    room_for_name = max(width - marker.cell_length - badge.cell_length - 1, 4)
    name = Content.styled(clean(room.name), "bold" if room.unread else "").truncate(room_for_name, ellipsis=True)
    gap = max(width - marker.cell_length - name.cell_length - badge.cell_length, 1)
    return Content.assemble(marker, name, " " * gap, badge)


def invite_prompt(invite: Invite, width: int) -> Content:
    """The room, who invited you, and the state of their key bundle (wrapped under the room)."""
    title = Content.assemble(("✉  ", "$text-accent"), (clean(invite.name), "bold")).truncate(width, ellipsis=True)
    inviter = Content.styled(f"   from {clean(invite.inviter_label)}", "$foreground-muted")
    lines = [title, inviter.truncate(width, ellipsis=True)]
    bundle = bundle_line(invite)
    if bundle:
        # textwrap counts characters; the key emoji takes two cells, hence width - 1.
        wrapped = textwrap.wrap(f"🔑 {clean(bundle)}", width=max(width - 1, 8), initial_indent="   ", subsequent_indent="      ")
        lines += [Content.styled(line, "$text-accent") for line in wrapped]
    return Content("\n").join(lines)


class RoomList(OptionList):
    """Invites and rooms; the highlighted entry is what the rest of the screen shows."""

    BINDINGS = [
        Binding("down,j", "cursor_down", "Next", id="cursor_down", show=False),
        Binding("up,k", "cursor_up", "Previous", id="cursor_up", show=False),
        Binding("enter", "select", "Open", id="open_room", show=False, tooltip="Write in the room, or answer the invite"),
        Binding("a", "accept_invite", "Accept", id="accept_invite", tooltip="Accept the highlighted invite"),
        Binding("d", "decline_invite", "Decline", id="decline_invite", tooltip="Decline the highlighted invite"),
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.rooms: tuple[RoomSummary, ...] = ()
        self.invites: tuple[Invite, ...] = ()
        self.changed: frozenset[str] = frozenset()  # users whose identity changed
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
        if self.scrollable_content_region.width <= 0:
            # Not laid out yet: prompts fitted to a made-up width would wrap the names into
            # shreds for a frame ("Ali / ce"). The first resize builds them at the real width.
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
        return max(self.scrollable_content_region.width - padding.width, 10)

    def _rebuild(self, keep: str | None = None) -> None:
        """Re-create the options for the current width, keeping `keep` (default: the current
        entry) highlighted."""
        width = self._prompt_width()
        self._width = width
        keep = keep or self._current
        options: list[Option | None] = []
        if self.invites:
            options.append(Option(Content.styled("INVITES", "bold $foreground-muted"), disabled=True))
            options += [Option(invite_prompt(i, width), id=INVITE_PREFIX + i.room_id) for i in self.invites]
            options.append(Option(Content.styled("ROOMS", "bold $foreground-muted"), disabled=True))
        options += [Option(room_prompt(r, width, self.warns(r)), id=r.room_id) for r in self.rooms]
        if not self.rooms:
            empty = "no rooms yet — ctrl+n creates one" if self.known else "loading your rooms…"
            options.append(Option(Content.styled(empty, "italic $foreground-muted"), disabled=True))
        with self.prevent(OptionList.OptionHighlighted):
            self.set_options(options)
        self._restore_highlight(keep)

    def warns(self, room: RoomSummary) -> bool:
        """Whether someone in `room` has a changed identity the user has not accepted."""
        return bool(self.changed) and any(m.user_id in self.changed for m in room.members)

    def _restore_highlight(self, option_id: str | None) -> None:
        index = None
        if option_id is not None:
            try:
                index = self.get_option_index(option_id)
            except Exception:
                index = None
        if index is None:
            # The entry is gone (left, joined, declined): fall back to the first room, else invite.
            ids = [r.room_id for r in self.rooms] + [INVITE_PREFIX + i.room_id for i in self.invites]
            if not ids:
                self._current = None
                return
            index = self.get_option_index(ids[0])
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
        """Highlight a room (or `invite:` + room id); False if it is not listed (yet)."""
        self._auto_selected = False
        try:
            self.highlighted = self.get_option_index(option_id)
        except Exception:
            return False
        return True

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
        if option_id.startswith(INVITE_PREFIX):
            invite = self.current_invite
            if invite is not None:
                self.post_message(self.InviteHighlighted(invite))
        else:
            self.post_message(self.RoomHighlighted(option_id))

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        if event.option.id:
            self.post_message(self.Opened(event.option.id))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action in ("accept_invite", "decline_invite"):
            return self.current_invite is not None
        return True

    def action_accept_invite(self) -> None:
        if (invite := self.current_invite) is not None:
            self.post_message(self.AcceptInvite(invite))

    def action_decline_invite(self) -> None:
        if (invite := self.current_invite) is not None:
            self.post_message(self.DeclineInvite(invite))
