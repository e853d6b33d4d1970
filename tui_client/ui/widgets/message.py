"""One timeline entry on screen: a message (with its provenance badge or its decryption failure,
the message it replies to, "edited", its reactions, its thread, or "message deleted"), a
membership/state one-liner, or a day separator.

Views hold the `TimelineItem` they show and re-render in place when the engine sends a newer
version of it (`update_item`), e.g. once the keys of a failed message arrive.
"""

from __future__ import annotations

import zlib

from textual.app import ComposeResult
from textual.message import Message
from textual.containers import Vertical
from textual.content import Content
from textual.widget import Widget
from textual.widgets import Static

from ...engine.models import Decryption, Poll, Reaction, ReplyPreview, TimelineItem
from ..timefmt import TimeFormatter
from ..describe import failure_line
from ..formatting import MAX_CHARS, body_content, clean
from . import image_preview
from .line import Line

# Sender names get one of these colours, chosen by a stable hash of the user id.
SENDER_STYLES = (
    "$text-primary",
    "$text-success",
    "$text-secondary",
    "$text-accent",
    "$text-error",
    "#c792ea",
)


def sender_style(user_id: str) -> str:
    return SENDER_STYLES[zlib.crc32(user_id.encode()) % len(SENDER_STYLES)]


class ItemView(Vertical):
    """Base of everything in the timeline that stands for one `TimelineItem`."""

    def __init__(self, item: TimelineItem, time_format: TimeFormatter, classes: str = "") -> None:
        # Classes given here, not added one by one: each add_class re-checks the styles, and a
        # long timeline builds these views by the dozen.
        super().__init__(classes=f"item {classes}")
        self.item = item
        self.time_format = time_format

    def update_item(self, item: TimelineItem) -> None:
        self.item = item
        self.refresh_content()

    def refresh_content(self) -> None:  # pragma: no cover - overridden
        pass


