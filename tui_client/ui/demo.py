"""The TUI of `tui-client demo`: the ordinary app on a demo user's profile, plus a guided hint
line and palette commands for the story's next steps (inviting Charlie).

`run_demo_app(backend, ...)` is what the CLI calls once the demo launcher has the homeserver, the
story and Alice's bot up, and the CLI has opened the user's demo profile. It knows the demo by
its directory (`tui_client.demo.directory`: state, shares, the bot's pid), never by the engines
that play the story. `DemoApp` is `TuiApp` with three additions and no changes to what the app
does:

- a `HintLine` mounted above the main screen's footer, fed by `tui_client.demo.guide.Guide` with
  `Facts` read off the screen a few times a second (f9 hides and shows it; `--no-hints` starts
  with it hidden);
- palette commands offering "Invite Charlie" (and the rest of the cast) for the open room, listed
  first;
- SIGHUP/SIGTERM end the app cleanly, so closing the terminal still lets the launcher stop the
  homeserver and the bot.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Callable
from functools import partial
from typing import Any

from textual.binding import Binding

from ..config import Settings
from ..demo.cast import ROOM_NAME, USERS
from ..demo.directory import DemoDirectory
from ..demo.guide import NOT_SHARED, OTHER, SHARED, Facts, Guide, Hint
from .app import TuiApp
from .bridge import Backend
from .widgets.footer import Footer
from .widgets.hints import HintLine

logger = logging.getLogger(__name__)


class DemoApp(TuiApp):
    """tui-client's UI for the demo: the same app, with a guide."""

    BINDINGS = [
        Binding("f9", "toggle_hints", "Hints", id="toggle_hints", tooltip="Show or hide the demo's hint line"),
    ]

    def __init__(
        self,
        backend: Backend,
        *,
        demo: DemoDirectory,
        user: str,
        hints: bool = True,
        bot_check: Callable[[], bool | None] | None = None,
        poll_interval: float = 0.25,
        command: str = "tui-client",
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("profile", user)
        super().__init__(backend, **kwargs)
        self.demo = demo
        self.demo_user = user
        self.hints_on = hints
        self.guide = Guide(user, command=command)
        self.hint: Hint | None = None
        self._landed: set[str] = set()  # invites the app has put the focus on, once each
        self._server_gone = False
        self._server_checked = 0.0
        self._bot_alive = bot_check or demo.bot_alive
        self._poll_interval = poll_interval
        self._signals: list[tuple[int, Any]] = []
        self.sub_title = f"demo: you are {user.capitalize()}"

    # -- start-up and shut-down ---------------------------------------------------------------

    def on_mount(self) -> None:
        # (Textual runs TuiApp.on_mount too, as it does every class's handler: no super() here.)
        self.set_interval(self._poll_interval, self.refresh_hint)
        if not self.is_headless and sys.platform != "win32":
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGHUP, signal.SIGTERM):
                try:
                    previous = signal.getsignal(sig)
                    loop.add_signal_handler(sig, self._terminate)
                    self._signals.append((sig, previous))
                except (NotImplementedError, RuntimeError, ValueError):
                    pass

    def on_unmount(self) -> None:
        loop = asyncio.get_running_loop()
        for sig, previous in self._signals:
            loop.remove_signal_handler(sig)  # (which resets it to the default: kill)
            signal.signal(sig, previous if previous is not None else signal.SIG_DFL)
        self._signals.clear()

    def _terminate(self) -> None:
        """The terminal went away or someone asked us to stop: leave so the launcher can tidy up."""
        logger.info("demo: signal received, quitting")
        self.exit(0)

    # -- the story's state ---------------------------------------------------------------------

    @property
    def room_id(self) -> str | None:
        """The demo room: the one the story was last played in (by id), else by name."""
        wanted = self.demo.state.room_id
        for invite in self.invites:
            if invite.room_id == wanted:
                return wanted
        for room in self.rooms:
            if room.room_id == wanted:
                return wanted
        named = [i.room_id for i in self.invites if i.name == ROOM_NAME] + [r.room_id for r in self.rooms if r.name == ROOM_NAME]
        return named[-1] if named else wanted

    def facts(self) -> Facts:
        """What the guide needs to know, read off the app and the main screen."""
        from .screens.confirm import ConfirmScreen
        from .widgets.timeline import Timeline

        room_id = self.room_id
        alice = self.demo.user_id("alice")
        charlie = self.demo.user_id("charlie")
        invite = next((i for i in self.invites if i.room_id == room_id), None)
        room = next((r for r in self.rooms if r.room_id == room_id), None)
        values: dict[str, Any] = {"bot_alive": self._bot_alive()}
        if invite is not None:
            values["invite_from"] = invite.inviter_name or invite.inviter_label
            if invite.bundle is not None:
                values["invite_bundle"] = True
                values["invite_messages"] = invite.bundle.message_count
        if room is not None:
            values["joined"] = True
            values["charlie_in_room"] = any(
                m.user_id == charlie and m.membership in ("invite", "join") for m in room.members
            )
            values["charlie_joined"] = any(m.user_id == charlie and m.membership == "join" for m in room.members)
            if values["charlie_in_room"] and self.demo_user == "bob":
                values["charlie_got_keys"] = charlie in self.demo.shares(room.room_id)
        values["server_gone"] = self._server_gone
        main = self.main_screen
        if main is not None and main.is_mounted and room is not None and main.current_room == room_id:
            timelines = main.query(Timeline)
            timeline = timelines.first() if timelines else None
            if timeline is not None and timeline.room_id == room_id:
                items = [i for i in timeline.items if i.is_message]
                shared = [i for i in items if i.provenance is not None]
                values["room_open"] = True
                values["shared_count"] = len(shared)
                if shared:
                    values["shared_by"] = shared[0].provenance.shared_by_name or shared[0].provenance.shared_by
                values["not_shared_count"] = sum(1 for i in items if i.failure_code == "not_shared")
                values["charlie_spoke"] = any(i.sender == charlie for i in items)
                own = [n for n, i in enumerate(items) if i.own and not i.failed]
                values["own_messages"] = len(own)
                if own:
                    values["answered"] = any(i.sender == alice for i in items[own[-1] + 1:])
                if timeline.has_focus and timeline.selected:
                    item = next((i for i in timeline.items if i.event_id == timeline.selected), None)
                    if item is not None:
                        values["selected"] = (
                            SHARED if item.provenance is not None
                            else NOT_SHARED if item.failure_code == "not_shared" else OTHER
                        )
        screen = self.screen
        if isinstance(screen, ConfirmScreen) and charlie in screen.question:
            values["dialog"] = "invite"
        return Facts(**values)

    def refresh_hint(self) -> None:
        main = self.main_screen
        if main is None or not main.is_mounted:
            return
        self._land_on_invite(main)
        self._watch_server()
        try:
            self.hint = self.guide.update(self.facts())
        except Exception:  # the guide is a nicety: never let it take the demo down
            logger.exception("demo: could not work out the next hint")
            return
        lines = main.query(HintLine)
        if not lines:
            footers = main.query(Footer)
            line = HintLine(id="demo-hint")
            line.display = self.hints_on
            if footers:
                main.mount(line, before=footers.first())
            else:
                main.mount(line)
        else:
            line = lines.first()
        main.set_class(self.hints_on, "-hints")  # (toasts keep clear of the hint line)
        line.show_hint(self.hint.text, self.hint.tone, self.keys_for(self._toggle_binding()))

    def _land_on_invite(self, main: Any) -> None:
        """Put this run's invite on screen with the focus on it, once, whatever else the profile
        holds (rooms made in earlier runs, other invites): the hint says "press a to accept"."""
        from .widgets.invite_card import InviteCard
        from .widgets.room_list import INVITE_PREFIX, RoomList

        room_id = self.demo.state.room_id
        if room_id is None or room_id in self._landed or self.screen is not main:
            return
        if not any(i.room_id == room_id for i in self.invites):
            return
        room_list = main.query_one(RoomList)
        # Chosen explicitly even when the list already shows it by default: a default choice gives
        # way to the first room when the rooms arrive after the invites.
        room_list.select_id(INVITE_PREFIX + room_id)
        current = room_list.current_invite
        if current is None or current.room_id != room_id:
            return  # its card is mounted next; focus it on the next tick
        cards = main.query("#invite-pane InviteCard")
        card = cards.first() if cards else None
        if isinstance(card, InviteCard) and card.invite.room_id == room_id and card.is_mounted:
            card.focus()
            self._landed.add(room_id)

    def _watch_server(self) -> None:
        """While syncing fails, check (now and then, off the UI thread) whether the demo's
        homeserver is gone, e.g. stopped with the other window: then the hint says so plainly."""
        import time

        if self.sync_state.state not in ("retrying", "offline"):
            self._server_gone = False
            return
        if time.monotonic() - self._server_checked < 3:
            return
        self._server_checked = time.monotonic()

        async def check() -> None:
            answering = await asyncio.to_thread(self.demo.server_answering)
            self._server_gone = not answering

        self.run_worker(check(), group="demo-server", exclusive=True, exit_on_error=False)

    def invited(self, room_id: str, user_id: str, result: object) -> None:
        """Note for Alice's bot whose devices got this room's keys (she only sees the room)."""
        if result is not None and getattr(result, "shared", False):
            try:
                self.demo.record_share(room_id, user_id, self.user_id, tuple(getattr(result, "devices", ())))
            except OSError as exc:
                logger.warning("demo: could not record the keys shared with %s: %s", user_id, exc)

    def _toggle_binding(self) -> Binding:
        return next(b for b in DemoApp.BINDINGS if isinstance(b, Binding) and b.id == "toggle_hints")

    def action_toggle_hints(self) -> None:
        self.hints_on = not self.hints_on
        main = self.main_screen
        if main is not None:
            main.set_class(self.hints_on, "-hints")
            for line in main.query(HintLine):
                line.display = self.hints_on

    # -- the palette -------------------------------------------------------------------------

    def extra_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        return self.demo_commands()

    def demo_commands(self) -> list[tuple[str, str, Callable[[], Any]]]:
        main = self.main_screen
        if main is None or main.current_room is None:
            return []
        room = main.room(main.current_room)
        if room is None:
            return []
        present = {m.user_id for m in room.members if m.membership in ("join", "invite")}
        commands: list[tuple[str, str, Callable[[], Any]]] = []
        for user in ("charlie", *USERS):
            user_id = self.demo.user_id(user)
            title = f"Invite {user.capitalize()}"
            if user == self.demo_user or user_id in present or any(c[0] == title for c in commands):
                continue
            commands.append((
                title,
                f"Invite {user_id} to {room.name}, with the keys you hold to earlier messages",
                partial(main.invite_user, room, user_id),
            ))
        return commands

    # -- bindings for the help screen and the palette -------------------------------------------

    def binding_sources(self) -> list[tuple[str, type]]:
        return [(label, DemoApp if cls is TuiApp else cls) for label, cls in super().binding_sources()]


def run_demo_app(
    backend: Backend, *, restored: bool, demo: DemoDirectory, as_user: str, settings: Settings,
    hints: bool = True, command: str = "tui-client",
) -> int:
    """Run the demo's TUI as `as_user` on an opened backend (their demo profile); returns the
    exit code."""
    app = DemoApp(backend, demo=demo, user=as_user, hints=hints, restored=restored, settings=settings, command=command)
    app.run()
    return app.return_code or 0
