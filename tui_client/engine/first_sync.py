"""The first sync after a login, asked for while the TUI is still starting.

On a first start after login nothing can be listed before the initial sync of every room, and
the server takes 0.2-0.7 s to answer it (a fresh Synapse, 100 rooms). The engine can ask only
once nio is imported and the store is open (~0.6 s of a 2-core machine, shared with the UI's own
start). So the claim starts the request at once, on a thread, with the standard library (no nio,
no aiohttp); the engine's first sync then takes this answer instead of asking again
(`EngineClient.sync`), and handles it exactly as it would its own.

Only a full-state sync without a token is asked for early: it is what the engine would ask,
and it is only ever made before the first token is saved. Anything other than a 200 with JSON
(an expired token, a server that is down) is not interpreted here: the engine sees the future
fail and makes its own request, whose error it reports as usual.

The answer also gives the TUI a first look at the room list (`glimpse`) as soon as it arrives:
the engine needs another 0.2-0.5 s to handle it (nio's state, every message decrypted), and a
first start after login would show an empty list meanwhile. The glimpse names each joined room
as the spec says (its name, its alias, its heroes), with its encryption, unread counts and
members; the engine's list replaces it once the sync is handled.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future
from typing import Any

from .models import Member, RoomSummary
from .session import SessionInfo

logger = logging.getLogger(__name__)

PATH = "/_matrix/client/v3/sync?full_state=true"
TIMEOUT = 120.0  # seconds: what the engine allows a full-state sync
MAX_BYTES = 512 * 1024 * 1024  # a first sync of thousands of rooms is tens of MiB


class EarlySyncFailed(Exception):
    """The early request got no usable answer (the engine asks again)."""


def prefetch(session: SessionInfo) -> Future[bytes]:
    """Start the initial sync of `session` on a daemon thread; the future holds the body."""
    future: Future[bytes] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        started = time.monotonic()
        try:
            body = _fetch(session)
            logger.info("the initial sync asked for at start: %d KiB in %.0f ms", len(body) // 1024,
                        (time.monotonic() - started) * 1000)
            future.set_result(body)
        except BaseException as exc:  # the engine falls back to its own request
            future.set_exception(exc if isinstance(exc, EarlySyncFailed) else EarlySyncFailed(
                f"{type(exc).__name__}: {exc}"))

    threading.Thread(target=run, name="early-first-sync", daemon=True).start()
    return future


def _fetch(session: SessionInfo) -> bytes:
    import urllib.request

    # No proxy from the environment: the engine's own requests (aiohttp) do not use one either.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        session.homeserver.rstrip("/") + PATH,
        headers={"Authorization": f"Bearer {session.access_token}", "Accept": "application/json"},
    )
    with opener.open(request, timeout=TIMEOUT) as response:  # raises HTTPError for non-2xx
        if response.status != 200 or response.headers.get_content_type() != "application/json":
            raise EarlySyncFailed(f"HTTP {response.status}, {response.headers.get_content_type()}")
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise EarlySyncFailed(f"the answer is over {MAX_BYTES // 2**20} MiB")
    return bytes(body)


def glimpse_of(early: Future[bytes], user_id: str) -> Future[tuple[RoomSummary, ...]]:
    """The glimpse of the early answer once it is in (worked out on the thread that received
    it); () when there is none."""
    out: Future[tuple[RoomSummary, ...]] = Future()
    out.set_running_or_notify_cancel()

    def done(answer: Future[bytes]) -> None:
        try:
            out.set_result(() if answer.exception() else glimpse(answer.result(), user_id))
        except BaseException:  # a glimpse is a nicety: the engine's list comes regardless
            if not out.done():
                out.set_result(())

    early.add_done_callback(done)
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
    direct: set[str] = set()
    for event in _events(_dig(data, "account_data")):
        if event.get("type") == "m.direct" and isinstance(event.get("content"), Mapping):
            direct = {r for ids in event["content"].values() if isinstance(ids, list) for r in ids if isinstance(r, str)}
    found = []
    for room_id, room in rooms.items():
        if isinstance(room_id, str) and room_id.startswith("!") and isinstance(room, Mapping):
            found.append(_summary(room_id, room, user_id, room_id in direct))
    found.sort(key=lambda r: -r.last_active)
    return tuple(found)


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        value = value.get(key) if isinstance(value, Mapping) else None
    return value


def _events(section: Any) -> list[Mapping[str, Any]]:
    events = _dig(section, "events")
    return [e for e in events if isinstance(e, Mapping)] if isinstance(events, list) else []


def _text(value: Any) -> str | None:
    return value[:NAME_CELLS] if isinstance(value, str) and value.strip() else None


def _summary(room_id: str, room: Mapping[str, Any], user_id: str, is_direct: bool) -> RoomSummary:
    timeline = _events(_dig(room, "timeline"))
    state: dict[tuple[str, str], Mapping[str, Any]] = {}
    for event in _events(_dig(room, "state")) + [e for e in timeline if "state_key" in e]:
        kind, key, content = event.get("type"), event.get("state_key"), event.get("content")
        if isinstance(kind, str) and isinstance(key, str) and isinstance(content, Mapping):
            state[(kind, key)] = content
    members: list[Member] = []
    for (kind, key), content in state.items():
        if kind == "m.room.member" and content.get("membership") in ("join", "invite") and len(members) < MOST_MEMBERS:
            members.append(Member(key, _text(content.get("displayname")), str(content["membership"])))
    create = state.get(("m.room.create", ""), {})
    visibility = state.get(("m.room.history_visibility", ""), {}).get("history_visibility")
    counts = _dig(room, "unread_notifications")
    stamps = [e["origin_server_ts"] for e in timeline if isinstance(e.get("origin_server_ts"), int)]
    others = [m for m in members if m.user_id != user_id]
    return RoomSummary(
        room_id,
        _room_name(state, _dig(room, "summary"), others, user_id),
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
