"""The engine's timelines: one `RoomTimeline` per joined room, fed by sync and by paging back,
with relations folded into their targets (`relations`), re-decrypted when keys arrive, each
undecryptable item explained, replied-to events fetched, and kept in the offline cache.

Longer than most: sync, paging back, arriving keys, fetched context and the offline cache all
change the same per-room state, and the order in which they do is easiest to check in one
place. The pure parts live apart (`convert`, `relations`, `explain`, `codec`).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from nio import responses as r
from nio.api import MessageDirection
from nio.events import Event, MegolmEvent, RoomCreateEvent

from ...safe_text import clean_id
from ..errors import EngineError
from ..events import (
    EngineEvent,
    TimelineItemsAdded,
    TimelineItemsRemoved,
    TimelineItemUpdated,
    TimelineReset,
)
from ..history_sharing.bundle import HISTORY_NOT_SHARED, HISTORY_NOT_SHARED_CODES
from ..history_sharing.prediction import EventFacts as MessageFacts
from ..models import Decryption, KeyProvenance, RoomSummary, TimelineItem
from ..room_keys import Origin
from .cache import CachedRoom, CacheRow, TimelineCache
from .convert import facts_from_event
from .explain import classify_decryption_error
from .relations import Aggregator, Changes, EventFacts
from .room import RoomTimeline

if TYPE_CHECKING:
    from ..history_sharing.service import HistorySharing
    from ..nio.client import EngineClient
    from ..notifications.notifier import Notifier

logger = logging.getLogger(__name__)

MAX_FETCHES = 20  # replied-to events fetched at once, per room


def error_text(resp: Any) -> str:
    message = getattr(resp, "message", None) or str(resp)
    code = getattr(resp, "status_code", None)
    return f"{message} ({code})" if code and code not in str(message) else message


Spawn = Callable[[Coroutine[Any, Any, Any], str], Any]


class Timelines:
    """Implements `convert.TimelineContext` for the rooms of one logged-in client."""

    def __init__(
        self,
        client: EngineClient,
        sharing: HistorySharing,
        own_device_verified: Callable[[], bool],
        emit: Callable[[EngineEvent], None],
        *,
        spawn: Spawn | None = None,
        cache: TimelineCache | None = None,
        clock: Callable[[], float] = time.time,
        on_missing_key: Callable[[str, str | None, str | None], None] | None = None,
    ) -> None:
        self._client = client
        self._sharing = sharing
        self._own_device_verified = own_device_verified
        self._emit = emit
        self._spawn = spawn
        self._cache = cache
        self._clock = clock
        # (room, sender key, session): we hold no key for a message (our other devices may).
        self._on_missing_key = on_missing_key
        self._rooms: dict[str, RoomTimeline] = {}
        # Cached rooms not read yet: decoded when first needed (a start reads only what it shows).
        self._lazy: dict[str, tuple[CachedRoom, bool]] = {}
        self._cached_last_ts: dict[str, int] = {}
        self._fetching: dict[str, set[str]] = {}
        self._dirty: set[str] = set()  # rooms whose cached timeline is out of date
        self._cached_names: dict[str, dict[str, str]] = {}
        self.notifier: Notifier | None = None  # set by the engine: push rules on each item

    # -- reading -----------------------------------------------------------------------------------

    def items(self, room_id: str) -> list[TimelineItem]:
        tl = self._get(room_id)
        return tl.items if tl else []

    def item(self, room_id: str, event_id: str) -> TimelineItem | None:
        tl = self._get(room_id)
        return tl.item(event_id) if tl else None

    def thread(self, room_id: str, root_id: str) -> list[TimelineItem]:
        tl = self._get(room_id)
        return tl.events.thread(root_id) if tl else []

    def latest_in_thread(self, room_id: str, root_id: str) -> str | None:
        tl = self._get(room_id)
        return tl.events.latest_in_thread(root_id) if tl else None

    def at_start(self, room_id: str) -> bool:
        tl = self._get(room_id)
        return bool(tl and tl.at_start)

    def last_timestamp(self, room_id: str) -> int:
        if room_id in self._lazy:
            return self._cached_last_ts.get(room_id, 0)
        tl = self._rooms.get(room_id)
        if tl is None:
            return 0
        items = tl.items
        return items[-1].timestamp if items else 0

    def get(self, room_id: str) -> RoomTimeline | None:
        return self._get(room_id)

    def _get(self, room_id: str) -> RoomTimeline | None:
        if room_id in self._lazy:
            self._materialize(room_id)
        return self._rooms.get(room_id)

    def _timeline(self, room_id: str, prev_batch: str | None = None) -> RoomTimeline:
        tl = self._get(room_id)
        if tl is None:
            tl = self._rooms[room_id] = RoomTimeline(
                room_id, Aggregator(self.own_user_id, may_redact=self._may_redact(room_id)), prev_batch=prev_batch
            )
        return tl

    def _may_redact(self, room_id: str) -> Callable[[str, str], bool]:
        """Whether a redaction by `redacter` of an event of `sender` counts: their own, or a
        moderator's (the power to redact, in the room's power levels as we know them now)."""

        def may(redacter: str, sender: str) -> bool:
            if redacter == sender:
                return True
            room = self._client.rooms.get(room_id)
            if room is None:
                return False
            try:
                return bool(room.power_levels.can_user_redact(redacter))
            except Exception:
                return False

        return may

    def message_facts(self, room_id: str) -> list[MessageFacts]:
        """The loaded messages (what `history --json` lists) as a share prediction needs them,
        each with the history visibility in effect when it was sent (None before the first
        visibility change we have loaded)."""
        tl = self._get(room_id)
        if tl is None:
            return []
        out = []
        visibility: str | None = None
        for facts in tl.events.timeline_facts():
            if facts.type == "m.room.history_visibility" and facts.state_key == "":
                changed = facts.content.get("history_visibility")
                visibility = changed if isinstance(changed, str) else visibility
            item = tl.item(facts.event_id)
            if item is None or not item.is_message:
                continue
            encrypted = item.decryption is not Decryption.PLAINTEXT or item.event_type == "m.room.encrypted"
            out.append(MessageFacts(
                item.event_id, encrypted, item.decrypted, item.session_id, item.failure_code, visibility,
            ))
        return out

    # -- fed by sync -------------------------------------------------------------------------------

    def on_sync(self, room_id: str, info: Any) -> None:
        """A joined room's timeline section of a sync response."""
        timeline = self._get(room_id)
        if timeline is None:
            timeline = self._timeline(room_id, info.timeline.prev_batch)
        elif info.timeline.limited or timeline.stale:
            timeline.reset(info.timeline.prev_batch)
            self._emit(TimelineReset(room_id))
        facts: list[EventFacts] = []
        context: list[EventFacts] = []
        raw: dict[str, Any] = {}  # event id -> the nio event, for the push rules
        for event in info.timeline.events:
            if isinstance(event, RoomCreateEvent) and len(timeline.events) == 0 and not facts:
                timeline.at_start = True  # nothing earlier to paginate to
            f = self.facts(room_id, event)
            if f is not None:
                facts.append(f)
                raw[f.event_id] = event
                context += self._bundled_edits(room_id, event, f)
                if isinstance(event, MegolmEvent):
                    timeline.undecrypted[f.event_id] = event
        changes = self._add(timeline, facts, "end", context)
        self._notify(room_id, changes, raw, live=True)
        self._emit_changes(room_id, changes)

    def forget(self, room_id: str) -> None:
        self._rooms.pop(room_id, None)
        self._lazy.pop(room_id, None)
        self._dirty.discard(room_id)
        if self._cache is not None:
            self._cache.forget(room_id)

    def _add(
        self, timeline: RoomTimeline, facts: list[EventFacts], at: str, context: list[EventFacts] | None = None
    ) -> Changes:
        """Add events, then `context` (bundled edits: known, not in the timeline)."""
        changes = timeline.events.add(facts, at=at)
        if context:
            self._merge(changes, timeline.events.add(context, at="context"))
        self._after_change(timeline)
        return changes

    def _notify(self, room_id: str, changes: Changes, raw: Mapping[str, Any], *, live: bool) -> None:
        """Tell the notifier of the new messages among `raw` (the events just read): edits,
        reactions, votes and redactions were folded into their targets, so they are not here."""
        if self.notifier is None:
            return
        added = [(i, raw[i.event_id]) for i in changes.added if i.event_id in raw]
        if added:
            self.notifier.on_items(room_id, added, live=live)

    def _emit_changes(self, room_id: str, changes: Changes, *, at_start: bool = False) -> None:
        if self.notifier is not None:
            gone = [*changes.removed, *(i.event_id for i in changes.updated if i.redacted)]
            if gone:
                self.notifier.forget_events(room_id, gone)
        if changes.removed:
            self._emit(TimelineItemsRemoved(room_id, tuple(changes.removed)))
        if changes.added:
            self._emit(TimelineItemsAdded(room_id, tuple(changes.added), at_start=at_start))
        for item in changes.updated:
            self._emit(TimelineItemUpdated(room_id, item))
        if changes:
            self._dirty.add(room_id)

    def _after_change(self, timeline: RoomTimeline) -> None:
        """Drop every copy of what was deleted; fetch replied-to events we do not have."""
        olm = self._client.olm
        for event_id in timeline.events.take_scrubbed():
            timeline.undecrypted.pop(event_id, None)
            if olm is not None:
                olm.encrypted_sources.pop(event_id, None)
                olm.decryption_errors.pop(event_id, None)
            self._dirty.add(timeline.room_id)
        if self._spawn is not None:
            fetching = self._fetching.setdefault(timeline.room_id, set())
            for target in sorted(timeline.events.unresolved_replies() - fetching):
                if len(fetching) >= MAX_FETCHES:
                    break
                fetching.add(target)
                self._spawn(self._fetch_reply_target(timeline.room_id, target), f"fetch {target}")

    # -- fetching single events ---------------------------------------------------------------------

    async def fetch(self, room_id: str, event_id: str) -> TimelineItem | None:
        """An event's item: from the timeline, else fetched from the server (and decrypted) and
        kept as context. None if the server does not give it to us."""
        found = self.item(room_id, event_id)
        if found is not None:
            return found
        timeline = self._timeline(room_id)
        facts = timeline.events.facts(event_id)
        if facts is not None:
            return None  # known, but not a message (a reaction, an edit, …)
        try:
            resp = await self._client.room_get_event(room_id, event_id)
        except Exception as exc:
            logger.info("could not fetch event %s of %s: %s", event_id, room_id, exc)
            return None
        event = getattr(resp, "event", None)
        if not isinstance(resp, r.RoomGetEventResponse) or event is None:
            logger.info("could not fetch event %s of %s: %s", event_id, room_id, error_text(resp))
            return None
        event = self._decrypt(room_id, event)
        f = self.facts(room_id, event)
        if f is None or f.event_id != event_id:
            return None
        if isinstance(event, MegolmEvent):
            timeline.undecrypted[event_id] = event
        changes = self._add(timeline, [f, *self._bundled_edits(room_id, event, f)], "context")
        self._emit_changes(room_id, changes)
        return timeline.events.item(event_id)

    async def _fetch_reply_target(self, room_id: str, event_id: str) -> None:
        try:
            found = await self.fetch(room_id, event_id)
            timeline = self._get(room_id)
            if found is None and timeline is not None and event_id not in timeline.events:
                self._emit_changes(room_id, timeline.events.mark_missing(event_id))
        finally:
            self._fetching.get(room_id, set()).discard(event_id)

    def _decrypt(self, room_id: str, event: Any) -> Any:
        olm = self._client.olm
        if isinstance(event, MegolmEvent) and olm is not None:
            decrypted = olm._decrypt_megolm_no_error(event, room_id)
            if decrypted is not None:
                return decrypted
        return event

    def _bundled_edits(self, room_id: str, event: Any, facts: EventFacts) -> list[EventFacts]:
        """The newest edit the server bundled with an event (unsigned.m.relations.m.replace),
        when it sent the whole edit event: read like any other edit."""
        wire = self.wire_source(facts.event_id) if facts.encrypted and facts.wire is None else facts.wire
        if wire is None:
            wire = getattr(event, "source", None)
        unsigned = wire.get("unsigned") if isinstance(wire, Mapping) else None
        relations = unsigned.get("m.relations") if isinstance(unsigned, Mapping) else None
        bundled = relations.get("m.replace") if isinstance(relations, Mapping) else None
        if not isinstance(bundled, dict) or not isinstance(bundled.get("content"), dict) or "type" not in bundled:
            return []
        timeline = self._get(room_id)
        bundled_id = bundled.get("event_id")
        if timeline is not None and isinstance(bundled_id, str) and bundled_id in timeline.events:
            return []
        try:
            parsed = Event.parse_event(dict(bundled, room_id=room_id))
        except Exception as exc:
            logger.info("ignored the edit bundled with %s: %s", facts.event_id, exc)
            return []
        edit = self.facts(room_id, self._decrypt(room_id, parsed))
        return [edit] if edit is not None else []

    # -- paging back ---------------------------------------------------------------------------------

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        """Fetch older events; returns the items added (oldest first)."""
        tl = self._timeline(room_id)
        if tl.at_start:
            return []
        start = tl.prev_batch
        before: list[Any] = []  # older events the context gave (newest first), ahead of the page
        if start is None and (oldest := tl.events.first_timeline_event()) is not None:
            # A timeline from the cache: ask the server where the oldest event we have is. The
            # server answers with a few events before it too (nio does not send limit=0, and a
            # server may not honour it); `start` is older than those, so they belong to the page.
            context = await self._client.room_context(room_id, oldest, limit=0)
            start = getattr(context, "start", None)
            if not isinstance(context, r.RoomContextResponse) or not start:
                raise EngineError(f"could not load older messages: {error_text(context)}")
            before = list(context.events_before)
        resp = await self._client.room_messages(room_id, start=start, limit=limit, direction=MessageDirection.back)
        if not isinstance(resp, r.RoomMessagesResponse):
            raise EngineError(f"could not load older messages: {error_text(resp)}")
        tl.paginated_once = True
        facts: list[EventFacts] = []
        bundled: list[EventFacts] = []
        raw: dict[str, Any] = {}
        for event in reversed(before + list(resp.chunk)):
            f = self.facts(room_id, event)
            if f is not None:
                facts.append(f)
                raw[f.event_id] = event
                bundled += self._bundled_edits(room_id, event, f)
                if isinstance(event, MegolmEvent):
                    tl.undecrypted[f.event_id] = event
        if not resp.chunk or not resp.end:
            tl.at_start = True
        tl.prev_batch = resp.end
        changes = self._add(tl, facts, "start", bundled)
        self._notify(room_id, changes, raw, live=False)
        self._emit_changes(room_id, changes, at_start=True)
        return changes.added

    async def load_all(self, room_id: str, page: int = 100) -> list[TimelineItem]:
        tl = self._timeline(room_id)
        while not tl.at_start:
            await self.paginate_back(room_id, page)
        return self.items(room_id)

    async def load_thread(self, room_id: str, root_id: str, limit: int = 500) -> list[TimelineItem]:
        """A thread, with every reply the server has (GET /relations), oldest first."""
        timeline = self._timeline(room_id)
        if self.item(room_id, root_id) is None:
            await self.fetch(room_id, root_id)
        base = (
            f"/_matrix/client/v1/rooms/{urllib.parse.quote(room_id, safe='')}/relations/"
            f"{urllib.parse.quote(root_id, safe='')}/m.thread"
        )
        token: str | None = None
        fetched = 0
        while fetched < limit:
            query = {"limit": "100", "dir": "b"}
            if token:
                query["from"] = token
            status, body = await self._client.raw_json("GET", f"{base}?{urllib.parse.urlencode(query)}")
            chunk = body.get("chunk") if status == 200 else None
            if not isinstance(chunk, list):
                if status != 200:
                    logger.info("could not load the thread %s of %s: HTTP %s", root_id, room_id, status)
                break
            facts: list[EventFacts] = []
            for raw in chunk:
                if not isinstance(raw, dict):
                    continue
                try:
                    event = Event.parse_event(dict(raw, room_id=room_id))
                except Exception as exc:
                    logger.info("skipped an event of thread %s: %s", root_id, exc)
                    continue
                event = self._decrypt(room_id, event)
                f = self.facts(room_id, event)
                if f is not None:
                    facts.append(f)
                    if isinstance(event, MegolmEvent):
                        timeline.undecrypted[f.event_id] = event
            fetched += len(chunk)
            self._emit_changes(room_id, self._add(timeline, facts, "context"))
            token = body.get("next_batch") if isinstance(body.get("next_batch"), str) else None
            if not token or not chunk:
                break
        return self.thread(room_id, root_id)

    # -- conversion context (convert.TimelineContext) -------------------------------------------------

    @property
    def own_user_id(self) -> str:
        return self._client.user_id

    def facts(self, room_id: str, event: Any) -> EventFacts | None:
        try:
            facts = facts_from_event(self, room_id, event)
        except Exception:
            logger.exception("could not read event %s", getattr(event, "event_id", "?"))
            return None
        if facts is not None and facts.item is not None and self.notifier is not None:
            # The push rules read the event as it came (decrypted): an edit or a reaction is
            # never a mention of its own (.m.rule.suppress_edits, .m.rule.reaction).
            annotated = self.notifier.annotate(room_id, facts.item, event)
            if annotated is not facts.item:
                facts = replace(facts, item=annotated)
        return facts

    def wire_source(self, event_id: str) -> Mapping[str, Any] | None:
        olm = self._client.olm
        return olm.encrypted_sources.get(event_id) if olm is not None else None

    def display_name(self, room_id: str, user_id: str) -> str:
        room = self._client.rooms.get(room_id) or self._client.invited_rooms.get(room_id)
        if room is not None:
            name = room.user_name(user_id)
            if name:
                return str(name)
        return self._cached_names.get(room_id, {}).get(user_id, user_id)

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None:
        olm = self._client.olm
        meta = olm.meta_for(room_id, session_id) if olm else None
        if meta is None or meta.origin is not Origin.BUNDLE or not meta.forwarder_user:
            return None
        return KeyProvenance(
            meta.forwarder_user, meta.forwarder_device,
            self.display_name(room_id, meta.forwarder_user), meta.received_at,
        )

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]:
        olm = self._client.olm
        assert olm is not None
        session_id = getattr(event, "session_id", "") or ""
        # The id is the sender's cleartext: shown escaped, or an escape sequence in it would eat
        # the rest of the sentence when a front end strips it.
        short = f"{clean_id(session_id[:10])}…" if session_id else "unknown"
        have = olm.inbound_group_store.get(room_id, getattr(event, "sender_key", ""), session_id)
        if have is not None:
            return classify_decryption_error(olm.decryption_errors.get(event.event_id, ""), have.first_known_index)
        if self._on_missing_key is not None:
            self._on_missing_key(room_id, getattr(event, "sender_key", None), session_id or None)
        withheld = self._sharing.withheld(room_id, session_id) if session_id else None
        if withheld is not None:
            if withheld.code in HISTORY_NOT_SHARED_CODES:
                return (
                    "not_shared",
                    f"not shared: the sender's history settings did not allow it ({HISTORY_NOT_SHARED})",
                )
            why = f" — {withheld.reason}" if withheld.reason else ""
            return "withheld", f"withheld: {withheld.code}{why}"
        sent = getattr(event, "server_timestamp", 0) or 0
        explained = self._sharing.explain(
            room_id, sent if isinstance(sent, int) else 0, own_device_cross_signed=self._own_device_verified()
        )
        if explained is not None:
            return explained
        return "missing_key", f"no key for this message yet (session {short})"

    # -- keys arriving ------------------------------------------------------------------------------

    def on_keys_added(self, keys: list[tuple[str, str]]) -> None:
        by_room: dict[str, set[str]] = {}
        for room_id, session_id in keys:
            by_room.setdefault(room_id, set()).add(session_id)
        for room_id, session_ids in by_room.items():
            self.retry_decryption(room_id, session_ids)

    def refresh_failures(self, room_id: str) -> None:
        """Re-try and re-explain every undecryptable item of a room (keys or news arrived)."""
        self.retry_decryption(room_id, None)

    def retry_decryption(self, room_id: str, session_ids: set[str] | None = None) -> int:
        """Re-try undecryptable events of a room (all, or those of `session_ids`) and re-derive
        the provenance of those decrypted with these sessions; emit what changed."""
        timeline = self._get(room_id)
        olm = self._client.olm
        if timeline is None or olm is None:
            return 0
        fixed = 0
        changes = Changes()
        now_read: dict[str, Any] = {}  # event id -> the decrypted nio event
        for event_id in list(timeline.undecrypted):
            event = timeline.undecrypted.get(event_id)
            if event is None:
                event = self._raw_from_cache(timeline, event_id)
                if event is None:
                    continue
            if session_ids is not None and event.session_id not in session_ids:
                continue
            decrypted = olm._decrypt_megolm_no_error(event, room_id)
            f = self.facts(room_id, decrypted if decrypted is not None else event)
            if f is None:
                continue
            if decrypted is not None:
                del timeline.undecrypted[event_id]
                now_read[event_id] = decrypted
                fixed += 1
            self._merge(changes, timeline.events.update(f))
        if session_ids:
            # Same keys, maybe new metadata (a direct copy replaced a shared one): re-derive.
            for f in list(timeline.events.timeline_facts()):
                if f.item is None or not f.item.decrypted or f.item.session_id not in session_ids:
                    continue
                provenance = self.provenance_for(room_id, f.item.session_id)
                if provenance != f.item.provenance:
                    self._merge(changes, timeline.events.update(replace(f, item=replace(f.item, provenance=provenance))))
        self._after_change(timeline)
        if self.notifier is not None:
            # Only what decrypted into a message of its own is news; one that decrypted into an
            # edit or a reaction was folded into its target (changes.removed).
            for item in [*changes.added, *changes.updated]:
                if item.event_id in now_read:
                    self.notifier.on_decrypted(room_id, item, now_read[item.event_id])
        self._emit_changes(room_id, changes)
        return fixed

    def _raw_from_cache(self, timeline: RoomTimeline, event_id: str) -> Any:
        """The nio event of an undecryptable event restored from the cache (its wire form)."""
        facts = timeline.events.facts(event_id)
        if facts is None or facts.wire is None:
            timeline.undecrypted.pop(event_id, None)
            return None
        try:
            event = Event.parse_event(dict(facts.wire))
        except Exception:
            event = None
        if not isinstance(event, MegolmEvent):
            timeline.undecrypted.pop(event_id, None)
            return None
        timeline.undecrypted[event_id] = event
        return event

    @staticmethod
    def _merge(into: Changes, more: Changes) -> None:
        for item in more.updated:
            into.updated = [i for i in into.updated if i.event_id != item.event_id] + [item]
        into.added += more.added
        into.removed += more.removed

    # -- the offline cache ------------------------------------------------------------------------------

    def restore(self, sync_token: str | None) -> list[RoomSummary]:
        """Read the cached rooms (no network); returns their summaries. Each room's timeline is
        decoded when first needed. A cache written before the last saved sync token may have a
        gap: the next sync replaces those timelines."""
        if self._cache is None:
            return []
        stale = sync_token is not None and self._cache.sync_token() != sync_token
        summaries = []
        for room in self._cache.load():
            if room.summary is not None:
                summaries.append(room.summary)
                self._cached_names[room.room_id] = {m.user_id: m.name for m in room.summary.members}
            self._cached_last_ts[room.room_id] = room.last_ts
            self._lazy[room.room_id] = (room, stale)
        if stale:
            logger.info("the cached timelines may have missed events; the next sync replaces them")
        logger.info("restored %d rooms from the offline cache", len(summaries))
        return summaries

    def _materialize(self, room_id: str) -> None:
        room, stale = self._lazy.pop(room_id)
        assert self._cache is not None
        decoded = self._cache.timeline(room)
        if decoded is None:
            return
        events, at_start = decoded
        timeline = self._timeline(room_id)
        timeline.stale = stale
        timeline.at_start = at_start
        timeline.events.add(events, at="end")
        timeline.events.take_scrubbed()
        for f in events:
            if f.wire is not None:
                timeline.undecrypted[f.event_id] = None  # parsed when a retry needs it
        # Keys that arrived after these were cached (a bundle imported just before quitting).
        self.retry_decryption(room_id, None)

    def flush_cache(self, summaries: dict[str, RoomSummary], sync_token: str | None) -> None:
        """Write the summaries given and every timeline that changed since the last flush."""
        if self._cache is None:
            return
        rows: dict[str, CacheRow] = {}
        for room_id, summary in summaries.items():
            rows[room_id] = CacheRow(summary, None, False, self.last_timestamp(room_id))
        for room_id in self._dirty:
            tl = self._rooms.get(room_id)
            if tl is None or tl.stale:
                continue
            rows[room_id] = CacheRow(
                summaries.get(room_id), tl.events.timeline_facts(), tl.at_start, self.last_timestamp(room_id)
            )
        self._dirty.clear()
        if not rows and sync_token is None:
            return
        try:
            self._cache.save(rows, sync_token, self._clock())
        except Exception:
            logger.exception("could not write the offline cache")

    def dirty_rooms(self) -> set[str]:
        return set(self._dirty)

