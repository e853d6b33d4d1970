"""Events as Element sends them, built as plain dicts and turned into `EventFacts` through the
engine's real conversion (nio's parser, `convert.facts_from_event`), with no server: for the
unit tests of the timeline's aggregation."""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

from nio import events as ev

from tui_client.engine.models import KeyProvenance
from tui_client.engine.timeline.convert import facts_from_event
from tui_client.engine.timeline.relations import EventFacts

ROOM = "!room:x"
ALICE = "@alice:x"
BOB = "@bob:x"
MALLORY = "@mallory:x"
NAMES = {ALICE: "Alice", BOB: "Bob", MALLORY: "Mallory"}

_ids = itertools.count(1)
_clock = itertools.count(1_000_000, 1000)


class Ctx:
    """A `convert.TimelineContext` with fixed names and, per session, a provenance."""

    def __init__(self, own: str = BOB) -> None:
        self.own = own
        self.wires: dict[str, dict[str, Any]] = {}
        self.shared_sessions: dict[str, KeyProvenance] = {}

    @property
    def own_user_id(self) -> str:
        return self.own

    def display_name(self, room_id: str, user_id: str) -> str:
        return NAMES.get(user_id, user_id)

    def provenance_for(self, room_id: str, session_id: str | None) -> KeyProvenance | None:
        return self.shared_sessions.get(session_id or "")

    def describe_failure(self, room_id: str, event: Any) -> tuple[str, str]:
        return "missing_key", "no key for this message yet"

    def wire_source(self, event_id: str) -> Mapping[str, Any] | None:
        return self.wires.get(event_id)


def new_id() -> str:
    return f"$ev{next(_ids)}"


def raw(sender: str, event_type: str, content: dict[str, Any], *, event_id: str | None = None,
        ts: int | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "event_id": event_id or new_id(), "sender": sender, "type": event_type, "content": content,
        "origin_server_ts": ts if ts is not None else next(_clock), "room_id": ROOM, **extra,
    }


def plain(ctx: Ctx, event: dict[str, Any]) -> EventFacts:
    facts = facts_from_event(ctx, ROOM, ev.Event.parse_event(event))
    assert facts is not None
    return facts


def decrypted(ctx: Ctx, event: dict[str, Any], *, session: str = "SESSION", cleartext_relation: Any = "same") -> EventFacts:
    """`event` as if it arrived encrypted and we decrypted it. The encrypted form carries the
    relation in the clear (`cleartext_relation`: "same" copies the inner one, None leaves it out,
    anything else is put there instead)."""
    inner = dict(event)
    parsed = ev.Event.parse_decrypted_event({k: v for k, v in inner.items() if k != "room_id"})
    parsed.decrypted = True
    parsed.session_id = session
    parsed.sender_key = "curve"
    wire_content: dict[str, Any] = {
        "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA", "session_id": session,
        "sender_key": "curve", "device_id": "DEV",
    }
    relation = event["content"].get("m.relates_to") if cleartext_relation == "same" else cleartext_relation
    if relation is not None:
        wire_content["m.relates_to"] = relation
    ctx.wires[event["event_id"]] = {**event, "type": "m.room.encrypted", "content": wire_content}
    facts = facts_from_event(ctx, ROOM, parsed)
    assert facts is not None
    return facts


def undecryptable(ctx: Ctx, event: dict[str, Any], *, session: str = "SESSION", cleartext_relation: Any = "same") -> EventFacts:
    """`event` as it arrives encrypted, before its key: only the cleartext is known."""
    relation = event["content"].get("m.relates_to") if cleartext_relation == "same" else cleartext_relation
    content: dict[str, Any] = {
        "algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AAAA", "session_id": session,
        "sender_key": "curve", "device_id": "DEV",
    }
    if relation is not None:
        content["m.relates_to"] = relation
    wire = {**event, "type": "m.room.encrypted", "content": content}
    facts = facts_from_event(ctx, ROOM, ev.Event.parse_event(wire))
    assert facts is not None
    return facts


