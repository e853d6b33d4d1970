"""How one timeline item looks as lines: its block of strips at a width, in the timeline's looks.

A block runs from the item's day line (with the blank line above it) to the "new messages" line
after it; between them the blank line above a new group, then the item's own rows, which the
item's view builds (message.py) and `Rows` wraps (rows.py). The looks are the timeline's style
and its component classes (the selection's background, a highlight's background and its mark at
the left edge, Textual's "outer" border as the per-item widgets had it). Which items are drawn and
where the view is are timeline_window.py's.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

from rich.segment import Segment
from textual.color import Color
from textual.content import Content
from textual.strip import Strip
from textual.style import Style
from textual.visual import RenderOptions, RulesMap

from .image_preview import half_cells
from .message import ItemView, MessageView, rule_line
from .rows import Rows

PREVIEW_ROWS = 10  # an image's preview under its text
PREVIEW_INDENT = 2

GetStyle = Callable[[str | Style], Style]


class Look(NamedTuple):
    """The styles a block is drawn in."""

    base: Style  # the timeline's
    selected: Style  # the selected item's rows (while the timeline has focus)
    highlight: Style  # a message that mentions the reader
    edge: Color  # the mark at a highlighted message's left edge


def look_of(widget: Any) -> Look:
    """The looks of the timeline `widget` now (its focus tint included)."""
    base: Style = widget.visual_style

    def over(name: str) -> Style:
        color = widget.get_component_styles(name).background
        return base + Style(background=base.background + color) if color.a else base

    edge = widget.get_component_styles("timeline--highlight-edge").color
    return Look(base, over("timeline--selected"), over("timeline--highlight"), edge)


class Block:
    """One item as drawn at one width: `lines` from its day line to its "new messages" line;
    its own rows are `lines[own:own + height]`."""

    __slots__ = ("event_id", "lines", "own", "height", "selected", "look")

    def __init__(self, event_id: str, lines: list[Strip], own: int, height: int, selected: bool, look: Look) -> None:
        self.event_id = event_id
        self.lines = lines
        self.own = own
        self.height = height
        self.selected = selected  # drawn as the selection
        self.look = look  # the styles it was drawn with

    @property
    def margin(self) -> bool:
        """Whether a blank line (a new group's) is right above its rows."""
        return self.own > 0 and not self.lines[self.own - 1].text.strip()


class Painter:
    """Draws blocks at the timeline's width with its style lookup (`$variables`)."""

    def __init__(self, width: int, get_style: GetStyle) -> None:
        self.width = width
        self.options = RenderOptions(get_style, RulesMap())
        self._get_style = get_style
        self._previews: dict[tuple[int, int], list[Strip]] = {}  # (image, width): its cells

    def block(self, view: ItemView, look: Look, *, day: str | None, selected: bool, marker: bool,
              image: Any = None) -> Block:
        """The block of `view`'s item: after a day line when `day`, drawn as the selection when
        `selected`, followed by the "new messages" line when `marker`, with `image` under the
        text of an image message."""
        width = self.width
        blank = Strip.blank(width, look.base.rich_style)
        lines: list[Strip] = []
        if day is not None:
            lines += [blank, self.rule(day, "$foreground-muted", "bold", look.base)]
        if isinstance(view, MessageView) and view.show_header:
            lines.append(blank)
        own = len(lines)
        highlighted = isinstance(view, MessageView) and view.item.highlight
        style = look.selected if selected else look.highlight if highlighted else look.base
        rows = self._rows(view, width - 1 if highlighted else width, style, image)
        if highlighted:
            # Textual's "outer" left border as the item's widget had it: on the item's background.
            mark = Strip([Segment("▌", (style + Style(foreground=look.edge)).rich_style)], 1)
            rows = [Strip.join([mark, row]) for row in rows]
        lines += rows
        if marker:
            lines += [blank, self.rule("new messages", "$text-error", "bold $text-error", look.base)]
        return Block(view.item.event_id, lines, own, len(rows), selected, look)

    def _rows(self, view: ItemView, width: int, style: Style, image: Any) -> list[Strip]:
        """The item's rows at `width` on `style` (an image's preview between its text and its
        marks), each `width` wide."""
        rich = style.rich_style
        if image is not None and isinstance(view, MessageView) and view.previewable:
            strips = Rows(view.top_rows()).render_strips(width, None, style, self.options)
            pad = Strip.blank(PREVIEW_INDENT, rich)
            strips += [Strip.join([pad, cells]) for cells in self._preview(image, max(1, width - PREVIEW_INDENT))]
            strips += Rows(view.bottom_rows()).render_strips(width, None, style, self.options)
        else:
            strips = view.drawn_rows().render_strips(width, None, style, self.options)
        return [strip.extend_cell_length(width, rich).crop(0, width) for strip in strips]

    def _preview(self, image: Any, width: int) -> list[Strip]:
        """The image's cells, made once per width (a block is drawn again at each change of the
        selection)."""
        key = (id(image), width)
        if key not in self._previews:
            self._previews[key] = half_cells(image, width, PREVIEW_ROWS)
        return self._previews[key]

    def forget_previews(self) -> None:
        self._previews.clear()

    def rule(self, label: str, line_style: str, label_style: str, base: Style) -> Strip:
        content = rule_line(label, self.width, line_style, label_style)
        strip = content.render_strips(self.width, 1, base, self.options)[0]
        return strip.extend_cell_length(self.width, base.rich_style).crop(0, self.width)

    def banner(self, content: Content, base: Style) -> list[Strip]:
        """The banner's lines, centred."""
        options = RenderOptions(self._get_style, RulesMap(text_align="center", text_wrap="wrap"))
        strips = content.render_strips(self.width, None, base, options) or [Strip.blank(self.width)]
        return [strip.extend_cell_length(self.width, base.rich_style).crop(0, self.width) for strip in strips]
