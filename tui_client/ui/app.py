"""The Textual app: start-up (restore or log in), the engine bridge, app-wide bindings, and the
commands several screens share (accept/decline an invite, create a room). The engine's events
are handled in app_events.py and the shared commands live in app_commands.py: mixins of `TuiApp`.

`run_app(backend, ...)` is what `tui-client` calls, once the CLI has opened the profile on an
engine host (before the terminal is taken over, so a profile locked by another process is one line
on stderr and exit code 3). The app only needs a backend with the `Backend` surface, which is how
the tests run it on a fake engine with canned data and a pinned time zone.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future
from pathlib import Path
from typing import Any

from textual import work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.reactive import var
from textual.screen import Screen
from textual.worker import Worker

from .. import paths
from ..config import LoadedSettings, Settings
from ..engine.models import Invite, RoomSummary, SyncPhase, SyncState
from . import runtime
from .app_commands import SharedCommands
from .app_events import EngineEvents
from .bridge import Backend, Bridge
from .timefmt import TimeFormatter
from .formatting import clean
from .palette import ActionsProvider
from .workers import ReportsWorkerErrors

logger = logging.getLogger(__name__)

class TuiApp(ReportsWorkerErrors, EngineEvents, SharedCommands, App[int]):
    """tui-client's terminal UI."""

    CSS_PATH = "styles/app.tcss"
    TITLE = "tui-client"
    COMMANDS = {ActionsProvider}  # (which lists Textual's system commands too, after ours)
    NOTIFICATION_TIMEOUT = 6

    BINDINGS = [
        Binding("ctrl+q", "quit", "Quit", id="quit", priority=True),
        Binding("f1", "help", "Help", id="help"),
        Binding("ctrl+p", "command_palette", "Commands", id="command_palette", priority=True, show=False),
        Binding("ctrl+l", "logs", "Logs", id="logs"),
        Binding("ctrl+s", "save_screenshot", "Screenshot", id="screenshot", show=False),
    ]

    # The engine's news as plain data (a reactive of the app repaints the whole screen when set).
    rooms: var[tuple[RoomSummary, ...]] = var(tuple, init=False)
    rooms_known: var[bool] = var(False, init=False)  # until the engine answers, empty is "loading"
    invites: var[tuple[Invite, ...]] = var(tuple, init=False)
    sync_state: var[SyncState] = var(SyncState(SyncPhase.STOPPED), init=False)
    user_id: var[str] = var("", init=False)
    device_id: var[str] = var("", init=False)
    trust: var[str] = var("verified: —", init=False)
    own_trust: var[object | None] = var(None, init=False)  # the engine's OwnTrust
    changed_identities: var[tuple[str, ...]] = var(tuple, init=False)  # not yet accepted
    backup: var[object | None] = var(None, init=False)  # the engine's BackupStatus

    def __init__(
        self,
        backend: Backend,
        *,
        restored: bool,
        settings: Settings | None = None,
        problems: Iterable[str] = (),
        time_format: TimeFormatter | None = None,
        now: Callable[[], float] = time.time,
        screenshot_dir: Path | None = None,
        profile: str = "default",
        kept_rooms: Iterable[RoomSummary] = (),
        glimpses: Sequence[Future[tuple[RoomSummary, ...]]] = (),
    ) -> None:
        """`kept_rooms`: the offline cache's room list, shown until the engine answers.
        `glimpses`: on a first start after login, the rooms the server's early answers list,
        from the quickest to the most complete, each shown from when it arrives (unless a more
        complete one is shown) until the engine has handled the sync (engine.first_sync)."""
        super().__init__()
        self.backend = backend
        self.restored = restored
        self.settings = settings or Settings()
        self.problems = tuple(problems)
        self.time_format = time_format or TimeFormatter()
        self.now = now
        self.screenshot_dir = screenshot_dir
        self.profile = profile
        self.kept_rooms = tuple(kept_rooms)
        self.glimpses = tuple(glimpses)
        self._glimpsed = False  # the list shows the glimpse (until the engine lists rooms itself)
        self.keymap: dict[str, str] = dict(self.settings.keys)
        self.set_keymap(self.keymap)
        if self.keymap:  # (checking imports every screen: not for a start without a [keys] table)
            from .keymap import keymap_problems

            for problem in (found := keymap_problems(self.keymap, self.binding_sources())):
                logger.warning("config: %s", problem)
            self.problems += tuple(found)
        self.bridge = Bridge(backend, self)
        self.freeze_after_start = False  # run_app: see ui/runtime.py
        self._main: Any = None  # the MainScreen once logged in
        self._verification_dialogs: dict[str, Any] = {}  # flow id -> open VerificationScreen
        self._quitting = False
        self._announce_identities = False  # the start-up's "has a new identity" is still to be said
        self.theme = "textual-dark"

    # -- start-up ----------------------------------------------------------------------------

    def on_mount(self) -> None:
        for problem in self.problems:
            self.notify(problem, title="Settings problem", severity="warning", timeout=15)
        self.start_up()

    @work(name="Starting", exit_on_error=False)
    async def start_up(self) -> None:
        try:
            if self.restored:
                # The main screen first (the room list fills in as the engine answers), then
                # the engine: opening it imports nio and reads the store, behind this frame.
                from .screens.main import MainScreen

                self.sync_state = SyncState(SyncPhase.CONNECTING)
                self.rooms = self.kept_rooms  # (what the last run kept, while connecting)
                self._main = MainScreen()
                await self.push_screen(self._main)
                if self.glimpses and not self.rooms:
                    self._wait_for_glimpses(self.glimpses)
            self.call_after_refresh(self._begin_backend)
            await self.bridge.attach()
            if self.restored:
                await self.show_main()
            else:
                from .screens.login import LoginScreen  # (not imported by a start with a session)

                await self.push_screen(LoginScreen())
        except Exception as exc:
            from .screens.failure import StartupFailedScreen

            logger.exception("start-up failed")
            await self.push_screen(StartupFailedScreen(f"{type(exc).__name__}: {exc}"))

    @work(name="First look at the rooms", exit_on_error=False)
    async def _wait_for_glimpses(self, glimpses: Sequence[Future[tuple[RoomSummary, ...]]]) -> None:
        # Awaited on the app's loop, not waited for on a thread: quitting while the server has
        # not answered cancels it (a thread would hold the process open until the answer).
        waiting = {asyncio.wrap_future(glimpse): rank for rank, glimpse in enumerate(glimpses)}
        shown = -1
        while waiting:
            done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            for rank, task in sorted((waiting.pop(task), task) for task in done):
                if task.exception() is not None or not task.result() or rank < shown:
                    continue
                if (self.rooms and not self._glimpsed) or self.sync_state.state == "syncing":
                    return  # the engine listed the rooms itself
                self._glimpsed, self.rooms_known, shown = True, True, rank
                self.rooms = task.result()

    def show_engine_rooms(self, rooms: tuple[RoomSummary, ...]) -> None:
        """The engine's room list; an empty one before its first sync is handled does not
        replace the glimpse (it has not looked yet)."""
        if not rooms and self._glimpsed and self.sync_state.state != "syncing":
            return
        self._glimpsed = False
        self.rooms = rooms

    async def show_main(self) -> None:
        """After a restore or a login: the main screen, the initial state, then syncing."""
        from .screens.login import LoginScreen
        from .screens.main import MainScreen

        state = await self.bridge.read(
            lambda e: (tuple(e.rooms()), tuple(e.invites()), e.sync_state, e.user_id, e.device_id)
        )
        rooms, self.invites, self.sync_state, self.user_id, self.device_id = state
        self.show_engine_rooms(rooms)
        # An engine with nothing listed before its first sync (a first start after login) has
        # not said there are no rooms: the list keeps saying it is loading until it has synced.
        self.rooms_known = bool(self.rooms or self.invites) or self.sync_state.state == "syncing"
        if isinstance(self.screen, LoginScreen):
            if self._main is None:
                self._main = MainScreen()
                await self.switch_screen(self._main)
            else:  # logged in again after the server ended the session
                await self.pop_screen()
        elif self._main is None or self._main not in self.screen_stack:
            self._main = MainScreen()
            await self.push_screen(self._main)

        async def start(engine: Any) -> None:
            engine.start_sync()

        await self.bridge.call(start)
        self.refresh_trust()
        self.refresh_identities(announce=True)
        if self.freeze_after_start:
            self.call_after_refresh(runtime.freeze_start_up)
            self.call_after_refresh(runtime.make_records_soon, lambda step: self.set_timer(0.001, step))

    def _begin_backend(self) -> None:
        begin = getattr(self.backend, "begin", None)  # (a host opening its engine late)
        if begin is not None:
            begin()

    def on_login_screen_logged_in(self) -> None:  # (LoginScreen.LoggedIn, by its handler's name)
        self.enter_main()

    @work(name="Opening your rooms", exit_on_error=False)
    async def enter_main(self) -> None:
        await self.show_main()

    @property
    def main_screen(self) -> Any:
        return self._main

    # -- errors ------------------------------------------------------------------------------

    def notify(
        self,
        message: str,
        *,
        title: str = "",
        severity: SeverityLevel = "information",
        timeout: float | None = None,
        markup: bool = False,
    ) -> None:
        """Notifications are always literal: they carry room names and server messages."""
        super().notify(clean(message), title=clean(title), severity=severity, timeout=timeout, markup=False)

    def report_error(self, what: str, error: BaseException) -> None:
        """A failed command becomes a notification and a log line; never a crash."""
        from ..engine.errors import EngineError
        from ..engine.errors_text import explain

        if self._quitting:
            # Work cut short by quitting (the engine is closing under it): nothing to tell anyone.
            logger.info("%s stopped by quitting: %s", what, error)
            return
        if isinstance(error, EngineError):
            logger.warning("%s failed: %s", what, error)
            text = explain(str(error))
        else:
            text = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
            logger.error("%s failed", what, exc_info=error)
        self.notify(text, title=f"{what} failed", severity="error", timeout=10)

    # -- state we show but the engine owns ---------------------------------------------------

    @work(exclusive=True, group="trust", name="Checking your device", exit_on_error=False)
    async def refresh_trust(self) -> None:
        from .describe import trust_line

        async def own_trust(engine: Any) -> object:
            method = getattr(engine, "own_trust", None)
            if method is None:
                return None
            value = method() if callable(method) else method
            return await value if inspect.isawaitable(value) else value

        try:
            value = await self.bridge.call(own_trust)
        except Exception as exc:  # the slot is informative only
            logger.info("could not read own trust: %s", exc)
            value = None
        self.own_trust = value
        self.trust = trust_line(value)

    def refresh_identities(self, announce: bool = False) -> Worker[None]:
        """Re-read whose identity changed (and is not accepted yet); at start-up, say so once (by
        whichever reading ends: a later one, e.g. on an identity event, cancels the one before)."""
        self._announce_identities |= announce
        return self._read_identities()

    @work(exclusive=True, group="identities", name="Checking identities", exit_on_error=False)
    async def _read_identities(self) -> None:
        from .describe import join_names

        try:
            users = await self.bridge.read(lambda engine: tuple(getattr(engine, "changed_identities", tuple)()))
        except Exception as exc:  # informative only; the next event tries again
            logger.info("could not read changed identities: %s", exc)
            return
        self.changed_identities = users
        announce, self._announce_identities = self._announce_identities, False
        if announce and users:
            people = join_names([self.person(u) for u in users])
            verb = "has a new identity" if len(users) == 1 else "have new identities"
            self.notify(
                f"{people} {verb}. If you did not expect this, check with them before trusting new "
                "messages or shared history; rooms you share are marked ⚠.",
                title="Identity changed",
                severity="warning",
                timeout=20,
            )

    def person(self, user_id: str) -> str:
        """"Carol (@carol:example.org)", with the display name from a room we share."""
        from .describe import person

        for room in self.rooms:
            for member in room.members:
                if member.user_id == user_id and member.display_name:
                    return person(user_id, member.display_name)
        return user_id

    # -- app-wide actions --------------------------------------------------------------------

    async def action_quit(self) -> None:
        """Stop syncing, close the engine (releasing the profile lock), then leave."""
        if self._quitting:
            return
        self._quitting = True
        try:
            await self.bridge.stop()
        except Exception as exc:
            logger.warning("the engine did not stop cleanly: %s", exc)
        self.exit(0)

    def action_help_quit(self) -> None:
        """ctrl+c does not quit (it copies in text fields): say what does (Textual's own message
        carries markup our literal notifications would print)."""
        binding = next(b for b in TuiApp.BINDINGS if isinstance(b, Binding) and b.id == "quit")
        keys = self.keymap.get("quit", binding.key).split(",")[0].strip()
        self.notify(f"Press {keys} to quit.", title="Do you want to quit?")

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def action_logs(self) -> None:
        from .screens.log import LogScreen

        if not isinstance(self.screen, LogScreen):
            self.push_screen(LogScreen())

    def action_save_screenshot(self) -> None:
        directory = self.screenshot_dir or paths.data_dir() / "screenshots"
        try:
            paths.ensure_private_dir(directory)
            path = self.save_screenshot(path=str(directory))
        except OSError as exc:
            self.report_error("Saving the screenshot", exc)
            return
        logger.info("screenshot saved to %s", path)
        self.notify(path, title="Screenshot saved")

    # -- bindings, for the help screen and the command palette -------------------------------

    def extra_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        """(title, help, callback) palette entries that are not bindings; listed first."""
        main: Any = self._main
        if main is None:
            return []
        return [("Direct chat", "Open or start the direct chat with someone (or type: dm @user:server)",
                 main.ask_direct_chat),
                ("Send a file", "Send a file or an image to this room (or type /upload path)", main.ask_send_file)]

    def get_system_commands(self, screen: Screen) -> Iterable[SystemCommand]:
        """Textual's own palette entries, minus those our actions replace (quit, screenshot)."""
        for command in super().get_system_commands(screen):
            if command.title not in ("Quit", "Screenshot"):
                yield command

    def binding_sources(self) -> list[tuple[str, type[DOMNode]]]:
        """Where bindings live, with a label for each (in the order the help screen lists them)."""
        return binding_sources()

    def keys_for(self, binding: Binding) -> str:
        """How a binding's keys are shown, after the user's keymap (settings.keys)."""
        keys = self.keymap.get(binding.id, binding.key) if binding.id else binding.key
        shown = []
        for key in keys.split(","):
            key = key.strip()
            if key:
                shown.append(self.get_key_display(Binding(key, binding.action)))
        return " / ".join(dict.fromkeys(shown))


