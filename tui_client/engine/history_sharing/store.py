"""Persistence of history sharing's records, in the profile's SQLite file (tables made by
`engine.migrations`). Plain SQL on the store's connection; no rules here."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any, Protocol

from .records import (
    AcceptedInvite,
    AcceptState,
    BundleState,
    ReceivedBundle,
    WithheldRecord,
    WithheldVia,
)


class Database(Protocol):
    @property
    def conn(self) -> sqlite3.Connection: ...

    def transaction(self) -> AbstractContextManager[None]: ...


_BUNDLE_COLUMNS = (
    "room_id, sender_user, sender_device, sender_key, sender_device_keys, file, received_at, state, detail, "
    "key_count, withheld_count, imported_count, finished_at, message_count, attempts, next_attempt_at, "
    "bytes_done, bytes_total, predicted, predicted_total"
)


class SharingStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._withheld_cache: dict[str, dict[str, WithheldRecord]] = {}

    def transaction(self) -> AbstractContextManager[None]:
        return self.db.transaction()

    # -- received bundles ------------------------------------------------------------------------

    def put_bundle(self, b: ReceivedBundle) -> None:
        """Newest per (room, sender) wins."""
        self.db.conn.execute(
            f"INSERT OR REPLACE INTO tc_received_bundle({_BUNDLE_COLUMNS}) VALUES ({','.join('?' * 20)})",
            (
                b.room_id, b.sender_user, b.sender_device, b.sender_key,
                json.dumps(b.sender_device_keys) if b.sender_device_keys is not None else None,
                json.dumps(b.file), b.received_at, b.state.value, b.detail, b.key_count, b.withheld_count,
                b.imported_count, b.finished_at, b.message_count, b.attempts, b.next_attempt_at,
                b.bytes_done, b.bytes_total, json.dumps(list(b.predicted)) if b.predicted is not None else None,
                b.predicted_total,
            ),
        )

    def bundle(self, room_id: str, sender_user: str) -> ReceivedBundle | None:
        rows = self._bundles("WHERE room_id=? AND sender_user=?", (room_id, sender_user))
        return rows[0] if rows else None

    def bundles(self, room_id: str | None = None) -> list[ReceivedBundle]:
        if room_id is None:
            return self._bundles("", ())
        return self._bundles("WHERE room_id=?", (room_id,))

    def bundles_in_state(self, *states: BundleState) -> list[ReceivedBundle]:
        marks = ",".join("?" * len(states))
        return self._bundles(f"WHERE state IN ({marks})", tuple(s.value for s in states))

    def delete_bundles(self, keys: Iterable[tuple[str, str]]) -> None:
        self.db.conn.executemany("DELETE FROM tc_received_bundle WHERE room_id=? AND sender_user=?", list(keys))

    def _bundles(self, where: str, args: tuple[Any, ...]) -> list[ReceivedBundle]:
        out = []
        for row in self.db.conn.execute(
            f"SELECT {_BUNDLE_COLUMNS} FROM tc_received_bundle {where} ORDER BY received_at", args
        ):
            try:
                state = BundleState(row[7])
            except ValueError:
                state = BundleState.WAITING
            out.append(ReceivedBundle(
                room_id=row[0], sender_user=row[1], sender_device=row[2], sender_key=row[3],
                sender_device_keys=json.loads(row[4]) if row[4] else None, file=json.loads(row[5]),
                received_at=row[6], state=state, detail=row[8], key_count=row[9], withheld_count=row[10],
                imported_count=row[11], finished_at=row[12], message_count=row[13], attempts=row[14] or 0,
                next_attempt_at=row[15], bytes_done=row[16], bytes_total=row[17],
                predicted=tuple(json.loads(row[18])) if row[18] else None, predicted_total=row[19],
            ))
        return out

    # -- accepted invites ------------------------------------------------------------------------

    def put_acceptance(self, a: AcceptedInvite) -> None:
        self.db.conn.execute(
            "INSERT OR REPLACE INTO tc_accepted_invite(room_id, inviter, accepted_at, state, joined_at) "
            "VALUES (?,?,?,?,?)",
            (a.room_id, a.inviter, a.accepted_at, a.state.value, a.joined_at),
        )

    def acceptance(self, room_id: str) -> AcceptedInvite | None:
        row = self.db.conn.execute(
            "SELECT room_id, inviter, accepted_at, state, joined_at FROM tc_accepted_invite WHERE room_id=?",
            (room_id,),
        ).fetchone()
        return self._acceptance(row) if row else None

    def acceptances(self, *states: AcceptState) -> list[AcceptedInvite]:
        sql = "SELECT room_id, inviter, accepted_at, state, joined_at FROM tc_accepted_invite"
        args: tuple[str, ...] = ()
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args = tuple(s.value for s in states)
        return [self._acceptance(row) for row in self.db.conn.execute(sql, args)]

    def delete_acceptance(self, room_id: str) -> None:
        self.db.conn.execute("DELETE FROM tc_accepted_invite WHERE room_id=?", (room_id,))

    @staticmethod
    def _acceptance(row: Any) -> AcceptedInvite:
        try:
            state = AcceptState(row[3])
        except ValueError:
            state = AcceptState.DONE
        return AcceptedInvite(row[0], row[1], row[2], state, row[4])

    # -- withheld ----------------------------------------------------------------------------------

    def withheld(self, room_id: str, session_id: str) -> WithheldRecord | None:
        """One room's records are read once and kept (failure reasons ask per message)."""
        if room_id not in self._withheld_cache:
            self._withheld_cache[room_id] = {r.session_id: r for r in self.withheld_in(room_id)}
        return self._withheld_cache[room_id].get(session_id)

    def save_withheld(self, records: Iterable[WithheldRecord]) -> None:
        rows = [
            (r.room_id, r.session_id, r.sender_key, r.code, r.reason, r.from_user, r.from_device,
             r.via.value, r.received_at)
            for r in records
        ]
        self._withheld_cache.clear()
        self.db.conn.executemany(
            "INSERT OR REPLACE INTO tc_withheld(room_id, session_id, sender_key, code, reason, from_user, "
            "from_device, via, received_at) VALUES (?,?,?,?,?,?,?,?,?)",
            rows,
        )

    def withheld_in(self, room_id: str | None = None) -> list[WithheldRecord]:
        sql = ("SELECT room_id, session_id, sender_key, code, reason, from_user, from_device, via, received_at "
               "FROM tc_withheld")
        args: tuple[str, ...] = ()
        if room_id is not None:
            sql += " WHERE room_id=?"
            args = (room_id,)
        return list(self._withheld_rows(sql, args))

    def _withheld_rows(self, sql: str, args: tuple[str, ...]) -> Iterator[WithheldRecord]:
        for row in self.db.conn.execute(sql, args):
            try:
                via = WithheldVia(row[7])
            except ValueError:
                via = WithheldVia.TO_DEVICE
            yield WithheldRecord(
                room_id=row[0], session_id=row[1], sender_key=row[2], code=row[3], reason=row[4],
                from_user=row[5], from_device=row[6], via=via, received_at=row[8],
            )
