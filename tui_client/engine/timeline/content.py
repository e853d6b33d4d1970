"""What the content of a message-like event says, in words (pure).

One function, `view_of(event_type, content)`, reads every kind of content Element sends and a
timeline shows: text, notices and emotes (with their HTML), images and files, locations,
stickers and polls (stable and unstable event types). Anything it does not understand falls back
to the text the sender gave for that case (`body`, or an extensible-events text). Edits go through
the same function with their `m.new_content`, so an edited poll or location reads like an
original one.

Also here: the relation an event declares (`relation_of`), and stripping the quoted fallback a
reply may carry (`strip_reply_fallback`).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ...records import record
from ..models import Attachment, Location, Poll, PollAnswer

REPLACE = "m.replace"
ANNOTATION = "m.annotation"
THREAD = "m.thread"
REFERENCE = "m.reference"
THREAD_TYPES = frozenset({THREAD, "io.element.thread"})

POLL_START_TYPES = frozenset({"m.poll.start", "org.matrix.msc3381.poll.start"})
POLL_RESPONSE_TYPES = frozenset({"m.poll.response", "org.matrix.msc3381.poll.response"})
POLL_END_TYPES = frozenset({"m.poll.end", "org.matrix.msc3381.poll.end"})
STICKER = "m.sticker"
MESSAGE = "m.room.message"
MESSAGE_LIKE_TYPES = frozenset({MESSAGE, STICKER}) | POLL_START_TYPES

ATTACHMENT_LABELS = {"m.image": "image", "m.file": "file", "m.audio": "audio", "m.video": "video"}
MAX_POLL_ANSWERS = 20  # MSC3381's limit; more are ignored
MAX_ID_LENGTH = 255  # the spec's limit for event ids


@record
class ContentView:
    """What a timeline shows of one piece of content."""

    kind: str  # "message" | "emote" | "notice" | "sticker" | "poll"
    body: str | None
    formatted_body: str | None = None
    msgtype: str | None = None
    attachment: Attachment | None = None
    poll: Poll | None = None
    location: Location | None = None


@record
class Relation:
    """An event's `m.relates_to`, checked for shape."""

    rel_type: str | None = None
    event_id: str | None = None  # the target of rel_type
    key: str | None = None  # annotations: the reaction key
    in_reply_to: str | None = None
    is_falling_back: bool = False  # a thread message whose in_reply_to is only a fallback

    @property
    def is_thread(self) -> bool:
        return self.rel_type in THREAD_TYPES and self.event_id is not None

    @property
    def reply_to(self) -> str | None:
        """The event this one really replies to (not a thread's fallback)."""
        if self.is_thread and self.is_falling_back:
            return None
        return self.in_reply_to


def _event_id(value: Any) -> str | None:
    if isinstance(value, str) and 0 < len(value) <= MAX_ID_LENGTH:
        return value
    return None


def relation_of(raw: Any) -> Relation | None:
    """The relation in an `m.relates_to` object, or None if there is none that makes sense."""
    if not isinstance(raw, Mapping):
        return None
    rel_type = raw.get("rel_type") if isinstance(raw.get("rel_type"), str) else None
    target = _event_id(raw.get("event_id")) if rel_type else None
    reply = raw.get("m.in_reply_to")
    in_reply_to = _event_id(reply.get("event_id")) if isinstance(reply, Mapping) else None
    key = raw.get("key") if isinstance(raw.get("key"), str) else None
    if target is None and in_reply_to is None:
        return None
    return Relation(
        rel_type if target else None, target, key, in_reply_to, raw.get("is_falling_back") is True
    )


# -- replies: the quoted fallback -------------------------------------------------------------

_MX_REPLY = re.compile(r"^\s*<mx-reply>.*?</mx-reply>", re.DOTALL | re.IGNORECASE)


def strip_reply_fallback(body: str | None, formatted: str | None) -> tuple[str | None, str | None]:
    """A reply's text without the quote of the replied-to message some clients put before it
    (lines starting with "> " up to the first empty line; `<mx-reply>…</mx-reply>` in HTML)."""
    if isinstance(body, str) and body.startswith("> "):
        lines = body.split("\n")
        index = 0
        while index < len(lines) and lines[index].startswith(">"):
            index += 1
        if index < len(lines) and lines[index] == "":
            body = "\n".join(lines[index + 1:])
    if isinstance(formatted, str):
        formatted = _MX_REPLY.sub("", formatted, count=1)
    return body, formatted


# -- text in its several spellings -------------------------------------------------------------


def _text(value: Any) -> str | None:
    """Extensible-events text: a string (early MSC1767), or a list of {body, mimetype} (stable)."""
    if isinstance(value, str):
        return value
    if isinstance(value, list):
        plain = [v for v in value if isinstance(v, Mapping) and isinstance(v.get("body"), str)]
        for entry in plain:
            if entry.get("mimetype") in (None, "text/plain"):
                return str(entry["body"])
        if plain:
            return str(plain[0]["body"])
    return None


def fallback_text(content: Mapping[str, Any]) -> str | None:
    """The text a sender gives for clients that do not understand its content."""
    for key in ("m.text", "org.matrix.msc1767.text", "body"):
        text = _text(content.get(key))
        if text:
            return text
    message = content.get("org.matrix.msc1767.message") or content.get("m.message")
    return _text(message)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) else None


# -- attachments, locations, polls -------------------------------------------------------------


