"""One timeline entry on screen: a message (with its provenance badge or its decryption failure),
a membership/state one-liner, or a day separator.

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

from ...engine.models import Decryption, TimelineItem
from ..timefmt import TimeFormatter
from ..describe import failure_line
from ..formatting import MAX_CHARS, body_content, clean
from . import image_preview

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

    def __init__(self, item: TimelineItem, time_format: TimeFormatter) -> None:
        super().__init__(classes="item")
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

    def __init__(self, item: TimelineItem, time_format: TimeFormatter, *, show_header: bool = True) -> None:
        super().__init__(item, time_format)
        self.show_header = show_header
        self._meta: Static | None = None
        self._text: Static | None = None
        self._seen: Static | None = None
        self.readers: tuple[str, ...] = ()  # who read up to this message (read receipts)
        self.add_class("message")
        self._apply_classes()

    def compose(self) -> ComposeResult:
        self._meta = Static(self._header(), classes="meta", markup=False)
        self._text = Static(self._body(), classes="body", markup=False)
        self._seen = Static(seen_line(self.readers), classes="seen", markup=False)
        self._seen.display = bool(self.readers)
        yield self._meta
        yield self._text
        yield self._seen

    def on_mount(self) -> None:
        if image_preview.is_image(self.item):
            self.post_message(self.PreviewWanted(self))

    async def show_preview(self, image: object) -> None:
        """Show the image under the text (once; a newer one replaces it)."""
        for old in self.query(".preview"):
            await old.remove()
        if self._text is not None and self.is_mounted:
            await self.mount(image_preview.preview(image), after=self._text)

    def set_readers(self, readers: tuple[str, ...]) -> None:
        """Show "seen by Alice, Bob" under the message (nothing when nobody's receipt is here)."""
        if readers == self.readers:
            return
        self.readers = readers
        if self._seen is not None:
            self._seen.update(seen_line(readers))
            self._seen.display = bool(readers)

    def set_header(self, show: bool) -> None:
        if show != self.show_header:
            self.show_header = show
            self._apply_classes()

    def refresh_content(self) -> None:
        self._apply_classes()
        # The children may exist before this view is mounted: an update can arrive in between,
        # so update them whenever compose has run (before that, compose renders the new item).
        if self._meta is not None and self._text is not None:
            self._meta.update(self._header())
            self._text.update(self._body())

    def _apply_classes(self) -> None:
        item = self.item
        self.set_class(not self.show_header, "-continuation")
        self.set_class(item.failed, "-failed")
        self.set_class(item.provenance is not None, "-shared")
        self.set_class(item.kind == "notice", "-notice")
        self.set_class(item.kind == "emote", "-emote")
        self.set_class(item.own, "-own")
        self.set_class(item.highlight, "-highlight")

    def _header(self) -> Content:
        item = self.item
        parts: list[str | tuple[str, str] | Content] = [
            (clean(item.sender_name or item.sender), f"bold {sender_style(item.sender)}"),
            "  ",
            (self.time_format.time(item.timestamp), "$foreground-muted"),
        ]
        if item.provenance is not None:
            parts += ["  ", (clean(item.provenance.badge), "bold $text-accent")]
        return Content.assemble(*parts)

    def _body(self) -> Content:
        item = self.item
        if item.failed or item.kind == "bad" or item.body is None and item.failure_reason:
            return Content.styled(clean(failure_line(item)), "italic $text-error")
        content = body_content(item.body, item.formatted_body)
        if len(item.body or "") > MAX_CHARS:
            # Cut for the timeline; the event details show the whole text.
            content = Content.assemble(content, "\n", Content.styled(
                f"(the message goes on: {len(item.body or ''):,} characters in all; select it and press i "
                "for the whole text)", "italic $foreground-muted"))
        if item.kind == "emote":
            return Content.assemble(("* ", "$foreground-muted"), (clean(item.sender_name), "italic"), " ", content)
        return content


class EventLine(ItemView):
    """A membership or state change: a dim line, wrapped lines indented past the time."""

    def __init__(self, item: TimelineItem, time_format: TimeFormatter) -> None:
        super().__init__(item, time_format)
        self._parts: tuple[Static, Static] | None = None
        self.add_class("event")

    def compose(self) -> ComposeResult:
        self._parts = (
            Static(self._time(), classes="event-time", markup=False),
            Static(self._line(), classes="event-text", markup=False),
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


def make_view(item: TimelineItem, time_format: TimeFormatter, *, show_header: bool = True) -> ItemView:
    if item.is_message or item.failed:
        return MessageView(item, time_format, show_header=show_header)
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
    lines.append(Content.styled(clean(" · ".join(facts)), "$foreground-muted"))
    return Content("\n").join(lines)
