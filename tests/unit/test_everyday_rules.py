"""Pure rules behind DMs, spaces, mentions we send and read receipts: every hostile shape of
m.direct, a space hierarchy and a receipt handled without a server."""

from __future__ import annotations

from tui_client.engine.activity import ReadPoint, place_receipts
from tui_client.engine.directs import parse_direct, partner_of, with_room
from tui_client.engine.models import TimelineItem
from tui_client.engine.outgoing import mentioned, with_mentions
from tui_client.engine.spaces import children, parse_hierarchy

ME = "@me:x"


# -- m.direct ---------------------------------------------------------------------------------------


def test_m_direct_keeps_what_is_well_formed():
    content = {
        "@alice:x": ["!a:x", "!a:x", 5, None, "not a room", "!v12roomwithoutserver"],
        "@bob:x": "!b:x",
        "bob": ["!c:x"],
        "@carol:x": [],
        7: ["!d:x"],
        "@eve:x": ["!e:x" + " " * 3],
    }
    assert parse_direct(content) == {"@alice:x": ("!a:x", "!v12roomwithoutserver")}
    for junk in (None, [], "x", 3, {"@a:x": {"!r:x": True}}):
        assert parse_direct(junk) == {}


def test_writing_m_direct_keeps_other_entries_and_moves_the_room_last():
    server = {"@alice:x": ["!old:x", "!a:x"], "weird": 5}
    written = with_room(server, "@alice:x", "!a:x")
    assert written == {"@alice:x": ["!old:x", "!a:x"], "weird": 5}
    assert with_room("garbage", "@bob:x", "!b:x") == {"@bob:x": ["!b:x"]}
    assert with_room({"@bob:x": "!x:x"}, "@bob:x", "!b:x") == {"@bob:x": ["!b:x"]}


def test_the_partner_of_a_dm_is_the_listed_user_still_in_the_room():
    direct = {"@alice:x": ("!r:x",), "@bob:x": ("!r:x",)}
    assert partner_of(direct, "!r:x", {"@bob:x": object(), ME: object()}) == "@bob:x"
    assert partner_of(direct, "!r:x", {ME: object()}) == "@alice:x"
    assert partner_of(direct, "!other:x") is None


# -- spaces -------------------------------------------------------------------------------------------


def test_a_hierarchy_answer_is_read_defensively():
    space = "!space:x"
    answer = {"rooms": [
        {"room_id": space, "room_type": "m.space", "children_state": [
            {"type": "m.space.child", "state_key": "!a:x", "content": {"via": ["x", 5, "x"]}},
            {"type": "m.space.child", "state_key": "!b:x", "content": {"via": []}},  # removed child
            {"type": "m.space.child", "state_key": "!c:x", "content": {"via": "x"}},
            {"type": "m.space.child", "state_key": "not a room", "content": {"via": ["x"]}},
            {"type": "m.space.child", "state_key": space, "content": {"via": ["x"]}},  # itself
            {"type": "m.room.name", "state_key": "!d:x", "content": {"via": ["x"]}},
            "junk",
        ]},
        {"room_id": "!a:x", "name": "A" * 900, "topic": 5, "num_joined_members": True, "room_type": "m.space"},
        "junk",
    ]}
    found = parse_hierarchy(space, answer)
    assert list(found) == ["!a:x"]
    a = found["!a:x"]
    assert a.via == ("x",) and len(a.name) == 500 and a.topic is None and a.member_count is None and a.is_space
    for junk in (None, {"rooms": "x"}, {"rooms": [{"room_id": space, "children_state": "x"}]}):
        assert parse_hierarchy(space, junk) == {}


def test_children_join_what_the_space_lists_with_what_we_know():
    info = parse_hierarchy("!s:x", {"rooms": [
        {"room_id": "!s:x", "children_state": [
            {"type": "m.space.child", "state_key": "!a:x", "content": {"via": ["x"]}}]},
        {"room_id": "!a:x", "name": "Alpha", "num_joined_members": 3}]})
    joined = {"!b:x": object()}
    shown = children("!s:x", ["!a:x", "!b:x", "bad id", "!s:x"], info, joined.get)
    assert [(c.room_id, c.name, c.joined, c.member_count) for c in shown] == [
        ("!a:x", "Alpha", False, 3), ("!b:x", None, True, None)]


# -- mentions we send ---------------------------------------------------------------------------------


def test_mentions_by_name_localpart_and_id_and_room():
    members = {"@alice:x": "Alice", "@ann:x": "Ann Lee", ME: "Me", "@bob:x": None}
    assert mentioned("hi @alice and @Ann Lee, cc @bob:x", members, ME) == (["@alice:x", "@ann:x", "@bob:x"], False)
    assert mentioned("mail me@alice.org, @alicexyz, @me", members, ME) == ([], False)
    assert mentioned("@room heads up", members, ME) == ([], True)
    content = with_mentions({"msgtype": "m.text", "body": "plain"}, members, ME)
    assert content["m.mentions"] == {}
    reply = with_mentions({"body": "ok @alice", "m.mentions": {"user_ids": ["@bob:x"]}}, members, ME)
    assert reply["m.mentions"] == {"user_ids": ["@bob:x", "@alice:x"]}


# -- read receipts -----------------------------------------------------------------------------------


def item(n: int, sender: str, ts: int, kind: str = "message") -> TimelineItem:
    return TimelineItem(f"$e{n}", "!r:x", sender, sender, ts, kind, "text", "m.room.message")


def test_receipts_land_on_the_message_read_up_to():
    items = [item(1, "@alice:x", 100), item(2, ME, 200), item(3, "@carol:x", 300, "membership"), item(4, ME, 400)]
    receipts = {
        "@alice:x": ReadPoint("$e2", 250),  # on our message
        "@bob:x": ReadPoint("$e3", 350),  # on a membership line: the message before it
        "@carol:x": ReadPoint("$unknown", 450),  # an event we do not show: by time
        ME: ReadPoint("$e4", 500),  # never us
        "@dave:x": ReadPoint("$gone", 50),  # older than everything shown
        "@eve:x": ReadPoint("$e1", 120),
    }
    placed = place_receipts(items, receipts, ME)
    assert placed == {"$e2": ("@alice:x", "@bob:x"), "$e4": ("@carol:x",), "$e1": ("@eve:x",)}
    # Nobody is listed on their own message.
    assert place_receipts(items, {"@alice:x": ReadPoint("$e1", 100)}, ME) == {}
