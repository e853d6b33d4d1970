"""One import of the inviter's key bundle, with I/O: check the sender's trust, download the
file with progress, decrypt and parse it, merge the keys, and record what happened. The
receiver decides when to run it (rules.decide_accept) and retries it; this does one try."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import replace
from typing import Any

from ..bulk import collector_paused
from ..crypto.attachments import AttachmentError, decrypt_attachment, parse_mxc
from ..crypto.megolm import MegolmKeyError, check_exported
from ..errors import DownloadError
from ..models import ImportResult
from ..nio.lazy_sessions import Pending
from ..nio.olm import changed
from ..nio.store import AppStore
from ..room_keys import Forwarder, MergeAction, Origin, SessionMeta
from .bundle import BundleError, HistoricKey, ParsedBundle, parse_bundle
from .host import SharingHost
from .records import AcceptedInvite, AcceptState, BundleState, ReceivedBundle, WithheldRecord, WithheldVia
from .rules import download_failure, plural, retry_delay, trust_verdict
from .store import SharingStore

logger = logging.getLogger(__name__)

PROGRESS_INTERVAL = 0.25  # seconds between progress updates to the UI


class BundleImporter:
    def __init__(self, host: SharingHost, records: SharingStore) -> None:
        self.host = host
        self.records = records
        self._progress_at = 0.0

    @property
    def _client(self) -> Any:
        return self.host.client

    async def run(self, acceptance: AcceptedInvite, bundle: ReceivedBundle) -> tuple[ImportResult, float | None]:
        """One try: trust, download, check, store. Returns the result and, for a retry, when."""
        room_id, sender = bundle.room_id, bundle.sender_user
        started = time.perf_counter()
        try:
            await self.host.query_keys({sender})
        except Exception as exc:  # trust is then judged on what we already know
            logger.info("could not refresh the keys of %s before importing: %s", sender, exc)
        state, why = trust_verdict(
            self.host.identity.sender_trust(sender, bundle.sender_key, bundle.sender_device_keys), sender
        )
        if state is BundleState.HELD:
            self.finish(bundle, BundleState.HELD, why)
            logger.warning("held the key bundle for %s from %s: %s", room_id, sender, why)
            self.host.notice(f"The keys {sender} shared for earlier messages are on hold: {why}",
                             room_id=room_id, level="warning")
            self.host.refresh_failures(room_id)
            return ImportResult("held", why), None
        if state is BundleState.REJECTED:
            return self.reject(acceptance, bundle, why), None
        bundle = replace(bundle, state=BundleState.DOWNLOADING, detail=None, bytes_done=0, bytes_total=None)
        self.records.put_bundle(bundle)
        self.announce(room_id)
        try:
            ciphertext = await self._download(bundle)
        except DownloadError as exc:
            final, why = (True, str(exc)) if exc.final else download_failure(exc.status, str(exc))
            if final:
                return self.reject(acceptance, bundle, why), None
            attempts = bundle.attempts + 1
            retry_at = self.host.clock() + retry_delay(attempts)
            self.records.put_bundle(replace(
                bundle, state=BundleState.RETRYING, attempts=attempts, next_attempt_at=retry_at,
                detail=why,
            ))
            logger.warning("key bundle for %s from %s: %s; retrying in %.0f s", room_id, sender, why,
                           retry_at - self.host.clock())
            self.announce(room_id)
            return ImportResult("retrying", why), retry_at
        downloaded = time.perf_counter()
        bundle = replace(bundle, state=BundleState.IMPORTING, bytes_done=len(ciphertext))
        self.records.put_bundle(bundle)
        self.announce(room_id)
        with collector_paused():  # (bulk.py: 10,000 keys are ~100,000 objects that all stay)
            try:
                parsed, sessions = await asyncio.to_thread(self._decode, ciphertext, bundle)
            except (BundleError, AttachmentError) as exc:
                return self.reject(acceptance, bundle, str(exc)), None
            decoded = time.perf_counter()
            imported = self._store(acceptance, bundle, parsed, sessions)
        if parsed.other_room_entries:
            logger.warning(
                "the key bundle from %s for %s named other rooms in %d entries; those were ignored",
                sender, room_id, parsed.other_room_entries,
            )
        logger.info(
            "imported %d of %d shared keys (+%d not-shared records) for %s from %s "
            "(download %.0f ms, decrypt+parse+verify %.0f ms, store %.0f ms)",
            imported, len(parsed.room_keys), len(parsed.withheld), room_id, sender,
            (downloaded - started) * 1000, (decoded - downloaded) * 1000, (time.perf_counter() - decoded) * 1000,
        )
        name = self.host.display_name(room_id, sender)
        count = len(parsed.room_keys)
        if bundle.message_count:
            what = plural(bundle.message_count, "earlier message")
        else:
            what = f"earlier messages ({plural(count, 'session key')})"
        self.host.notice(f"You can read {what}: {name} shared the keys", room_id=room_id)
        self.host.refresh_failures(room_id)
        self.host.emit_rooms()
        return ImportResult("imported", "ok", imported, count, len(parsed.withheld)), None

    def finish(self, bundle: ReceivedBundle, state: BundleState, detail: str, **fields: Any) -> ReceivedBundle:
        done = replace(bundle, state=state, detail=detail, finished_at=self.host.clock(), next_attempt_at=None,
                       **fields)
        self.records.put_bundle(done)
        return done

    def reject(self, acceptance: AcceptedInvite, bundle: ReceivedBundle, detail: str) -> ImportResult:
        logger.warning("refused the key bundle for %s from %s: %s", bundle.room_id, bundle.sender_user, detail)
        with self.records.transaction():
            self.finish(bundle, BundleState.REJECTED, detail)
            self.records.put_acceptance(replace(acceptance, state=AcceptState.DONE))
        self.host.notice(
            f"Refused the keys {bundle.sender_user} shared for earlier messages: {detail}",
            room_id=bundle.room_id, level="warning",
        )
        self.host.refresh_failures(bundle.room_id)
        self.host.emit_rooms()
        return ImportResult("rejected", detail)

    def announce(self, room_id: str) -> None:
        """Tell the UI the bundle's state changed (the invite card, the waiting messages)."""
        self.host.refresh_failures(room_id)
        self.host.emit_rooms()

    # -- download, decode, store -------------------------------------------------------------------------

    async def _download(self, bundle: ReceivedBundle) -> bytes:
        try:
            server, media_id = parse_mxc(bundle.file["url"])
        except AttachmentError as exc:
            raise DownloadError(None, str(exc), final=True) from None
        state = {"bundle": bundle}

        def progress(done: int, total: int | None) -> None:
            now = time.monotonic()
            if now - self._progress_at < PROGRESS_INTERVAL and (total is None or done < total):
                return
            self._progress_at = now
            state["bundle"] = replace(state["bundle"], bytes_done=done, bytes_total=total)
            self.records.put_bundle(state["bundle"])
            self.announce(bundle.room_id)

        return await self._client.download_media(
            server, media_id, limit=self.host.settings.bundle_max_bytes, on_progress=progress
        )

    @staticmethod
    def _decode(ciphertext: bytes, bundle: ReceivedBundle) -> tuple[ParsedBundle, list[Pending]]:
        plaintext = decrypt_attachment(ciphertext, bundle.file)
        parsed = parse_bundle(plaintext, bundle.room_id)
        return parsed, pending_sessions(parsed.room_keys, bundle.sender_key)

    def _store(
        self, acceptance: AcceptedInvite, bundle: ReceivedBundle, parsed: ParsedBundle,
        sessions: list[Pending],
    ) -> int:
        olm = self._client.olm
        identity = self.host.identity.identity_of(bundle.sender_user)
        now = self.host.clock()
        forwarder = Forwarder(bundle.sender_user, bundle.sender_device,
                              identity.master.public_key if identity else None)
        candidates = [
            (s, SessionMeta(k.room_id, k.session_id, k.sender_key, True, Origin.BUNDLE, *forwarder, now))
            for s, k in zip(sessions, parsed.room_keys)
        ]
        outcomes = olm.merge_sessions(candidates)
        # Brand-new sessions go into one encrypted blob for this bundle, exported from the same
        # key text the session in memory was made from, their metadata the blob's (it names the
        # forwarder); a session that replaced or improved a copy we held goes to the sessions
        # table, its metadata to the metadata table (both win over blobs on load).
        new_entries = []
        replaced = []
        replaced_metas = []
        for outcome, key in zip(outcomes, parsed.room_keys):
            if outcome.session is None:
                continue
            if outcome.decision.action is MergeAction.NEW:
                new_entries.append((key.session_id, key.sender_key, key.sender_claimed_ed25519, key.session_key))
            else:
                replaced.append(outcome.session)
                if outcome.meta is not None:
                    replaced_metas.append(outcome.meta)
        stored_sessions, metas = changed(outcomes)
        withheld = [
            WithheldRecord(w.room_id, w.session_id, w.sender_key, w.code, w.reason, bundle.sender_user,
                           w.from_device, WithheldVia.BUNDLE, now)
            for w in parsed.withheld
        ]
        store = self._client.store
        with store.deferred_checkpoint(), store.transaction():
            if new_entries:
                store.save_bundle_sessions(bundle.room_id, bundle.sender_key, new_entries, now, forwarder)
            if replaced:
                store.save_inbound_group_sessions(replaced)
            if replaced_metas:
                store.save_session_meta(replaced_metas)
            if withheld:
                self.records.save_withheld(withheld)
            self.finish(
                bundle, BundleState.IMPORTED, "ok", key_count=len(parsed.room_keys),
                withheld_count=len(parsed.withheld), imported_count=len(stored_sessions),
            )
            self.records.put_acceptance(replace(acceptance, state=AcceptState.DONE))
        if stored_sessions:
            olm.on_keys_added([(s.room_id, m.session_id) for s, m in zip(stored_sessions, metas)])
        return len(stored_sessions)


def pending_sessions(keys: tuple[HistoricKey, ...] | list[HistoricKey], forwarder_curve25519: str) -> list[Pending]:
    """The bundle's keys, each checked to be the session it names (a key that is not rejects
    the bundle: crypto.megolm.check_exported) and made into a session when first used, as the
    store's sessions are (nio.lazy_sessions): importing 10,000 into vodozemac up front was a
    quarter of an import, for sessions most of which decrypt nothing soon."""
    pending = []
    for key in keys:
        try:
            check_exported(key.session_key, key.session_id)
        except MegolmKeyError as exc:
            raise BundleError(f"{exc}; the bundle is forged or broken") from None
        pending.append(Pending(AppStore.open_exported, key.room_id, key.session_id, key.sender_key,
                               key.sender_claimed_ed25519, key.session_key, (forwarder_curve25519,)))
    return pending