class MessageView(ItemView):
    """A message: header (sender, time, 🔑 badge) unless it continues a group (a message with
    a badge never does), then its body (and for an image, the image once it has arrived:
    `PreviewWanted` asks the screen for it)."""

    class PreviewWanted(Message):
        def __init__(self, view: MessageView) -> None:
            super().__init__()
            self.view = view

    def __init__(
        self, item: TimelineItem, time_format: TimeFormatter, *, show_header: bool = True, thread_marks: bool = True
    ) -> None:
        super().__init__(item, time_format, " ".join(["message", *state_classes(item, show_header)]))
        self.show_header = show_header
        self.thread_marks = thread_marks  # "in a thread" and the reply count (not inside the thread)
        self._meta: Static | None = None
        self._text: Static | None = None
        self._marks: Static | None = None  # the thread summary and the reactions, under a preview
        self._seen: Static | None = None
        self.readers: tuple[str, ...] = ()  # who read up to this message (read receipts)
        self._preview_asked = False

    def compose(self) -> ComposeResult:
        # The header, the marks and "seen by" lines exist only once there is something to show:
        # most messages continue a group and have none of them, and each widget is a share of
        # every layout of the timeline.
        self._text = Line(self._main_body(), classes="body", markup=False)
        if self.show_header:
            self._meta = Line(self._header(), classes="meta", markup=False)
            yield self._meta
        yield self._text
        marks = self._marks_body()
        if marks:
            self._marks = Line(marks, classes="body marks", markup=False)
            yield self._marks
        if self.readers:
            self._seen = Line(seen_line(self.readers), classes="seen", markup=False)
            yield self._seen

    def on_mount(self) -> None:
        self._want_preview()

    def _want_preview(self) -> None:
        """Ask for the image once the item is one (it may decrypt into one later); drop the
        preview when it no longer is (deleted)."""
        if image_preview.is_image(self.item):
            if not self._preview_asked:
                self._preview_asked = True
                self.post_message(self.PreviewWanted(self))
        elif self._preview_asked:
            self._preview_asked = False
            for old in self.query(".preview"):
                old.remove()

    async def show_preview(self, image: object) -> None:
        """Show the image under the text, above the reactions (once; a newer one replaces it)."""
        for old in self.query(".preview"):
            await old.remove()
        if self._text is not None and self.is_mounted and image_preview.is_image(self.item):
            await self.mount(image_preview.preview(image), after=self._text)

    def set_readers(self, readers: tuple[str, ...]) -> None:
        """Show "seen by Alice, Bob" under the message (nothing when nobody's receipt is here)."""
        if readers == self.readers:
            return
        self.readers = readers
        if self._seen is not None:
            self._seen.update(seen_line(readers))
            self._seen.display = bool(readers)
        elif readers and self._text is not None:
            self._seen = Line(seen_line(readers), classes="seen", markup=False)
            self.mount(self._seen)

    def set_header(self, show: bool) -> None:
        if show != self.show_header:
            self.show_header = show
            self._apply_classes()
            if show and self._meta is None and self._text is not None:  # composed without one
                self._meta = Line(self._header(), classes="meta", markup=False)
                self.mount(self._meta, before=self._text)

    def refresh_content(self) -> None:
        self._apply_classes()
        # The children may exist before this view is mounted: an update can arrive in between,
        # so update them whenever compose has run (before that, compose renders the new item).
        if self._text is not None:
            if self._meta is not None:
                self._meta.update(self._header())
            self._text.update(self._main_body())
            self._show_marks(self._marks_body())
        if self.is_mounted:
            self._want_preview()

    def _show_marks(self, marks: Content) -> None:
        """The thread summary and reactions line: updated, hidden when empty, added (above
        "seen by") the first time there is something to show."""
        if self._marks is not None:
            self._marks.update(marks)
            self._marks.display = bool(marks)
        elif marks:
            self._marks = Line(marks, classes="body marks", markup=False)
            if self._seen is not None:
                self.mount(self._marks, before=self._seen)
            else:
                self.mount(self._marks)

    def _apply_classes(self) -> None:
        wanted = state_classes(self.item, self.show_header)
        for name in STATE_CLASSES:
            self.set_class(name in wanted, name)

    def _header(self) -> Content:
        item = self.item
        parts: list[str | tuple[str, str] | Content] = [
            (clean(item.sender_name or item.sender), f"bold {sender_style(item.sender)}"),
            "  ",
            (self.time_format.time(item.timestamp), "$foreground-muted"),
        ]
        provenance = item.shown_provenance
        if provenance is not None and not item.redacted:
            parts += ["  ", (clean(provenance.badge), "bold $text-accent")]
        return Content.assemble(*parts)

    def _body(self) -> Content:
        """Everything under the header, as text: the message, then its thread and reactions."""
        marks = self._marks_body()
        return Content("\n").join([self._main_body(), marks]) if marks else self._main_body()

    def _main_body(self) -> Content:
        item = self.item
        lines: list[Content] = []
        if item.thread_root is not None and self.thread_marks:
            lines.append(Content.styled("🧵 in a thread", "$foreground-muted"))
        if item.reply is not None:
            lines.append(reply_line(item.reply))
        lines.append(self._message_text())
        if item.location is not None and not item.redacted:
            place = " · ".join(clean(p) for p in (item.location.description, item.location.geo_uri) if p)
            if place:
                lines.append(Content.styled(f"📍 {place}", "$text-secondary"))
        return Content("\n").join(lines)

    def _marks_body(self) -> Content:
        item = self.item
        lines: list[Content] = []
        if item.thread is not None and self.thread_marks:
            summary = item.thread
            latest = ""
            if summary.latest_snippet:
                latest = f" · {clean(summary.latest_sender_name or summary.latest_sender or '')}: {clean(summary.latest_snippet)}"
            count = f"{summary.replies} repl{'y' if summary.replies == 1 else 'ies'}"
            lines.append(Content.styled(f"🧵 {count}{latest}", "$text-primary"))
        if item.reactions and not item.redacted:
            lines.append(reactions_line(item.reactions))
        return Content("\n").join(lines)

    def _message_text(self) -> Content:
        item = self.item
        if item.redacted:
            return Content.styled(deleted_text(item), "italic $foreground-muted")
        if item.failed or item.kind == "bad" or item.body is None and item.failure_reason:
            return Content.styled(clean(failure_line(item)), "italic $text-error")
        if item.poll is not None:
            content = poll_content(item.poll, self.app_user_id())
        else:
            content = body_content(item.body, item.formatted_body)
        if len(item.body or "") > MAX_CHARS:
            # Cut for the timeline; the event details show the whole text.
            content = Content.assemble(content, "\n", Content.styled(
                f"(the message goes on: {len(item.body or ''):,} characters in all; select it and press i "
                "for the whole text)", "italic $foreground-muted"))
        if item.kind == "emote":
            content = Content.assemble(("* ", "$foreground-muted"), (clean(item.sender_name), "italic"), " ", content)
        if item.edited:
            content = Content.assemble(content, (" (edited)", "$foreground-muted"))
        return content

    def app_user_id(self) -> str:
        try:
            return str(getattr(self.app, "user_id", "") or "")
        except Exception:  # not mounted yet
            return ""


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


