"""The demo's world: a private Synapse in the demo directory, four cross-signed users (the cast,
see cast.py), and the story of an encrypted room whose history Alice shares with Bob when she
invites him.

Headless (no UI imports): the launcher, the Alice bot and the tests all use it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from pathlib import Path

from ..engine.engine import Engine
from ..engine.session import load_session, save_session
from ..homeserver import SynapseServer, ensure_synapse, synapse_python
from .cast import HISTORY, ROOM_NAME, USERS, password_for
from .directory import DemoDirectory, DemoState

logger = logging.getLogger(__name__)

Progress = Callable[[str], None]


def _pip_step(log: Path) -> str | None:
    """The newest step in pip's log, e.g. "collecting twisted" (None before pip starts)."""
    try:
        with open(log, "rb") as handle:
            handle.seek(0, 2)
            handle.seek(max(0, handle.tell() - 4096))
            lines = handle.read().decode("utf-8", "replace").splitlines()
    except OSError:
        return None
    for line in reversed(lines):
        words = line.split()
        if line.startswith(("Collecting ", "Processing ")) and len(words) > 1:
            name = words[1].split("/")[-1]
            for sep in ("<", ">", "=", "[", "-0", "-1", "-2", "-3", "-4", "-5", "-6", "-7", "-8", "-9", "!", "~"):
                name = name.split(sep)[0]
            return f"fetching {name}"
        if line.startswith("Installing collected packages"):
            return "installing the packages"
        if line.startswith("Successfully installed"):
            return "checking the install"
    return None


