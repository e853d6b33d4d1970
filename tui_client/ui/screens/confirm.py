"""A question in a modal: "yes" (y), "no" (n or Escape), and optionally a third answer (o).

Dismissed with "yes", "other" or None, so callers read `if answer == "yes"`.
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from ..formatting import clean


class ConfirmScreen(ModalScreen[str | None]):
    BINDINGS = [
        Binding("y", "choose('yes')", "Yes", id="confirm_yes"),
        Binding("o", "choose('other')", "Other answer", id="confirm_other"),
        Binding("n,escape", "choose('')", "No", id="confirm_no"),
    ]

    def __init__(self, question: str, *, confirm: str = "Yes", cancel: str = "Cancel", other: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.question = question
        self.labels = {"yes": confirm, "other": other, "no": cancel}

    def _key(self, binding_id: str) -> str:
        app: Any = self.app
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return app.keys_for(binding).split(" / ")[0] if hasattr(app, "keys_for") else binding.key

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog"):
            yield Static(clean(self.question), classes="question", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.labels['yes']} ({self._key('confirm_yes')})", variant="primary", id="yes")
                if self.labels["other"]:
                    yield Button(f"{self.labels['other']} ({self._key('confirm_other')})", id="other")
                yield Button(f"{self.labels['no']} ({self._key('confirm_no')})", id="no")

    def on_mount(self) -> None:
        self.query_one("#yes", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "choose" and parameters == ("other",):
            return bool(self.labels["other"])
        return True

    def action_choose(self, answer: str) -> None:
        self.dismiss(answer if answer in ("yes", "other") else None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        self.action_choose(event.button.id or "")
