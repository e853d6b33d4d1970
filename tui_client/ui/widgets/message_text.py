"""What a timeline item says, as styled text: a deleted message, the quote above a reply, the
reactions and "seen by" lines under a message, a poll, and the detail line for the selected item
(the views in message.py lay these out)."""

from __future__ import annotations

from textual.content import Content

from ...engine.models import Decryption, Poll, Reaction, ReplyPreview, TimelineItem
from ..describe import failure_line
from ..formatting import clean
from ..timefmt import TimeFormatter


MAX_REACTION_KEYS = 12  # shown under a message; the rest are counted
MAX_KEY_WIDTH = 16


def deleted_text(item: TimelineItem) -> str:
    """"🗑 message deleted", or who deleted it and why when that is someone else or a reason."""
    text = "🗑 message deleted"
    if item.redacted_by and item.redacted_by != item.sender:
        text = f"🗑 deleted by {clean(item.redacted_by)}"
    if item.redaction_reason:
        text += f": {clean(item.redaction_reason)}"
    return text


def reply_line(reply: ReplyPreview) -> Content:
    """The quote above a reply: who wrote what it answers, and its first line."""
    bar = ("▎ ", "$text-primary")
    if reply.state == "ok":
        return Content.assemble(
            bar, (f"{clean(reply.sender_name or reply.sender or '?')}: ", "bold $foreground-muted"),
            (clean(reply.snippet or ""), "$foreground-muted"),
        )
    said = {
        "deleted": "a deleted message",
        "encrypted": f"an encrypted message from {clean(reply.sender_name or reply.sender or '?')}",
        "missing": "a message that could not be loaded",
        "loading": "a message (loading…)",
    }.get(reply.state, "a message")
    return Content.assemble(bar, (f"in reply to {said}", "italic $foreground-muted"))


def reactions_line(reactions: tuple[Reaction, ...]) -> Content:
    parts: list[str | tuple[str, str]] = []
    for reaction in reactions[:MAX_REACTION_KEYS]:
        key = clean(reaction.key)
        if len(key) > MAX_KEY_WIDTH:
            key = key[: MAX_KEY_WIDTH - 1] + "…"
        style = "bold $text-accent" if reaction.own_event_id else "$foreground"
        parts += [(f"{key} {reaction.count}", style), "  "]
    if len(reactions) > MAX_REACTION_KEYS:
        parts.append((f"+{len(reactions) - MAX_REACTION_KEYS} more", "$foreground-muted"))
    return Content.assemble(*parts)


def poll_content(poll: Poll, own_user_id: str) -> Content:
    """A poll: its question, then each answer (with its votes, unless they are hidden until the
    end), your own choice marked."""
    hidden = poll.kind == "undisclosed" and not poll.ended
    lines = [Content.assemble(("📊 ", ""), (clean(poll.question), "bold"),
                              ((" (ended)" if poll.ended else ""), "$foreground-muted"))]
    mine = set(poll.own_choice(own_user_id)) if own_user_id else set()
    for answer in poll.answers:
        mark = "◉" if answer.id in mine else "○"
        if hidden:
            lines.append(Content.assemble(f"  {mark} ", clean(answer.text)))
        else:
            votes = len(answer.voters)
            lines.append(Content.assemble(
                f"  {mark} ", clean(answer.text), (f"  {votes} vote{'' if votes == 1 else 's'}", "$foreground-muted")))
    if hidden:
        lines.append(Content.styled("  results are shown when the poll ends", "italic $foreground-muted"))
    return Content("\n").join(lines)


def seen_line(readers: tuple[str, ...], most: int = 4) -> Content:
    """"seen by Alice, Bob and 3 others" (names cleaned; the first readers first)."""
    if not readers:
        return Content("")
    names = [clean(n) for n in readers[:most]]
    rest = len(readers) - len(names)
    if rest:
        text = f"{', '.join(names)} and {rest} other{'s' if rest != 1 else ''}"
    elif len(names) > 1:
        text = f"{', '.join(names[:-1])} and {names[-1]}"
    else:
        text = names[0]
    return Content.styled(f"seen by {text}", "italic $foreground-muted")


def item_details(item: TimelineItem, time_format: TimeFormatter) -> Content:
    """The detail line under the timeline for the selected item: the provenance sentence, the
    decryption failure, then who sent it when and how it was protected."""
    lines: list[Content] = []
    if item.provenance is not None:
        lines.append(Content.styled(clean(f"🔑 {item.provenance.sentence(item.sender)}"), "$text-accent"))
    edit = item.edit_provenance
    if edit is not None and edit != item.provenance:
        lines.append(Content.styled(clean(f"🔑 (the edit) {edit.sentence(item.sender)}"), "$text-accent"))
    if item.redacted:
        lines.append(Content.styled(deleted_text(item), "$foreground-muted"))
    if item.failed or item.failure_reason:
        lines.append(Content.styled(clean(failure_line(item)), "$text-error"))
    if item.decryption is Decryption.DECRYPTED:
        protection = "end-to-end encrypted"
    elif item.failed:
        protection = "encrypted"
    else:
        protection = "not encrypted"
    facts = [f"{item.sender_name} ({item.sender})", time_format.full(item.timestamp), protection]
    if item.session_id:
        facts.append(f"session {item.session_id[:10]}…")
    if item.sender_device:
        facts.append(f"device {item.sender_device}")
    if item.edited:
        facts.append(f"edited ({len(item.edits) - 1} time{'s' if len(item.edits) > 2 else ''})")
    if item.reactions:
        facts.append("reactions: " + ", ".join(f"{r.key} {len(r.senders)}" for r in item.reactions))
    lines.append(Content.styled(clean(" · ".join(facts)), "$foreground-muted"))
    return Content("\n").join(lines)