def attachment_of(content: Mapping[str, Any]) -> Attachment:
    found_info = content.get("info")
    info: Mapping[str, Any] = found_info if isinstance(found_info, Mapping) else {}
    found_file = content.get("file")
    file = found_file if isinstance(found_file, Mapping) else None
    name = _str(content.get("filename")) or _str(content.get("body"))
    url = _str(file.get("url")) if file is not None else _str(content.get("url"))
    return Attachment(name, _str(info.get("mimetype")), _int(info.get("size")), file is not None, url)


def location_of(content: Mapping[str, Any]) -> Location:
    found = content.get("m.location") or content.get("org.matrix.msc3488.location")
    found = found if isinstance(found, Mapping) else {}
    return Location(_str(found.get("description")), _str(content.get("geo_uri")) or _str(found.get("uri")))


def poll_of(content: Mapping[str, Any]) -> Poll | None:
    """A poll's question and answers, from the stable (`m.poll`) or the unstable (MSC3381) form."""
    stable = content.get("m.poll")
    if isinstance(stable, Mapping):
        q = stable.get("question")
        question = _text(q.get("m.text")) if isinstance(q, Mapping) else None
        raw_answers = stable.get("answers")
        answers = []
        for answer in raw_answers if isinstance(raw_answers, list) else []:
            if isinstance(answer, Mapping) and _str(answer.get("m.id")):
                answers.append(PollAnswer(str(answer["m.id"]), _text(answer.get("m.text")) or "?"))
        kind = "undisclosed" if stable.get("kind") == "m.undisclosed" else "disclosed"
        max_selections = _int(stable.get("max_selections"))
    else:
        unstable = content.get("org.matrix.msc3381.poll.start") or content.get("m.poll.start")
        if not isinstance(unstable, Mapping):
            return None
        q = unstable.get("question")
        question = fallback_text(q) if isinstance(q, Mapping) else None
        raw_answers = unstable.get("answers")
        answers = []
        for answer in raw_answers if isinstance(raw_answers, list) else []:
            if isinstance(answer, Mapping) and _str(answer.get("id")):
                answers.append(PollAnswer(str(answer["id"]), fallback_text(answer) or "?"))
        kind = "undisclosed" if str(unstable.get("kind", "")).endswith("undisclosed") else "disclosed"
        max_selections = _int(unstable.get("max_selections"))
    if not question or not answers:
        return None
    unique: dict[str, PollAnswer] = {}
    for answer in answers[:MAX_POLL_ANSWERS]:
        unique.setdefault(answer.id, answer)
    return Poll(question, tuple(unique.values()), kind, max(1, min(max_selections or 1, len(unique))))


def poll_text(poll: Poll) -> str:
    """A poll in words: its question, then each answer with its votes (when they may be shown)."""
    lines = [f"Poll: {poll.question}" + (" (ended)" if poll.ended else "")]
    hidden = poll.kind == "undisclosed" and not poll.ended
    for number, answer in enumerate(poll.answers, 1):
        if hidden:
            lines.append(f"{number}. {answer.text}")
        else:
            votes = len(answer.voters)
            lines.append(f"{number}. {answer.text} ({votes} vote{'' if votes == 1 else 's'})")
    if hidden:
        lines.append("(results are shown when the poll ends)")
    return "\n".join(lines)


def selections_of(content: Mapping[str, Any]) -> list[str] | None:
    """The answer ids of a poll response (stable or unstable), or None if it has no such list."""
    stable = content.get("m.selections")
    if isinstance(stable, list):
        return stable
    for key in ("org.matrix.msc3381.poll.response", "m.poll.response"):
        unstable = content.get(key)
        if isinstance(unstable, Mapping):
            answers = unstable.get("answers")
            return answers if isinstance(answers, list) else []
    return None


# -- the whole content -----------------------------------------------------------------------------


def view_of(event_type: str, content: Mapping[str, Any]) -> ContentView | None:
    """What to show for a message-like event's content; None if it is not one we show."""
    if not isinstance(content, Mapping):
        return None
    if event_type == MESSAGE:
        return _message(content)
    if event_type == STICKER:
        body = _str(content.get("body"))
        return ContentView(
            "sticker", f"[sticker] {body}" if body else "[sticker]", msgtype=None, attachment=attachment_of(content)
        )
    if event_type in POLL_START_TYPES:
        poll = poll_of(content)
        if poll is None:
            text = fallback_text(content)
            return ContentView("message", text) if text else None
        return ContentView("poll", poll_text(poll), poll=poll)
    return None


def _message(content: Mapping[str, Any]) -> ContentView | None:
    msgtype = _str(content.get("msgtype"))
    body = _str(content.get("body"))
    if msgtype is None or body is None:
        return None
    formatted = None
    if content.get("format") == "org.matrix.custom.html" and isinstance(content.get("formatted_body"), str):
        formatted = content["formatted_body"]
    if msgtype in ("m.text", "m.emote", "m.notice"):
        kind = {"m.emote": "emote", "m.notice": "notice"}.get(msgtype, "message")
        return ContentView(kind, body, formatted, msgtype)
    if msgtype in ATTACHMENT_LABELS:
        attachment = attachment_of(content)
        label = ATTACHMENT_LABELS[msgtype]
        name = attachment.name or body
        return ContentView("message", f"[{label}] {name}" if name else f"[{label}]", None, msgtype, attachment)
    if msgtype == "m.location":
        return ContentView("message", body, None, msgtype, location=location_of(content))
    # Any other msgtype (m.key.verification.request, m.server_notice, a custom one): its text.
    return ContentView("message", body, formatted, msgtype)
