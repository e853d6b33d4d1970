"""Shown when start-up fails (e.g. the profile's store cannot be read): what went wrong, where
the log is, and how to leave — rather than an empty screen."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from ... import logs
from ..formatting import clean


class StartupFailedScreen(Screen):
    def __init__(self, error: str) -> None:
        super().__init__()
        self.error = error

    def compose(self) -> ComposeResult:
        with Vertical(id="failure-box"):
            yield Static(Content.styled("tui-client could not start", "bold $text-error"))
            yield Static(Content(clean(self.error)), id="failure-error")
            yield Static(
                Content.styled(
                    f"Details are in the log ({logs.log_file()}); the log screen shows them too. "
                    "Quit, fix the cause, and start again.",
                    "$foreground-muted",
                ),
                id="failure-hint",
            )
        yield Footer(compact=True)