def binding_sources() -> list[tuple[str, type[DOMNode]]]:
    """Where the app's bindings live, with a label for each (in the order the help screen lists
    them)."""
    from .screens.create_room import CreateRoomScreen
    from .screens.event_details import EventDetailsScreen
    from .screens.help import HelpScreen
    from .screens.identity import RecoveryScreen, ResetIdentityScreen, VerifyDeviceScreen
    from .screens.inspector import CryptoInspectorScreen
    from .screens.key_files import ExportKeysScreen, ImportKeysScreen
    from .screens.invites import InvitesScreen
    from .screens.log import LogScreen
    from .screens.main import MainScreen
    from .screens.message_actions import DeleteMessageScreen, ReactScreen
    from .screens.switcher import RoomSwitcher
    from .screens.thread import ThreadScreen
    from .screens.verification import VerificationScreen, VerifyWhoScreen
    from .widgets.composer import Composer
    from .widgets.space_card import ChildCard
    from .widgets.invite_card import InviteCard
    from .widgets.room_list import RoomList
    from .widgets.timeline import Timeline

    return [
        ("everywhere", TuiApp),
        ("main screen", MainScreen),
        ("room list", RoomList),
        ("timeline", Timeline),
        ("composer", Composer),
        ("invite", InviteCard),
        ("thread", ThreadScreen),
        ("react", ReactScreen),
        ("delete message", DeleteMessageScreen),
        ("invites screen", InvitesScreen),
        ("create room", CreateRoomScreen),
        ("crypto inspector", CryptoInspectorScreen),
        ("event details", EventDetailsScreen),
        ("verify device", VerifyDeviceScreen),
        ("verify by emoji", VerifyWhoScreen),
        ("emoji verification", VerificationScreen),
        ("set up recovery", RecoveryScreen),
        ("reset identity", ResetIdentityScreen),
        ("export keys", ExportKeysScreen),
        ("import keys", ImportKeysScreen),
        ("logs", LogScreen),
        ("help", HelpScreen),
        ("room switcher", RoomSwitcher),
        ("space room", ChildCard),
    ]


def run_app(backend: Backend, *, restored: bool, loaded: LoadedSettings, profile: str,
            kept_rooms: Iterable[RoomSummary] = (), glimpses: Sequence[Future[tuple[RoomSummary, ...]]] = ()) -> int:
    """Run the terminal UI on an opened backend (the CLI builds it); returns the exit code."""
    runtime.tune()
    app = TuiApp(backend, restored=restored, settings=loaded.settings, problems=loaded.problems, profile=profile,
                 kept_rooms=kept_rooms, glimpses=glimpses)
    app.freeze_after_start = True
    app.run()
    return app.return_code or 0