def text(sender: str, body: str, **kw: Any) -> dict[str, Any]:
    return raw(sender, "m.room.message", {"msgtype": "m.text", "body": body}, **kw)


def edit(sender: str, target: str, body: str, **kw: Any) -> dict[str, Any]:
    return raw(sender, "m.room.message", {
        "msgtype": "m.text", "body": f"* {body}",
        "m.new_content": {"msgtype": "m.text", "body": body},
        "m.relates_to": {"rel_type": "m.replace", "event_id": target},
    }, **kw)


def reaction(sender: str, target: str, key: str, **kw: Any) -> dict[str, Any]:
    return raw(sender, "m.reaction", {"m.relates_to": {"rel_type": "m.annotation", "event_id": target, "key": key}}, **kw)


def redaction(sender: str, target: str, reason: str | None = None, **kw: Any) -> dict[str, Any]:
    content: dict[str, Any] = {"redacts": target}
    if reason:
        content["reason"] = reason
    return raw(sender, "m.room.redaction", content, redacts=target, **kw)


def reply(sender: str, target: str, target_sender: str, quoted: str, body: str, **kw: Any) -> dict[str, Any]:
    """A reply with the quoted fallback Element used to put before it."""
    return raw(sender, "m.room.message", {
        "msgtype": "m.text",
        "body": f"> <{target_sender}> {quoted}\n\n{body}",
        "format": "org.matrix.custom.html",
        "formatted_body": f"<mx-reply><blockquote><a>In reply to</a> {quoted}</blockquote></mx-reply>{body}",
        "m.relates_to": {"m.in_reply_to": {"event_id": target}},
    }, **kw)


def in_thread(sender: str, root: str, body: str, latest: str | None = None, **kw: Any) -> dict[str, Any]:
    return raw(sender, "m.room.message", {
        "msgtype": "m.text", "body": body,
        "m.relates_to": {"rel_type": "m.thread", "event_id": root, "is_falling_back": True,
                         "m.in_reply_to": {"event_id": latest or root}},
    }, **kw)


def poll_start(sender: str, question: str, answers: list[str], *, stable: bool = False, kind: str = "disclosed",
               max_selections: int = 1, **kw: Any) -> dict[str, Any]:
    if stable:
        return raw(sender, "m.poll.start", {
            "m.poll": {
                "kind": f"m.{kind}", "max_selections": max_selections,
                "question": {"m.text": [{"body": question}]},
                "answers": [{"m.id": f"a{i}", "m.text": [{"body": a}]} for i, a in enumerate(answers)],
            },
            "m.text": [{"body": question}],
        }, **kw)
    return raw(sender, "org.matrix.msc3381.poll.start", {
        "org.matrix.msc3381.poll.start": {
            "question": {"org.matrix.msc1767.text": question},
            "kind": f"org.matrix.msc3381.poll.{kind}", "max_selections": max_selections,
            "answers": [{"id": f"a{i}", "org.matrix.msc1767.text": a} for i, a in enumerate(answers)],
        },
        "org.matrix.msc1767.text": question,
    }, **kw)


def vote(sender: str, poll: str, answers: list[str], *, stable: bool = False, **kw: Any) -> dict[str, Any]:
    relation = {"rel_type": "m.reference", "event_id": poll}
    if stable:
        return raw(sender, "m.poll.response", {"m.selections": answers, "m.relates_to": relation}, **kw)
    return raw(sender, "org.matrix.msc3381.poll.response", {
        "org.matrix.msc3381.poll.response": {"answers": answers}, "m.relates_to": relation,
    }, **kw)


def poll_end(sender: str, poll: str, *, stable: bool = False, **kw: Any) -> dict[str, Any]:
    relation = {"rel_type": "m.reference", "event_id": poll}
    if stable:
        return raw(sender, "m.poll.end", {"m.text": [{"body": "ended"}], "m.relates_to": relation}, **kw)
    return raw(sender, "org.matrix.msc3381.poll.end", {
        "org.matrix.msc3381.poll.end": {}, "org.matrix.msc1767.text": "ended", "m.relates_to": relation,
    }, **kw)
