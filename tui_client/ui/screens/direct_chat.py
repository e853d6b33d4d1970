"""The "direct chat" dialog: a user id in, the direct chat with them out (the one you have, their
pending invite accepted, or a new encrypted room); the engine's error shows in place."""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Input, Label, Static

from ..slash_commands import USER_ID
from .dialog import EngineDialog


class DirectChatScreen(EngineDialog[str]):
    PROGRESS = "Opening the direct chat…"

    def __init__(self, user_id: str = "") -> None:
        super().__init__()
        self.initial = user_id

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="direct-chat"):
            yield Static(Content.styled("Direct chat", "bold"), classes="dialog-title")
            yield Label("With (user id)")
            yield Input(value=self.initial, placeholder="@alice:example.org", id="dm-user", compact=True)
            yield Static(Content.styled(
                "Opens your direct chat with them, or starts one (end-to-end encrypted).", "$foreground-muted"),
                markup=False)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Open (enter)", variant="primary", id="open", compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#dm-user", Input).focus()

    @on(Input.Submitted, "#dm-user")
    @on(Button.Pressed, "#open")
    def _open(self) -> None:
        user_id = self.query_one("#dm-user", Input).value.strip()
        if not USER_ID.match(user_id):
            self.failed(f"{user_id!r} is not a user id; use the full form @name:server" if user_id
                        else "Type the user id of the person, e.g. @alice:example.org")
            return

        async def open_dm(engine: Any) -> str:
            return str(await engine.open_dm(user_id))

        self.run_command("Opening the direct chat", open_dm)
