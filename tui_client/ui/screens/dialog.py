"""A dialog whose main button runs one engine command: the dialog stays open while it runs (with
a progress line, its inputs disabled, Escape held back), shows the engine's error in place when it
fails, and calls `succeeded(result)` when it works (most dismiss with the result).

Used by the verify, recovery, reset-identity and key-file dialogs, which all ask for something
secret, take a moment (PBKDF2, HTTP) and have errors the user can fix by typing again.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any, Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.screen import ModalScreen
from textual.widgets import Button, Input, LoadingIndicator, Static

from ..formatting import clean

logger = logging.getLogger(__name__)

T = TypeVar("T")


class EngineDialog(ModalScreen[T], Generic[T]):
    BINDINGS = [Binding("escape", "cancel", "Cancel", id="cancel_dialog")]

    PROGRESS = "Working…"  # what the progress line says while the command runs

    busy: reactive[bool] = reactive(False, init=False)

    def __init__(self) -> None:
        super().__init__(classes="dialog-screen")

    # -- pieces subclasses compose -----------------------------------------------------------

    def compose_status(self) -> ComposeResult:
        """The error line and the progress line (hidden until needed)."""
        yield Static(classes="dialog-error", id="dialog-error", markup=False)
        with Horizontal(id="dialog-progress"):
            yield LoadingIndicator()
            yield Static(Content.styled(self.PROGRESS, "$foreground-muted"), markup=False)

    def keys(self, binding_id: str) -> str:
        """The keys of one of this screen's bindings, after the user's keymap."""
        binding = next(b for b in type(self).BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        keys_for = getattr(self.app, "keys_for", None)
        return keys_for(binding).split(" / ")[0] if keys_for else binding.key

    def on_mount(self) -> None:
        self.query_one("#dialog-error").display = False
        self.query_one("#dialog-progress").display = False

    # -- running the command -----------------------------------------------------------------

    def show_error(self, text: str | None) -> None:
        error = self.query_one("#dialog-error", Static)
        error.update(Content.styled(f"✗ {clean(text)}", "$text-error") if text else "")
        error.display = bool(text)

    def watch_busy(self, busy: bool) -> None:
        self.query_one("#dialog-progress").display = busy
        for widget in self.query("Input, Button, Checkbox"):
            widget.disabled = busy

    def run_command(self, what: str, func: Callable[[Any], Awaitable[Any]]) -> None:
        """Run `func(engine)` on the engine loop through the app's bridge, in a worker."""
        self.run_worker(self._run(what, func), name=what, group="dialog", exclusive=True, exit_on_error=False)

    async def _run(self, what: str, func: Callable[[Any], Awaitable[Any]]) -> None:
        from ...engine.errors import EngineError

        self.show_error(None)
        self.busy = True
        try:
            result = await self.app.bridge.call(func)  # type: ignore[attr-defined]
        except EngineError as exc:
            logger.warning("%s failed: %s", what, exc)
            error = str(exc)
        except OSError as exc:
            logger.warning("%s failed: %s", what, exc)
            where = f" {exc.filename}" if exc.filename else ""
            error = f"cannot use{where}: {exc.strerror or exc}"
        except Exception as exc:
            logger.exception("%s failed", what)
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        else:
            self.busy = False
            self.succeeded(result)
            return
        self.busy = False  # first: a disabled input cannot take the focus back
        self.failed(error)

    def failed(self, message: str) -> None:
        """Show the error and put the cursor back where the user can fix it."""
        self.show_error(message)
        inputs = self.query(Input)
        if inputs:
            first = inputs.first()
            first.focus()
            first.select_all()

    def succeeded(self, result: Any) -> None:
        self.dismiss(result)

    # -- actions -----------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel" and self.busy:
            return False  # let the command finish: half a reset or import is worse than waiting
        return True

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "cancel":
            event.stop()
            self.action_cancel()
