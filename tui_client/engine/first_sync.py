"""The first sync after a login, asked for while the TUI is still starting.

On a first start after login nothing can be listed before the initial sync of every room, and
the server takes 0.6-2 s to answer it (100 rooms on a local Synapse, warm or just started). The
engine can ask only once nio is imported and the store is open (~0.6 s of a 2-core machine,
shared with the UI's own start). So the claim starts the request at once, on a thread, with
the standard library (no nio, no aiohttp); the engine's first sync then takes this answer
instead of asking again (`EngineClient.sync`), and handles it exactly as it would its own.

Only a full-state sync without a token is asked for early: it is what the engine would ask,
and it is only ever made before the first token is saved. Anything other than a 200 with JSON
(an expired token, a server that is down) is not interpreted here: the engine sees the future
fail and makes its own request, whose error it reports as usual.

The TUI gets a first look at the room list (`glimpse`) sooner than that answer: the server
spends most of the initial sync's time room by room (0.6-0.8 s for 100 rooms on a warm Synapse
on this machine, 1.5-2 s on a cold one, whatever the filter), and the engine needs another
0.2-0.5 s after it to handle it (nio's state, every message decrypted). So a second request,
asked for at the same time, is a sliding sync (MSC4186, `org.matrix.simplified_msc3575`, which
Synapse serves) for the `GLIMPSE_ROOMS` most recently active rooms only, each with its newest
event and the state a room row shows (`prefetch_glimpse`): 0.05-0.15 s warm, 0.2-0.6 s cold,
beside the full sync. Synapse does not count unread notifications there (it answers 0), so the
full sync's answer, once in, is glimpsed in its place (every room, its unread counts, its
members), and the engine's list replaces that once the sync is handled. A server without
sliding sync (or any error) leaves the glimpse to the full sync's answer. Each glimpse names a
joined room as the spec says (its name, its alias, its heroes), with its encryption.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from typing import Any, TypeAlias

from .models import Member, RoomSummary
from .session import SessionInfo

logger = logging.getLogger(__name__)

PATH = "/_matrix/client/v3/sync?full_state=true"
TIMEOUT = 120.0  # seconds: what the engine allows a full-state sync
MAX_BYTES = 512 * 1024 * 1024  # a first sync of thousands of rooms is tens of MiB


class EarlySyncFailed(Exception):
    """The early request got no usable answer (the engine asks again)."""


# The sliding sync of the glimpse: the rooms a screen shows, newest first, each with its newest
# event and the state that names, marks and orders it (members: the syncing user, the sender of
# that event; the heroes come with a room that has no name).
SLIDING_PATH = "/_matrix/client/unstable/org.matrix.simplified_msc3575/sync?timeout=0"
GLIMPSE_ROOMS = 40
GLIMPSE_STATE = ("m.room.name", "m.room.canonical_alias", "m.room.topic", "m.room.encryption",
                 "m.room.create", "m.room.history_visibility")
GLIMPSE_REQUEST = {
    "lists": {"glimpse": {
        "ranges": [[0, GLIMPSE_ROOMS - 1]],
        "timeline_limit": 1,
        "filters": {"is_invite": False},
        "required_state": [[kind, ""] for kind in GLIMPSE_STATE] + [["m.room.member", "$ME"], ["m.room.member", "$LAZY"]],
    }},
    "extensions": {"account_data": {"enabled": True, "lists": [], "rooms": []}},  # m.direct
}


def prefetch(session: SessionInfo) -> Future[bytes]:
    """Start the initial sync of `session` on a daemon thread; the future holds the body."""
    return _start(session, PATH, None, "the initial sync")


def prefetch_glimpse(session: SessionInfo) -> Future[bytes]:
    """Start the glimpse's sliding sync (`GLIMPSE_REQUEST`) of `session` on a daemon thread."""
    return _start(session, SLIDING_PATH, json.dumps(GLIMPSE_REQUEST).encode(), "the room list's glimpse")


def _start(session: SessionInfo, path: str, data: bytes | None, what: str) -> Future[bytes]:
    future: Future[bytes] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        started = time.monotonic()
        try:
            body = _fetch(session, path, data)
            logger.info("%s asked for at start: %d KiB in %.0f ms", what, len(body) // 1024,
                        (time.monotonic() - started) * 1000)
            future.set_result(body)
        except BaseException as exc:  # the engine falls back to its own request
            logger.info("%s asked for at start: no answer to use (%s)", what, _reason(exc))
            future.set_exception(exc if isinstance(exc, EarlySyncFailed) else EarlySyncFailed(_reason(exc)))

    threading.Thread(target=run, name="early-first-sync", daemon=True).start()
    return future


