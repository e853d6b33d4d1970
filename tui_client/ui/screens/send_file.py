"""The "send a file" dialog: a path in (with ~), the chosen path out; the screen sends it."""

from __future__ import annotations

from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ..formatting import clean


class SendFileScreen(ModalScreen[str | None]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_dialog")]

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="send-file"):
            yield Static(Content.styled("Send a file", "bold"), classes="dialog-title")
            yield Label("Path")
            yield Input(placeholder="~/Pictures/cat.png", id="file-path", compact=True)
            yield Static(Content.styled(
                "An image shows as one (with its size and a thumbnail); in an encrypted room the file is "
                "encrypted before it leaves.", "$foreground-muted"), markup=False)
            yield Static(id="file-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Send (enter)", variant="primary", id="send", compact=True)
                yield Button("Cancel (esc)", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#file-error").display = False
        self.query_one("#file-path", Input).focus()

    @on(Input.Submitted, "#file-path")
    @on(Button.Pressed, "#send")
    def _send(self) -> None:
        text = self.query_one("#file-path", Input).value.strip()
        path = Path(text).expanduser()
        if not text or not path.is_file():
            error = self.query_one("#file-error", Static)
            error.update(Content.styled(clean(f"✗ {text or 'nothing'} is not a file"), "$text-error"))
            error.display = True
            return
        self.dismiss(str(path))

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
