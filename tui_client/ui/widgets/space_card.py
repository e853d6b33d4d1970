"""A space in the right pane instead of an (empty) timeline: its name and topic and the rooms it
lists, joined or not; and a room it lists that we have not joined, with a Join button.

`SpaceCard.JoinWanted` asks the screen to join a child (it runs the engine command).
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from ...engine.models import RoomSummary, SpaceChild
from ..formatting import clean


def space_details(space: RoomSummary, rooms: dict[str, RoomSummary]) -> Content:
    lines = [Content.assemble(("◆ ", "$text-secondary"), (clean(space.name), "bold"))]
    if space.topic:
        lines.append(Content(clean(space.topic)))
    joined = [c for c in space.children if c.joined]
    lines.append(Content.styled(
        f"A space of {len(space.children)} room{'s' if len(space.children) != 1 else ''}; you are in {len(joined)}. "
        "Its rooms are listed under it on the left: Enter opens one, or joins one you are not in.",
        "$foreground-muted"))
    for child in space.children:
        room = rooms.get(child.room_id)
        name = room.name if room is not None else child.name or child.room_id
        if child.joined:
            mark = ("  ✓ ", "$text-success")
        else:
            mark = ("  + ", "$text-accent")
        extra = f"  · {child.member_count} members" if child.member_count is not None else ""
        what = "  · a space" if child.is_space else ""
        lines.append(Content.assemble(mark, clean(name), (what + extra, "$foreground-muted")))
    return Content("\n").join(lines)


def child_details(child: SpaceChild) -> Content:
    lines = [Content.assemble(("+ ", "$text-accent"), (clean(child.name or child.room_id), "bold"))]
    if child.topic:
        lines.append(Content(clean(child.topic)))
    facts = ["a space" if child.is_space else "a room of this space you have not joined"]
    if child.member_count is not None:
        facts.append(f"{child.member_count} member{'s' if child.member_count != 1 else ''}")
    lines.append(Content.styled(clean(" · ".join(facts)), "$foreground-muted"))
    if child.name is None:
        lines.append(Content.styled(
            "The server told us nothing about it: it may be private (joining needs an invite).", "$foreground-muted"))
    return Content("\n").join(lines)


class ChildCard(Vertical, can_focus=True):
    """A room a space lists that we have not joined, with a Join button."""

    BINDINGS = [Binding("enter,J", "join", "Join", id="join_space_child", tooltip="Join this room")]

    class JoinWanted(Message):
        def __init__(self, child: SpaceChild) -> None:
            super().__init__()
            self.child = child

    def __init__(self, child: SpaceChild) -> None:
        super().__init__(classes="space-card")
        self.child = child

    def compose(self) -> ComposeResult:
        yield Static(child_details(self.child), classes="space-details", markup=False)
        yield Button("Join (J)", variant="success", classes="join", compact=True)

    def action_join(self) -> None:
        self.post_message(self.JoinWanted(self.child))

    @on(Button.Pressed, ".join")
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_join()


class SpaceCard(Vertical):
    """A space: what it is and what it lists."""

    def __init__(self, space: RoomSummary, rooms: dict[str, RoomSummary]) -> None:
        super().__init__(classes="space-card")
        self.space = space
        self._rooms = rooms

    def compose(self) -> ComposeResult:
        yield Static(space_details(self.space, self._rooms), classes="space-details", markup=False)

    def set_space(self, space: RoomSummary, rooms: dict[str, RoomSummary]) -> None:
        self.space, self._rooms = space, rooms
        for details in self.query(".space-details").results(Static):  # (none while composed or taken away)
            details.update(space_details(space, rooms))
