"""Key files (Element's "MEGOLM SESSION DATA" format), both ways:

- `ExportKeysScreen`: a path (default in your home directory), a passphrase typed twice, and
  optionally only the open room's keys; dismissed with `(count, path)`.
- `ImportKeysScreen`: a path and its passphrase; dismissed with `(imported, already known,
  skipped)`.

The engine does the work in a worker (PBKDF2 makes both take a moment); a wrong passphrase or a
damaged file is shown in the dialog, which stays open for another try.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Static

from ...engine.models import RoomSummary
from ..formatting import clean
from .dialog import EngineDialog

DEFAULT_FILE_NAME = "tui-client-keys.txt"


def default_key_file() -> str:
    """Where an export goes unless the user says otherwise, shown with ~ for the home directory."""
    return f"~/{DEFAULT_FILE_NAME}"


def resolve(text: str) -> Path:
    return Path(text.strip()).expanduser()


class ExportKeysScreen(EngineDialog[tuple[int, Path]]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+s", "export", "Export", id="export_keys_confirm", priority=True, show=False),
    ]
    PROGRESS = "Encrypting the keys (this takes a moment)…"
    AUTO_FOCUS = "#export-path"

    def __init__(self, room: RoomSummary | None = None, path: str | None = None) -> None:
        super().__init__()
        self.room = room
        self.initial_path = path or default_key_file()
        self._path: Path | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="export-keys"):
            yield Static(Content.styled("Export room keys", "bold"), classes="dialog-title")
            yield Static(
                Content(
                    "Writes the keys to your encrypted messages to a file protected by a passphrase, "
                    "for another device or client (Element imports it too). Anyone with the file and "
                    "the passphrase can read those messages."
                ),
                classes="dialog-text",
                markup=False,
            )
            yield Label("File")
            yield Input(self.initial_path, id="export-path", compact=True)
            yield Static(id="export-path-note", markup=False)
            yield Label("Passphrase")
            yield Input(password=True, id="export-passphrase", compact=True)
            yield Label("Passphrase again")
            yield Input(password=True, id="export-confirm", compact=True)
            if self.room is not None:
                yield Checkbox(f"Only the keys of {clean(self.room.name)}", id="room-only", compact=True)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Export ({self.keys('export_keys_confirm')})", variant="primary", id="export",
                             compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self._check_path(self.initial_path)

    @on(Input.Changed, "#export-path")
    def _path_changed(self, event: Input.Changed) -> None:
        self._check_path(event.value)

    def _check_path(self, text: str) -> None:
        note = self.query_one("#export-path-note", Static)
        path = resolve(text) if text.strip() else None
        if path is not None and path.is_dir():
            message = "That is a folder: add a file name."
        elif path is not None and path.exists():
            message = "A file with this name exists: exporting replaces it."
        else:
            message = ""
        note.update(Content.styled(message, "$text-warning"))
        note.display = bool(message)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        order = ["export-path", "export-passphrase", "export-confirm"]
        if event.input.id in order[:-1]:
            self.query_one(f"#{order[order.index(event.input.id) + 1]}", Input).focus()
        else:
            self.action_export()

    @on(Button.Pressed, "#export")
    def _export_pressed(self) -> None:
        self.action_export()

    def action_export(self) -> None:
        if self.busy:
            return
        path_text = self.query_one("#export-path", Input).value
        passphrase = self.query_one("#export-passphrase", Input).value
        confirm = self.query_one("#export-confirm", Input).value
        if not path_text.strip():
            self._fail_at("#export-path", "Give the file a name.")
            return
        path = resolve(path_text)
        if path.is_dir():
            self._fail_at("#export-path", f"{path} is a folder: add a file name.")
            return
        if not passphrase:
            self._fail_at("#export-passphrase", "Choose a passphrase to protect the file.")
            return
        if passphrase != confirm:
            self._fail_at("#export-confirm", "The two passphrases differ: type it again.")
            return
        room_only = self.room is not None and self.query_one("#room-only", Checkbox).value
        room_id = self.room.room_id if room_only and self.room is not None else None
        self._path = path
        self.run_command("Exporting keys", lambda e: e.export_keys(path, passphrase, room_id))

    def _fail_at(self, selector: str, message: str) -> None:
        self.show_error(message)
        widget = self.query_one(selector, Input)
        widget.focus()
        widget.select_all()

    def failed(self, message: str) -> None:
        self._fail_at("#export-path", message)

    def succeeded(self, result: Any) -> None:
        self.dismiss((int(result), self._path or Path(self.initial_path)))


class ImportKeysScreen(EngineDialog[tuple[int, int, int]]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+s", "import_keys", "Import", id="import_keys_confirm", priority=True, show=False),
    ]
    PROGRESS = "Decrypting the file (this takes a moment)…"
    AUTO_FOCUS = "#import-path"

    def __init__(self, path: str | None = None) -> None:
        super().__init__()
        self.initial_path = path or default_key_file()

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="import-keys"):
            yield Static(Content.styled("Import room keys", "bold"), classes="dialog-title")
            yield Static(
                Content(
                    "Reads keys from a file exported by this or another client (e.g. Element's "
                    "element-keys.txt). Keys you already have are kept; messages waiting for the "
                    "imported keys decrypt."
                ),
                classes="dialog-text",
                markup=False,
            )
            yield Label("File")
            yield Input(self.initial_path, id="import-path", compact=True)
            yield Label("Passphrase of the file")
            yield Input(password=True, id="import-passphrase", compact=True)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Import ({self.keys('import_keys_confirm')})", variant="primary", id="import",
                             compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "import-path":
            self.query_one("#import-passphrase", Input).focus()
        else:
            self.action_import_keys()

    @on(Button.Pressed, "#import")
    def _import_pressed(self) -> None:
        self.action_import_keys()

    def action_import_keys(self) -> None:
        if self.busy:
            return
        path_text = self.query_one("#import-path", Input).value
        passphrase = self.query_one("#import-passphrase", Input).value
        if not path_text.strip():
            self.show_error("Which file? Enter its path.")
            self.query_one("#import-path", Input).focus()
            return
        path = resolve(path_text)
        if not path.is_file():
            self.show_error(f"There is no file at {path}.")
            self.query_one("#import-path", Input).focus()
            return
        if not passphrase:
            self.show_error("Enter the passphrase the file was exported with.")
            self.query_one("#import-passphrase", Input).focus()
            return
        self.run_command("Importing keys", lambda e: e.import_keys(path, passphrase))

    def failed(self, message: str) -> None:
        self.show_error(message)
        field = self.query_one("#import-passphrase", Input)
        field.focus()
        field.select_all()

    def succeeded(self, result: Any) -> None:
        imported, known, skipped = result
        self.dismiss((int(imported), int(known), int(skipped)))
