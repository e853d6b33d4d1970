"""Relations aggregated on the items they target (pure): edits, reactions, replies, threads,
poll votes and redactions, for events that arrive in any order.

An `Aggregator` holds one room's events as `EventFacts` (what an event says, decrypted where it
could be, with the item a timeline would show for it alone) and gives back the items with every
relation applied. Events are added at the live end, at the start (paging back) or as context (a
replied-to message fetched by id, a bundled edit); each addition returns the items that appeared,
changed or disappeared, so front ends re-render only those.

The rules, as the spec and matrix-rust-sdk have them:

- **Edits** (`m.replace`): only from the original's sender, of the same event type, encrypted if
  the original was, never of an edit or of a state event; the newest (origin_server_ts, then
  event id) wins; its `m.new_content` is shown and every version is kept for event details.
- **Reactions** (`m.annotation` on `m.reaction`): key → senders, one per sender and key; a
  redacted reaction stops counting; reactions to an event not seen yet wait for it.
- **Replies** (`m.in_reply_to`): the replied-to sender and a one-line snippet of its current
  text (edited, or "deleted"); unknown targets are listed for the caller to fetch.
- **Threads** (`m.thread`): the root counts its replies (the server's bundled count when larger);
  replies keep their root.
- **Polls**: each voter's latest response before the poll ended counts; an invalid one spoils
  that voter's vote; only the poll's sender (or a moderator) ends it.
- **Redactions**: applied when the redacter is the sender or `may_redact` says they may; the
  target's content is dropped from memory here (and so from every cache built from it); a
  redacted relation stops applying.

Anything malformed or not allowed is ignored with a reason in the log, never raised.

One module on purpose, though longer than most: the rules act on each other (an edit of a
redacted message, a reaction that arrives before its target, votes after a poll ended, a reply
to an edited message), and they are checked against the spec and matrix-rust-sdk side by side.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from typing import Any

from ...records import record
from ..models import (
    Decryption,
    EditVersion,
    Poll,
    PollAnswer,
    Reaction,
    ReplyPreview,
    ThreadSummary,
    TimelineItem,
)
from .content import (
    ANNOTATION,
    POLL_END_TYPES,
    POLL_RESPONSE_TYPES,
    POLL_START_TYPES,
    REFERENCE,
    REPLACE,
    Relation,
    poll_text,
    relation_of,
    selections_of,
    strip_reply_fallback,
    view_of,
)

logger = logging.getLogger(__name__)

SNIPPET_LENGTH = 80
MAX_PENDING = 2000  # relations whose target we have not seen, per room (the oldest go first)


@record
class Redaction:
    by: str
    reason: str | None = None
    event_id: str | None = None


@record
class EventFacts:
    """What one event says, as far as we could read it."""

    event_id: str
    sender: str
    timestamp: int
    type: str  # after decryption; "m.room.encrypted" while undecryptable
    content: Mapping[str, Any] = field(default_factory=dict)  # decrypted; {} if unreadable or redacted
    relates_to: Mapping[str, Any] | None = None  # the cleartext m.relates_to, else the decrypted one
    encrypted: bool = False  # sent encrypted
    redacts: str | None = None  # m.room.redaction: its target
    redacted: Redaction | None = None  # the server sent it redacted
    state_key: str | None = None
    thread_count: int = 0  # the server's bundled thread count (unsigned.m.relations)
    item: TimelineItem | None = None  # what a timeline shows for this event alone
    wire: Mapping[str, Any] | None = None  # the encrypted event, while it is undecryptable

    @property
    def readable(self) -> bool:
        """Its content is known (plaintext, or decrypted)."""
        return not self.encrypted or self.type != "m.room.encrypted"

    @property
    def relation(self) -> Relation | None:
        return relation_of(self.relates_to)


class Role(str, Enum):
    ITEM = "item"  # shown in the timeline
    EDIT = "edit"
    REACTION = "reaction"
    REDACTION = "redaction"
    POLL_RESPONSE = "poll_response"
    POLL_END = "poll_end"
    HIDDEN = "hidden"  # not shown and not (yet) applied: e.g. an undecryptable reaction


def role_of(facts: EventFacts) -> Role:
    if facts.type == "m.room.redaction":
        return Role.REDACTION
    if facts.type == "m.reaction":
        return Role.REACTION
    if facts.type in POLL_RESPONSE_TYPES:
        return Role.POLL_RESPONSE
    if facts.type in POLL_END_TYPES:
        return Role.POLL_END
    relation = facts.relation
    if relation is not None and relation.rel_type == REPLACE and facts.state_key is None:
        return Role.EDIT
    if not facts.readable and relation is not None and relation.rel_type in (ANNOTATION, REFERENCE):
        return Role.HIDDEN  # an encrypted reaction or poll vote, until its keys arrive
    if facts.item is None:
        return Role.HIDDEN
    return Role.ITEM


@dataclass
class Changes:
    """What an addition or update did to the visible items."""

    added: list[TimelineItem] = field(default_factory=list)  # new, in timeline order
    updated: list[TimelineItem] = field(default_factory=list)  # shown before, different now
    removed: list[str] = field(default_factory=list)  # shown before, hidden now

    def __bool__(self) -> bool:
        return bool(self.added or self.updated or self.removed)


def snippet(item: TimelineItem | None) -> str | None:
    """One line of an item's text, for a reply's quote or a thread summary."""
    if item is None or item.body is None:
        return None
    line = next((part.strip() for part in item.body.splitlines() if part.strip()), "")
    return line if len(line) <= SNIPPET_LENGTH else line[: SNIPPET_LENGTH - 1] + "…"


def scrubbed(facts: EventFacts, redaction: Redaction) -> EventFacts:
    """The facts of a redacted event: its relation's shape kept (so it stays what it was), its
    content gone."""
    item = facts.item
    if item is not None:
        item = replace(
            item, body=None, formatted_body=None, redacted=True, redacted_by=redaction.by, highlight=False,
            redaction_reason=redaction.reason, attachment=None, poll=None, location=None,
            edits=(), edited=False, edit_provenance=None, reply=None, reply_to=None, thread_root=None,
            reactions=(), provenance=None, failure_code=None, failure_reason=None,
            decryption=Decryption.PLAINTEXT if item.failed else item.decryption,
            kind=item.kind if item.kind not in ("bad", "poll", "sticker") else "message",
        )
    relates_to = None
    if facts.relates_to is not None:
        relation = facts.relation
        if relation is not None and relation.rel_type and relation.event_id:
            relates_to = {"rel_type": relation.rel_type, "event_id": relation.event_id}
    return replace(facts, content={}, relates_to=relates_to, redacted=redaction, item=item, wire=None)


class Aggregator:
    """One room's events and the items they make."""

    def __init__(
        self,
        own_user_id: str,
        *,
        may_redact: Callable[[str, str], bool] | None = None,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.own_user_id = own_user_id
        # (redacter, sender of the target) -> allowed; default: only one's own events.
        self.may_redact = may_redact or (lambda redacter, sender: redacter == sender)
        self.max_pending = max_pending
        self._facts: dict[str, EventFacts] = {}
        self._order: list[str] = []  # timeline events, oldest first (context events are not here)
        self._in_timeline: set[str] = set()
        self._role: dict[str, Role] = {}
        self._views: dict[str, TimelineItem] = {}  # computed items, visible or context
        # Relations by target: edits, reactions, poll votes and ends, thread replies, replies.
        self._edits: dict[str, set[str]] = {}
        self._reactions: dict[str, set[str]] = {}
        self._responses: dict[str, set[str]] = {}
        self._ends: dict[str, set[str]] = {}
        self._thread: dict[str, set[str]] = {}
        self._repliers: dict[str, set[str]] = {}
        self._links: dict[str, list[tuple[dict[str, set[str]], str]]] = {}  # event -> where it is indexed
        self._redactions: dict[str, str] = {}  # target -> the redaction that applies (or waits)
        self._missing: set[str] = set()  # reply targets that could not be found
        self._pending: OrderedDict[str, str] = OrderedDict()  # relation event -> unknown target
        self._pending_for: dict[str, set[str]] = {}  # unknown target -> relation events
        self._shown: set[str] = set()  # items the caller was given (added, not removed since)
        self._before: dict[str, TimelineItem] = {}  # views as they were, during one change
        self._scrubbed: set[str] = set()  # events whose content was dropped since take_scrubbed()

    # -- reading ---------------------------------------------------------------------------------

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._facts

    def __len__(self) -> int:
        return len(self._order)

    def facts(self, event_id: str) -> EventFacts | None:
        return self._facts.get(event_id)

    def role(self, event_id: str) -> Role | None:
        return self._role.get(event_id)

    def in_timeline(self, event_id: str) -> bool:
        return event_id in self._in_timeline

    def items(self) -> list[TimelineItem]:
        return [self._view(e) for e in self._order if self._role.get(e) is Role.ITEM]

    def item(self, event_id: str) -> TimelineItem | None:
        """The item of an event, in the timeline or fetched as context."""
        if self._role.get(event_id) is not Role.ITEM:
            return None
        return self._view(event_id)

    def first_timeline_event(self) -> str | None:
        return self._order[0] if self._order else None

    def timeline_facts(self) -> list[EventFacts]:
        """Every event of the timeline (shown or folded into another), oldest first."""
        return [self._facts[e] for e in self._order]

    def thread(self, root_id: str) -> list[TimelineItem]:
        """A thread: its root (if known) then its replies, oldest first."""
        out = [self._view(root_id)] if self._role.get(root_id) is Role.ITEM else []
        children = sorted(self._thread.get(root_id, ()), key=self._sort_key)
        out += [self._view(c) for c in children if self._role.get(c) is Role.ITEM]
        return out

    def latest_in_thread(self, root_id: str) -> str | None:
        children = [c for c in self._thread.get(root_id, ()) if self._role.get(c) is Role.ITEM]
        return max(children, key=self._sort_key) if children else None

    def unresolved_replies(self) -> set[str]:
        """Replied-to events we have not seen (and have not given up on): fetch them."""
        return {t for t, repliers in self._repliers.items() if repliers and t not in self._facts and t not in self._missing}

    def take_scrubbed(self) -> set[str]:
        """Events whose content was dropped (deleted) since the last call: whoever holds copies
        of them (raw events, encrypted sources, caches) drops them too."""
        out, self._scrubbed = self._scrubbed, set()
        return out

    def undecrypted(self) -> list[EventFacts]:
        return [f for f in self._facts.values() if not f.readable]

    # -- adding ----------------------------------------------------------------------------------

    def add(self, facts: Iterable[EventFacts], *, at: str = "end") -> Changes:
        """Add events: at the live "end", at the "start" (older, given oldest first), or as
        "context" (known but not part of the loaded timeline). Known events are not added twice,
        but a context event that now arrives in the timeline takes its place there."""
        fresh: list[str] = []
        dirty: set[str] = set()
        for f in facts:
            known = f.event_id in self._facts
            if known and (at == "context" or f.event_id in self._in_timeline):
                continue
            if not known:
                self._insert(f, dirty)
            if at != "context":
                fresh.append(f.event_id)
                self._in_timeline.add(f.event_id)
        fresh = [e for e in fresh if e in self._facts]  # (a relation may have been forgotten already)
        if at == "start":
            self._order[:0] = fresh
        elif at == "end":
            self._order.extend(fresh)
        placed = set(fresh)
        added = []
        for event_id in (e for e in self._order if e in placed) if placed else ():
            if self._role.get(event_id) is Role.ITEM:
                self._views.pop(event_id, None)
                added.append(self._view(event_id))
                self._shown.add(event_id)
        changes = self._changes(dirty)
        changes.added = added + [i for i in changes.added if i.event_id not in placed]
        return changes

    def update(self, facts: EventFacts) -> Changes:
        """An event we hold reads differently now (it decrypted, its provenance changed, a
        better explanation of why it does not decrypt)."""
        old = self._facts.get(facts.event_id)
        if old is None:
            return Changes()
        dirty: set[str] = set()
        self._unlink(old, dirty)
        if old.redacted is not None and facts.redacted is None:
            facts = replace(facts, redacted=old.redacted)  # what was deleted stays deleted
        self._insert(facts, dirty)
        return self._changes(dirty)

    def mark_missing(self, event_id: str) -> Changes:
        """A replied-to event could not be fetched: its replies say so."""
        self._missing.add(event_id)
        return self._changes(set(self._repliers.get(event_id, ())))

    def clear(self) -> None:
        self.__init__(self.own_user_id, may_redact=self.may_redact, max_pending=self.max_pending)  # type: ignore[misc]

    # -- the indexes -------------------------------------------------------------------------------

    def _insert(self, f: EventFacts, dirty: set[str], redaction_id: str | None = None) -> None:
        event_id = f.event_id
        if f.redacted is not None and (f.content or f.wire or (f.item is not None and f.item.body is not None)):
            f = scrubbed(f, f.redacted)  # it is redacted: keep nothing of it
            self._scrubbed.add(event_id)
        self._facts[event_id] = f
        role = role_of(f)
        self._role[event_id] = role
        dirty.add(event_id)
        relation = f.relation
        target: str | None = None
        if role is Role.EDIT and relation is not None:
            target = relation.event_id
            self._link(self._edits, target, event_id)
        elif role is Role.REACTION and relation is not None and relation.rel_type == ANNOTATION:
            target = relation.event_id
            self._link(self._reactions, target, event_id)
        elif role in (Role.POLL_RESPONSE, Role.POLL_END) and relation is not None and relation.rel_type == REFERENCE:
            target = relation.event_id
            self._link(self._responses if role is Role.POLL_RESPONSE else self._ends, target, event_id)
        elif role is Role.REDACTION and f.redacts:
            target = f.redacts
            if target not in self._redactions and f.redacted is None:
                self._redactions[target] = event_id
        elif role is Role.ITEM:
            if relation is not None and relation.is_thread and f.redacted is None:
                self._link(self._thread, relation.event_id, event_id)
                dirty.add(relation.event_id)  # type: ignore[arg-type]
            reply_to = relation.reply_to if relation is not None and f.redacted is None else None
            if reply_to is not None:
                self._link(self._repliers, reply_to, event_id)
        if target is not None:
            dirty.add(target)
            if target not in self._facts:
                self._pend(event_id, target)
            if role is Role.REDACTION:
                self._apply_redaction(target, dirty)
        # This event was itself the target of relations that arrived first.
        self._pending_arrived(event_id)
        pending = redaction_id or self._redactions.get(event_id)
        if pending is not None and pending != event_id:
            self._apply_redaction(event_id, dirty)

    def _unlink(self, f: EventFacts, dirty: set[str]) -> None:
        """Remove an event from the relation indexes (before it is inserted again)."""
        event_id = f.event_id
        for index, target in self._links.pop(event_id, ()):
            ids = index.get(target)
            if ids is not None:
                ids.discard(event_id)
            dirty.add(target)
        self._forget_view(event_id)

    def _link(self, index: dict[str, set[str]], target: str | None, event_id: str) -> None:
        if target is not None:
            index.setdefault(target, set()).add(event_id)
            self._links.setdefault(event_id, []).append((index, target))

    def _pend(self, event_id: str, target: str) -> None:
        self._pending[event_id] = target
        self._pending_for.setdefault(target, set()).add(event_id)
        while len(self._pending) > self.max_pending:
            old_id, old_target = self._pending.popitem(last=False)
            waiting = self._pending_for.get(old_target)
            if waiting is not None:
                waiting.discard(old_id)
                if not waiting:
                    del self._pending_for[old_target]
            logger.info(
                "forgot relation %s: its target %s never arrived (more than %d waiting)",
                old_id, old_target, self.max_pending,
            )
            old = self._facts.pop(old_id, None)
            if old is not None:
                self._unlink(old, set())
                self._role.pop(old_id, None)
                if self._redactions.get(old_target) == old_id:
                    del self._redactions[old_target]
                if old_id in self._in_timeline:
                    self._in_timeline.discard(old_id)
                    if old_id in self._order:  # (else it was added in this batch, not placed yet)
                        self._order.remove(old_id)

    def _pending_arrived(self, target: str) -> None:
        for relation_id in self._pending_for.pop(target, ()):
            self._pending.pop(relation_id, None)

    def _apply_redaction(self, target: str, dirty: set[str]) -> None:
        redaction_id = self._redactions.get(target)
        facts = self._facts.get(target)
        if redaction_id is None or facts is None or facts.redacted is not None:
            return
        redaction_facts = self._facts.get(redaction_id)
        if redaction_facts is None:
            return
        redacter = redaction_facts.sender
        if redacter != facts.sender and not self.may_redact(redacter, facts.sender):
            logger.info(
                "ignored the redaction %s of %s by %s: they may not delete %s's events",
                redaction_id, target, redacter, facts.sender,
            )
            del self._redactions[target]
            return
        reason = redaction_facts.content.get("reason") if isinstance(redaction_facts.content, Mapping) else None
        redaction = Redaction(redacter, reason if isinstance(reason, str) else None, redaction_id)
        self._unlink(facts, dirty)
        self._insert(scrubbed(facts, redaction), dirty)
        self._scrubbed.add(target)
        # The edits of a deleted message carry its text too.
        for edit_id in list(self._edits.get(target, ())):
            edit = self._facts.get(edit_id)
            if edit is not None and edit.redacted is None:
                self._facts[edit_id] = scrubbed(edit, redaction)
                self._scrubbed.add(edit_id)

    # -- views -----------------------------------------------------------------------------------

    def _sort_key(self, event_id: str) -> tuple[int, str]:
        f = self._facts.get(event_id)
        return (f.timestamp if f else 0, event_id)

    def _forget_view(self, event_id: str) -> None:
        view = self._views.pop(event_id, None)
        if view is not None and event_id in self._shown:
            self._before.setdefault(event_id, view)

    def _changes(self, dirty: set[str]) -> Changes:
        # Whoever quotes or summarises a changed event changes with it.
        queue = list(dirty)
        seen = set(queue)
        while queue:
            event_id = queue.pop()
            self._forget_view(event_id)
            related = set(self._repliers.get(event_id, ()))
            facts = self._facts.get(event_id)
            relation = facts.relation if facts is not None else None
            if relation is not None and relation.is_thread:
                related.add(relation.event_id)  # type: ignore[arg-type]
            for other in related - seen:
                seen.add(other)
                queue.append(other)
        before, self._before = self._before, {}
        changes = Changes()
        for event_id in seen:
            if event_id not in self._in_timeline:
                continue
            visible = self._role.get(event_id) is Role.ITEM
            if not visible:
                if event_id in self._shown:
                    self._shown.discard(event_id)
                    changes.removed.append(event_id)
                continue
            view = self._view(event_id)
            if event_id not in self._shown:
                self._shown.add(event_id)  # e.g. decrypted into something shown: late, at the end
                changes.added.append(view)
            elif view != before.get(event_id):
                changes.updated.append(view)
        order = {e: i for i, e in enumerate(self._order)}
        changes.updated.sort(key=lambda i: order.get(i.event_id, 0))
        changes.added.sort(key=lambda i: order.get(i.event_id, 0))
        return changes

    def _view(self, event_id: str) -> TimelineItem:
        view = self._views.get(event_id)
        if view is None:
            view = self._views[event_id] = self._compute(event_id)
        return view

    def _compute(self, event_id: str) -> TimelineItem:
        f = self._facts[event_id]
        item = f.item
        assert item is not None
        if f.redacted is not None:
            return replace(item, thread=self._thread_summary(event_id, f))
        item = self._apply_edit(f, item)
        relation = f.relation
        reply_to = relation.reply_to if relation is not None else None
        thread_root = relation.event_id if relation is not None and relation.is_thread else None
        return replace(
            item,
            reply_to=reply_to,
            reply=self._reply_preview(reply_to) if reply_to else None,
            thread_root=thread_root,
            thread=self._thread_summary(event_id, f),
            reactions=self._reaction_list(event_id),
            **self._poll_fields(event_id, f, item),
        )

    def _valid_edit(self, original: EventFacts, edit: EventFacts) -> bool:
        why = None
        if not edit.readable:
            return False  # not yet: it may decrypt later
        if edit.redacted is not None:
            return False
        if edit.sender != original.sender:
            why = f"it is from {edit.sender}, not from the sender {original.sender}"
        elif not original.readable:
            return False  # cannot compare types before the original decrypts
        elif edit.type != original.type:
            why = f"an edit of type {edit.type} cannot replace a {original.type}"
        elif original.encrypted and not edit.encrypted:
            why = "the original is encrypted and the edit is not"
        elif original.state_key is not None:
            why = "state events cannot be edited"
        elif original.relation is not None and original.relation.rel_type == REPLACE:
            why = "the original is itself an edit"
        elif not isinstance(edit.content.get("m.new_content"), Mapping):
            why = "it has no m.new_content"
        if why is not None:
            logger.info("ignored edit %s of %s: %s", edit.event_id, original.event_id, why)
            return False
        return True

    def _apply_edit(self, f: EventFacts, item: TimelineItem) -> TimelineItem:
        edits = [self._facts[e] for e in self._edits.get(f.event_id, ()) if e in self._facts]
        valid = sorted((e for e in edits if self._valid_edit(f, e)), key=lambda e: (e.timestamp, e.event_id))
        if not valid:
            return item
        newest = valid[-1]
        new_content = newest.content["m.new_content"]
        view = view_of(f.type, new_content)
        if view is None:
            logger.info("ignored edit %s of %s: its new content cannot be shown", newest.event_id, f.event_id)
            return item
        body, formatted = strip_reply_fallback(view.body, view.formatted_body)
        versions = [EditVersion(f.event_id, f.timestamp, item.body, item.provenance)]
        for edit in valid:
            edit_view = view_of(f.type, edit.content["m.new_content"])
            versions.append(EditVersion(
                edit.event_id, edit.timestamp, edit_view.body if edit_view else None,
                edit.item.provenance if edit.item is not None else None,
            ))
        return replace(
            item, body=body, formatted_body=formatted, kind=view.kind if item.kind != "bad" else item.kind,
            msgtype=view.msgtype, attachment=view.attachment, poll=view.poll, location=view.location,
            edited=True, edits=tuple(versions),
            edit_provenance=newest.item.provenance if newest.item is not None else None,
        )

    def _reply_preview(self, target: str) -> ReplyPreview:
        if self._role.get(target) is not Role.ITEM:
            if target in self._missing:
                return ReplyPreview(target, "missing")
            return ReplyPreview(target, "loading")
        quoted = self._view(target)
        if quoted.redacted:
            state = "deleted"
        elif quoted.failed or quoted.body is None:
            state = "encrypted"
        else:
            state = "ok"
        return ReplyPreview(target, state, quoted.sender, quoted.sender_name, snippet(quoted) if state == "ok" else None)

    def _reaction_list(self, target: str) -> tuple[Reaction, ...]:
        if self._facts[target].redacted is not None:
            return ()
        by_key: dict[str, list[str]] = {}
        own: dict[str, str] = {}
        for reaction_id in sorted(self._reactions.get(target, ()), key=self._sort_key):
            f = self._facts.get(reaction_id)
            if f is None or f.redacted is not None or not f.readable:
                continue
            relation = f.relation
            if relation is None or relation.key is None or relation.key == "":
                logger.info("ignored reaction %s: it has no key", reaction_id)
                continue
            senders = by_key.setdefault(relation.key, [])
            if f.sender not in senders:
                senders.append(f.sender)
            if f.sender == self.own_user_id:
                own.setdefault(relation.key, reaction_id)
        return tuple(Reaction(key, tuple(senders), own.get(key)) for key, senders in by_key.items())

    def _thread_summary(self, root: str, f: EventFacts) -> ThreadSummary | None:
        children = [c for c in self._thread.get(root, ()) if self._role.get(c) is Role.ITEM]
        live = [c for c in children if (cf := self._facts.get(c)) is not None and cf.redacted is None]
        count = max(len(live), f.thread_count)
        if count == 0:
            return None
        latest = max(live, key=self._sort_key) if live else None
        if latest is None:
            return ThreadSummary(count)
        view = self._view(latest)
        return ThreadSummary(count, view.sender, view.sender_name, snippet(view))

    def _poll_fields(self, poll_id: str, f: EventFacts, item: TimelineItem) -> dict[str, Any]:
        poll = item.poll
        if poll is None or f.type not in POLL_START_TYPES:
            return {}
        ended_at: int | None = None
        for end_id in self._ends.get(poll_id, ()):
            end = self._facts.get(end_id)
            if end is None or end.redacted is not None or not end.readable:
                continue
            if end.sender != f.sender and not self.may_redact(end.sender, f.sender):
                logger.info("ignored the end %s of poll %s: %s may not end it", end_id, poll_id, end.sender)
                continue
            ended_at = end.timestamp if ended_at is None else min(ended_at, end.timestamp)
        latest: dict[str, EventFacts] = {}
        for response_id in self._responses.get(poll_id, ()):
            r = self._facts.get(response_id)
            if r is None or r.redacted is not None or not r.readable:
                continue
            if ended_at is not None and r.timestamp > ended_at:
                continue  # votes after the end do not count
            held = latest.get(r.sender)
            if held is None or (r.timestamp, r.event_id) > (held.timestamp, held.event_id):
                latest[r.sender] = r
        ids = {a.id for a in poll.answers}
        voters: dict[str, list[str]] = {a.id: [] for a in poll.answers}
        counted = 0
        for sender, response in sorted(latest.items(), key=lambda kv: self._sort_key(kv[1].event_id)):
            chosen = selections_of(response.content)
            if (
                not chosen
                or len(chosen) > poll.max_selections
                or not all(isinstance(c, str) and c in ids for c in chosen)
            ):
                continue  # a spoiled vote: it replaces the earlier ones and counts for nothing
            counted += 1
            for answer_id in dict.fromkeys(chosen):
                voters[answer_id].append(sender)
        tallied = Poll(
            poll.question,
            tuple(PollAnswer(a.id, a.text, tuple(voters[a.id])) for a in poll.answers),
            poll.kind, poll.max_selections, ended_at is not None, counted,
        )
        return {"poll": tallied, "body": poll_text(tallied)}
