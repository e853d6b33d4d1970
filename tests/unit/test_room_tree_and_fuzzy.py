"""The room list's order (sections, space trees, folding, loops between spaces) and the room
switcher's fuzzy matching, as pure functions."""

from __future__ import annotations

from tui_client.engine.models import Invite, RoomSummary, SpaceChild
from tui_client.ui.fuzzy import Candidate, score_word, search
from tui_client.ui.room_tree import build, parents_of


def room(room_id: str, name: str, active: int = 0, **kw) -> RoomSummary:
    return RoomSummary(room_id, name, None, True, "shared", (), unread=kw.pop("unread", 0), last_active=active, **kw)


def space(room_id: str, name: str, *children: str, unjoined: tuple[SpaceChild, ...] = ()) -> RoomSummary:
    kids = tuple(SpaceChild(c, None, None, True) for c in children) + unjoined
    return room(room_id, name, is_space=True, children=kids)


def keys(entries) -> list[str]:
    return [e.key for e in entries]


def tree(entries) -> list:
    """Without the section headers."""
    return [e for e in entries if e.kind != "header"]


def test_only_rooms_means_no_headers_most_recent_first():
    rooms = [room("!a", "A", 1), room("!b", "B", 3), room("!c", "C", 2)]
    assert keys(build(rooms, [])) == ["!b", "!c", "!a"]


def test_sections_in_order_and_a_room_listed_once():
    rooms = [
        room("!dm", "Alice", 5, is_direct=True, dm_user="@alice:x"),
        space("!s", "Space", "!in", "!dm"),  # a DM a space lists stays under PEOPLE
        room("!in", "Inside", 1),
        room("!out", "Outside", 9),
    ]
    invites = [Invite("!inv", "Invite", "@x:x", "X", True)]
    assert keys(build(rooms, invites)) == [
        "header:INVITES", "invite:!inv", "header:PEOPLE", "!dm", "header:SPACES", "!s", "!in",
        "header:ROOMS", "!out"]


def test_nested_spaces_unjoined_children_and_folding():
    design = SpaceChild("!design", "Design", None, False)
    zeta = SpaceChild("!zeta", None, None, False)
    rooms = [space("!top", "Top", "!sub", "!a", unjoined=(zeta, design)), space("!sub", "Sub", "!b"),
             room("!a", "A", 2, unread=2), room("!b", "B", 1, unread=1, highlight=1)]
    entries = build(rooms, [])
    assert keys(entries)[0] == "header:SPACES"
    assert [(e.key, e.depth) for e in tree(entries)] == [
        ("!top", 0), ("!sub", 1), ("!b", 2), ("!a", 1), ("join:!design", 1), ("join:!zeta", 1)]
    folded = tree(build(rooms, [], frozenset({"!sub"})))
    assert keys(folded) == ["!top", "!sub", "!a", "join:!design", "join:!zeta"]
    sub = next(e for e in folded if e.key == "!sub")
    assert sub.collapsed and (sub.unread, sub.highlight) == (1, 1)
    top = tree(build(rooms, [], frozenset({"!top"})))
    assert keys(top) == ["!top"] and (top[0].unread, top[0].highlight) == (3, 1)
    assert parents_of(entries, "!b") == ["!top", "!sub"]
    assert parents_of(entries, "join:!design") == ["!top"]


def test_spaces_that_list_each_other_do_not_loop_and_are_not_lost():
    rooms = [space("!x", "X", "!y", "!r"), space("!y", "Y", "!x"), room("!r", "R")]
    entries = tree(build(rooms, []))
    assert keys(entries) == ["!x", "!y", "!r"]
    deep = [space(f"!s{i}", f"S{i}", f"!s{i + 1}") for i in range(20)] + [room("!s20", "Bottom")]
    assert max(e.depth for e in build(deep, [])) <= 6


def test_fuzzy_prefers_word_starts_and_whole_words():
    assert score_word("proj", "project x")[0] > score_word("ject", "project x")[0]
    assert score_word("px", "project x") is not None
    assert score_word("xp", "project x") is None
    assert score_word("pl", "quarterly planning")[1] == (10, 11)


def test_search_ranks_and_breaks_ties_by_activity():
    candidates = [
        Candidate("!a", "General", ("general",), activity=1),
        Candidate("!b", "Generative art", ("generative art",), activity=5),
        Candidate("!c", "Engineering", ("engineering",), activity=9),
        Candidate("!d", "Alice", ("alice", "@alice:example.org"), activity=3, kind="dm"),
        Candidate("invite:!e", "Gen invite", ("gen invite",), kind="invite"),
    ]
    assert [m.candidate.key for m in search(candidates, "general")][:1] == ["!a"]
    assert [m.candidate.key for m in search(candidates, "gen")][:3] == ["!b", "!a", "invite:!e"]
    assert [m.candidate.key for m in search(candidates, "@alice:ex")] == ["!d"]
    assert [m.candidate.key for m in search(candidates, "")] == ["invite:!e", "!c", "!b", "!d", "!a"]
    assert search(candidates, "nothing like it") == []
    assert [m.candidate.key for m in search(candidates, "gen art")] == ["!b"]
