"""Spaces: which rooms a space lists (from its `m.space.child` state, which nio keeps), and what
we know of the children we have not joined (names, topics, member counts, the servers to join
them through), asked of the server's `/hierarchy` endpoint in the background and kept per space.

The hierarchy answer comes from a server and describes rooms other people created: it is read
defensively (`parse_hierarchy`), capped, and nothing in it is trusted beyond display.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from ..records import record
from .directs import ROOM_ID
from .models import SpaceChild

if TYPE_CHECKING:
    from .nio.client import EngineClient

logger = logging.getLogger(__name__)

MAX_CHILDREN = 500  # per space
MAX_TEXT = 500  # characters of a name or topic kept
MAX_VIA = 10


@record
class ChildInfo:
    """What the hierarchy says about one child of a space."""

    room_id: str
    name: str | None
    topic: str | None
    member_count: int | None
    is_space: bool
    join_rule: str | None
    via: tuple[str, ...]


def _text(value: Any) -> str | None:
    return value[:MAX_TEXT] if isinstance(value, str) and value else None


def _via(content: Any) -> tuple[str, ...] | None:
    """The servers of an `m.space.child` content; None when it is not a valid child (the spec:
    `via` must be a non-empty list of server names)."""
    via = content.get("via") if isinstance(content, dict) else None
    if not isinstance(via, list):
        return None
    servers = tuple(dict.fromkeys(v for v in via[:MAX_VIA] if isinstance(v, str) and 0 < len(v) <= 255 and v.isprintable()))
    return servers or None


def parse_hierarchy(space_id: str, answer: Any) -> dict[str, ChildInfo]:
    """The direct children of `space_id` in a `/hierarchy` answer (max_depth=1), by room id."""
    rooms = answer.get("rooms") if isinstance(answer, dict) else None
    if not isinstance(rooms, list):
        return {}
    by_id = {r.get("room_id"): r for r in rooms[: MAX_CHILDREN + 1] if isinstance(r, dict)}
    space = by_id.get(space_id)
    state = space.get("children_state") if isinstance(space, dict) else None
    out: dict[str, ChildInfo] = {}
    for event in state if isinstance(state, list) else []:
        if len(out) >= MAX_CHILDREN:
            break
        if not isinstance(event, dict) or event.get("type") != "m.space.child":
            continue
        child_id = event.get("state_key")
        via = _via(event.get("content"))
        if not isinstance(child_id, str) or not ROOM_ID.match(child_id) or via is None or child_id == space_id:
            continue
        room = by_id.get(child_id)
        room = room if isinstance(room, dict) else {}
        members = room.get("num_joined_members")
        out[child_id] = ChildInfo(
            room_id=child_id,
            name=_text(room.get("name")) or _text(room.get("canonical_alias")),
            topic=_text(room.get("topic")),
            member_count=members if isinstance(members, int) and not isinstance(members, bool) and members >= 0 else None,
            is_space=room.get("room_type") == "m.space",
            join_rule=_text(room.get("join_rule")),
            via=via,
        )
    return out


def children(
    space_id: str,
    listed: Iterable[str],
    known: dict[str, ChildInfo],
    joined: Callable[[str], Any],
) -> tuple[SpaceChild, ...]:
    """A space's children as front ends see them: those its state lists (nio keeps them) plus
    what the hierarchy told us; joined ones first is the front end's business."""
    out: list[SpaceChild] = []
    ids = [c for c in dict.fromkeys(listed) if isinstance(c, str) and ROOM_ID.match(c) and c != space_id]
    for child_id in ids[:MAX_CHILDREN]:
        info = known.get(child_id)
        room = joined(child_id)
        out.append(SpaceChild(
            room_id=child_id,
            name=info.name if info else None,
            topic=info.topic if info else None,
            joined=room is not None,
            is_space=bool(info.is_space) if info else bool(room is not None and getattr(room, "room_type", None) == "m.space"),
            member_count=info.member_count if info else None,
            via=info.via if info else (),
        ))
    return tuple(out)


class Spaces:
    """The hierarchy of each joined space, fetched when its list of children changes."""

    def __init__(self, client: EngineClient) -> None:
        self._client = client
        self._known: dict[str, dict[str, ChildInfo]] = {}
        self._fetched_for: dict[str, frozenset[str]] = {}

    def known(self, space_id: str) -> dict[str, ChildInfo]:
        return self._known.get(space_id, {})

    def stale(self, space_id: str, listed: Iterable[str]) -> bool:
        """Whether the children the space lists changed since we last asked the server."""
        return self._fetched_for.get(space_id) != frozenset(listed)

    def forget(self, space_id: str) -> None:
        self._known.pop(space_id, None)
        self._fetched_for.pop(space_id, None)

    async def refresh(self, space_id: str, listed: Iterable[str]) -> bool:
        """Ask the server about the space's children; True if something was learnt."""
        listed = frozenset(listed)
        path = (
            f"/_matrix/client/v1/rooms/{urllib.parse.quote(space_id, safe='')}/hierarchy"
            f"?max_depth=1&limit={MAX_CHILDREN}"
        )
        try:
            status, answer = await self._client.raw_json("GET", path)
        except Exception as exc:
            logger.info("space %s: hierarchy not available: %s", space_id, exc)
            return False
        self._fetched_for[space_id] = listed
        if status != 200:
            logger.info("space %s: hierarchy answered HTTP %s", space_id, status)
            return False
        found = parse_hierarchy(space_id, answer)
        changed = found != self._known.get(space_id)
        self._known[space_id] = found
        return changed

    def via(self, room_id: str) -> tuple[str, ...]:
        """Servers to join `room_id` through, from any space that lists it."""
        for children in self._known.values():
            info = children.get(room_id)
            if info is not None:
                return info.via
        return ()
