"""The invitee's side of MSC4268, with I/O: keep announced bundles, remember which invite we
accepted (before ``/join`` goes out), and import the inviter's bundle in the background —
downloading with progress, retrying passing failures with backoff while the client runs,
refusing for good what can never work — then say what happened.

A thin shell over `rules.py` (decisions), `bundle.py` (format) and `store.py` (records). One
task per room runs the import; nothing here ever blocks `join` or a sync on the media server.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import replace
from typing import Any


from ..crypto.attachments import minimal_file_info
from ..models import BundleSummary, ImportResult
from .bundle import (
    KEY_COUNT_HINT,
    MESSAGE_COUNT_HINT,
    WITHHELD_COUNT_HINT,
    PREDICTED_TOTAL_HINT,
    count_hint,
    predicted_hint,
    storable_text,
)
from .host import SharingHost
from .records import (
    AcceptedInvite,
    AcceptState,
    BundleState,
    ReceivedBundle,
    WithheldRecord,
    WithheldVia,
)
from .rules import (
    AcceptAction,
    Announcement,
    check_announcement,
    decide_accept,
    plural,
    records_to_drop,
)
from .explain import BUNDLE_GRACE_SECONDS
from .importer import BundleImporter
from .store import SharingStore

logger = logging.getLogger(__name__)



class BundleReceiver:
    def __init__(self, host: SharingHost, records: SharingStore) -> None:
        self.host = host
        self.records = records
        self.importer = BundleImporter(host, records)
        self._tasks: dict[str, asyncio.Task[Any]] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._last: dict[str, ImportResult] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._open: set[str] | None = None  # rooms with an open acceptance, read lazily

    @property
    def _client(self) -> Any:
        return self.host.client

    # -- announcements -------------------------------------------------------------------------------

    def on_announcement(self, sender: str, sender_key: str, payload: dict[str, Any]) -> ReceivedBundle | None:
        """An Olm-decrypted m.room_key_bundle: check it and keep it (newest per room and sender)."""
        known = {d.id: d.ed25519 for d in self._client.olm.device_store.active_user_devices(sender)}
        checked = check_announcement(payload, sender, sender_key, known)
        if not isinstance(checked, Announcement):
            logger.warning("ignored a key bundle from %s: %s", sender, checked)
            self.host.notice(f"Ignored a key bundle from {sender}: {checked}", level="warning")
            return None
        content = payload["content"]
        record = ReceivedBundle(
            room_id=checked.room_id,
            sender_user=sender,
            sender_device=checked.sender_device,
            sender_key=sender_key,
            sender_device_keys=checked.sender_device_keys,
            file=minimal_file_info(checked.file),
            received_at=self.host.clock(),
            state=BundleState.WAITING,
            key_count=count_hint(content, KEY_COUNT_HINT),
            withheld_count=count_hint(content, WITHHELD_COUNT_HINT),
            message_count=count_hint(content, MESSAGE_COUNT_HINT),
            predicted=predicted_hint(content),
            predicted_total=count_hint(content, PREDICTED_TOTAL_HINT),
        )
        old = self.records.bundle(record.room_id, sender)
        if old is not None and old.state.in_progress and self.busy(record.room_id):
            logger.info("a newer key bundle for %s from %s replaces one being imported", record.room_id, sender)
            self._stop(record.room_id)
        self.records.put_bundle(record)
        logger.info("received a key bundle for %s from %s (%s); kept until we accept an invite from them",
                    record.room_id, sender, checked.sender_device)
        self.tidy()
        acceptance = self.records.acceptance(record.room_id)
        if acceptance is not None and acceptance.open and acceptance.inviter == sender:
            self.schedule(record.room_id)
        return record

    def on_plaintext_bundle(self, sender: str, event_type: str) -> None:
        logger.warning("ignored an unencrypted %s from %s: key bundles must arrive Olm-encrypted", event_type, sender)
        self.host.notice(f"Ignored an unencrypted key bundle from {sender}", level="warning")

    def on_withheld(self, sender: str, content: Any) -> str | None:
        """A plaintext m.room_key.withheld: remember it to explain the undecryptable message.
        Returns the room it is about, if usable."""
        if not isinstance(content, dict):
            return None
        room_id, session_id, code = (content.get(k) for k in ("room_id", "session_id", "code"))
        if not (isinstance(room_id, str) and isinstance(session_id, str) and isinstance(code, str)) or not all(
            f and len(f) <= 255 and f.isprintable() for f in (room_id, session_id, code)
        ):
            logger.info("ignored a malformed m.room_key.withheld from %s", sender)
            return None
        reason = content.get("reason")
        from_device = content.get("from_device")
        sender_key = content.get("sender_key")
        self.records.save_withheld([WithheldRecord(
            room_id, session_id,
            sender_key if isinstance(sender_key, str) and len(sender_key) <= 64 and sender_key.isprintable() else None,
            code, storable_text(reason[:300]) if isinstance(reason, str) else None, sender,
            storable_text(from_device[:255]) if isinstance(from_device, str) else None, WithheldVia.TO_DEVICE,
            self.host.clock(),
        )])
        return room_id

    def tidy(self) -> None:
        """Forget bundles that can never be imported (rules.records_to_drop)."""
        client = self._client
        anchored = {(rid, room.inviter) for rid, room in client.invited_rooms.items() if room.inviter}
        anchored |= {(a.room_id, a.inviter) for a in self.records.acceptances(AcceptState.JOINING, AcceptState.JOINED)}
        drop = records_to_drop(
            self.records.bundles(), anchored, now=self.host.clock(), window=self.host.settings.bundle_accept_window
        )
        if drop:
            self.records.delete_bundles(drop)
            logger.info("forgot %s that could never be used", plural(len(drop), "unsolicited key bundle"))

    # -- accepting an invite --------------------------------------------------------------------------

    def before_join(self, room_id: str, inviter: str) -> None:
        """Record the acceptance before `/join` goes out: whatever happens to the answer, we
        know who invited us."""
        self._stop(room_id)
        self.records.put_acceptance(AcceptedInvite(room_id, inviter, self.host.clock(), AcceptState.JOINING))
        if self._open is not None:
            self._open.add(room_id)

    def join_refused(self, room_id: str) -> None:
        """The server refused the join: there is nothing to accept."""
        acceptance = self.records.acceptance(room_id)
        if acceptance is not None and acceptance.state is AcceptState.JOINING:
            self.records.delete_acceptance(room_id)

    def joined(self, room_id: str) -> None:
        """We are in the room (the server's answer to /join, or our membership in a sync). An
        acceptance recorded before the join is confirmed, and the import starts."""
        acceptance = self.records.acceptance(room_id)
        if acceptance is None or acceptance.state is not AcceptState.JOINING:
            return  # not ours, or already confirmed (later triggers: a bundle, a restart)
        self.records.put_acceptance(replace(acceptance, state=AcceptState.JOINED, joined_at=self.host.clock()))
        # Explanations say "waiting" for a short while, then the final truth: look again then.
        old = self._timers.pop(room_id, None)
        if old is not None:
            old.cancel()
        self._timers[room_id] = asyncio.get_running_loop().call_later(
            BUNDLE_GRACE_SECONDS + 1, self.host.refresh_failures, room_id
        )
        self.schedule(room_id)

    def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()

    def left(self, room_id: str) -> None:
        """We left: an acceptance no longer holds (rejoining without an invite imports nothing)."""
        self._stop(room_id)
        self.records.delete_acceptance(room_id)

    def identity_accepted(self, user_id: str) -> None:
        """The user accepted `user_id`'s new identity: bundles held because of it go again."""
        for bundle in self.records.bundles_in_state(BundleState.HELD):
            if bundle.sender_user == user_id:
                self.schedule(bundle.room_id)

    def start(self) -> None:
        """At start-up: tidy, drop acceptances whose window has passed, and resume the others
        (interrupted imports included) in the background."""
        self.tidy()
        now, window = self.host.clock(), self.host.settings.bundle_accept_window
        for acceptance in self.records.acceptances(AcceptState.JOINING, AcceptState.JOINED):
            if now - acceptance.accepted_at > window:
                bundle = self.records.bundle(acceptance.room_id, acceptance.inviter)
                decision = decide_accept(acceptance, bundle, joined=True, now=now, window=window)
                self._expire(acceptance, bundle, decision.reason)
            else:
                self.schedule(acceptance.room_id)

    def _expire(self, acceptance: AcceptedInvite, bundle: ReceivedBundle | None, reason: str) -> ImportResult:
        self.records.put_acceptance(replace(acceptance, state=AcceptState.EXPIRED))
        if bundle is not None and not bundle.state.final:
            self.importer.finish(bundle, BundleState.REJECTED, reason)
        logger.info("not importing keys for %s: %s", acceptance.room_id, reason)
        self.host.refresh_failures(acceptance.room_id)
        return ImportResult("expired", reason)

    def acceptance(self, room_id: str) -> AcceptedInvite | None:
        return self.records.acceptance(room_id)

    def incoming(self, room_id: str) -> BundleSummary | None:
        """The inviter's bundle while it is on its way (asked for every room on every update,
        so rooms without an open acceptance are answered from memory)."""
        if self._open is None:
            self._open = {a.room_id for a in self.records.acceptances(AcceptState.JOINING, AcceptState.JOINED)}
        if room_id not in self._open:
            return None
        acceptance = self.records.acceptance(room_id)
        if acceptance is None or not acceptance.open:
            self._open.discard(room_id)
            return None
        bundle = self.records.bundle(room_id, acceptance.inviter)
        if bundle is None or not (bundle.state.in_progress or bundle.state is BundleState.HELD):
            return None
        return bundle.summary()

    # -- the import task ------------------------------------------------------------------------------

    def schedule(self, room_id: str) -> None:
        """Make sure the room's import task runs (or wakes up from a retry wait)."""
        task = self._tasks.get(room_id)
        if task is not None and not task.done():
            self._wake.setdefault(room_id, asyncio.Event()).set()
            return
        self._wake[room_id] = asyncio.Event()
        self._tasks[room_id] = self.host.spawn(self._run(room_id), f"bundle-import {room_id}")

    def _stop(self, room_id: str) -> None:
        task = self._tasks.pop(room_id, None)
        if task is not None and not task.done():
            task.cancel()

    def busy(self, room_id: str) -> bool:
        task = self._tasks.get(room_id)
        return task is not None and not task.done()

    async def wait(self, room_id: str, timeout: float) -> ImportResult | None:
        """Wait up to `timeout` for the room's import task; None if it is still running."""
        task = self._tasks.get(room_id)
        if task is not None and not task.done():
            await asyncio.wait([task], timeout=timeout)
            if not task.done():
                return None
        return self._last.get(room_id)

    async def _run(self, room_id: str) -> None:
        current = asyncio.current_task()
        try:
            while True:
                result, retry_at = await self.attempt(room_id)
                self._last[room_id] = result
                if retry_at is None:
                    return
                wake = self._wake.setdefault(room_id, asyncio.Event())
                wake.clear()
                try:
                    await asyncio.wait_for(wake.wait(), max(0.0, retry_at - self.host.clock()))
                except asyncio.TimeoutError:
                    pass
        finally:
            if self._tasks.get(room_id) is current:
                del self._tasks[room_id]

    async def attempt(self, room_id: str) -> tuple[ImportResult, float | None]:
        """One step of the import; returns the result and, for a retry, when to try again."""
        acceptance = self.records.acceptance(room_id)
        bundle = self.records.bundle(room_id, acceptance.inviter) if acceptance else None
        now = self.host.clock()
        decision = decide_accept(
            acceptance, bundle, joined=room_id in self._client.rooms, now=now,
            window=self.host.settings.bundle_accept_window,
        )
        if decision.action is AcceptAction.NOTHING:
            return ImportResult("nothing", decision.reason), None
        assert acceptance is not None
        if decision.action is AcceptAction.EXPIRE:
            return self._expire(acceptance, bundle, decision.reason), None
        if decision.action is AcceptAction.DONE:
            self.records.put_acceptance(replace(acceptance, state=AcceptState.DONE))
            assert bundle is not None
            return ImportResult(bundle.state.value, decision.reason), None
        if decision.action is AcceptAction.WAIT:
            if bundle is not None and bundle.state is BundleState.RETRYING and bundle.next_attempt_at:
                return ImportResult("retrying", decision.reason), bundle.next_attempt_at
            others = sorted({b.sender_user for b in self.records.bundles(room_id)} - {acceptance.inviter})
            if others:
                logger.warning(
                    "ignoring key bundle(s) for %s from %s: only the bundle of the inviter (%s) is accepted",
                    room_id, ", ".join(others), acceptance.inviter,
                )
            return ImportResult("waiting", decision.reason), None
        assert bundle is not None
        return await self.importer.run(acceptance, bundle)
