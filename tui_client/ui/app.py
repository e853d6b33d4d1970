"""The Textual app: start-up (restore or log in), the engine bridge, app-wide bindings, and the
commands several screens share (accept/decline an invite, create a room).

`run_app(backend, ...)` is what `tui-client` calls, once the CLI has opened the profile on an
engine host (before the terminal is taken over, so a profile locked by another process is one line
on stderr and exit code 3). The app only needs a backend with the `Backend` surface, which is how
the tests run it on a fake engine with canned data and a pinned time zone.
"""

from __future__ import annotations

import inspect
import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from textual import on, work
from textual.app import App, SystemCommand
from textual.binding import Binding
from textual.dom import DOMNode
from textual.notifications import SeverityLevel
from textual.reactive import reactive
from textual.screen import Screen

from .. import paths
from ..config import LoadedSettings, Settings
from ..engine.models import Invite, RoomSummary, SyncPhase, SyncState
from . import runtime
from .bridge import Backend, Bridge
from .timefmt import TimeFormatter
from .formatting import clean
from .palette import ActionsProvider
from .screens.login import LoginScreen
from .workers import ReportsWorkerErrors
from .widgets import image_preview  # noqa: F401  (asks the terminal its cell size before the app starts)

logger = logging.getLogger(__name__)

