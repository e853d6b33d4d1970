"""The glimpse of a first start's initial sync (engine.first_sync.glimpse): the rooms the TUI
lists while the engine is still handling the answer. Names follow the spec (name, alias, heroes);
anything of the wrong shape from the server is skipped, never trusted or fatal."""

from __future__ import annotations

import json
from concurrent.futures import Future

from tui_client.engine.first_sync import EarlySyncFailed, glimpse, glimpse_sliding, glimpses_of

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


def sliding(rooms: dict, account_data: list | None = None) -> bytes:
    return json.dumps({"pos": "1", "lists": {"glimpse": {"count": 100}}, "rooms": rooms,
                       "extensions": {"account_data": {"global": account_data or []}}}).encode()


def sliding_room(*state: dict, ts: int = 0, heroes: list | None = None, joined: int | None = None,
                 unread: tuple[int, int] = (0, 0)) -> dict:
    room: dict = {"required_state": list(state), "notification_count": unread[0], "highlight_count": unread[1],
                  "timeline": [{"type": "m.room.encrypted", "content": {}, "sender": "@a:hs", "event_id": "$m",
                                "origin_server_ts": ts}] if ts else [], "initial": True}
    if heroes is not None:
        room["heroes"] = heroes
    if joined is not None:
        room["joined_count"] = joined
    return room


def test_a_sliding_sync_answer_lists_its_rooms_as_the_full_sync_would():
    body = sliding({
        "!named:hs": sliding_room(state("m.room.name", {"name": "Project X"}), state("m.room.encryption", {}),
                                  state("m.room.history_visibility", {"history_visibility": "joined"}),
                                  member(ME), member("@a:hs", "Alice"), ts=10, unread=(3, 1), joined=2),
        "!dm:hs": sliding_room(member(ME), heroes=[{"user_id": "@a:hs", "displayname": "Alice"}], joined=2, ts=20),
        "!group:hs": sliding_room(member(ME), heroes=[{"user_id": "@a:hs", "displayname": "Alice"}, {"user_id": "@b:hs"}],
                                  joined=5, ts=5),
        "!invited:hs": {"invite_state": [state("m.room.name", {"name": "Not joined"})]},
    }, [{"type": "m.direct", "content": {"@a:hs": ["!dm:hs"]}}])
    rooms = glimpse_sliding(body, ME)
    assert [r.room_id for r in rooms] == ["!dm:hs", "!named:hs", "!group:hs"], "newest first, no invite"
    by_id = {r.room_id: r for r in rooms}
    named = by_id["!named:hs"]
    assert (named.name, named.encrypted, named.history_visibility, named.unread, named.highlight) == (
        "Project X", True, "joined", 3, 1)
    dm = by_id["!dm:hs"]
    assert (dm.name, dm.is_direct, dm.dm_user, dm.encrypted) == ("Alice", True, "@a:hs", False)
    assert by_id["!group:hs"].name == "Alice, @b:hs and 2 others"


def test_what_is_not_a_sliding_sync_answer_gives_nothing_and_bad_fields_are_skipped():
    for body in (b"", b"not json", b"[]", b'{"rooms": []}', b"[" * 100_000, sync({"!a:hs": room(ts=1)})):
        assert glimpse_sliding(body, ME) == ()
    body = sliding({
        "!ok:hs": {"required_state": [state("m.room.name", {"name": 5}), "junk", {"type": None}],
                   "heroes": ["@a:hs", {"user_id": 7}, {"user_id": "@b:hs", "displayname": ["x"]}],
                   "joined_count": "2", "notification_count": -1, "highlight_count": 10**12, "timeline": "no"},
        "not a room id": sliding_room(),
        "!list:hs": [],
    }, account_data="not a list")  # type: ignore[arg-type]
    rooms = {r.room_id: r for r in glimpse_sliding(body, ME)}
    assert set(rooms) == {"!ok:hs"}
    ok = rooms["!ok:hs"]
    assert (ok.name, ok.unread, ok.highlight, ok.last_active, ok.is_direct) == ("@b:hs", 0, 0, 0, False)


def answer() -> Future[bytes]:
    future: Future[bytes] = Future()
    future.set_running_or_notify_cancel()
    return future


def test_each_answer_is_glimpsed_by_its_own_reader_and_a_failed_one_glimpses_nothing():
    quick, full = answer(), answer()
    glimpsed = glimpses_of([(quick, glimpse_sliding), (full, glimpse)], ME)
    assert not any(g.done() for g in glimpsed)
    full.set_result(sync({"!a:hs": room(state("m.room.name", {"name": "From the full sync"}))}))
    assert [r.name for r in glimpsed[1].result(1)] == ["From the full sync"]
    quick.set_exception(EarlySyncFailed("HTTP 404"))  # a server without sliding sync
    assert glimpsed[0].result(1) == ()

    quick, full = answer(), answer()
    glimpsed = glimpses_of([(quick, glimpse_sliding), (full, glimpse)], ME)
    quick.set_result(sync({"!a:hs": room(ts=1)}))  # an initial sync's answer is no sliding sync's
    full.set_result(b"<html>proxy error</html>")
    assert (glimpsed[0].result(1), glimpsed[1].result(1)) == ((), ())
