"""What the room list shows, in order: pure (no Textual), so its rules have unit tests.

Sections, each only when it has something (headers only when there is more than one section):

- INVITES: pending invites;
- PEOPLE: direct chats, most recently active first;
- SPACES: each top-level space we joined, as a tree: its sub-spaces, then the rooms we joined
  (most recently active first), then the rooms it lists that we have not joined (to join);
  a collapsed space hides what is under it and shows their unread count on itself;
- ROOMS: every other room, most recently active first.

A room is listed once: under the first space that lists it (spaces in name order), else under
ROOMS; a direct chat always under PEOPLE. Space trees are walked with a guard, so spaces that
list each other cannot loop.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..engine.models import Invite, RoomSummary, SpaceChild
from ..records import record

INVITE_PREFIX = "invite:"
JOIN_PREFIX = "join:"
HEADER_PREFIX = "header:"
MAX_DEPTH = 6  # deeper spaces are shown flat at this depth


@record
class Entry:
    """One line (or block) of the room list."""

    key: str  # the option id: a room id, "invite:"+id, "join:"+id, "header:"+name
    kind: str  # "header" | "invite" | "room" | "space" | "unjoined"
    depth: int = 0
    room: RoomSummary | None = None
    invite: Invite | None = None
    child: SpaceChild | None = None
    label: str = ""  # headers
    collapsed: bool = False  # spaces
    unread: int = 0  # spaces: unread of what is under them (shown when collapsed)
    highlight: int = 0


def _by_activity(rooms: Iterable[RoomSummary]) -> list[RoomSummary]:
    """Most recently active first; rooms alike keep the engine's order (a stable sort)."""
    return sorted(rooms, key=lambda r: -r.last_active)


def build(
    rooms: Iterable[RoomSummary], invites: Iterable[Invite], collapsed: frozenset[str] = frozenset()
) -> list[Entry]:
    rooms = list(rooms)
    invites = list(invites)
    by_id = {r.room_id: r for r in rooms}
    spaces = [r for r in rooms if r.is_space]
    dms = [r for r in rooms if r.is_direct and not r.is_space]
    listed_by_space = {c.room_id for s in spaces for c in s.children}
    top_spaces = sorted((s for s in spaces if s.room_id not in listed_by_space), key=lambda s: (s.name.lower(), s.room_id))
    # Spaces that only list each other have no top: show them at the top rather than lose them.
    placed: set[str] = set()
    trees: list[Entry] = []

    def walk(space: RoomSummary, depth: int, path: frozenset[str]) -> tuple[list[Entry], int, int]:
        """Entries under `space`, and the unread/highlight counts of everything under it."""
        out: list[Entry] = []
        unread = highlight = 0
        kids = [c for c in space.children if c.room_id not in path]
        sub_spaces = sorted(
            (by_id[c.room_id] for c in kids if c.room_id in by_id and by_id[c.room_id].is_space
             and c.room_id not in placed),
            key=lambda s: (s.name.lower(), s.room_id),
        )
        joined = _by_activity(
            by_id[c.room_id] for c in kids
            if c.room_id in by_id and not by_id[c.room_id].is_space and not by_id[c.room_id].is_direct
            and c.room_id not in placed
        )
        unjoined = sorted(
            (c for c in kids if c.room_id not in by_id and c.room_id not in placed),
            key=lambda c: ((c.name or "").lower() or "\uffff", c.room_id),
        )
        for sub in sub_spaces:
            placed.add(sub.room_id)
            entries, u, h = walk(sub, min(depth + 1, MAX_DEPTH), path | {sub.room_id})
            folded = sub.room_id in collapsed
            out.append(Entry(sub.room_id, "space", min(depth, MAX_DEPTH), room=sub, collapsed=folded,
                             unread=u, highlight=h))
            if not folded:
                out += entries
            unread += u
            highlight += h
        for room in joined:
            placed.add(room.room_id)
            out.append(Entry(room.room_id, "room", min(depth, MAX_DEPTH), room=room))
            unread += room.unread
            highlight += room.highlight
        for child in unjoined:
            placed.add(child.room_id)
            out.append(Entry(JOIN_PREFIX + child.room_id, "unjoined", min(depth, MAX_DEPTH), child=child))
        return out, unread, highlight

    roots = top_spaces + sorted((s for s in spaces if s.room_id in listed_by_space), key=lambda s: (s.name.lower(), s.room_id))
    for space in roots:
        if space.room_id in placed:
            continue
        placed.add(space.room_id)
        entries, unread, highlight = walk(space, 1, frozenset({space.room_id}))
        folded = space.room_id in collapsed
        trees.append(Entry(space.room_id, "space", 0, room=space, collapsed=folded, unread=unread, highlight=highlight))
        if not folded:
            trees += entries

    people = [Entry(r.room_id, "room", room=r) for r in _by_activity(dms)]
    others = [Entry(r.room_id, "room", room=r) for r in _by_activity(
        r for r in rooms if not r.is_space and not r.is_direct and r.room_id not in placed)]
    invite_entries = [Entry(INVITE_PREFIX + i.room_id, "invite", invite=i) for i in invites]

    sections = [(label, entries) for label, entries in (
        ("INVITES", invite_entries), ("PEOPLE", people), ("SPACES", trees), ("ROOMS", others)) if entries]
    if len(sections) == 1 and sections[0][0] == "ROOMS":
        return others
    out: list[Entry] = []
    for label, entries in sections:
        out.append(Entry(HEADER_PREFIX + label, "header", label=label))
        out += entries
    if not others and not people and not trees:
        # Keep the place where rooms will appear (and its hint) under the invites.
        out.append(Entry(HEADER_PREFIX + "ROOMS", "header", label="ROOMS"))
    return out


def parents_of(entries: list[Entry], key: str) -> list[str]:
    """The spaces (ids) an entry sits under, nearest last, from a built list."""
    out: list[str] = []
    for entry in entries:
        if entry.kind == "header":
            out = []
            continue
        while out and len(out) > entry.depth:
            out.pop()
        if entry.key == key:
            return out
        if entry.kind == "space":
            del out[entry.depth:]
            out.append(entry.key)
    return []