class TuiApp(ReportsWorkerErrors, App[int]):
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

    rooms: reactive[tuple[RoomSummary, ...]] = reactive(tuple, init=False)
    invites: reactive[tuple[Invite, ...]] = reactive(tuple, init=False)
    sync_state: reactive[SyncState] = reactive(SyncState(SyncPhase.STOPPED), init=False)
    user_id: reactive[str] = reactive("", init=False)
    device_id: reactive[str] = reactive("", init=False)
    trust: reactive[str] = reactive("verified: —", init=False)
    own_trust: reactive[object | None] = reactive(None, init=False)  # the engine's OwnTrust
    changed_identities: reactive[tuple[str, ...]] = reactive(tuple, init=False)  # not yet accepted
    backup: reactive[object | None] = reactive(None, init=False)  # the engine's BackupStatus

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
    ) -> None:
        super().__init__()
        self.backend = backend
        self.restored = restored
        self.settings = settings or Settings()
        self.problems = tuple(problems)
        self.time_format = time_format or TimeFormatter()
        self.now = now
        self.screenshot_dir = screenshot_dir
        self.profile = profile
        self.keymap: dict[str, str] = dict(self.settings.keys)
        self.set_keymap(self.keymap)
        from .keymap import keymap_problems

        for problem in (found := keymap_problems(self.keymap, self.binding_sources())):
            logger.warning("config: %s", problem)
        self.problems += tuple(found)
        self.bridge = Bridge(backend, self)
        self.freeze_after_start = False  # run_app: see ui/runtime.py
        self.rooms_known = False  # whether `rooms` is the engine's answer yet
        self._main: Any = None  # the MainScreen once logged in
        self._verification_dialogs: dict[str, Any] = {}  # flow id -> open VerificationScreen
        self._quitting = False
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
                self._main = MainScreen()
                await self.push_screen(self._main)
            self.call_after_refresh(self._begin_backend)
            await self.bridge.attach()
            if self.restored:
                await self.show_main()
            else:
                await self.push_screen(LoginScreen())
        except Exception as exc:
            from .screens.failure import StartupFailedScreen

            logger.exception("start-up failed")
            await self.push_screen(StartupFailedScreen(f"{type(exc).__name__}: {exc}"))

    async def show_main(self) -> None:
        """After a restore or a login: the main screen, the initial state, then syncing."""
        from .screens.main import MainScreen

        state = await self.bridge.read(
            lambda e: (tuple(e.rooms()), tuple(e.invites()), e.sync_state, e.user_id, e.device_id)
        )
        self.rooms_known = True
        self.rooms, self.invites, self.sync_state, self.user_id, self.device_id = state
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

    def _begin_backend(self) -> None:
        begin = getattr(self.backend, "begin", None)  # (a host opening its engine late)
        if begin is not None:
            begin()

    @on(LoginScreen.LoggedIn)
    def _logged_in(self) -> None:
        self.enter_main()

    @work(name="Opening your rooms", exit_on_error=False)
    async def enter_main(self) -> None:
        await self.show_main()

    @property
    def main_screen(self) -> Any:
        return self._main

    # -- engine events -----------------------------------------------------------------------

    @on(Bridge.RoomsChanged)
    def _rooms_changed(self, message: Bridge.RoomsChanged) -> None:
        self.rooms, self.invites = message.rooms, message.invites

    @on(Bridge.InviteReceived)
    def _invite_received(self, message: Bridge.InviteReceived) -> None:
        if self.sync_state.state != "syncing":
            return  # invites found by the first sync are in the list; no toast for each
        invite = message.invite
        self.notify(f"{invite.inviter_label} invited you to {invite.name}", title="Invite")

    @on(Bridge.OwnTrustChanged)
    def _own_trust_changed(self, message: Bridge.OwnTrustChanged) -> None:
        from .describe import trust_line

        self.own_trust = message.trust
        self.trust = trust_line(message.trust)

    @on(Bridge.BackupChanged)
    def _backup_changed(self, message: Bridge.BackupChanged) -> None:
        self.backup = message.status

    @on(Bridge.IdentityChanged)
    def _identity_changed(self, message: Bridge.IdentityChanged) -> None:
        # The engine's Notice (a toast) says it once; the room list and header keep saying it.
        self.refresh_identities()

    def _thread_screens(self) -> list[Any]:
        from .screens.thread import ThreadScreen

        return [s for s in self.screen_stack if isinstance(s, ThreadScreen)]

    @on(Bridge.VerificationChanged)
    def _verification_changed(self, message: Bridge.VerificationChanged) -> None:
        """Someone asks to verify: open the dialog. A flow with a dialog open: update it."""
        info = message.info
        dialog = self._verification_dialogs.get(info.flow_id)
        if dialog is not None:
            dialog.update_info(info)
            return
        if info.incoming and info.phase.value == "requested" and self._main is not None:
            self.open_verification(info)

    def open_verification(self, info: Any = None, *, ask: str | None = None) -> None:
        """The verification dialog: following `info`, or asking `ask` (a user id) to verify."""
        from .screens.verification import VerificationScreen

        dialog = VerificationScreen(info, ask=ask)
        if info is not None:
            self.verification_dialog_opened(dialog)

        def closed(_: object) -> None:
            if dialog.flow_id is not None and self._verification_dialogs.get(dialog.flow_id) is dialog:
                del self._verification_dialogs[dialog.flow_id]

        self.push_screen(dialog, closed)

    def verification_dialog_opened(self, dialog: Any) -> None:
        """A verification dialog now follows its flow (it knows the flow id once asked)."""
        if dialog.flow_id is not None:
            self._verification_dialogs[dialog.flow_id] = dialog

    @on(Bridge.Notification)
    def _notification(self, message: Bridge.Notification) -> None:
        """A new message the push rules say to notify about: ring the bell and send a desktop
        notification (as configured) unless the user is looking at that room."""
        from .alerts import desktop_args, desktop_command, wanted

        event = message.event
        main = self._main
        screen = self.screen
        shown = (
            getattr(main, "current_room", None) if main is not None and screen is main
            else getattr(screen, "room_id", None) if screen in self._thread_screens()
            else None
        )
        looking = shown == event.room_id and self.app_focus
        if looking:
            return
        settings = self.settings
        if wanted(settings.notify_bell, highlight=event.highlight, direct=event.direct):
            self.bell()
        if wanted(settings.notify_desktop, highlight=event.highlight, direct=event.direct):
            tool = desktop_command()
            if tool is not None:
                item = event.item
                title = item.sender_name if event.direct else f"{item.sender_name} in {event.room_name}"
                self.notify_desktop(desktop_args(tool, title, item.body or "(a message you cannot read yet)"))

    @work(thread=True, group="desktop", name="Desktop notification", exit_on_error=False)
    def notify_desktop(self, args: list[str]) -> None:
        from .alerts import send_desktop

        send_desktop(args)

    @on(Bridge.TransferProgress)
    def _transfer_progress(self, message: Bridge.TransferProgress) -> None:
        if self._main is not None:
            self._main.transfer_progress(message.event)

    @on(Bridge.TypingChanged)
    def _typing_changed(self, message: Bridge.TypingChanged) -> None:
        if self._main is not None:
            self._main.typing_changed(message.room_id, message.names)

    @on(Bridge.ReceiptsChanged)
    def _receipts_changed(self, message: Bridge.ReceiptsChanged) -> None:
        if self._main is not None:
            self._main.receipts_changed(message.room_id, dict(message.receipts))

    @on(Bridge.TimelineItemsAdded)
    async def _items_added(self, message: Bridge.TimelineItemsAdded) -> None:
        if self._main is not None:
            await self._main.timeline_items_added(message.room_id, message.items, message.at_start)
        for thread in self._thread_screens():
            await thread.items_added(message.room_id, message.items)

    @on(Bridge.TimelineItemUpdated)
    def _item_updated(self, message: Bridge.TimelineItemUpdated) -> None:
        if self._main is not None:
            self._main.timeline_item_updated(message.room_id, message.item)
        for thread in self._thread_screens():
            thread.item_updated(message.room_id, message.item)

    @on(Bridge.TimelineItemsRemoved)
    async def _items_removed(self, message: Bridge.TimelineItemsRemoved) -> None:
        if self._main is not None:
            await self._main.timeline_items_removed(message.room_id, message.event_ids)
        for thread in self._thread_screens():
            await thread.items_removed(message.room_id, message.event_ids)

    @on(Bridge.TimelineReset)
    def _timeline_reset(self, message: Bridge.TimelineReset) -> None:
        if self._main is not None:
            self._main.timeline_reset(message.room_id)

    @on(Bridge.SyncStateChanged)
    def _sync_state_changed(self, message: Bridge.SyncStateChanged) -> None:
        previous, self.sync_state = self.sync_state, message.state
        if message.state.state == "syncing" and previous.state != "syncing":
            self.refresh_trust()
        if message.state.state == "logged_out" and previous.state != "logged_out":
            self.session_ended(message.state.detail or "the server ended this session")
        if self._main is not None:
            self._main.refresh_bindings()

    @on(Bridge.EngineError)
    def _engine_error(self, message: Bridge.EngineError) -> None:
        from ..engine.errors_text import explain

        logger.warning("engine error: %s", message.message)
        self.notify(explain(message.message), title="Error", severity="error", timeout=10)

    @on(Bridge.Notice)
    def _notice(self, message: Bridge.Notice) -> None:
        severity = message.level if message.level in ("information", "warning", "error") else "information"
        self.notify(message.message, severity=severity)  # type: ignore[arg-type]
        self.refresh_trust()

    def session_ended(self, reason: str) -> None:
        self.notify(reason, title="Logged out", severity="error", timeout=15)
        self.push_screen(LoginScreen(message=reason))

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

    @work(exclusive=True, group="identities", name="Checking identities", exit_on_error=False)
    async def refresh_identities(self, announce: bool = False) -> None:
        """Re-read whose identity changed (and is not accepted yet); at start-up, say so once."""
        from .describe import join_names

        def changed(engine: Any) -> tuple[str, ...]:
            method = getattr(engine, "changed_identities", None)
            return tuple(method()) if method is not None else ()

        try:
            users = await self.bridge.read(changed)
        except Exception as exc:  # informative only; the next event tries again
            logger.info("could not read changed identities: %s", exc)
            return
        self.changed_identities = users
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

    # -- commands shared by screens ----------------------------------------------------------

    @work(group="accept_identity", name="Accepting the new identity", exit_on_error=False)
    async def ask_accept_identity(
        self, user_id: str, name: str | None = None, then: Callable[[], object] | None = None
    ) -> None:
        """Explain the risk, then pin `user_id`'s new identity if the user agrees."""
        from .describe import accept_identity_question, fingerprint, person
        from .screens.confirm import ConfirmScreen

        def keys(engine: Any) -> tuple[str | None, str | None]:
            info = getattr(getattr(engine, "identity", None), "identity_info", None)
            if info is None:  # an engine without the component: explain without the keys
                return None, None
            found = info(user_id)
            return found.previous_master_key, found.master_key

        try:
            old, new = await self.bridge.read(keys)
        except Exception as exc:
            logger.info("could not read the identity of %s: %s", user_id, exc)
            old, new = None, None
        label = person(user_id, name) if name else self.person(user_id)
        question = accept_identity_question(label, fingerprint(old), fingerprint(new))
        answer = await self.push_screen_wait(ConfirmScreen(question, confirm="Accept new identity", cancel="Not now"))
        if answer != "yes":
            return
        await self.bridge.read(lambda e: e.accept_identity(user_id))
        self.notify(f"You accepted the new identity of {label}.", title="Identity accepted")
        self.refresh_identities()
        if then is not None:
            then()

    @work(group="invites", name="Accepting the invite", exit_on_error=False)
    async def accept_invite(self, invite: Invite) -> None:
        self.notify(f"Joining {invite.name}…")
        room_id = await self.bridge.call(lambda e: e.join(invite.room_id))
        self.notify(f"You joined {invite.name}", title="Joined")
        if self._main is not None:
            self._main.select_when_listed(room_id)

    def invited(self, room_id: str, user_id: str, result: object) -> None:
        """An invite went out (`result`: the engine's ShareResult, or None). The demo's app notes
        who got keys, for Alice's bot; the plain app has nothing to do."""

    def ask_decline(self, invite: Invite) -> None:
        """Decline after a confirmation (declining cannot be undone without a new invite)."""
        from .screens.confirm import ConfirmScreen

        def answered(answer: str | None) -> None:
            if answer == "yes":
                self.decline_invite(invite)

        question = f"Decline the invite to {invite.name} from {invite.inviter_label}?"
        self.push_screen(ConfirmScreen(question, confirm="Decline"), answered)

    @work(group="invites", name="Declining the invite", exit_on_error=False)
    async def decline_invite(self, invite: Invite) -> None:
        await self.bridge.call(lambda e: e.decline(invite.room_id))
        self.notify(f"Declined the invite to {invite.name}")

    @work(group="create", name="Creating the room", exit_on_error=False)
    async def create_room(self, name: str, encrypted: bool, history_visibility: str) -> None:
        self.notify(f"Creating {name}…")
        room_id = await self.bridge.call(
            lambda e: e.create_room(name, encrypted=encrypted, history_visibility=history_visibility)
        )
        self.notify(f"Created {name}", title="Room created")
        if self._main is not None:
            self._main.select_when_listed(room_id)

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


def run_app(backend: Backend, *, restored: bool, loaded: LoadedSettings, profile: str) -> int:
    """Run the terminal UI on an opened backend (the CLI builds it); returns the exit code."""
    runtime.tune()
    app = TuiApp(backend, restored=restored, settings=loaded.settings, problems=loaded.problems, profile=profile)
    app.freeze_after_start = True
    app.run()
    return app.return_code or 0
