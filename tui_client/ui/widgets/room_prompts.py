"""How a row of the room list reads: a room (🔒, name, unread count, ⚠), a space, a room a
space lists that you have not joined, an invite (who, and their key bundle), each fitted to the
list's width so the counts line up on the right."""

from __future__ import annotations

import textwrap

from textual.content import Content

from ...engine.models import Invite, RoomSummary, SpaceChild
from ..describe import bundle_line
from ..formatting import clean
from ..room_tree import Entry


def _badge(unread: int, highlight: int) -> Content:
    if not unread and not highlight:
        return Content("")
    return Content.styled(f" {max(unread, highlight)} ", "bold $text-error" if highlight else "bold $text-accent")


def room_prompt(room: RoomSummary, width: int, warn: bool = False, depth: int = 0) -> Content:
    """"🔒 General          3" fitted to `width` cells; `warn` adds a ⚠ (a member's identity
    changed); `depth` indents it under its space."""
    marker = Content(("  " * depth) + ("🔒 " if room.encrypted else "   "))
    badge = _badge(room.unread, room.highlight)
    if warn:
        badge = Content.assemble(Content.styled(" ⚠", "bold $text-warning"), badge)
    room_for_name = max(width - marker.cell_length - badge.cell_length - 1, 4)
    name = Content.styled(clean(room.name), "bold" if room.unread or room.highlight else "").truncate(
        room_for_name, ellipsis=True)
    gap = max(width - marker.cell_length - name.cell_length - badge.cell_length, 1)
    return Content.assemble(marker, name, " " * gap, badge)


def space_prompt(entry: Entry, width: int) -> Content:
    """"▾ ◆ Company" (expanded) or "▸ ◆ Company   4" (collapsed, with what is unread inside)."""
    assert entry.room is not None
    arrow = "▸ " if entry.collapsed else "▾ "
    marker = Content.assemble("  " * entry.depth, (arrow, "$text-accent"), ("◆ ", "$text-secondary"))
    badge = _badge(entry.unread, entry.highlight) if entry.collapsed else Content("")
    room_for_name = max(width - marker.cell_length - badge.cell_length - 1, 4)
    name = Content.styled(clean(entry.room.name), "bold").truncate(room_for_name, ellipsis=True)
    gap = max(width - marker.cell_length - name.cell_length - badge.cell_length, 1)
    return Content.assemble(marker, name, " " * gap, badge)


def unjoined_prompt(child: SpaceChild, depth: int, width: int) -> Content:
    """"+ Design · join": a room the space lists that we are not in."""
    marker = Content.styled(("  " * depth) + " + ", "$text-success")
    hint = Content.styled(" · join", "$foreground-muted")
    name = Content.styled(clean(child.name or child.room_id), "italic $foreground-muted")
    room_for_name = max(width - marker.cell_length - hint.cell_length, 4)
    return Content.assemble(marker, name.truncate(room_for_name, ellipsis=True), hint)


def invite_prompt(invite: Invite, width: int) -> Content:
    """The room, who invited you, and the state of their key bundle (wrapped under the room)."""
    title = Content.assemble(("✉  ", "$text-accent"), (clean(invite.name), "bold")).truncate(width, ellipsis=True)
    if invite.is_direct:
        inviter = Content.styled(f"   {clean(invite.inviter_label)} wants to chat", "$foreground-muted")
    elif invite.is_space:
        inviter = Content.styled(f"   a space, from {clean(invite.inviter_label)}", "$foreground-muted")
    else:
        inviter = Content.styled(f"   from {clean(invite.inviter_label)}", "$foreground-muted")
    lines = [title, inviter.truncate(width, ellipsis=True)]
    bundle = bundle_line(invite)
    if bundle:
        # textwrap counts characters; the key emoji takes two cells, hence width - 1.
        wrapped = textwrap.wrap(f"🔑 {clean(bundle)}", width=max(width - 1, 8), initial_indent="   ", subsequent_indent="      ")
        lines += [Content.styled(line, "$text-accent") for line in wrapped]
    return Content("\n").join(lines)