class Demo(DemoDirectory):
    """The demo directory with its homeserver (reused between runs; `fresh` starts over) and the
    engines that play the story."""

    def __init__(self, base: Path | None = None, progress: Progress = print) -> None:
        super().__init__(base)
        self.progress = progress
        self.server: SynapseServer | None = None
        self.owns_server = False

    # -- the homeserver -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (--fresh)."""
        import shutil

        self.stop()
        for child in ("synapse", "profiles", "state.json", "bot.log", "shares.json"):
            target = self.base / child
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        self.state = DemoState()

    def start_server(self) -> None:
        """Start the demo's Synapse (installing it first, with progress, the first time), or
        attach to one another demo process already runs."""
        if self.server_answering():
            if self.other_windows():
                logger.info("using the demo homeserver already running at %s", self.url)
                return
            # Left behind by a demo that was killed: SynapseServer stops it (by its pid file).
            self.progress("Restarting the homeserver a previous demo left running…")
        python = synapse_python()
        if python is None:
            self.progress("First run: installing the Synapse homeserver for the demo (a minute or two)…")
            python = self._install_synapse()
        started = time.monotonic()
        if not (self.base / "synapse").exists():
            self.progress("Creating the demo homeserver…")
        else:
            self.progress(f"Starting the demo homeserver ({self.base})…")
        port = self.state.port
        server = SynapseServer(self.base / "synapse", port=port, python=python)
        try:
            server.start()
        except Exception:
            if port is None:
                raise
            # The old port is taken by something else: take any free one.
            server = SynapseServer(self.base / "synapse", python=python)
            server.start()
        self.server, self.owns_server = server, True
        self.state.launcher_pid = os.getpid()
        if server.port != self.state.port:
            self.state.port = server.port
            self._point_profiles_at(self.url)
        self.state.save(self.state_path)
        logger.info("demo homeserver ready at %s in %.1f s", self.url, time.monotonic() - started)

    def _install_synapse(self, every: float = 4.0, quiet_for: float = 10.0) -> Path:
        """`ensure_synapse`, saying every few seconds what pip is doing, and at least every
        `quiet_for` seconds that it is still at it, so the wait is never a silent screen."""
        import threading

        from ..homeserver import default_env_dir

        result: dict[str, object] = {}

        def install() -> None:
            try:
                result["python"] = ensure_synapse(progress=lambda line: self.progress(f"  {line}"))
            except BaseException as exc:  # handed to the caller below
                result["error"] = exc

        worker = threading.Thread(target=install, name="install-synapse", daemon=True)
        started = time.monotonic()
        worker.start()
        log = default_env_dir() / "install.log"
        said, said_at = "", started
        while worker.is_alive():
            worker.join(every)
            if worker.is_alive():
                step = _pip_step(log)
                now = time.monotonic()
                if (step and step != said) or now - said_at >= quiet_for:
                    still = "still " if step and step == said else ""
                    self.progress(f"  … {now - started:.0f} s: {still}{step or 'preparing the install'}")
                    said, said_at = step or said, now
        if "error" in result:
            raise result["error"]  # type: ignore[misc]
        return result["python"]  # type: ignore[return-value]

    def _point_profiles_at(self, url: str) -> None:
        """Saved demo sessions remember the homeserver URL; keep it in step with the port."""
        from dataclasses import replace

        for user in USERS:
            directory = self.profile_dir(user)
            info = load_session(directory) if directory.exists() else None
            if info is not None and info.homeserver != url:
                save_session(directory, replace(info, homeserver=url))

    def register_users(self) -> None:
        assert self.server is not None
        for user in USERS:
            self.server.register_user(user, password_for(user), displayname=user.capitalize())

    def leave_running(self) -> None:
        """Quit without stopping the homeserver we started: another demo window still uses it
        (and the last one to quit stops it, with `stop_leftover`)."""
        if self.server is not None and self.owns_server:
            self.server.detach()
            if self.state.launcher_pid == os.getpid():
                self.state.launcher_pid = None
                self.state.save(self.state_path)
        self.server = None
        self.owns_server = False

    def stop_leftover(self) -> None:
        """Stop the demo homeserver another window started and left running for us."""
        if (self.base / "synapse").exists():
            try:
                SynapseServer(self.base / "synapse").stop_leftover()
            except Exception:  # e.g. another process holds it after all: leave it be
                logger.warning("could not stop the demo homeserver left running", exc_info=True)

    def stop(self) -> None:
        if self.server is not None and self.owns_server:
            self.server.stop()
            if self.state.launcher_pid == os.getpid():
                self.state.launcher_pid = None
                self.state.save(self.state_path)
        self.server = None
        self.owns_server = False

    # -- the story ---------------------------------------------------------------------------

    async def engine(self, user: str, *, legacy: bool = False) -> Engine:
        """A logged-in engine for a demo user (logs in on first use, restores afterwards)."""
        engine = Engine(user, profile_dir=self.profile_dir(user), settings=self.settings(), legacy_no_shared_history=legacy)
        if not await engine.open():
            await engine.login(self.url, user, password_for(user), device_name=f"demo ({user})")
        await engine.sync_once()
        return engine

    async def prepare(self, *, replay: bool = False) -> None:
        """Play the story up to "alice invites bob", once per demo directory.

        With `replay` (Bob's `tui-client demo` on a reused directory), play it again in a new room
        when Bob already answered the last invite, so every run starts at the invite; the cast
        leaves the old story's room first. Users, devices and the homeserver are reused.
        """
        if self.state.story_done and self.state.room_id:
            if not replay or await self._invite_pending():
                return
            self.progress("Setting the scene again: a new room and a new invite for Bob…")
        else:
            self.progress("Setting the scene: Alice, Dave and an encrypted room…")
            self.register_users()
        engines: dict[str, Engine] = {}
        try:
            # Every device exists (and is cross-signed) before anyone is invited: key bundles
            # go to the devices the invitee has at that moment.
            for user in USERS:
                engines[user] = await self.engine(user, legacy=user == "dave")
            await self._leave_old_rooms(engines)
            self.state.story_done = False
            self.state.save(self.state_path)
            await self._stage(engines)
        finally:
            for engine in engines.values():
                await engine.close()

    async def _invite_pending(self) -> bool:
        """Whether Bob's invite (with its key bundle) from the last story still waits for him."""
        bob = await self.engine("bob")
        try:
            return any(i.room_id == self.state.room_id and i.bundle for i in bob.invites())
        finally:
            await bob.close()

    async def _leave_old_rooms(self, engines: dict[str, Engine]) -> None:
        """Everyone leaves (or declines) earlier stories' rooms, so the room list shows one story."""
        for engine in engines.values():
            for invite in engine.invites():
                if invite.name == ROOM_NAME:
                    await engine.decline(invite.room_id)
            for room in engine.rooms():
                if room.name == ROOM_NAME:
                    await engine.leave(room.room_id)

    async def _stage(self, engines: dict[str, Engine]) -> None:
        alice, dave, bob = engines["alice"], engines["dave"], engines["bob"]
        room_id = await alice.create_room(ROOM_NAME, history_visibility="shared", topic="Encrypted history sharing demo")
        await alice.invite(room_id, dave.user_id)
        await dave.wait_until(lambda: any(i.room_id == room_id for i in dave.invites()), 30)
        await dave.join(room_id)
        def dave_joined() -> bool:
            room = alice.room(room_id)
            return room is not None and room.joined_count == 2

        await alice.wait_until(dave_joined, 30)
        for who, text in HISTORY:
            await engines[who].send_text(room_id, text)
            # alice must have seen every message: she lists dave's key as not shared, and
            # counts the messages her keys open for the invite's summary.
            await alice.wait_until(lambda: any(i.body == text for i in alice.timeline(room_id)), 30)
        result = await alice.invite(room_id, self.user_id("bob"))
        logger.info("demo: alice invited bob: %s", result)
        self.shares_path.unlink(missing_ok=True)  # the last story's
        if result is not None and result.shared:
            self.record_share(room_id, self.user_id("bob"), alice.user_id, result.devices)
        await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 30)
        self.state.room_id = room_id
        self.state.story_done = True
        self.state.save(self.state_path)
