"""An `OptionList` that draws each row once and repaints only the rows that change.

OptionList draws every row again after `set_options` (its cache is keyed by the Option
objects, new on each rebuild), through the general visual pipeline, and repaints every row when
the highlight or the mouse moves. The room list is rebuilt on each sync that changes a room, so
those were 6-26 ms of every frame while a sync or an import ran (issue 15). Here a row whose
prompt is the same object as before is drawn as it was, a new one is drawn straight from its
prompt's segments, and a move of the highlight or the mouse repaints the two rows it concerns.
The prompts must be fitted to the width (nothing here wraps) and the list allows no text
selection.
"""

from __future__ import annotations

from typing import Any

from rich.segment import Segment
from textual import events
from textual.content import Content
from textual.geometry import Region
from textual.reactive import Reactive
from textual.strip import Strip
from textual.style import Style
from textual.widgets import OptionList
from textual.widgets.option_list import Option


class QuickOptionList(OptionList):
    # OptionList repaints all rows (38: 4 ms) when the highlight or the mouse moves to another;
    # here only the rows it leaves and lands on are (`_repaint_rows`).
    highlighted: Reactive[int | None] = Reactive(None, repaint=False)
    _mouse_hovering_over: Reactive[int | None] = Reactive(None, repaint=False)
    _painted_highlight: int | None = None  # the row drawn highlighted

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Drawn rows by (prompt, style, width), kept across rebuilds: see _get_option_render.
        self._drawn: dict[tuple[int, Style, int], tuple[object, list[Strip]]] = {}
        self._width_now: int | None = None  # the content's width, while the rows are drawn

    def _get_option_render(self, option: Option, style: Style) -> list[Strip]:
        """The option's drawn lines. A row whose prompt is the same object as before (the room
        list keeps a room's prompt while the room does not change), in the same style and width,
        is drawn as it was, wherever it moved: its cells carry no row number (OptionList's do,
        for the mouse; see `_option_under`)."""
        prompt = option.prompt
        key = (id(prompt), style, self._row_width())
        drawn = self._drawn.get(key)
        if drawn is not None and drawn[0] is prompt:
            return drawn[1]
        if len(self._drawn) > 8 * max(len(self.options), 64):
            self._drawn.clear()  # rows long gone (their prompts are held here)
        strips = self._draw_option(option, style)
        self._drawn[key] = (prompt, strips)
        return strips

    def render_lines(self, crop: Region) -> list[Strip]:
        self._width_now = self.scrollable_content_region.width  # (a property that computes: once, not per row)
        try:
            return super().render_lines(crop)
        finally:
            self._width_now = None

    def _row_width(self) -> int:
        return self._width_now if self._width_now is not None else self.scrollable_content_region.width

    def _draw_option(self, option: Option, style: Style) -> list[Strip]:
        """A row as OptionList draws it (its padding, its width), straight from the prompt's
        segments: OptionList's way, through the general visual pipeline (wrapping, selection
        offsets, then the row number merged into each cell's style), took 0.24 ms a row, and
        the first full list after a start is 38 new rows in one frame (15 ms). Nothing here
        wraps (the prompts are fitted to the width: room_prompts.py) and the list allows no
        text selection."""
        prompt = option.prompt
        if not isinstance(prompt, Content) or option._divider:
            return super()._get_option_render(option, style)
        padding = self.get_component_styles("option-list--option").padding
        width = self._row_width() - self._get_left_gutter_width()
        rich_style = style.rich_style
        blank = Strip.blank(width, rich_style)
        strips = [blank] * padding.top
        for line in prompt.split("\n", allow_blank=True) or [prompt]:
            segments = [Segment(" " * padding.left, rich_style)] if padding.left else []
            segments += [Segment(text, part.rich_style) for text, part in line.render(style, "", self._get_style)]
            strips.append(Strip(segments).crop_extend(0, width - padding.right, rich_style))
        strips += [blank] * padding.bottom
        return [strip.extend_cell_length(width, rich_style) for strip in strips]

    def _option_under(self, event: events.MouseEvent) -> int | None:
        """The option on the row under the mouse (OptionList reads it from the cell's style)."""
        offset = event.get_content_offset(self)
        if offset is None:
            return None
        line = self.scroll_offset.y + offset.y
        lines = self._lines
        return lines[line][0] if 0 <= line < len(lines) else None

    def watch_highlighted(self, highlighted: int | None) -> None:
        self._repaint_rows(self._painted_highlight, highlighted)
        self._painted_highlight = highlighted
        super().watch_highlighted(highlighted)

    def watch__mouse_hovering_over(self, old: int | None, new: int | None) -> None:
        self._repaint_rows(old, new)

    def _repaint_rows(self, *indexes: int | None) -> None:
        """Repaint the rows of these options (where they are now, in the content area)."""
        width = self.scrollable_content_region.width
        for index in indexes:
            if index is not None and (line := self._index_to_line.get(index)) is not None:
                self.refresh(Region(0, line - self.scroll_offset.y, width, self._heights.get(index, 1)))

    async def _on_click(self, event: events.Click) -> None:
        index = self._option_under(event)
        if index is not None and not self.options[index].disabled:
            self.highlighted = index
            self.action_select()

    def _on_mouse_move(self, event: events.MouseMove) -> None:
        self._mouse_hovering_over = self._option_under(event)

    def notify_style_update(self) -> None:
        self._drawn.clear()  # a new theme or stylesheet: every row is drawn anew
        super().notify_style_update()
