"""Megolm sessions and their metadata, read from the store room by room when first used.

nio's Olm machine loads every inbound Megolm session into a `GroupSessionStore` when it starts:
with 20,000 sessions that is 20,000 unpickled vodozemac sessions, each pickle key derived
again, before the first frame. Here the store is opened with nothing loaded:

- decrypting a message asks for one session (`GroupSessionStore.get`): that session alone is
  read (one indexed query) and unpickled, not its room;
- anything that asks for a room (`_entries[room]`: merging a key, building a bundle, the
  inspector) reads all of the room's sessions (one query), each unpickled (or imported, for keys
  kept in a key bundle's blob) the first time it is read; sessions already read one by one are
  kept, so there is one object per session;
- metadata (`SessionMeta`) is read one session at a time, the same way;
- anything that asks for everything (iterating, counting) reads every room first, so every
  consumer still sees every session, whatever it holds.

The maps keep the shapes nio and the engine use (`_entries[room][sender][session_id]`, a dict
keyed by (room, session id)), so nothing else changes. A session whose stored form is damaged
is logged and treated as absent when it is first read, as it was at load before.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple, Protocol

from nio.crypto import GroupSessionStore, InboundGroupSession

from ..room_keys import SessionMeta

logger = logging.getLogger(__name__)


class Pending(NamedTuple):
    """A stored session not read yet: `opener(self)` makes it (or raises if it is damaged)."""

    opener: Callable[[Pending], InboundGroupSession]
    room_id: str
    session_id: str
    sender_key: str
    ed25519: str
    data: bytes | str  # a vodozemac pickle, or a Megolm session export
    chain: tuple[str, ...]


class SessionSource(Protocol):
    """What the store offers the lazy maps."""

    def room_sessions(self, room_id: str) -> list[Pending]: ...

    def one_session(self, room_id: str, session_id: str) -> Pending | None: ...

    def one_session_meta(self, room_id: str, session_id: str) -> SessionMeta | None: ...

    def rooms_with_sessions(self) -> set[str]: ...

    def room_session_meta(self, room_id: str) -> list[SessionMeta]: ...

    def rooms_with_meta(self) -> set[str]: ...


class SessionMap(dict):
    """One sender's sessions in a room: session id → session, each made on first read."""

    def __getitem__(self, session_id: str) -> InboundGroupSession:
        value = dict.__getitem__(self, session_id)
        if type(value) is Pending:
            value = self._open(session_id, value)
        return value

    def _open(self, session_id: str, pending: Pending) -> InboundGroupSession:
        try:
            session = pending.opener(pending)
        except Exception as exc:  # one damaged row must not lose the others
            dict.pop(self, session_id, None)
            logger.error("cannot load Megolm session %s of %s: %s", session_id, pending.room_id, exc)
            raise KeyError(session_id) from None
        dict.__setitem__(self, session_id, session)
        return session

    def get(self, session_id: str, default: Any = None) -> Any:
        try:
            return self[session_id]
        except KeyError:
            return default

    def pop(self, session_id: str, *default: Any) -> Any:
        if dict.__contains__(self, session_id):
            value = self.get(session_id)
            dict.pop(self, session_id, None)
            if value is not None:
                return value
        if default:
            return default[0]
        raise KeyError(session_id)

    def setdefault(self, session_id: str, default: Any = None) -> Any:
        value = self.get(session_id)
        if value is None:
            dict.__setitem__(self, session_id, default)
            return default
        return value

    def values(self) -> list[InboundGroupSession]:  # type: ignore[override]
        return [v for k in list(dict.keys(self)) if (v := self.get(k)) is not None]

    def keys(self) -> list[str]:  # type: ignore[override]
        # (dict(m) and {**m} copy through keys() and [] since __iter__ is overridden: every
        # session is made first, and a damaged one is left out.)
        return [k for k, _ in self.items()]

    def __iter__(self) -> Iterator[str]:
        return iter(list(dict.keys(self)))

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    def items(self) -> list[tuple[str, InboundGroupSession]]:  # type: ignore[override]
        return [(k, v) for k in list(dict.keys(self)) if (v := self.get(k)) is not None]

    def copy(self) -> dict[str, InboundGroupSession]:
        return dict(self.items())


