"""What one timeline entry shows: a message (with its provenance badge or its decryption
failure, the message it replies to, "edited", its reactions, its thread, or "message deleted"),
a membership/state one-liner, or the rule of a day line.

Views hold the `TimelineItem` they show and their rows (rows.py); the timeline draws those rows
itself (timeline_window.py): a view is never mounted. They build their rows again when the engine
sends a newer version of the item (`update_item`), e.g. once the keys of a failed message arrive.
The pieces of text they show (a quote, the reactions, a poll, "seen by", the detail line) are
message_text.py's.
"""

from __future__ import annotations

import zlib


from textual.message import Message
from textual.content import Content
from textual.widget import Widget

from ...engine.models import TimelineItem
from ..timefmt import TimeFormatter
from ..describe import failure_line
from ..formatting import MAX_CHARS, body_content, clean
from . import image_preview
from .message_text import deleted_text, poll_content, reactions_line, reply_line, seen_line
from .rows import Row, Rows

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


class ItemView(Widget):
    """Base of everything in the timeline that stands for one `TimelineItem`: its rows (see
    rows.py), which the timeline draws. A widget for its classes (the look its item has, for
    whoever asks), never mounted."""

    def __init__(self, item: TimelineItem, time_format: TimeFormatter, classes: str = "") -> None:
        # Classes given here, not added one by one: each add_class re-checks the styles, and a
        # long timeline builds these views by the dozen.
        super().__init__(classes=f"item {classes}")
        self.item = item
        self.time_format = time_format
        self._shown: Rows | None = None

    def update_item(self, item: TimelineItem) -> None:
        self.item = item
        self.refresh_content()

    def refresh_content(self) -> None:
        self._shown = Rows(self.rows())

    @property
    def shown_rows(self) -> tuple[Row, ...]:
        return self._shown.rows if self._shown is not None else ()

    def rows(self) -> list[Row]:  # pragma: no cover - overridden
        return []

    def drawn_rows(self) -> Rows:
        """The rows as last built (what the timeline draws)."""
        if self._shown is None:
            self.refresh_content()
        assert self._shown is not None
        return self._shown


class MessageView(ItemView):
    """A message: header (sender, time, 🔑 badge) unless it continues a group (a message with
    a badge never does), then its body, its thread and reactions, who read up to it (and for an
    image, the image between the text and the marks once it has arrived: the timeline asks the
    screen for it with `PreviewWanted` and draws it)."""

    class PreviewWanted(Message):
        def __init__(self, view: MessageView, timeline: Widget) -> None:
            super().__init__()
            self.view = view
            self.timeline = timeline

    def __init__(
        self, item: TimelineItem, time_format: TimeFormatter, *, show_header: bool = True, thread_marks: bool = True
    ) -> None:
        super().__init__(item, time_format, " ".join(["message", *state_classes(item, show_header)]))
        self.show_header = show_header
        self.thread_marks = thread_marks  # "in a thread" and the reply count (not inside the thread)
        self.readers: tuple[str, ...] = ()  # who read up to this message (read receipts)

    def top_rows(self) -> list[Row]:
        rows = [Row(self._header(), wrap=False, name="meta")] if self.show_header else []
        return [*rows, Row(self._styled_body(self._main_body()), indent=2, name="body")]

    def bottom_rows(self) -> list[Row]:
        rows = []
        marks = self._marks_body()
        if marks:
            rows.append(Row(self._styled_body(marks), indent=2, name="marks"))
        if self.readers:
            rows.append(Row(seen_line(self.readers), indent=2, wrap=False, align="right", name="seen"))
        return rows

    def rows(self) -> list[Row]:
        return [*self.top_rows(), *self.bottom_rows()]

    @property
    def previewable(self) -> bool:
        """Whether an image preview goes under its text."""
        return image_preview.is_image(self.item)

    def shown_part(self, name: str) -> str | None:
        """The text of a part as drawn ("meta", "body", "marks", "seen"); None: not drawn."""
        for row in self.shown_rows:
            if row.name == name:
                return row.content.plain
        return None

    def _styled_body(self, content: Content) -> Content:
        """The text under the header in the message's look (a notice or a deleted message dim,
        an undecryptable one slanted); the styles inside it win."""
        item = self.item
        if item.kind == "notice" or item.redacted:
            content = content.stylize_before("$foreground-muted")
        if item.failed:
            content = content.stylize_before("italic")
        return content

    def set_readers(self, readers: tuple[str, ...]) -> None:
        """Show "seen by Alice, Bob" under the message (nothing when nobody's receipt is here)."""
        if readers != self.readers:
            self.readers = readers
            self.refresh_content()

    def set_header(self, show: bool) -> None:
        if show != self.show_header:
            self.show_header = show
            self.refresh_content()

    def refresh_content(self) -> None:
        self._apply_classes()
        super().refresh_content()

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


STATE_CLASSES = ("-continuation", "-failed", "-shared", "-notice", "-emote", "-own", "-redacted", "-highlight")


def state_classes(item: TimelineItem, show_header: bool) -> list[str]:
    """The classes of a message's view that its styles depend on (a subset of STATE_CLASSES)."""
    flags = (not show_header, item.failed, item.provenance is not None, item.kind == "notice",
             item.kind == "emote", item.own, item.redacted, item.highlight)
    return [name for name, on in zip(STATE_CLASSES, flags) if on]


class EventLine(ItemView):
    """A membership or state change: a dim line after its time, wrapped lines indented past it."""

    def __init__(self, item: TimelineItem, time_format: TimeFormatter) -> None:
        super().__init__(item, time_format, "event")

    def rows(self) -> list[Row]:
        time = self._time()
        return [Row(self._line(), indent=max(EVENT_TIME_WIDTH, time.cell_length), prefix=time)]

    def _time(self) -> Content:
        return Content.styled(f"{self.time_format.time(self.item.timestamp)}  · ", "$foreground-muted")

    def _line(self) -> Content:
        return Content.styled(clean(self.item.body or self.item.event_type), "$foreground-muted")


EVENT_TIME_WIDTH = 9  # "12:34  · "


def rule_line(label: str, width: int, line_style: str, label_style: str) -> Content:
    """"──── label ────" across `width` cells: a day line, or the "new messages" line."""
    label = f" {label} "
    width = max(width, len(label))
    left = (width - len(label)) // 2
    return Content.assemble(("─" * left, line_style), (label, label_style), ("─" * (width - left - len(label)), line_style))


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
