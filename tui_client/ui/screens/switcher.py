"""The room switcher (ctrl+k, as in Element): type part of a name, Enter goes there.

Over every room, direct chat (by the person's name or user id), space and invite; fuzzy
(`ui.fuzzy`); most recently active first when nothing is typed. It answers with the room list
key of the choice (`dismiss(key)`), or None.
"""

from __future__ import annotations

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Input, OptionList, Static
from textual.widgets.option_list import Option

from ...engine.models import Invite, RoomSummary
from ..formatting import clean
from ..fuzzy import Candidate, Match, search
from ..room_tree import INVITE_PREFIX

LIMIT = 50


def candidates(rooms: tuple[RoomSummary, ...], invites: tuple[Invite, ...]) -> list[Candidate]:
    out = []
    for room in rooms:
        if room.is_space:
            kind = "space"
        elif room.is_direct:
            kind = "dm"
        else:
            kind = "room"
        texts = [room.name.lower()]
        if room.dm_user:
            texts.append(room.dm_user.lower())
        out.append(Candidate(room.room_id, room.name, tuple(texts), room.last_active, kind))
    for invite in invites:
        searched = (invite.name.lower(), (invite.inviter_label or "").lower())
        out.append(Candidate(INVITE_PREFIX + invite.room_id, invite.name, searched, 0, "invite"))
    return out


_KIND = {"room": ("  ", "room"), "dm": ("@ ", "direct chat"), "space": ("◆ ", "space"), "invite": ("✉ ", "invite")}


def result_prompt(match: Match, rooms: dict[str, RoomSummary]) -> Content:
    candidate = match.candidate
    marker, kind = _KIND.get(candidate.kind, ("  ", candidate.kind))
    room = rooms.get(candidate.key)
    if room is not None and room.encrypted and candidate.kind == "room":
        marker = "🔒 "
    label = clean(candidate.label)
    # Highlight the matched letters only when cleaning kept the label as it was.
    if label == candidate.label and match.positions:
        spans = Content(label)
        for i in match.positions:
            if i < len(label):
                spans = spans.stylize("bold $text-accent", i, i + 1)
        name = spans
    else:
        name = Content(label)
    extra = f"  · {kind}"
    if room is not None and room.dm_user:
        extra = f"  · {clean(room.dm_user)}"
    badge = Content("")
    if room is not None and (room.unread or room.highlight):
        badge = Content.styled(f"  {max(room.unread, room.highlight)}",
                               "bold $text-error" if room.highlight else "bold $text-accent")
    return Content.assemble(marker, name, (extra, "$foreground-muted"), badge)


class RoomSwitcher(ModalScreen[str | None]):
    BINDINGS = [
        Binding("escape", "dismiss_none", "Close", id="close_switcher"),
        Binding("down", "move(1)", "Next", show=False, priority=True),
        Binding("up", "move(-1)", "Previous", show=False, priority=True),
        Binding("enter", "choose", "Go", show=False, priority=True),
    ]

    def __init__(self, rooms: tuple[RoomSummary, ...], invites: tuple[Invite, ...]) -> None:
        super().__init__()
        self._rooms = {r.room_id: r for r in rooms}
        self._candidates = candidates(rooms, invites)
        self.matches: list[Match] = []

    def compose(self) -> ComposeResult:
        with Vertical(id="switcher"):
            yield Static(Content.styled("Go to a room, a person or an invite", "bold"), id="switcher-title")
            yield Input(placeholder="Type part of a name…", id="switcher-query")
            yield OptionList(id="switcher-results")
            yield Static(id="switcher-count", markup=False)

    def on_mount(self) -> None:
        self.show_results("")
        self.query_one(Input).focus()

    @on(Input.Changed, "#switcher-query")
    def _changed(self, event: Input.Changed) -> None:
        self.show_results(event.value)

    def show_results(self, query: str) -> None:
        """Search and show the results for `query` (synchronously: a keystroke's whole work)."""
        self.matches = search(self._candidates, query, LIMIT)
        results = self.query_one(OptionList)
        results.set_options([Option(result_prompt(m, self._rooms), id=m.candidate.key) for m in self.matches])
        if self.matches:
            results.highlighted = 0
        total = len(self._candidates)
        shown = len(self.matches)
        text = f"{shown} of {total}" if query.strip() else f"{total} in all, most recent first"
        self.query_one("#switcher-count", Static).update(Content.styled(text, "$foreground-muted"))

    def action_move(self, step: int) -> None:
        results = self.query_one(OptionList)
        if not self.matches:
            return
        current = results.highlighted or 0
        results.highlighted = max(0, min(len(self.matches) - 1, current + step))

    def action_choose(self) -> None:
        results = self.query_one(OptionList)
        if results.highlighted is not None and self.matches:
            self.dismiss(self.matches[results.highlighted].candidate.key)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)

    @on(OptionList.OptionSelected, "#switcher-results")
    def _selected(self, event: OptionList.OptionSelected) -> None:
        event.stop()
        self.dismiss(event.option.id)

    def on_click(self, event: events.Click) -> None:
        if event.widget is self:  # outside the box
            self.dismiss(None)
