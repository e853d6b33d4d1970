"""The status bar: sync state (with the retry reason and a countdown), a restore from the key
backup while one runs, who and which device you are, and the "device verified by your
identity" slot the cross-signing work fills in."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.content import Content
from textual.reactive import reactive
from textual.timer import Timer
from textual.widgets import Static

from ...engine.models import SyncPhase, SyncState
from ..describe import sync_line
from ..formatting import clean
from .line import Line

NARROW = 100  # below this many columns the right-hand side is abbreviated

_STATE_STYLE = {
    "syncing": "$text-success",
    "connecting": "$text-warning",
    "retrying": "$text-error",
    "offline": "$text-warning",
    "logged_out": "$text-error",
}


def _trust_style(text: str) -> str:
    if text.startswith("✓"):
        return "$text-success"
    if text.startswith("✗"):
        return "$text-warning"
    return "$foreground-muted"


class StatusBar(Horizontal):
    sync_state: reactive[SyncState] = reactive(SyncState(SyncPhase.STOPPED), init=False)
    user_id: reactive[str] = reactive("", init=False)
    device_id: reactive[str] = reactive("", init=False)
    trust: reactive[str] = reactive("verified: —", init=False)
    backup: reactive[str] = reactive("", init=False)  # describe.backup_line

    def __init__(self, *, now: Callable[[], float] = time.time, id: str | None = None) -> None:
        super().__init__(id=id)
        self.now = now
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Line(id="status-sync", markup=False)
        yield Line(id="status-backup", markup=False)
        yield Line(id="status-who", markup=False)

    def on_mount(self) -> None:
        self._render_sync()
        self._render_backup()
        self._render_who()

    def watch_backup(self) -> None:
        self._render_backup()

    def _render_backup(self) -> None:
        slot = self.query_one("#status-backup", Static)
        slot.display = bool(self.backup)
        style = "$text-warning" if self.backup.startswith("⚠") else "$text-accent"
        slot.update(Content.styled(clean(self.backup), style))

    def watch_sync_state(self, state: SyncState) -> None:
        self._render_sync()
        self._render_who()
        counting = state.state in ("retrying", "offline")
        if counting and self._ticker is None:
            self._ticker = self.set_interval(1, self._render_sync)
        elif not counting and self._ticker is not None:
            self._ticker.stop()
            self._ticker = None

    def on_resize(self) -> None:
        self._render_who()

    def watch_user_id(self) -> None:
        self._render_who()

    def watch_device_id(self) -> None:
        self._render_who()

    def watch_trust(self) -> None:
        self._render_who()

    def _render_sync(self) -> None:
        state = self.sync_state
        line = sync_line(state, self.now())
        self.query_one("#status-sync", Static).update(
            Content.styled(clean(line), _STATE_STYLE.get(state.state, "$foreground-muted"))
        )

    def _render_who(self) -> None:
        if not self.user_id:
            content = Content("")
        elif self.sync_state.state in ("retrying", "offline", "logged_out"):
            content = Content.styled(clean(self.user_id), "bold")  # room for the reason
        else:
            trust = self.trust
            narrow = 0 < self.region.width < NARROW
            if narrow:  # leave the sync state room to be read in full
                trust = {"✓ verified by your identity": "✓ verified",
                         "✗ not verified by your identity": "✗ not verified"}.get(trust, trust)
            content = Content.assemble(
                (clean(self.user_id), "bold"),
                (" · " if narrow else "  device ", "$foreground-muted"),
                clean(self.device_id) or "?",
                "  ",
                (clean(trust), _trust_style(trust)),
            )
        self.query_one("#status-who", Static).update(content)
