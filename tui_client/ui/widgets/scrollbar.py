"""Textual's scroll bar, drawn straight to strips and kept until what it shows changes.

Textual draws a scroll bar as any widget: a Rich renderable through its style pipeline, one
`render_line` per row (borders, padding, tint, filters: none of which a scroll bar has). The
timeline's bar is 36 rows and was redrawn in every frame that laid the screen out: 2.8 ms of a
14–20 ms frame while paging, twice that when both bars moved (tests/bench/bench_scale.py with a
frame trace). This one renders the same renderable (the same glyphs, colours and mouse actions)
once per change of its size, position or colours, and crops the strips it keeps.

Both widgets keep the bar's column at all times (`overflow-y: scroll` in app.tcss) and the bar
draws it blank while there is nothing to scroll, as the widget's own gutter would be. Textual
shows a bar that comes and goes by laying the whole screen out again: 10-15 ms of the UI loop when
the full room list replaced the glimpse and when the first room's older history arrived, the
initial sync's worst frames (issue 15). Here it is a repaint of one column.
"""

from __future__ import annotations

from typing import Any

from rich.color import Color
from rich.segment import Segment
from rich.style import Style as RichStyle
from textual.geometry import Region
from textual.scrollbar import ScrollBar, ScrollBarRender
from textual.strip import Strip
from textual.visual import Visual, visualize


class QuickScrollBar(ScrollBar):
    """A vertical scroll bar that keeps its strips (the key: everything they are drawn from)."""

    _drawn: tuple[tuple[Any, ...], list[Strip]] | None = None

    def render_lines(self, crop: Region) -> list[Strip]:
        width, height = self.size
        if self.window_virtual_size <= self.window_size and self.parent is not None:
            # Nothing to scroll: a blank gutter, as the widget draws it where no bar is shown.
            blank = Strip.blank(crop.width, self.parent.rich_style)
            return [blank] * max(min(crop.bottom, height) - crop.y, 0)
        bar = self.render()
        filters = self.get_line_filters()
        _, background = self.background_colors
        shown = (width, height, getattr(bar, "virtual_size", None), getattr(bar, "window_size", None),
                 getattr(bar, "position", None), getattr(bar, "thickness", None), getattr(bar, "vertical", None),
                 getattr(bar, "style", None), background, tuple(filters))
        if self._drawn is None or self._drawn[0] != shown:
            strips = self._vertical_strips(bar, width, height)
            if filters:
                filtered: dict[int, Strip] = {}  # a bar's rows are a few strips, repeated
                for strip in strips:
                    if id(strip) not in filtered:
                        done = strip
                        for line_filter in filters:
                            done = done.apply_filter(line_filter, background)
                        filtered[id(strip)] = done
                strips = [filtered[id(strip)] for strip in strips]
            self._drawn = shown, strips
        strips = self._drawn[1][crop.y:crop.bottom]
        if (crop.x, crop.right) != (0, width):
            strips = [strip.crop(crop.x, crop.right) for strip in strips]
        return strips

    def _vertical_strips(self, bar: Any, width: int, height: int) -> list[Strip]:
        """The bar's rows: one segment each (what Rich would split them into), on the widget's
        style as Textual's pipeline puts them; anything else through that pipeline."""
        style = bar.style
        if not (self.vertical and isinstance(bar, ScrollBarRender) and isinstance(style, RichStyle)):
            return Visual.to_strips(self, visualize(self, bar), width, height, self.visual_style)
        segments = bar.render_bar(size=height, window_size=bar.window_size, virtual_size=bar.virtual_size,
                                  position=bar.position, vertical=True, thickness=width,
                                  back_color=style.bgcolor or Color.parse("#555555"),
                                  bar_color=style.color or Color.parse("bright_magenta")).segments
        base = self.visual_style.rich_style
        rows: dict[Segment, Strip] = {}
        for segment in segments:
            if segment not in rows:
                rows[segment] = Strip([Segment(segment.text, base + segment.style)], width)
        return [rows[segment] for segment in segments]


class QuickScrollBars:
    """Mixed into a scrolling widget (before Textual's class) to give it a `QuickScrollBar`."""

    @property
    def vertical_scrollbar(self) -> ScrollBar:
        widget: Any = self
        if widget._vertical_scrollbar is None:
            widget._vertical_scrollbar = bar = QuickScrollBar(vertical=True, name="vertical",
                                                              thickness=widget.scrollbar_size_vertical)
            bar.display = False
            widget.app._start_widget(widget, bar)
        scroll_bar: ScrollBar = widget._vertical_scrollbar
        return scroll_bar
