"""Text in rows that wrap (or not) each in their own way, drawn together.

A timeline message was a container of up to four one-line widgets (its header, its text, its
reactions, "seen by"), and a membership line two. Each widget is its own message queue, style pass
and share of every layout: mounting the eight items the timeline adds when the reader nears its top
cost 75 ms of the UI loop and jumping to the first message 95 ms (tests/bench/bench_scale.py,
BENCH_PROFILE=1). `Rows` draws all of an item's parts into one set of strips (which the timeline
now draws line by line itself: timeline_window.py): a row is a `Content` with
an indent (blank, or a prefix on its first line, e.g. the time of a membership line), wrapped to the
width left or cut with an ellipsis, aligned left or right.
"""

from __future__ import annotations

from collections.abc import Iterable

from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.content import Content
from textual.geometry import Offset
from textual.selection import Selection
from textual.css.types import TextAlign
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RulesMap, Visual

from ...records import record


@record
class Row:
    content: Content
    indent: int = 0  # cells before each line of the row
    wrap: bool = True  # else one line, cut with "…"
    align: TextAlign = "left"
    prefix: Content | None = None  # shown in the indent of the first line (cut to fit)
    name: str = ""  # what the row is (e.g. "body"), for whoever asks what is shown

    def rules(self) -> RulesMap:
        if self.wrap:
            return RulesMap(text_wrap="wrap", text_overflow="fold", text_align=self.align)
        return RulesMap(text_wrap="nowrap", text_overflow="ellipsis", text_align=self.align)

    @property
    def plain(self) -> str:
        return self.content.plain if self.prefix is None else f"{self.prefix.plain}{self.content.plain}"


class Rows(Visual):
    """Rows one under the other, as wide as the widget."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = tuple(rows)

    def __str__(self) -> str:
        return "\n".join(row.plain for row in self.rows)

    @property
    def text(self) -> str:
        """The text a mouse selection picks from: each row's lines (not the prefixes)."""
        return "\n".join(row.content.plain for row in self.rows)

    def render_strips(self, width: int, height: int | None, style: Style, options: RenderOptions) -> list[Strip]:
        strips: list[Strip] = []
        rich_style = style.rich_style
        first_line = 0  # of the row, in `text` (where a mouse selection's lines count from)
        for row in self.rows:
            inner = max(1, width - row.indent)
            selection = options.selection and _moved(options.selection, first_line)
            row_options = RenderOptions(options.get_style, row.rules(), selection, options.selection_style,
                                        options.post_style)
            lines = row.content.render_strips(inner, None, style, row_options) or [Strip.blank(0, rich_style)]
            if first_line:
                lines = [_lines_down(line, first_line) for line in lines]
            if row.indent:
                blank = Strip.blank(row.indent, rich_style)
                first = blank
                if row.prefix is not None:
                    cut = RenderOptions(options.get_style, RulesMap(text_wrap="nowrap", text_overflow="ellipsis"))
                    first = row.prefix.render_strips(row.indent, 1, style, cut)[0].extend_cell_length(
                        row.indent, rich_style).crop(0, row.indent)
                lines = [Strip.join([first if i == 0 else blank, line]) for i, line in enumerate(lines)]
            strips.extend(lines)
            first_line += row.content.plain.count("\n") + 1
        return strips if height is None else strips[:height]

    def get_optimal_width(self, rules: RulesMap, container_width: int) -> int:
        return container_width

    def get_height(self, rules: RulesMap, width: int) -> int:
        lines = 0
        for row in self.rows:
            lines += max(1, row.content.get_height(row.rules(), max(1, width - row.indent)))
        return lines


def _moved(selection: Selection, lines: int) -> Selection:
    """A selection over `text`, as seen from a row that starts `lines` lines into it."""
    start, end = selection
    return Selection(start and Offset(start.x, start.y - lines), end and Offset(end.x, end.y - lines))


def _lines_down(strip: Strip, lines: int) -> Strip:
    """The strip with the text offsets it carries (for mouse selection) `lines` lines further."""
    segments = []
    for text, rich_style, control in strip:
        if rich_style is not None and rich_style._meta and (offset := rich_style.meta.get("offset")) is not None:
            rich_style = rich_style + RichStyle.from_meta({"offset": (offset[0], offset[1] + lines)})
        segments.append(Segment(text, rich_style, control))
    return Strip(segments, strip.cell_length)
