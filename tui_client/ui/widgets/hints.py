"""A hint line: one line above the footer telling the user what to do next (the demo's guide
feeds it what to press).

It shows a sentence and a tone, which picks the style: "info" (a step to take), "warning" (such
as "Alice went quiet"), "done" (the end of a story). The app hides and shows it (f9).
"""

from __future__ import annotations

from textual.content import Content
from textual.widget import Widget

from ..formatting import clean


class HintLine(Widget):
    """💡 and the next step (and how to hide the line, when that fits)."""

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
        self.text = ""
        self.tone = "info"
        self.toggle_key = "f9"

    def show_hint(self, text: str, tone: str = "info", toggle_key: str = "f9") -> None:
        """Show `text` in the style of `tone` ("info", "warning" or "done")."""
        if (text, tone, toggle_key) == (self.text, self.tone, self.toggle_key):
            return
        self.text, self.tone, self.toggle_key = text, tone, toggle_key
        for name in ("warning", "done"):
            self.set_class(tone == name, f"-{name}")
        self.refresh()

    def render(self) -> Content:
        if not self.text:
            return Content("")
        text = Content.assemble(("💡 ", "bold"), (clean(self.text), "bold" if self.tone != "info" else ""))
        suffix = Content.styled(f"   ({self.toggle_key} hides)", "$foreground-muted")
        if text.cell_length + suffix.cell_length <= self.content_region.width:
            text = text + suffix
        return text
