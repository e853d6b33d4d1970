"""Message bodies → Textual `Content`, safely.

A message's `formatted_body` (Matrix's `org.matrix.custom.html`) is read by a small whitelist HTML
parser into styled spans; a message without one is literal text. Nothing a sender writes is ever
interpreted as Textual or Rich markup, so a body of "[bold]x[/]" shows exactly those characters.
Unknown tags are dropped (their text kept), `<mx-reply>` fallbacks and scripts are skipped, and the
output is capped in length. All text goes through `tui_client.safe_text`: escape sequences and
control characters never reach the terminal, and a link is a link only if `safe_link` accepts its
target (http(s), mailto, matrix, mxc; printable characters only); otherwise its text is plain.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from textual.content import Content, Span
from textual.style import Style

from .. import safe_text

MAX_CHARS = 8000  # longer bodies are cut (the detail line still has the whole event id)

_INLINE_STYLES: dict[str, str] = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "del": "strike",
    "s": "strike",
    "strike": "strike",
    "code": "$text-warning",
    "h1": "bold underline",
    "h2": "bold underline",
    "h3": "bold",
    "h4": "bold",
    "h5": "bold",
    "h6": "bold",
    "pre": "$text-warning",
}
_BLOCKS = {"p", "div", "pre", "blockquote", "ul", "ol", "li", "h1", "h2", "h3", "h4", "h5", "h6", "table", "tr", "hr"}
_SKIPPED = {"mx-reply", "script", "style", "head", "title"}
_VOID = {"br", "hr", "img", "input", "meta", "link", "wbr"}
_SPACES = re.compile(r"[ \t\r\n\f]+")
QUOTE_BAR = "▌ "


class _Builder(HTMLParser):
    """Collects text and spans while walking the HTML; tolerant of bad nesting."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.text: list[str] = []
        self.length = 0
        self.spans: list[Span] = []
        self.open: list[tuple[str, int, str | Style | None]] = []  # (tag, start, style)
        self.skip_depth = 0
        self.pre_depth = 0
        self.quote_depth = 0
        self.lists: list[list[int]] = []  # one entry per open list: [next number] or [] for bullets
        self.at_line_start = True
        self.pending_space = False
        self.truncated = False

    # -- output ---------------------------------------------------------------------------

    def _emit(self, text: str, style: str | Style | None = None) -> None:
        text = safe_text.clean(text)
        if not text or self.truncated:
            return
        room = MAX_CHARS - self.length
        if len(text) > room:  # (cleaned again: the cut must not drop a closing bidi control)
            text, self.truncated = safe_text.clean(text[: max(room, 0)]) + "…", True
        if style:
            self.spans.append(Span(self.length, self.length + len(text), style))
        self.text.append(text)
        self.length += len(text)

    def _line_prefix(self) -> None:
        if self.at_line_start and self.quote_depth:
            self._emit(QUOTE_BAR * self.quote_depth, "$foreground-muted")
        self.at_line_start = False

    def newline(self) -> None:
        if self.length and not self.at_line_start:
            self._emit("\n")
        self.at_line_start = True
        self.pending_space = False

    # -- parser callbacks -----------------------------------------------------------------

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED:
            if tag not in _VOID:
                self.skip_depth += 1
            return
        if self.skip_depth:
            return
        if tag in _BLOCKS:
            self.newline()
        elif self.pending_space and not self.at_line_start:
            self._emit(" ")  # before the tag opens, so a styled span never starts with a space
            self.pending_space = False
        if tag == "br":
            if self.at_line_start and self.length:
                self._emit("\n")  # an empty line the sender asked for
            self.newline()
            return
        if tag == "hr":
            self._emit("────────")
            self.newline()
            return
        if tag == "img":
            alt = dict(attrs).get("alt") or "image"
            self._text(f"[{alt}]")
            return
        if tag == "blockquote":
            self.quote_depth += 1
        elif tag == "pre":
            self.pre_depth += 1
        elif tag in ("ul", "ol"):
            start = dict(attrs).get("start") if tag == "ol" else None
            self.lists.append([int(start) if start and start.isdigit() else 1] if tag == "ol" else [])
        elif tag == "li":
            self._line_prefix()
            depth = max(len(self.lists) - 1, 0)
            counter = self.lists[-1] if self.lists else []
            if counter:
                marker = f"{counter[0]}. "
                counter[0] += 1
            else:
                marker = "• "
            self._emit("  " * depth + marker, "$foreground-muted")
        style: str | Style | None = _INLINE_STYLES.get(tag)
        if tag == "a":
            link = safe_text.safe_link(dict(attrs).get("href"))
            style = Style(underline=True, link=link) if link else None  # anything else is plain text
        if tag not in _VOID:
            self.open.append((tag, self.length, style))

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED:
            self.skip_depth = max(self.skip_depth - 1, 0)
            return
        if self.skip_depth:
            return
        if not any(t == tag for t, _, _ in self.open):
            return  # a stray closing tag
        while self.open:
            open_tag, start, style = self.open.pop()
            if style is not None and self.length > start:
                self.spans.append(Span(start, self.length, style))
            self._closed(open_tag)
            if open_tag == tag:
                break
        if tag in _BLOCKS:
            self.newline()

    def _closed(self, tag: str) -> None:
        if tag == "blockquote":
            self.quote_depth = max(self.quote_depth - 1, 0)
        elif tag == "pre":
            self.pre_depth = max(self.pre_depth - 1, 0)
        elif tag in ("ul", "ol") and self.lists:
            self.lists.pop()

    def handle_data(self, data: str) -> None:
        if self.skip_depth:
            return
        if self.pre_depth:
            lines = data.split("\n")
            for index, line in enumerate(lines):
                if index:
                    self.newline()
                if line:
                    self._line_prefix()
                    self._emit(line)
            return
        self._text(data)

    def _text(self, data: str) -> None:
        collapsed = _SPACES.sub(" ", data)
        if not collapsed:
            return
        if collapsed.startswith(" "):
            self.pending_space = True
            collapsed = collapsed.lstrip(" ")
        if not collapsed:
            return
        if self.pending_space and not self.at_line_start:
            self._emit(" ")
        self.pending_space = collapsed.endswith(" ")
        self._line_prefix()
        self._emit(collapsed.rstrip(" "))

    def result(self) -> Content:
        while self.open:
            _, start, style = self.open.pop()
            if style is not None and self.length > start:
                self.spans.append(Span(start, self.length, style))
        text = "".join(self.text)
        stripped = text.rstrip("\n")
        spans = [
            Span(s.start, min(s.end, len(stripped)), s.style) for s in self.spans if s.start < len(stripped)
        ]
        return Content(stripped, spans)


