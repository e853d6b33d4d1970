"""A one-line text widget that repaints without laying the screen out.

Textual's `Static.update` asks for a layout of the whole screen by default: its new text might
change its size. The room header, the status bar's slots and the typing line are updated on every
sync and every room change, and each such layout re-arranged every widget on the screen (the
timeline's messages, the room list): 15-45 ms of the UI loop per frame while a sync or a key
bundle import runs (tests/bench/bench_scale.py, BENCH_TRACE=1). A `Line` does nothing when the
text is the same as shown (styles included: `Content.__eq__` compares the plain text only), and
asks for a layout only when its size can follow its text: an `auto` width whose text changed
length, or an `auto` height whose text now takes another number of lines (wrapped at the widget's
width: the timeline's banner changes on every page of older history, on one line). A width or
height the stylesheet fixes (a number, a fraction, none: the container's) does not follow the text.
"""

from __future__ import annotations

from typing import cast

from textual.content import Content
from textual.visual import RulesMap, VisualType
from textual.widgets import Static


def same(a: VisualType, b: VisualType) -> bool:
    """The same text with the same styles."""
    if isinstance(a, Content) and isinstance(b, Content):
        return a.plain == b.plain and a.spans == b.spans
    return type(a) is type(b) and isinstance(a, str) and a == b


def cells(content: VisualType) -> int:
    if isinstance(content, Content):
        return content.cell_length
    return Content(content).cell_length if isinstance(content, str) else -1


def lines(content: VisualType) -> int:
    if isinstance(content, (Content, str)):
        return str(content).count("\n") if isinstance(content, str) else content.plain.count("\n")
    return -1


class Line(Static):
    def update(self, content: VisualType = "", *, layout: bool | None = None) -> None:
        """Show `content`; `layout` None: only when the widget's size may follow it."""
        old = self.content
        if same(old, content):
            return
        if layout is None:
            styles = self.styles
            width_follows = styles.width is not None and styles.width.is_auto
            height_follows = (styles.height is None or styles.height.is_auto) and (
                styles.text_wrap != "nowrap" or lines(old) != lines(content))
            if height_follows and not width_follows:
                height_follows = self._lines_at_width(old) != self._lines_at_width(content)
            layout = height_follows or (width_follows and cells(old) != cells(content))
        super().update(content, layout=layout)

    def _lines_at_width(self, content: VisualType) -> int:
        """How many lines `content` wraps to at the width the widget has (-1: not known yet, or
        not text)."""
        width = self.content_size.width
        if not width or not isinstance(content, Content):
            return -1
        return content.get_height(cast(RulesMap, self.styles), width)  # as Textual asks its visuals