class SenderMap(dict):
    """A room's sessions by sender key (a missing sender is an empty map, as in nio)."""

    def __missing__(self, sender_key: str) -> SessionMap:
        sessions = SessionMap()
        self[sender_key] = sessions
        return sessions


class RoomMap(dict):
    """Sessions by room; a room is read from the store the first time it is asked for."""

    def __init__(self, source: SessionSource) -> None:
        super().__init__()
        self._source = source
        self._all_loaded = False
        # Sessions of rooms not read whole yet, read one by one (None: we hold no such session).
        self._single: dict[str, dict[str, InboundGroupSession | None]] = {}

    def _load(self, room_id: str) -> SenderMap:
        senders = SenderMap()
        for pending in self._source.room_sessions(room_id):
            dict.__setitem__(senders[pending.sender_key], pending.session_id, pending)
        for session_id, session in self._single.pop(room_id, {}).items():
            if session is not None:
                held = dict.get(senders, session.sender_key)
                if held is not None and dict.__contains__(held, session_id):
                    dict.__setitem__(held, session_id, session)
        dict.__setitem__(self, room_id, senders)
        return senders

    def one(self, room_id: str, sender_key: str, session_id: str) -> InboundGroupSession | None:
        """The session, reading only it if its room has not been read whole."""
        if dict.__contains__(self, room_id):
            senders = dict.__getitem__(self, room_id)
            sessions = dict.get(senders, sender_key)
            return sessions.get(session_id) if sessions is not None else None
        known = self._single.setdefault(room_id, {})
        if session_id in known:
            session = known[session_id]
        else:
            session = None
            pending = self._source.one_session(room_id, session_id)
            if pending is not None:
                try:
                    session = pending.opener(pending)
                except Exception as exc:
                    logger.error("cannot load Megolm session %s of %s: %s", session_id, room_id, exc)
            known[session_id] = session
        return session if session is not None and session.sender_key == sender_key else None

    def __missing__(self, room_id: str) -> SenderMap:
        return self._load(room_id)

    def get(self, room_id: str, default: Any = None) -> Any:
        return self[room_id]  # loads it (an empty map if we hold nothing for the room)

    def __contains__(self, room_id: object) -> bool:
        return isinstance(room_id, str) and bool(self[room_id])

    def load_all(self) -> None:
        if self._all_loaded:
            return
        for room_id in self._source.rooms_with_sessions():
            if not dict.__contains__(self, room_id):
                self._load(room_id)
        self._all_loaded = True

    def __iter__(self) -> Iterator[str]:
        self.load_all()
        return iter(list(dict.keys(self)))

    def __len__(self) -> int:
        self.load_all()
        return dict.__len__(self)

    def keys(self) -> list[str]:  # type: ignore[override]
        self.load_all()
        return list(dict.keys(self))

    def values(self) -> list[SenderMap]:  # type: ignore[override]
        self.load_all()
        return list(dict.values(self))

    def items(self) -> list[tuple[str, SenderMap]]:  # type: ignore[override]
        self.load_all()
        return list(dict.items(self))

    def pop(self, room_id: str, *default: Any) -> Any:
        self[room_id]  # read it first, so what the store holds is not read back in later
        return dict.pop(self, room_id, *default)

    def __eq__(self, other: object) -> bool:
        self.load_all()
        return dict.__eq__(self, other)