def clean(text: str | None) -> str:
    """A server-provided string (room or user name, reason, a sentence naming them) made safe
    to print literally: no escape sequences or controls, bidi and invisible characters shown."""
    return safe_text.clean_name(text.replace("\t", " "), multiline=True) if text else ""


def clean_id(text: str | None) -> str:
    """An id (device, session, key) with anything unprintable in it shown escaped."""
    return safe_text.clean_id(text)


def html_to_content(html: str) -> Content:
    """Styled content from Matrix HTML; never raises on hostile input."""
    builder = _Builder()
    try:
        builder.feed(html[: MAX_CHARS * 4])
        builder.close()
    except Exception:  # html.parser is lenient, but a body must never break the timeline
        return plain_content(_SPACES.sub(" ", re.sub(r"<[^>]*>", "", html)))
    return builder.result()


def strip_reply_fallback(body: str) -> str:
    """Drop the "> <@alice:example.org> quoted" lines a reply starts with."""
    lines = body.split("\n")
    if not lines or not lines[0].startswith("> "):
        return body
    index = 0
    while index < len(lines) and lines[index].startswith(">"):
        index += 1
    rest = lines[index:]
    if rest and rest[0] == "":
        rest = rest[1:]
    return "\n".join(rest) if rest else body


def plain_content(text: str) -> Content:
    """Literal text without control characters, tabs expanded, cut at MAX_CHARS."""
    text = safe_text.clean(text.replace("\t", "    "))
    if len(text) > MAX_CHARS:  # (cleaned again: the cut must not drop a closing bidi control)
        text = safe_text.clean(text[:MAX_CHARS]) + "…"
    return Content(text)


def body_content(body: str | None, formatted_body: str | None) -> Content:
    """What a message says: its HTML when it has some, else its plain body."""
    if formatted_body:
        content = html_to_content(formatted_body)
        if content.plain.strip():
            return content
    return plain_content(strip_reply_fallback(body or ""))
