"""The demo directory and what can be read from it without the engine or the homeserver: the
story's state (port, room), who shared keys with whom, whether Alice's bot and the homeserver are
up, and which demo windows are open. The demo's UI works from this; `story.Demo` adds the
homeserver and the engines that play the story.

    DEMO_DIR/state.json    port, the story's room, whether it is staged, the launcher's pid
    DEMO_DIR/shares.json   whose devices got the room's key bundle, from whom (for Alice's bot)
    DEMO_DIR/bot.pid       Alice's bot
    DEMO_DIR/windows/      one file per open demo window (see windows.py)
    DEMO_DIR/profiles/     the cast's profiles;  DEMO_DIR/synapse/  the homeserver
"""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from .. import paths
from ..config import Settings
from ..fsutil import write_private_file
from ..procs import process_alive
from . import cast
from .windows import live_windows


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
        except (OSError, ValueError, TypeError, AttributeError):
            return cls()

    def save(self, path: Path) -> None:
        write_private_file(path, json.dumps(asdict(self), indent=2).encode())


class DemoDirectory:
    """One demo directory (default `paths.demo_dir()`), created private on first use."""

    def __init__(self, base: Path | None = None) -> None:
        self.base = paths.ensure_private_dir(base or paths.demo_dir())
        self.state_path = self.base / "state.json"
        self.state = DemoState.load(self.state_path)

    # -- locations and names ----------------------------------------------------------------------

    def profile_dir(self, user: str) -> Path:
        return self.base / "profiles" / user

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.state.port}"

    def user_id(self, user: str) -> str:
        return cast.user_id(user)

    def settings(self) -> Settings:
        return Settings(demo_hints=True)

    def credentials(self) -> list[tuple[str, str, str]]:
        """(user id, user name, password) of each of the cast."""
        return [(cast.user_id(u), u, cast.password_for(u)) for u in cast.USERS]

    # -- what runs ----------------------------------------------------------------------------------

    def server_answering(self) -> bool:
        if not self.state.port:
            return False
        try:
            with urllib.request.urlopen(f"{self.url}/_matrix/client/versions", timeout=1) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False

    def bot_alive(self) -> bool | None:
        """Whether Alice's bot (whose pid the launcher wrote to bot.pid) still runs; None when no
        bot was started for this directory."""
        try:
            pid = int((self.base / cast.BOT_PID_FILE).read_text().strip())
        except (OSError, ValueError):
            return None
        # (Right after the exec its command line can read empty for a moment: still the bot.)
        return process_alive(pid, cast.BOT_MODULE, blank_ok=True)

    def other_windows(self) -> list[int]:
        """Pids of the other demo processes using this directory (the registered windows, and
        the process that started the homeserver if it is still there)."""
        pids = set(live_windows(self.base, besides=os.getpid()))
        owner = self.state.launcher_pid
        if owner is not None and owner != os.getpid() and process_alive(owner):
            pids.add(owner)
        return sorted(pids)

    # -- who shared keys with whom (for Alice's bot, which only sees the room) -----------------

    @property
    def shares_path(self) -> Path:
        return self.base / "shares.json"

    def shares(self, room_id: str) -> dict[str, dict[str, Any]]:
        """{invitee: {"by": sharer, "devices": [device ids the key bundle went to]}} for a room."""
        try:
            found = json.loads(self.shares_path.read_text()).get(room_id, {})
        except (OSError, ValueError, AttributeError):
            return {}
        return found if isinstance(found, dict) else {}

    def record_share(self, room_id: str, invitee: str, sharer: str, devices: list[str] | tuple[str, ...]) -> None:
        """Note that `sharer` sent `invitee`'s `devices` the room's key bundle (only the
        current story's room is kept)."""
        current = self.shares(room_id)
        current[invitee] = {"by": sharer, "devices": list(devices)}
        write_private_file(self.shares_path, json.dumps({room_id: current}, indent=2).encode())
