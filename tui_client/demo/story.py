"""The demo's world: a private Synapse in the demo directory, four cross-signed users, and the
story of an encrypted room whose history Alice shares with Bob when she invites him.

Headless (no UI imports): the launcher, the Alice bot and the tests all use it.

Cast:
- alice  runs on our engine in the background (the bot) and invites bob;
- bob    is the person at the keyboard (the TUI);
- charlie is invited by bob in the second act (`tui-client demo --as charlie`);
- dave   is a room member on a "legacy" client that never marks its keys shareable, so his
         message is the one Bob sees as "not shared" and can read why.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from .. import paths
from ..config import Settings
from ..engine.engine import Engine
from ..engine.session import load_session, save_session, write_private_file
from ..homeserver import SynapseServer, ensure_synapse, synapse_python

logger = logging.getLogger(__name__)

USERS = ("alice", "bob", "charlie", "dave")
ROOM_NAME = "Project Aurora"
HISTORY = (
    ("alice", "Welcome to Project Aurora! 🌌 This room is end-to-end encrypted."),
    ("alice", "The launch checklist is in the **shared drive**; please review it by Friday."),
    ("dave", "I'll handle the telescope calibration. (Dave's client predates history sharing.)"),
    ("alice", "Great. When I invite new people, my client hands them the keys to what we said here."),
)
Progress = Callable[[str], None]


def password_for(user: str) -> str:
    return f"demo-{user}-password"


@dataclass
class DemoState:
    port: int | None = None
    room_id: str | None = None
    story_done: bool = False
    launcher_pid: int | None = None

    @classmethod
    def load(cls, path: Path) -> DemoState:
        try:
            raw = json.loads(path.read_text())
            return cls(**{k: raw.get(k) for k in cls.__dataclass_fields__})
        except (OSError, ValueError, TypeError):
            return cls()

    def save(self, path: Path) -> None:
        write_private_file(path, json.dumps(asdict(self), indent=2).encode())


class Demo:
    """The demo directory and its homeserver (reused between runs; `fresh` starts over)."""

    def __init__(self, base: Path | None = None, progress: Progress = print) -> None:
        self.base = paths.ensure_private_dir(base or paths.demo_dir())
        self.progress = progress
        self.state_path = self.base / "state.json"
        self.state = DemoState.load(self.state_path)
        self.server: SynapseServer | None = None
        self.owns_server = False

    # -- locations --------------------------------------------------------------------------

    def profile_dir(self, user: str) -> Path:
        return self.base / "profiles" / user

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.state.port}"

    def user_id(self, user: str) -> str:
        return f"@{user}:localhost"

    def settings(self) -> Settings:
        return Settings(demo_hints=True)

    # -- the homeserver -------------------------------------------------------------------------

    def reset(self) -> None:
        """Forget everything (--fresh)."""
        import shutil

        self.stop()
        for child in ("synapse", "profiles", "state.json", "bot.log"):
            target = self.base / child
            if target.is_dir():
                shutil.rmtree(target)
            elif target.exists():
                target.unlink()
        self.state = DemoState()

    def server_answering(self) -> bool:
        if not self.state.port:
            return False
        import urllib.request

        try:
            with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1) as resp:
                return resp.status == 200
        except OSError:
            return False

    def start_server(self) -> None:
        """Start the demo's Synapse (installing it first, with progress, the first time), or
        attach to one another demo process already runs."""
        if self.server_answering():
            logger.info("using the demo homeserver already running at %s", self.url)
            return
        python = synapse_python()
        if python is None:
            self.progress("First run: installing the Synapse homeserver for the demo (about a minute)…")
            python = ensure_synapse(progress=lambda line: self.progress(f"  {line}"))
        started = time.monotonic()
        if not (self.base / "synapse").exists():
            self.progress("Creating the demo homeserver…")
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
        if server.port != self.state.port:
            self.state.port = server.port
            self.state.save(self.state_path)
            self._point_profiles_at(self.url)
        logger.info("demo homeserver ready at %s in %.1f s", self.url, time.monotonic() - started)

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

    def stop(self) -> None:
        if self.server is not None and self.owns_server:
            self.server.stop()
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

    async def prepare(self) -> None:
        """Play the story up to "alice invites bob", once per demo directory."""
        if self.state.story_done and self.state.room_id:
            return
        self.progress("Setting the scene: Alice, Dave and an encrypted room…")
        self.register_users()
        engines: dict[str, Engine] = {}
        try:
            # Every device exists (and is cross-signed) before anyone is invited: key bundles
            # go to the devices the invitee has at that moment.
            for user in USERS:
                engines[user] = await self.engine(user, legacy=user == "dave")
            alice, dave = engines["alice"], engines["dave"]
            room_id = await alice.create_room(ROOM_NAME, history_visibility="shared", topic="Encrypted history sharing demo")
            await alice.invite(room_id, dave.user_id)
            await dave.wait_until(lambda: any(i.room_id == room_id for i in dave.invites()), 30)
            await dave.join(room_id)
            await alice.wait_until(lambda: alice.room(room_id) is not None and alice.room(room_id).joined_count == 2, 30)
            for who, text in HISTORY:
                await engines[who].send_text(room_id, text)
                # alice must have seen every message: she lists dave's key as not shared, and
                # counts the messages her keys open for the invite's summary.
                await alice.wait_until(lambda t=text: any(i.body == t for i in alice.timeline(room_id)), 30)
            result = await alice.invite(room_id, self.user_id("bob"))
            logger.info("demo: alice invited bob: %s", result)
            bob = engines["bob"]
            await bob.wait_until(lambda: any(i.room_id == room_id and i.bundle for i in bob.invites()), 30)
            self.state.room_id = room_id
            self.state.story_done = True
            self.state.save(self.state_path)
        finally:
            for engine in engines.values():
                await engine.close()

    def credentials(self) -> list[tuple[str, str, str]]:
        return [(self.user_id(u), u, password_for(u)) for u in USERS]