STATE_CLASSES = ("-continuation", "-failed", "-shared", "-notice", "-emote", "-own", "-redacted", "-highlight")


def state_classes(item: TimelineItem, show_header: bool) -> list[str]:
    """The classes of a message's view that its styles depend on (a subset of STATE_CLASSES)."""
    flags = (not show_header, item.failed, item.provenance is not None, item.kind == "notice",
             item.kind == "emote", item.own, item.redacted, item.highlight)
    return [name for name, on in zip(STATE_CLASSES, flags) if on]


class EventLine(ItemView):
    """A membership or state change: a dim line, wrapped lines indented past the time."""

    def __init__(self, item: TimelineItem, time_format: TimeFormatter) -> None:
        super().__init__(item, time_format, "event")
        self._parts: tuple[Static, Static] | None = None

    def compose(self) -> ComposeResult:
        self._parts = (
            Line(self._time(), classes="event-time", markup=False),
            Line(self._line(), classes="event-text", markup=False),
        )
        yield from self._parts

    def refresh_content(self) -> None:
        if self._parts is not None:  # else compose renders the new item
            self._parts[0].update(self._time())
            self._parts[1].update(self._line())

    def _time(self) -> Content:
        return Content.styled(f"{self.time_format.time(self.item.timestamp)}  · ", "$foreground-muted")

    def _line(self) -> Content:
        return Content.styled(clean(self.item.body or self.item.event_type), "$foreground-muted")


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


class NewMessagesLine(Widget):
    """"──── new messages ────" after the last message read before the room was opened."""

    def __init__(self) -> None:
        super().__init__(classes="new-messages")

    def render(self) -> Content:
        label = " new messages "
        width = max(self.size.width, len(label))
        left = (width - len(label)) // 2
        return Content.assemble(("─" * left, "$text-error"), (label, "bold $text-error"), (
            "─" * (width - left - len(label)), "$text-error"))


class DaySeparator(Widget):
    """"──── Monday 3 March 2025 ────" before the first item of each day."""

    def __init__(self, label: str) -> None:
        super().__init__(classes="day")
        self.label = label

    def render(self) -> Content:
        label = f" {self.label} "
        width = max(self.size.width, len(label))
        left = (width - len(label)) // 2
        return Content.assemble(("─" * left, "$foreground-muted"), (label, "bold"), (
            "─" * (width - left - len(label)), "$foreground-muted"))


def make_view(
    item: TimelineItem, time_format: TimeFormatter, *, show_header: bool = True, thread_marks: bool = True
) -> ItemView:
    if item.is_message or item.failed:
        return MessageView(item, time_format, show_header=show_header, thread_marks=thread_marks)
    return EventLine(item, time_format)


def starts_group(previous: TimelineItem | None, item: TimelineItem, time_format: TimeFormatter) -> bool:
    """Whether `item` needs its own header, or continues the messages of `previous`."""
    if previous is None or not previous.is_message or not item.is_message:
        return True
    if previous.sender != item.sender or item.timestamp - previous.timestamp > 5 * 60 * 1000:
        return True
    if time_format.day_of(previous.timestamp) != time_format.day_of(item.timestamp):
        return True
    # A message decrypted with a shared key always shows its header: the 🔑 badge (who vouched
    # for it) is in the header, and it must be beside every message it applies to.
    return item.provenance is not None or previous.failed != item.failed


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