class LazyGroupSessionStore(GroupSessionStore):
    """nio's GroupSessionStore over a `RoomMap` (and without its linear scan per added session)."""

    def __init__(self, source: SessionSource) -> None:
        self._entries = RoomMap(source)

    def __iter__(self) -> Iterator[InboundGroupSession]:
        for senders in self._entries.values():
            for sessions in senders.values():
                yield from sessions.values()

    def add(self, session: InboundGroupSession) -> bool:
        """As nio's: False if this very object is already held; otherwise it replaces the copy
        held under its (room, sender, session id)."""
        sessions = self._entries[session.room_id][session.sender_key]
        session_id = session.id
        if sessions.get(session_id) is session:
            return False
        sessions[session_id] = session
        return True

    def get(self, room_id: str, sender_key: str, session_id: str) -> InboundGroupSession | None:
        return self._entries.one(room_id, sender_key, session_id)


class MetaMap(dict):
    """(room, session id) → SessionMeta, read from the store room by room when first asked."""

    def __init__(self, source: SessionSource) -> None:
        super().__init__()
        self._source = source
        self._rooms: set[str] = set()  # read whole
        self._asked: set[tuple[str, str]] = set()  # read one by one
        self._asked_in: dict[str, int] = {}  # how many, per room
        self._all_loaded = False

    # A room asked about this many times one by one is read whole (a key bundle's merge asks
    # about each of its thousands of sessions: one query, not thousands).
    WHOLE_ROOM_AFTER = 32

    def _room(self, key: object) -> None:
        """Read the metadata of `key`'s session from the store, once (a stored value never
        replaces one set here since)."""
        try:
            room_id = key[0]  # type: ignore[index]
            if room_id in self._rooms or key in self._asked or len(key) != 2 or not isinstance(room_id, str):  # type: ignore[arg-type]
                return
        except (TypeError, IndexError, KeyError):
            return
        count = self._asked_in[room_id] = self._asked_in.get(room_id, 0) + 1
        if count > self.WHOLE_ROOM_AFTER:
            self._whole_room(room_id)
            return
        self._asked.add(key)  # type: ignore[arg-type]
        meta = self._source.one_session_meta(room_id, key[1])  # type: ignore[index]
        if meta is not None:
            dict.setdefault(self, key, meta)

    def _whole_room(self, room_id: str) -> None:
        if room_id not in self._rooms:
            self._rooms.add(room_id)
            for meta in self._source.room_session_meta(room_id):
                dict.setdefault(self, (meta.room_id, meta.session_id), meta)

    def __getitem__(self, key: tuple[str, str]) -> SessionMeta:
        self._room(key)
        return dict.__getitem__(self, key)

    def get(self, key: tuple[str, str], default: Any = None) -> Any:
        self._room(key)
        return dict.get(self, key, default)

    def __setitem__(self, key: tuple[str, str], value: SessionMeta) -> None:
        self._room(key)  # first, so the stored value never overwrites this one later
        dict.__setitem__(self, key, value)

    def __contains__(self, key: object) -> bool:
        self._room(key)
        return dict.__contains__(self, key)

    def pop(self, key: tuple[str, str], *default: Any) -> Any:
        self._room(key)
        return dict.pop(self, key, *default)

    def update(self, *args: Any, **kwargs: Any) -> None:
        for key, value in dict(*args, **kwargs).items():
            self[key] = value

    def load_all(self) -> None:
        if self._all_loaded:
            return
        for room_id in self._source.rooms_with_meta():
            self._whole_room(room_id)
        self._all_loaded = True

    def __iter__(self) -> Iterator[tuple[str, str]]:
        self.load_all()
        return iter(list(dict.keys(self)))

    def __len__(self) -> int:
        self.load_all()
        return dict.__len__(self)

    def keys(self) -> list[tuple[str, str]]:  # type: ignore[override]
        self.load_all()
        return list(dict.keys(self))

    def values(self) -> list[SessionMeta]:  # type: ignore[override]
        self.load_all()
        return list(dict.values(self))

    def items(self) -> list[tuple[tuple[str, str], SessionMeta]]:  # type: ignore[override]
        self.load_all()
        return list(dict.items(self))

    def __eq__(self, other: object) -> bool:
        self.load_all()
        return dict.__eq__(self, other)


def room_ids(rows: Iterable[tuple[Any, ...]]) -> set[str]:
    return {row[0] for row in rows}
