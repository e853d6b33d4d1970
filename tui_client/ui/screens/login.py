"""The login screen: homeserver URL, user and password, with the engine's error shown in place
(wrong password, unreachable server, bad URL). The session is saved, so this appears only once
per profile (or after the server ends the session)."""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, cast

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Label, Static
from ...engine.server_url import DiscoveryError, discover_homeserver, homeserver_url, server_name
from ..formatting import clean
from ..workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TuiApp

logger = logging.getLogger(__name__)


class LoginScreen(ReportsWorkerErrors, Screen):
    AUTO_FOCUS = "#homeserver"

    class LoggedIn(Message):
        """The engine accepted the login; the app takes it from here."""

        def __init__(self, user_id: str) -> None:
            super().__init__()
            self.user_id = user_id

    def __init__(self, message: str | None = None) -> None:
        super().__init__()
        self.message = message

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        with Vertical(id="login-box"):
            yield Static(Content.styled("Log in to Matrix", "bold"), id="login-title")
            yield Static(
                Content.styled(
                    f"Profile {self.tui.profile!r}. Your session is kept, so next time you start "
                    "there is nothing to type.",
                    "$foreground-muted",
                ),
                id="login-intro",
            )
            yield Label("Homeserver URL")
            yield Input(placeholder="https://matrix.example.org (empty: found from your user id)", id="homeserver")
            yield Label("User")
            yield Input(placeholder="alice  or  @alice:example.org", id="user")
            yield Label("Password")
            yield Input(placeholder="password", password=True, id="password")
            yield Static(
                self._error(self.message), id="login-error", classes="" if self.message else "-empty", markup=False
            )
            yield Button("Log in", variant="primary", id="login")
        yield Footer(compact=True)

    @staticmethod
    def _error(text: str | None) -> Content:
        return Content.styled(clean(f"✕ {text}"), "$text-error") if text else Content("")

    def _show_error(self, text: str | None) -> None:
        error = self.query_one("#login-error", Static)
        error.update(self._error(text))
        error.set_class(not text, "-empty")

    @on(Input.Submitted, "#homeserver")
    def _homeserver_entered(self) -> None:
        self.query_one("#user", Input).focus()

    @on(Input.Submitted, "#user")
    def _user_entered(self) -> None:
        self.query_one("#password", Input).focus()

    @on(Input.Submitted, "#password")
    @on(Button.Pressed, "#login")
    def _submit(self) -> None:
        homeserver = self.query_one("#homeserver", Input).value.strip()
        user = self.query_one("#user", Input).value.strip()
        password = self.query_one("#password", Input).value
        if not homeserver and server_name(user) is None:
            # Without a URL the homeserver is looked up from a full user id.
            self._show_error("enter the homeserver URL, or your full user id (@name:server) to look it up")
            self.query_one("#homeserver" if user else "#user", Input).focus()
            return
        for widget_id, value, what in (
            ("#user", user, "your user name"),
            ("#password", password, "your password"),
        ):
            if not value:
                self._show_error(f"enter {what}")
                self.query_one(widget_id, Input).focus()
                return
        self._show_error(None)
        self.log_in(homeserver, user, password)

    def _busy(self, busy: bool) -> None:
        for widget in self.query("#login-box Input"):
            widget.disabled = busy
        button = self.query_one("#login", Button)
        button.disabled = busy
        button.label = "Logging in…" if busy else "Log in"

    @work(exclusive=True, group="login", name="Logging in", exit_on_error=False)
    async def log_in(self, homeserver: str, user: str, password: str) -> None:
        from ...engine.errors import EngineError

        self._busy(True)
        if homeserver:
            homeserver = homeserver_url(homeserver)
        else:
            try:
                homeserver = await asyncio.to_thread(discover_homeserver, user)
            except DiscoveryError as exc:
                self._busy(False)
                self._show_error(str(exc))
                self.query_one("#homeserver", Input).focus()
                return
            self.query_one("#homeserver", Input).value = homeserver
        try:
            info = await self.tui.bridge.call(lambda e: e.login(homeserver, user, password))
        except EngineError as exc:
            from ...engine.errors_text import explain

            logger.info("login failed: %s", exc)
            self._busy(False)
            self._show_error(explain(str(exc)))
            if "password" in str(exc):
                self.query_one("#password", Input).value = ""
                self.query_one("#password", Input).focus()
            else:
                self.query_one("#homeserver", Input).focus()
            return
        except Exception:
            self._busy(False)
            raise
        logger.info("logged in as %s", getattr(info, "user_id", user))
        self.post_message(self.LoggedIn(getattr(info, "user_id", user)))
