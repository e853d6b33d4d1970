"""What commands print: every byte goes through here, sanitised (`safe_text`).

Room names, display names, device names, bodies and ids come from other people; printed raw, an
escape sequence in them is a command to the terminal. Fields are marked as they are put into a
line (`name_text`, `id_text`, `clean` for bodies) and the whole line is cleaned again on the way out.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from ..safe_text import clean, clean_id, clean_name, json_text

logger = logging.getLogger("tui_client.cli")


def name_text(value: Any) -> str:
    return clean_name(None if value is None else str(value))


def id_text(value: Any) -> str:
    return clean_id(None if value is None else str(value))


def out(text: str = "", *, end: str = "\n") -> None:
    print(clean(text), end=end, flush=True)


def err(text: str) -> None:
    print(clean_name(text), file=sys.stderr)


def plural(count: int, noun: str) -> str:
    """"1 room key", "3 room keys"."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


def print_json(data: Any) -> None:
    sys.stdout.write(json_text(data) + "\n")


def item_json(item: Any) -> dict[str, Any]:
    """One timeline item for `history --json`: relations are folded into it (an edited message
    shows its newest text and `edited`; reactions, votes and edits are not items of their own);
    a deleted one has `redacted` and no text at all."""
    attachment = item.attachment
    poll = item.poll
    return {
        "event_id": item.event_id,
        "type": item.event_type,
        "msgtype": item.msgtype,
        "sender": item.sender,
        "sender_name": item.sender_name,
        "timestamp": item.timestamp,
        "body": item.body,
        "decrypted": item.decrypted,
        "failure_reason": item.failure_reason,
        "failure_code": item.failure_code,
        "shared_by": item.provenance.shared_by if item.provenance else None,
        "shared_by_device": item.provenance.shared_by_device if item.provenance else None,
        "edited": item.edited,
        "reply_to": item.reply_to,
        "thread_root": item.thread_root,
        "thread_replies": item.thread.replies if item.thread else 0,
        "reactions": {r.key: list(r.senders) for r in item.reactions},
        "redacted": item.redacted,
        "redacted_by": item.redacted_by,
        "redaction_reason": item.redaction_reason,
        "attachment": {
            "name": attachment.name, "mimetype": attachment.mimetype, "size": attachment.size,
            "encrypted": attachment.encrypted,
        } if attachment is not None else None,
        "poll": {
            "question": poll.question, "kind": poll.kind, "max_selections": poll.max_selections,
            "ended": poll.ended,
            "answers": [{"id": a.id, "text": a.text, "voters": list(a.voters)} for a in poll.answers],
        } if poll is not None else None,
        "location": {
            "description": item.location.description, "geo_uri": item.location.geo_uri,
        } if item.location is not None else None,
    }


def history_line(item: Any) -> str:
    """One item of `history` in words: its text (or why there is none) and what hangs on it."""
    if item.redacted:
        by = f" by {id_text(item.redacted_by)}" if item.redacted_by and item.redacted_by != item.sender else ""
        why = f": {clean(item.redaction_reason)}" if item.redaction_reason else ""
        return f"(message deleted{by}{why})"
    text = clean(item.body) if item.body is not None else f"⚠ {name_text(item.failure_reason)}"
    if item.kind == "emote":
        text = f"* {name_text(item.sender_name)} {text}"
    elif item.msgtype == "m.notice":
        text = f"[notice] {text}"
    if item.location is not None and item.location.geo_uri and item.location.geo_uri not in text:
        text += f" ({name_text(item.location.geo_uri)})"
    before = []
    if item.reply is not None:
        quoted = clean(item.reply.snippet) if item.reply.snippet else {"deleted": "a deleted message"}.get(
            item.reply.state, "a message not loaded")
        before.append(f"[reply to {name_text(item.reply.sender_name or item.reply_to)}: {quoted}]")
    if item.thread_root:
        before.append("[in a thread]")
    after = []
    if item.edited:
        after.append("(edited)")
    if item.provenance or item.edit_provenance:
        after.append(f"[{name_text(item.shown_provenance.badge)}]")
    if item.thread:
        count = item.thread.replies
        after.append(f"[thread: {count} repl{'y' if count == 1 else 'ies'}]")
    if item.reactions:
        after.append(" ".join(f"{clean(r.key)} {r.count}" for r in item.reactions))
    return " ".join(before + [text] + after)
