"""The glimpse of a first start's initial sync (engine.first_sync.glimpse): the rooms the TUI
lists while the engine is still handling the answer. Names follow the spec (name, alias, heroes);
anything of the wrong shape from the server is skipped, never trusted or fatal."""

from __future__ import annotations

import json

from tui_client.engine.first_sync import glimpse

ME = "@me:hs"


def state(kind: str, content: dict, key: str = "") -> dict:
    return {"type": kind, "state_key": key, "content": content, "sender": ME, "event_id": "$x",
            "origin_server_ts": 1}


def member(user: str, name: str | None = None, membership: str = "join") -> dict:
    content = {"membership": membership}
    if name:
        content["displayname"] = name
    return state("m.room.member", content, user)


def room(*events: dict, ts: int = 0, summary: dict | None = None, unread: tuple[int, int] = (0, 0)) -> dict:
    timeline = [{"type": "m.room.message", "content": {"body": "hi"}, "sender": ME, "event_id": "$m",
                 "origin_server_ts": ts}] if ts else []
    return {"state": {"events": list(events)}, "timeline": {"events": timeline}, "summary": summary or {},
            "unread_notifications": {"notification_count": unread[0], "highlight_count": unread[1]}}


def sync(rooms: dict, account_data: list | None = None) -> bytes:
    return json.dumps({"next_batch": "s1", "rooms": {"join": rooms}, "account_data": {"events": account_data or []}}).encode()


def test_rooms_are_named_as_the_spec_says_and_listed_newest_first():
    body = sync({
        "!named:hs": room(state("m.room.name", {"name": "Project X"}), state("m.room.encryption", {}),
                          state("m.room.history_visibility", {"history_visibility": "joined"}),
                          member(ME), member("@a:hs", "Alice"), ts=10, unread=(3, 1)),
        "!alias:hs": room(state("m.room.canonical_alias", {"alias": "#general:hs"}), ts=30),
        "!dm:hs": room(member(ME), member("@a:hs", "Alice"), summary={"m.heroes": ["@a:hs"],
                       "m.joined_member_count": 2}, ts=20),
        "!group:hs": room(member(ME), member("@a:hs", "Alice"), member("@b:hs"),
                          summary={"m.heroes": ["@a:hs", "@b:hs"], "m.joined_member_count": 5}),
        "!alone:hs": room(member(ME)),
    }, [{"type": "m.direct", "content": {"@a:hs": ["!dm:hs"]}}])
    rooms = glimpse(body, ME)
    assert [r.room_id for r in rooms][:3] == ["!alias:hs", "!dm:hs", "!named:hs"]
    by_id = {r.room_id: r for r in rooms}
    named = by_id["!named:hs"]
    assert (named.name, named.encrypted, named.history_visibility, named.unread, named.highlight) == (
        "Project X", True, "joined", 3, 1)
    assert {m.user_id for m in named.members} == {ME, "@a:hs"}
    assert by_id["!alias:hs"].name == "#general:hs" and not by_id["!alias:hs"].encrypted
    assert by_id["!dm:hs"].name == "Alice" and by_id["!dm:hs"].is_direct and by_id["!dm:hs"].dm_user == "@a:hs"
    assert by_id["!group:hs"].name == "Alice, @b:hs and 2 others"
    assert by_id["!alone:hs"].name == "Empty Room"


def test_what_is_not_a_sync_answer_gives_nothing():
    for body in (b"", b"not json", b"[]", b'{"rooms": []}', b'{"rooms": {"join": 5}}', b"[" * 100_000):
        assert glimpse(body, ME) == ()


def test_fields_of_the_wrong_shape_are_skipped_not_trusted():
    body = sync({
        "!ok:hs": room(state("m.room.name", {"name": 5}), member(ME), {"type": None}, "junk",
                       state("m.room.member", {"membership": "join", "displayname": ["x"]}, "@a:hs"),
                       summary={"m.heroes": "@a:hs", "m.joined_member_count": "2"}, unread=(-1, 10**12)),
        "not a room id": room(),
        "!list:hs": [],
        "!huge:hs": room(state("m.room.name", {"name": "x" * 100_000})),
    })
    rooms = {r.room_id: r for r in glimpse(body, ME)}
    assert set(rooms) == {"!ok:hs", "!huge:hs"}
    ok = rooms["!ok:hs"]
    assert ok.name == "@a:hs" and ok.unread == 0 and ok.highlight == 0
    assert [m.display_name for m in ok.members if m.user_id == "@a:hs"] == [None]
    assert len(rooms["!huge:hs"].name) == 255
