"""Direct chats: the `m.direct` account data (who each DM is with), read from every sync and
written when we create a DM or accept an invite that says it is one.

`m.direct` is written by all of a user's clients, so it is read defensively (`parse_direct`:
what is well formed is kept, the rest skipped) and written by read-modify-write against the
server's current copy, never our possibly stale one, so a DM another client added in between
is not lost.
"""

from __future__ import annotations

import logging
import re
import urllib.parse
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from .errors import EngineError

if TYPE_CHECKING:
    from .nio.client import EngineClient

logger = logging.getLogger(__name__)

USER_ID = re.compile(r"^@[^:\s]{1,255}:[^\s]{1,255}$")
# Room ids of room version 12 have no server part ("!<hash>"); older ones do ("!x:server").
ROOM_ID = re.compile(r"^![^\s:]{1,255}(?::[^\s]{1,255})?$")
MAX_USERS = 5000
MAX_ROOMS_PER_USER = 200

Direct = dict[str, tuple[str, ...]]  # user id -> their DM room ids, oldest first


def parse_direct(content: Any) -> Direct:
    """The well-formed part of an `m.direct` content: user ids mapped to room ids."""
    out: Direct = {}
    if not isinstance(content, dict):
        return out
    for user_id, rooms in list(content.items())[:MAX_USERS]:
        if not isinstance(user_id, str) or not USER_ID.match(user_id) or not isinstance(rooms, list):
            continue
        kept = tuple(dict.fromkeys(r for r in rooms[:MAX_ROOMS_PER_USER] if isinstance(r, str) and ROOM_ID.match(r)))
        if kept:
            out[user_id] = kept
    return out


def with_room(content: Any, user_id: str, room_id: str) -> dict[str, Any]:
    """`content` (the server's copy, kept as it is, entries we cannot read included) with
    `room_id` listed for `user_id`."""
    out = dict(content) if isinstance(content, dict) else {}
    rooms = out.get(user_id)
    rooms = [r for r in rooms if r != room_id] if isinstance(rooms, list) else []
    out[user_id] = rooms + [room_id]
    return out


def partner_of(direct: Direct, room_id: str, members: Mapping[str, Any] | None = None) -> str | None:
    """Who the DM `room_id` is with: the listed user still in the room if any, else the first."""
    listed = [user for user, rooms in direct.items() if room_id in rooms]
    if members is not None:
        for user in listed:
            if user in members:
                return user
    return listed[0] if listed else None


def rooms_by_room(direct: Direct) -> dict[str, str]:
    """room id -> the (first) user it is a DM with."""
    out: dict[str, str] = {}
    for user, rooms in direct.items():
        for room in rooms:
            out.setdefault(room, user)
    return out


class DirectChats:
    """What `m.direct` says, kept from sync (and the store, between runs), and written back."""

    KV = "m.direct"

    def __init__(self, client: EngineClient) -> None:
        self._client = client
        assert client.store is not None
        self._direct = parse_direct(client.store.get_kv(self.KV, {}))
        self._by_room = rooms_by_room(self._direct)

    @property
    def mapping(self) -> Direct:
        return self._direct

    def is_direct(self, room_id: str) -> bool:
        return room_id in self._by_room

    def partner(self, room_id: str, members: Mapping[str, Any] | None = None) -> str | None:
        if room_id not in self._by_room:
            return None
        return partner_of(self._direct, room_id, members)

    def rooms_with(self, user_id: str) -> tuple[str, ...]:
        return self._direct.get(user_id, ())

    def on_account_data(self, content: Any) -> bool:
        """A new `m.direct` from sync; True if what it says changed."""
        direct = parse_direct(content)
        if direct == self._direct:
            return False
        self._set(direct)
        return True

    def _set(self, direct: Direct) -> None:
        self._direct = direct
        self._by_room = rooms_by_room(direct)
        assert self._client.store is not None
        self._client.store.put_kv(self.KV, {user: list(rooms) for user, rooms in direct.items()})

    async def add(self, user_id: str, room_id: str) -> None:
        """List `room_id` as a DM with `user_id` (server first, then here)."""
        if room_id in self._direct.get(user_id, ()):
            return
        path = self._path()
        status, current = await self._client.raw_json("GET", path)
        if status == 404:
            current = {}
        elif status != 200:
            raise EngineError(f"could not read your direct chats (HTTP {status}: {current.get('error', '')})")
        content = with_room(current, user_id, room_id)
        status, answer = await self._client.raw_json("PUT", path, content)
        if status != 200:
            raise EngineError(f"could not mark the room as a direct chat (HTTP {status}: {answer.get('error', '')})")
        logger.info("m.direct: %s is a DM with %s", room_id, user_id)
        self._set(parse_direct(content))

    def _path(self) -> str:
        user = urllib.parse.quote(self._client.user_id, safe="")
        return f"/_matrix/client/v3/user/{user}/account_data/m.direct"
