"""The create-room dialog: a name, encryption (on by default) and who can read the history
(default from settings, normally `shared`), each visibility explained in one line."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from ...records import record
from ..describe import HISTORY_VISIBILITIES, visibility_line


@record
class CreateRoomRequest:
    name: str
    encrypted: bool
    history_visibility: str


class CreateRoomScreen(ModalScreen[CreateRoomRequest | None]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+s", "create", "Create", id="create_room_confirm", priority=True),
    ]

    def __init__(self, default_visibility: str = "shared") -> None:
        super().__init__(classes="dialog-screen")
        self.default_visibility = default_visibility if default_visibility in HISTORY_VISIBILITIES else "shared"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="create-room"):
            yield Static(Content.styled("Create a room", "bold"), classes="dialog-title")
            yield Label("Name")
            yield Input(placeholder="e.g. Project X", id="room-name", compact=True)
            yield Checkbox("End-to-end encrypted", value=True, id="encrypted", compact=True)
            yield Label("Who can read the history")
            with RadioSet(id="visibility", compact=True):
                for value in HISTORY_VISIBILITIES:
                    yield RadioButton(value, value=value == self.default_visibility, name=value)
            yield Static(id="visibility-help", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Create ({self._keys('create_room_confirm')})", variant="primary", id="create", compact=True)
                yield Button(f"Cancel ({self._keys('cancel_dialog')})", id="cancel", compact=True)

    def _keys(self, binding_id: str) -> str:
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        keys_for = getattr(self.app, "keys_for", None)
        return keys_for(binding) if keys_for else binding.key

    def on_mount(self) -> None:
        self._explain(self.default_visibility)
        self.query_one("#room-name", Input).focus()

    def _selected_visibility(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return pressed.name if pressed is not None and pressed.name else self.default_visibility

    def _explain(self, visibility: str) -> None:
        self.query_one("#visibility-help", Static).update(
            Content.styled(f"{visibility}: {visibility_line(visibility)}", "$foreground-muted")
        )

    @on(RadioSet.Changed)
    def _visibility_changed(self, event: RadioSet.Changed) -> None:
        self._explain(self._selected_visibility())

    @on(Input.Submitted, "#room-name")
    def _name_submitted(self) -> None:
        self.action_create()

    @on(Button.Pressed, "#create")
    def _create_pressed(self) -> None:
        self.action_create()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_create(self) -> None:
        name = self.query_one("#room-name", Input).value.strip()
        if not name:
            self.notify("Give the room a name.", severity="warning")
            self.query_one("#room-name", Input).focus()
            return
        encrypted = self.query_one("#encrypted", Checkbox).value
        self.dismiss(CreateRoomRequest(name, encrypted, self._selected_visibility()))

    def action_cancel(self) -> None:
        self.dismiss(None)
