"""Emoji verification in a dialog, whichever side asked.

- Someone asks (or another device of ours): the dialog opens by itself with Accept / Decline.
- We ask (`f10` → `VerifyWhoScreen`, or "Compare emoji with another device" in the verify-device
  dialog): it says whom it waits for.
- Then the seven emoji with their names, and "They match" / "They don't match"; then the result
  (verified, and what that means) or why it was cancelled.

The dialog follows the engine's `VerificationChanged` events (the app hands them over) and, when
it opens, reads the flow's current state, so no step is missed.
"""

from __future__ import annotations

import logging
from typing import Any

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from ...engine.models import VerificationInfo, VerificationPhase
from ..formatting import clean

logger = logging.getLogger(__name__)


def _who(info: VerificationInfo) -> str:
    return clean(info.who)


def describe(info: VerificationInfo) -> tuple[str, str]:
    """(title, text) for a phase of a verification."""
    who = _who(info)
    phase = info.phase
    if phase is VerificationPhase.REQUESTED and info.incoming:
        if info.own_devices:
            return ("Verify your other device?",
                    f"{who} asks to compare emoji with this device. Accept only if you are using that device "
                    "right now: once verified, each trusts the other with your keys and your identity.")
        return (f"{who} wants to verify you",
                f"{who} asks to compare emoji with you, so that each of you knows the other's keys are "
                "really theirs. Accept if you can talk to them now (in person or on a call).")
    if phase is VerificationPhase.REQUESTED:
        where = "on your other devices" if info.own_devices else "in your direct chat"
        return (f"Verify {who}", f"Waiting for {who} to accept (they see the request {where})…")
    if phase in (VerificationPhase.READY, VerificationPhase.STARTED):
        return (f"Verify {who}", "Exchanging keys…")
    if phase is VerificationPhase.EMOJI:
        return (f"Verify {who}",
                f"Compare these emoji with those {who} sees, in the same order. If they are not the same, "
                "someone may be intercepting: say they don't match.")
    if phase is VerificationPhase.CONFIRMED:
        return (f"Verify {who}", f"You said they match. Waiting for {who} to confirm too…")
    if phase is VerificationPhase.DONE:
        return ("✓ Verified", clean(info.result or f"{who} is verified."))
    reason = clean(info.cancel_reason or "cancelled")
    by = "You cancelled" if info.cancelled_by_us else f"{who} cancelled" if not info.own_devices else "It was cancelled"
    if info.cancel_code == "m.mismatched_sas":
        text = ("The emoji did not match, so nothing was verified. If you did not expect this, someone may be "
                "between you and them: do not trust their keys until you have verified in person.")
    elif info.cancel_code == "m.accepted":
        text = "Another of your devices answered this request."
    else:
        text = f"{by}: {reason} ({clean(info.cancel_code or 'm.user')}). Nothing was verified."
    return ("✗ Not verified", text)


class VerificationScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("a", "accept", "Accept", id="verification_accept"),
        Binding("d", "decline", "Decline", id="verification_decline"),
        Binding("y", "match", "They match", id="verification_match"),
        Binding("n", "mismatch", "They don't match", id="verification_mismatch"),
        Binding("escape", "close", "Cancel / close", id="verification_close"),
    ]

    def __init__(self, info: VerificationInfo | None = None, *, ask: str | None = None) -> None:
        """Follow `info` (an existing flow), or ask `ask` (a user id) to verify."""
        super().__init__(classes="dialog-screen")
        self.info = info
        self.ask = ask
        self.busy = False

    @property
    def flow_id(self) -> str | None:
        return self.info.flow_id if self.info else None

    def _key(self, binding_id: str) -> str:
        app: Any = self.app
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return app.keys_for(binding).split(" / ")[0] if hasattr(app, "keys_for") else binding.key

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="verification"):
            yield Static(id="verification-title", classes="dialog-title", markup=False)
            yield Static(id="verification-text", classes="dialog-text", markup=False)
            with Horizontal(id="sas-emoji"):
                for index in range(7):
                    with Vertical(classes="emoji-cell"):
                        yield Static(id=f"emoji-{index}", classes="emoji-symbol", markup=False)
                        yield Static(id=f"emoji-name-{index}", classes="emoji-name", markup=False)
            yield Static(id="verification-numbers", markup=False)
            yield Static(classes="dialog-error", id="verification-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Accept ({self._key('verification_accept')})", variant="primary", id="accept",
                             compact=True)
                yield Button(f"Decline ({self._key('verification_decline')})", id="decline", compact=True)
                yield Button(f"They match ({self._key('verification_match')})", variant="success", id="match",
                             compact=True)
                yield Button(f"They don't match ({self._key('verification_mismatch')})", variant="error",
                             id="mismatch", compact=True)
                yield Button(f"Cancel ({self._key('verification_close')})", id="close", compact=True)

    def on_mount(self) -> None:
        self._draw()
        if self.info is None and self.ask:
            self.run_worker(self._request(self.ask), name="Asking to verify", group="verification", exit_on_error=False)
        elif self.info is not None:
            self.run_worker(self._refresh(), name="Reading the verification", exit_on_error=False)

    # -- following the engine ------------------------------------------------------------------

    async def _request(self, user_id: str) -> None:
        from ...engine.errors import EngineError

        self.busy = True
        self._draw()
        try:
            info = await self.app.bridge.call(lambda e: e.request_verification(user_id))  # type: ignore[attr-defined]
        except EngineError as exc:
            self.busy = False
            self.show_error(str(exc))
            self._draw()
            return
        except Exception as exc:
            logger.exception("asking to verify failed")
            self.busy = False
            self.show_error(f"{type(exc).__name__}: {exc}")
            self._draw()
            return
        self.busy = False
        self.info = info
        register = getattr(self.app, "verification_dialog_opened", None)
        if register is not None:
            register(self)
        await self._refresh()

    async def _refresh(self) -> None:
        flow_id = self.flow_id

        def read(engine: Any) -> VerificationInfo | None:
            return next((i for i in engine.verifications() if i.flow_id == flow_id), None)

        try:
            current = await self.app.bridge.read(read)  # type: ignore[attr-defined]
        except Exception as exc:  # informative only: the next event updates the dialog anyway
            logger.info("could not read verification %s: %s", flow_id, exc)
            return
        if current is not None:
            self.update_info(current)

    def update_info(self, info: VerificationInfo) -> None:
        """A newer state of our flow (from the engine's events)."""
        if info.flow_id != self.flow_id:
            return
        self.info = info
        if self.is_mounted:  # before that, on_mount draws it
            self._draw()

    # -- drawing -------------------------------------------------------------------------------

    def show_error(self, text: str | None) -> None:
        if not self.is_mounted:
            return
        error = self.query_one("#verification-error", Static)
        error.update(Content.styled(f"✗ {clean(text)}", "$text-error") if text else "")
        error.display = bool(text)

    def _draw(self) -> None:
        info = self.info
        if info is None:
            title, text = f"Verify {clean(self.ask or '')}", f"Asking {clean(self.ask or '')} to compare emoji…"
            phase = None
        else:
            title, text = describe(info)
            phase = info.phase
        style = "bold $text-success" if phase is VerificationPhase.DONE else (
            "bold $text-error" if phase is VerificationPhase.CANCELLED else "bold")
        self.query_one("#verification-title", Static).update(Content.styled(title, style))
        self.query_one("#verification-text", Static).update(Content(text))
        emoji = info.emoji if info is not None and phase is VerificationPhase.EMOJI else ()
        self.query_one("#sas-emoji").display = bool(emoji)
        for index in range(7):
            symbol, name = emoji[index] if index < len(emoji) else ("", "")
            self.query_one(f"#emoji-{index}", Static).update(Content.styled(symbol, "bold"))
            self.query_one(f"#emoji-name-{index}", Static).update(Content(clean(name)))
        numbers = self.query_one("#verification-numbers", Static)
        if emoji and info is not None and info.decimals:
            numbers.update(Content.styled("or the numbers  " + "  ".join(str(n) for n in info.decimals),
                                          "$foreground-muted"))
            numbers.display = True
        else:
            numbers.display = False
        self._buttons()
        self.refresh_bindings()

    def _buttons(self) -> None:
        shown = {name: self.check_action(name, ()) is True for name in ("accept", "decline", "match", "mismatch")}
        for name, visible in shown.items():
            self.query_one(f"#{name}", Button).display = visible
        close = self.query_one("#close", Button)
        finished = self.info is not None and self.info.phase.finished
        close.label = f"Close ({self._key('verification_close')})" if finished or (self.info is None and not self.busy) \
            else f"Cancel ({self._key('verification_close')})"
        close.variant = "primary" if finished else "default"
        focus = next((f"#{n}" for n in ("match", "accept") if shown.get(n)), "#close")
        self.query_one(focus, Button).focus()

    # -- actions -------------------------------------------------------------------------------

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        info = self.info
        if self.busy and action != "close":
            return False
        if action in ("accept", "decline"):
            return bool(info and info.incoming and info.phase is VerificationPhase.REQUESTED)
        if action in ("match", "mismatch"):
            return bool(info and info.phase is VerificationPhase.EMOJI)
        return True

    def _run(self, what: str, method: str) -> None:
        flow_id = self.flow_id
        if flow_id is None:
            return

        async def work() -> None:
            from ...engine.errors import EngineError

            self.show_error(None)
            try:
                info = await self.app.bridge.call(lambda e: getattr(e, method)(flow_id))  # type: ignore[attr-defined]
            except EngineError as exc:
                logger.warning("%s failed: %s", what, exc)
                self.show_error(str(exc))
                return
            except Exception as exc:
                logger.exception("%s failed", what)
                self.show_error(f"{type(exc).__name__}: {exc}")
                return
            self.update_info(info)

        self.run_worker(work(), name=what, group="verification", exclusive=True, exit_on_error=False)

    def action_accept(self) -> None:
        self._run("Accepting the verification", "accept_verification")

    def action_decline(self) -> None:
        self._run("Declining the verification", "cancel_verification")

    def action_match(self) -> None:
        self._run("Confirming the emoji", "confirm_verification")

    def action_mismatch(self) -> None:
        self._run("Saying the emoji differ", "mismatch_verification")

    def action_close(self) -> None:
        info = self.info
        if info is not None and not info.phase.finished:
            self._run("Cancelling the verification", "cancel_verification")
        self.dismiss(None)

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        action = {"accept": self.action_accept, "decline": self.action_decline, "match": self.action_match,
                  "mismatch": self.action_mismatch, "close": self.action_close}.get(event.button.id or "")
        if action is not None:
            action()


