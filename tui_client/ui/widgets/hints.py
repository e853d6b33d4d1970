"""The demo's hint line: one line above the footer telling the audience what to press next.

It shows a `tui_client.demo.guide.Hint`; its tone picks the style (a step to take, a warning
such as "Alice went quiet", the end of the story). The app hides and shows it (f9).
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from ...demo.guide import Hint
from ..formatting import clean


class HintLine(Widget):
    """💡 and the next step of the demo's story (and how to hide it, when that fits)."""

    DEFAULT_CSS = """
    HintLine {
        height: 1;
        width: 100%;
        padding: 0 1;
        background: $accent 30%;
        color: $foreground;
        text-wrap: nowrap;
        text-overflow: ellipsis;
        &.-warning { background: $warning 35%; }
        &.-done { background: $success 30%; }
    }
    """

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.hint: Hint | None = None
        self.toggle_key = "f9"

    def show_hint(self, hint: Hint, toggle_key: str = "f9") -> None:
        if hint == self.hint and toggle_key == self.toggle_key:
            return
        self.hint, self.toggle_key = hint, toggle_key
        for tone in ("warning", "done"):
            self.set_class(hint.tone == tone, f"-{tone}")
        self.refresh()

    def render(self) -> Content:
        if self.hint is None:
            return Content("")
        text = Content.assemble(("💡 ", "bold"), (clean(self.hint.text), "bold" if self.hint.tone != "info" else ""))
        suffix = Content.styled(f"   ({self.toggle_key} hides)", "$foreground-muted")
        if text.cell_length + suffix.cell_length <= self.content_region.width:
            text = text + suffix
        return text
