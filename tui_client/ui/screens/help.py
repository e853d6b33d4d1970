"""The help screen: every key binding (after the user's keymap) and the composer's commands."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static

from .. import slash_commands
from ..palette import declared_bindings


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,f1,q", "close", "Close", id="close_help")]

    def compose(self) -> ComposeResult:
        with Vertical(id="help", classes="dialog"):
            yield Static(Content.styled("Keys", "bold"), classes="dialog-title")
            yield DataTable(id="help-keys", cursor_type="row", zebra_stripes=True)
            yield Static(Content.styled("Composer commands", "bold"), classes="dialog-title")
            yield Static(self._commands(), id="help-commands", markup=False)
            yield Static(
                Content.styled(
                    "Rebind keys in config.toml, in its [keys] table: e.g.  screenshot = \"f12\"  "
                    "(the ids are in the last column).",
                    "$foreground-muted",
                ),
                markup=False,
            )

    def on_mount(self) -> None:
        app: Any = self.app
        table = self.query_one(DataTable)
        table.add_columns("Key", "Action", "Where", "id")
        for label, cls in app.binding_sources():
            for binding in declared_bindings(cls):
                table.add_row(app.keys_for(binding), binding.description, label, binding.id)
        table.focus()

    @staticmethod
    def _commands() -> Content:
        width = max(len(c) for c in slash_commands.COMMANDS)
        return Content("\n").join(
            Content.assemble((usage.ljust(width + 2), "bold"), (what, "$foreground-muted"))
            for usage, what in slash_commands.COMMANDS.items()
        )

    def action_close(self) -> None:
        self.dismiss(None)