def _reason(exc: BaseException) -> str:
    return str(exc) if isinstance(exc, EarlySyncFailed) else f"{type(exc).__name__}: {exc}"


def _fetch(session: SessionInfo, path: str = PATH, data: bytes | None = None) -> bytes:
    import urllib.request

    # No proxy from the environment: the engine's own requests (aiohttp) do not use one either.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    headers = {"Authorization": f"Bearer {session.access_token}", "Accept": "application/json"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(session.homeserver.rstrip("/") + path, data=data, headers=headers)
    with opener.open(request, timeout=TIMEOUT) as response:  # raises HTTPError for non-2xx
        if response.status != 200 or response.headers.get_content_type() != "application/json":
            raise EarlySyncFailed(f"HTTP {response.status}, {response.headers.get_content_type()}")
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise EarlySyncFailed(f"the answer is over {MAX_BYTES // 2**20} MiB")
    return bytes(body)


Glimpser: TypeAlias = Callable[[bytes, str], tuple[RoomSummary, ...]]


def glimpses_of(answers: Sequence[tuple[Future[bytes], Glimpser]], user_id: str) -> tuple[Future[tuple[RoomSummary, ...]], ...]:
    """Each early answer's glimpse, read by its own glimpser (`glimpse_sliding` for the sliding
    sync, `glimpse` for the initial sync) on the thread that received it: () when the answer
    failed or lists nothing. Given (and returned) from the quickest to the most complete: the
    TUI shows a later one in place of an earlier one, never the other way round."""
    return tuple(_glimpse_when_in(answer, read, user_id) for answer, read in answers)


def _glimpse_when_in(answer: Future[bytes], read: Glimpser, user_id: str) -> Future[tuple[RoomSummary, ...]]:
    out: Future[tuple[RoomSummary, ...]] = Future()
    out.set_running_or_notify_cancel()

    def done(answer: Future[bytes]) -> None:
        try:
            rooms = () if answer.exception() else read(answer.result(), user_id)
        except BaseException:  # a glimpse is a nicety: the engine's list comes regardless
            rooms = ()
        out.set_result(rooms)

    answer.add_done_callback(done)
    return out


NAME_CELLS = 255  # a room name the server sent longer than this is cut (the UI fits it anyway)
MOST_MEMBERS = 1_000  # members kept per room in the glimpse (the engine's list has them all)


