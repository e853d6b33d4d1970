"""The keys that apply, drawn as one line by one widget.

Textual's Footer is a container of one `FooterKey` widget per key. It unmounts and mounts them
all whenever the screen's bindings change, and on the main screen they change as the cursor moves
(an invite offers Accept, your own message Edit) and twice while the screen starts: each time a
dozen widgets to style and a layout of the whole screen, 8-15 ms of the UI loop, the largest
frames left in the initial sync after the timeline was drawn line by line (issue 15). This one
keeps the keys as data and draws them: a change of keys is a repaint of one line.

It looks as Textual's compact footer does (the same theme variables, the same spacing, the
command palette's key at the right edge behind a thin rule); a key is clicked, hovered and
explained (its tooltip) as there. Binding groups (none on the main screen) are shown as keys.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rich.segment import Segment
from rich.style import Style
from textual import events
from textual.screen import Screen
from textual.strip import Strip
from textual.widget import Widget


@dataclass(frozen=True)
class FooterItem:
    key: str  # what a click presses
    key_display: str  # what the footer shows for it ("^n", "enter")
    description: str
    action: str
    enabled: bool
    tooltip: str


class Footer(Widget, can_focus=False):
    ALLOW_SELECT = False
    COMPONENT_CLASSES = {"footer--key", "footer--description", "footer--hover", "footer--rule"}
    DEFAULT_CSS = """
    Footer {
        dock: bottom;
        height: 1;
        color: $footer-foreground;
        background: $footer-background;
        & > .footer--key {
            color: $footer-key-foreground;
            background: $footer-key-background;
            text-style: bold;
        }
        & > .footer--description {
            color: $footer-description-foreground;
            background: $footer-description-background;
        }
        & > .footer--hover {
            color: $footer-key-foreground;
            background: $block-hover-background;
        }
        & > .footer--rule {
            color: $foreground 20%;
        }
    }
    """

    def __init__(self, *, show_command_palette: bool = True, id: str | None = None) -> None:
        super().__init__(id=id)
        self.show_command_palette = show_command_palette
        self.keys: tuple[FooterItem, ...] = ()  # left to right
        self.palette: FooterItem | None = None  # at the right edge
        self._placed: list[tuple[int, int, FooterItem]] = []  # (from x, to x, item) as drawn
        self._hover: FooterItem | None = None
        self._offset = 0  # cells scrolled off at the left, when the keys are wider than the line
        self._overflow = 0  # how far they can scroll (as last drawn)
        self._drawn: tuple[Any, Strip] | None = None

    # -- what it shows ---------------------------------------------------------------------

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self.bindings_changed)
        self._read(self.screen)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def bindings_changed(self, screen: Screen[Any]) -> None:
        if self.is_attached and screen is self.screen and screen.app.app_focus:
            self._read(screen)

    def _read(self, screen: Screen[Any]) -> None:
        """The keys the screen offers now; a repaint when they differ from those drawn."""
        active = screen.active_bindings
        keys: list[FooterItem] = []
        actions: set[str] = set()
        for _, binding, enabled, tooltip in active.values():
            if binding.show and binding.action not in actions:  # one key per action, the first
                actions.add(binding.action)
                keys.append(FooterItem(binding.key, self.app.get_key_display(binding), binding.description,
                                       binding.action, enabled, tooltip))
        palette = None
        if self.show_command_palette and self.app.ENABLE_COMMAND_PALETTE:
            found = active.get(self.app.COMMAND_PALETTE_BINDING)
            if found is not None:
                _, binding, enabled, tooltip = found
                palette = FooterItem(binding.key, self.app.get_key_display(binding), binding.description,
                                     binding.action, enabled, binding.tooltip or binding.description)
        if (tuple(keys), palette) != (self.keys, self.palette):
            self.keys, self.palette = tuple(keys), palette
            if self._hover not in keys and self._hover != palette:
                self._hover = None
            self.refresh()

    # -- drawing ---------------------------------------------------------------------------

    def _styles(self) -> tuple[Style, Style, Style, Style, Style]:
        """The line's ground, a hovered key's, a key's and a description's (over a ground), the rule's."""
        return (self.rich_style, self.get_component_rich_style("footer--hover"),
                self.get_component_rich_style("footer--key", partial=True),
                self.get_component_rich_style("footer--description", partial=True),
                self.get_component_rich_style("footer--rule"))

    def _item_segments(self, item: FooterItem, styles: tuple[Style, ...]) -> list[Segment]:
        base, hover, key, description, _ = styles
        ground = hover if item is self._hover else base
        dim = Style() if item.enabled else Style(dim=True)
        segments = [Segment(item.key_display, ground + key + dim)]
        if item.description:
            segments.append(Segment(" " + item.description, ground + description + dim))
        return segments

    def render_line(self, y: int) -> Strip:
        width, styles = self.size.width, self._styles()
        look = (width, self.keys, self.palette, self._hover, self._offset, styles)
        if self._drawn is not None and self._drawn[0] == look:
            return self._drawn[1]
        base, hover, _, _, rule = styles
        placed: list[tuple[int, int, FooterItem]] = []
        right: list[Segment] = []
        if self.palette is not None:  # at the right edge, behind a rule, a blank after it
            ground = hover if self.palette is self._hover else base
            right = [Segment("▏", ground + Style(color=rule.color)), *self._item_segments(self.palette, styles),
                     Segment(" ", base)]
            placed.append((width - Segment.get_line_length(right) + 1, width - 1, self.palette))
        room = max(width - Segment.get_line_length(right), 0)
        left: list[Segment] = []
        spans: list[tuple[int, int, FooterItem]] = []  # (from x, to x) along all the keys
        for item in self.keys:
            segments = self._item_segments(item, styles)
            x = Segment.get_line_length(left)
            spans.append((x, x + Segment.get_line_length(segments), item))
            left += [*segments, Segment(" ", base)]
        self._overflow = max(Segment.get_line_length(left) - room, 0)
        self._offset = offset = min(self._offset, self._overflow)
        placed += [(max(a - offset, 0), min(b - offset, room), item) for a, b, item in spans
                   if a - offset < room and b - offset > 0]
        strip = Strip(left).crop(offset, offset + room).extend_cell_length(room, base)
        strip = Strip.join([strip, Strip(right)]).crop(0, width) if right else strip.crop(0, width)
        self._placed = placed
        self._drawn = look, strip
        return strip

    # -- the mouse -------------------------------------------------------------------------

    def item_at(self, x: int) -> FooterItem | None:
        for start, end, item in self._placed:
            if start <= x < end:
                return item
        return None

    def on_mouse_move(self, event: events.MouseMove) -> None:
        item = self.item_at(event.x)
        if item is not self._hover:
            self._hover = item
            self.tooltip = item.tooltip if item is not None and item.tooltip else None
            self.refresh()

    def on_leave(self, event: events.Leave) -> None:
        if self._hover is not None:
            self._hover = None
            self.tooltip = None
            self.refresh()

    def on_mouse_down(self, event: events.MouseDown) -> None:
        item = self.item_at(event.x)
        if item is None:
            return
        if item.enabled:
            self.app.simulate_key(item.key)
        else:
            self.app.bell()

    def on_mouse_scroll_down(self, event: events.MouseScrollDown) -> None:
        self._scroll(4, event)

    def on_mouse_scroll_up(self, event: events.MouseScrollUp) -> None:
        self._scroll(-4, event)

    def _scroll(self, cells: int, event: events.MouseEvent) -> None:
        """Keys wider than the line scroll sideways under the wheel, as in Textual's footer."""
        offset = max(0, min(self._offset + cells, self._overflow))
        if offset != self._offset:
            self._offset = offset
            event.stop()
            event.prevent_default()
            self.refresh()
