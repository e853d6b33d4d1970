"""Dialogs about your own cross-signing identity:

- `VerifyDeviceScreen`: your recovery key or passphrase (masked) unlocks your identity's keys from
  secret storage and signs this device; dismissed with the new `OwnTrust`.
- `RecoveryScreen`: creates a new recovery key (only on a device that can sign for the identity)
  and shows it once, with a copy button and a "write this down".
- `ResetIdentityScreen`: what a reset breaks, then the account password; dismissed with the new
  `OwnTrust`.

Each runs its engine command in a worker through the bridge (`EngineDialog`).
"""

from __future__ import annotations

from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.widgets import Button, Checkbox, Input, Label, Static

from .dialog import EngineDialog


class VerifyDeviceScreen(EngineDialog[Any]):
    """Dismissed with the new `OwnTrust`, or "emoji" to compare emoji with another device instead."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+s", "verify", "Verify", id="verify_confirm", priority=True, show=False),
        Binding("ctrl+e", "emoji", "Use another device (emoji)", id="verify_with_emoji", priority=True),
    ]
    PROGRESS = "Checking… (a passphrase takes a moment to check)"
    AUTO_FOCUS = "#recovery-input"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="verify-device"):
            yield Static(Content.styled("Verify this device", "bold"), classes="dialog-title")
            yield Static(
                Content(
                    "Enter the recovery key you wrote down when you set up recovery (twelve groups "
                    "of four characters), or your recovery passphrase. This device then signs in "
                    "the name of your identity, so your contacts and your other devices trust it "
                    "and it can receive the history of rooms you are invited to. Or, if another of "
                    "your devices is at hand, compare emoji with it."
                ),
                classes="dialog-text",
                markup=False,
            )
            yield Label("Recovery key or passphrase")
            yield Input(placeholder="EsT… or your passphrase", password=True, id="recovery-input", compact=True)
            yield Checkbox("Show what I type", id="reveal", compact=True)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Verify ({self.keys('verify_confirm')} / enter)", variant="primary", id="verify",
                             compact=True)
                yield Button(f"Other device ({self.keys('verify_with_emoji')})", id="emoji", compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    @on(Button.Pressed, "#emoji")
    def action_emoji(self) -> None:
        if not self.busy:
            self.dismiss("emoji")

    @on(Checkbox.Changed, "#reveal")
    def _reveal(self, event: Checkbox.Changed) -> None:
        self.query_one("#recovery-input", Input).password = not event.value

    @on(Input.Submitted, "#recovery-input")
    @on(Button.Pressed, "#verify")
    def _submit(self) -> None:
        self.action_verify()

    def action_verify(self) -> None:
        if self.busy:
            return
        text = self.query_one("#recovery-input", Input).value
        if not text.strip():
            self.failed("Enter your recovery key or passphrase.")
            return
        self.run_command("Verifying this device", lambda e: e.verify_with_recovery_key(text))


class RecoveryScreen(EngineDialog[str]):
    """Explains, creates the key on request, then shows it (the dialog changes in place)."""

    BINDINGS = [
        Binding("escape", "cancel", "Close", id="cancel_dialog"),
        Binding("c", "copy_key", "Copy key", id="copy_recovery_key"),
    ]
    PROGRESS = "Creating your recovery key and storing your identity's keys on the server…"

    def __init__(self) -> None:
        super().__init__()
        self.recovery_key: str | None = None

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="setup-recovery"):
            yield Static(Content.styled("Set up recovery", "bold"), classes="dialog-title")
            yield Static(
                Content(
                    "This stores your identity's keys on your homeserver, encrypted with a new "
                    "recovery key that only you will have, with the key of your key backup (one is "
                    "created if you have none). With it, any new device of yours (here or in "
                    "Element) can verify itself and restore your room keys. A recovery key set up "
                    "earlier stops working."
                ),
                classes="dialog-text",
                id="recovery-intro",
                markup=False,
            )
            yield Static(id="recovery-key", markup=False)
            yield Static(id="recovery-warning", markup=False)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button("Create recovery key (enter)", variant="primary", id="create", compact=True)
                yield Button(f"Copy ({self.keys('copy_recovery_key')})", id="copy", compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        for name in ("#recovery-key", "#recovery-warning", "#copy"):
            self.query_one(name).display = False
        self.query_one("#create", Button).focus()

    @on(Button.Pressed, "#create")
    def _create(self) -> None:
        if not self.busy and self.recovery_key is None:
            self.run_command("Setting up recovery", lambda e: e.setup_recovery())

    def failed(self, message: str) -> None:
        self.show_error(message)
        self.query_one("#create", Button).focus()  # Enter tries again

    def succeeded(self, result: Any) -> None:
        self.recovery_key = str(result)
        self.query_one("#recovery-intro", Static).update(
            Content.styled("Your new recovery key:", "bold")
        )
        key = self.query_one("#recovery-key", Static)
        key.update(Content.styled(self.recovery_key, "bold $text-accent"))
        key.display = True
        warning = self.query_one("#recovery-warning", Static)
        warning.update(
            Content.styled(
                "Write this down now and keep it somewhere safe: it is shown only this once. You "
                "need it to verify a new device; without it, losing your devices means resetting "
                "your identity. (Select it with the mouse, or copy it.)",
                "$text-warning",
            )
        )
        warning.display = True
        self.query_one("#create").display = False
        copy = self.query_one("#copy", Button)
        copy.display = True
        cancel = self.query_one("#cancel", Button)
        cancel.label = f"I wrote it down ({self.keys('cancel_dialog')})"
        cancel.variant = "primary"
        copy.focus()  # a second Enter must not close the only view of the key

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy_key":
            return self.recovery_key is not None
        return super().check_action(action, parameters)

    @on(Button.Pressed, "#copy")
    def action_copy_key(self) -> None:
        if self.recovery_key:
            self.app.copy_to_clipboard(self.recovery_key)
            self.notify("Copied the recovery key to the clipboard; clear it once it is stored safely.")

    def action_cancel(self) -> None:
        if not self.busy:
            self.dismiss(self.recovery_key)


class ResetIdentityScreen(EngineDialog[Any]):
    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+s", "reset", "Reset identity", id="reset_identity_confirm", priority=True, show=False),
    ]
    PROGRESS = "Publishing a new identity…"
    AUTO_FOCUS = "#reset-password"

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="reset-identity"):
            yield Static(Content.styled("Reset your identity?", "bold $text-error"), classes="dialog-title")
            yield Static(
                Content("\n").join(
                    [
                        Content("This replaces your cryptographic identity with a new one, signed by this "
                                "device only. Afterwards:"),
                        Content("  • your other devices are no longer verified: verify each one again"),
                        Content("  • everyone who knew your identity sees a warning that it changed, and "
                                "has to accept the new one"),
                        Content("  • your recovery key stops working: set up recovery again"),
                        Content.styled(
                            "Do this only if you lost your recovery key and have no other verified device.",
                            "bold",
                        ),
                    ]
                ),
                classes="dialog-text",
                markup=False,
            )
            yield Label("Your account password (the server asks for it)")
            yield Input(placeholder="password", password=True, id="reset-password", compact=True)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Reset identity ({self.keys('reset_identity_confirm')})", variant="error",
                             id="reset", compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    @on(Input.Submitted, "#reset-password")
    @on(Button.Pressed, "#reset")
    def _submit(self) -> None:
        self.action_reset()

    def action_reset(self) -> None:
        if self.busy:
            return
        password = self.query_one("#reset-password", Input).value
        if not password:
            self.failed("Enter your account password.")
            return
        self.run_command("Resetting your identity", lambda e: e.reset_identity(password))