def glimpse(body: bytes, user_id: str) -> tuple[RoomSummary, ...]:
    """The joined rooms of an initial sync's answer, most recently active first; () for anything
    that is not a sync answer. Pure: anything of the wrong shape is skipped, not trusted."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ()
    rooms = _dig(data, "rooms", "join")
    if not isinstance(rooms, Mapping):
        return ()
    direct = _direct(_events(_dig(data, "account_data")))
    found = []
    for room_id, room in rooms.items():
        if isinstance(room_id, str) and room_id.startswith("!") and isinstance(room, Mapping):
            timeline = _events(_dig(room, "timeline"))
            counts = _dig(room, "unread_notifications")
            found.append(_summary(room_id, _events(_dig(room, "state")), timeline, _dig(room, "summary"),
                                  counts, user_id, room_id in direct))
    found.sort(key=lambda r: -r.last_active)
    return tuple(found)


def glimpse_sliding(body: bytes, user_id: str) -> tuple[RoomSummary, ...]:
    """The joined rooms of the glimpse's sliding sync answer (`GLIMPSE_REQUEST`), most recently
    active first; () for anything that is not one. Pure, and as wary as `glimpse`."""
    try:
        data = json.loads(body)
    except (ValueError, RecursionError):
        return ()
    rooms = _dig(data, "rooms")
    if not isinstance(rooms, Mapping):
        return ()
    account_data = _dig(data, "extensions", "account_data", "global")
    direct = _direct(account_data if isinstance(account_data, list) else [])
    found = []
    for room_id, room in rooms.items():
        if not (isinstance(room_id, str) and room_id.startswith("!") and isinstance(room, Mapping)):
            continue
        if "invite_state" in room or "stripped_state" in room:
            continue  # an invite: the list shows those from the engine
        state = _event_list(room.get("required_state"))
        heroes = room.get("heroes")
        heroes = [h for h in heroes if isinstance(h, Mapping) and isinstance(h.get("user_id"), str)] \
            if isinstance(heroes, list) else []
        known = {e.get("state_key") for e in state if e.get("type") == "m.room.member"}
        for hero in heroes:  # the members that name the room, as members (joined: the server counts them so)
            if hero["user_id"] not in known:
                state.append({"type": "m.room.member", "state_key": hero["user_id"],
                              "content": {"membership": "join", "displayname": hero.get("displayname")}})
        # In the initial sync's shape for `_room_name` (which skips what is missing or not a count).
        summary = {"m.heroes": [h["user_id"] for h in heroes] if heroes else None,
                   "m.joined_member_count": room.get("joined_count"),
                   "m.invited_member_count": room.get("invited_count")}
        counts = {"notification_count": room.get("notification_count"), "highlight_count": room.get("highlight_count")}
        found.append(_summary(room_id, state, _event_list(room.get("timeline")), summary, counts, user_id,
                              room_id in direct))
    found.sort(key=lambda r: -r.last_active)
    return tuple(found)


def _direct(account_data: list[Any]) -> set[str]:
    """The rooms m.direct lists (in global account data events)."""
    direct: set[str] = set()
    for event in account_data:
        if isinstance(event, Mapping) and event.get("type") == "m.direct" and isinstance(event.get("content"), Mapping):
            direct = {r for ids in event["content"].values() if isinstance(ids, list) for r in ids if isinstance(r, str)}
    return direct


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _events(section: Any) -> list[Mapping[str, Any]]:
    return _event_list(_dig(section, "events"))


def _event_list(events: Any) -> list[Mapping[str, Any]]:
    return [e for e in events if isinstance(e, Mapping)] if isinstance(events, list) else []


def _text(value: Any) -> str | None:
    return value[:NAME_CELLS] if isinstance(value, str) and value.strip() else None


def _summary(room_id: str, state_events: list[Mapping[str, Any]], timeline: list[Mapping[str, Any]], summary: Any,
             counts: Any, user_id: str, is_direct: bool) -> RoomSummary:
    state: dict[tuple[str, str], Mapping[str, Any]] = {}
    for event in state_events + [e for e in timeline if "state_key" in e]:
        kind, key, content = event.get("type"), event.get("state_key"), event.get("content")
        if isinstance(kind, str) and isinstance(key, str) and isinstance(content, Mapping):
            state[(kind, key)] = content
    members: list[Member] = []
    for (kind, key), content in state.items():
        if kind == "m.room.member" and content.get("membership") in ("join", "invite") and len(members) < MOST_MEMBERS:
            members.append(Member(key, _text(content.get("displayname")), str(content["membership"])))
    create = state.get(("m.room.create", ""), {})
    visibility = state.get(("m.room.history_visibility", ""), {}).get("history_visibility")
    stamps = [e["origin_server_ts"] for e in timeline if isinstance(e.get("origin_server_ts"), int)]
    others = [m for m in members if m.user_id != user_id]
    return RoomSummary(
        room_id,
        _room_name(state, summary, others, user_id),
        _text(state.get(("m.room.topic", ""), {}).get("topic")),
        ("m.room.encryption", "") in state,
        visibility if isinstance(visibility, str) else "shared",
        tuple(members),
        _count(_dig(counts, "notification_count")),
        _count(_dig(counts, "highlight_count")),
        is_direct=is_direct,
        dm_user=others[0].user_id if is_direct and len(others) == 1 else None,
        is_space=create.get("type") == "m.space",
        last_active=max(stamps, default=0),
    )


def _count(value: Any) -> int:
    return value if isinstance(value, int) and 0 <= value < 2**31 else 0


def _room_name(state: Mapping[tuple[str, str], Mapping[str, Any]], summary: Any, others: list[Member],
               user_id: str) -> str:
    """The spec's room name: m.room.name, the canonical alias, else the heroes (or the members)."""
    named = _text(state.get(("m.room.name", ""), {}).get("name"))
    alias = _text(state.get(("m.room.canonical_alias", ""), {}).get("alias"))
    if named or alias:
        return named or alias  # type: ignore[return-value]
    heroes = _dig(summary, "m.heroes")
    names = {m.user_id: m.name for m in others}
    if isinstance(heroes, list):
        people = [names.get(h, h) for h in heroes if isinstance(h, str) and h != user_id][:5]
    else:
        people = [m.name for m in others][:5]
    joined = _dig(summary, "m.joined_member_count")
    invited = _dig(summary, "m.invited_member_count")
    total = (_count(joined) + _count(invited) - 1) if isinstance(joined, int) else len(others)
    if not people:
        return "Empty Room"  # (as the engine names it: nio's MatrixRoom.group_name)
    if total > len(people):
        more = total - len(people)
        return f"{', '.join(people)} and {more} other{'' if more == 1 else 's'}"
    if len(people) == 1:
        return people[0]
    return f"{', '.join(people[:-1])} and {people[-1]}"