class VerifyWhoScreen(ModalScreen[str | None]):
    """Whom to verify by emoji: a user id, or your own other devices. Dismissed with the user id."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+o", "own_devices", "My other devices", id="verify_own_devices", priority=True),
    ]
    AUTO_FOCUS = "#verify-who"

    def __init__(self, own_user_id: str, suggestion: str | None = None) -> None:
        super().__init__(classes="dialog-screen")
        self.own_user_id = own_user_id
        self.suggestion = suggestion

    def _key(self, binding_id: str) -> str:
        app: Any = self.app
        binding = next(b for b in self.BINDINGS if isinstance(b, Binding) and b.id == binding_id)
        return app.keys_for(binding).split(" / ")[0] if hasattr(app, "keys_for") else binding.key

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="verify-who-dialog"):
            yield Static(Content.styled("Verify by comparing emoji", "bold"), classes="dialog-title")
            yield Static(
                Content("Whom? They get a request in your direct chat (created if you have none) and you both "
                        "compare seven emoji. Or verify your own other devices: one you just logged in on gets "
                        "your identity's keys from this one."),
                classes="dialog-text", markup=False,
            )
            yield Label("Their user id")
            yield Input(value=self.suggestion or "", placeholder="@name:server", id="verify-who", compact=True)
            yield Static(classes="dialog-error", id="verify-who-error", markup=False)
            with Horizontal(classes="dialog-buttons"):
                yield Button("Verify (enter)", variant="primary", id="verify", compact=True)
                yield Button(f"My other devices ({self._key('verify_own_devices')})", id="own", compact=True)
                yield Button(f"Cancel ({self._key('cancel_dialog')})", id="cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#verify-who-error").display = False

    @on(Input.Submitted, "#verify-who")
    @on(Button.Pressed, "#verify")
    def _verify(self) -> None:
        from ..slash_commands import USER_ID

        text = self.query_one("#verify-who", Input).value.strip()
        if not USER_ID.match(text):
            error = self.query_one("#verify-who-error", Static)
            error.update(Content.styled("✗ Enter a full user id, like @name:example.org.", "$text-error"))
            error.display = True
            return
        self.dismiss(text)

    @on(Button.Pressed, "#own")
    def action_own_devices(self) -> None:
        self.dismiss(self.own_user_id)

    @on(Button.Pressed, "#cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
