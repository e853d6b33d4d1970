"""Which demo windows are open on a demo directory, so the homeserver and Alice's bot live as long
as any of them does.

Each `tui-client demo` process (Bob's, Charlie's, `--server-only`) registers its pid in
`DEMO_DIR/windows/` while it runs. The one that started the homeserver does not stop it when it
quits while another window still uses it: it leaves it running, and the last window to quit stops
it (and the bot). Deciding "am I the last one?" and unregistering happen under one file lock, so
two windows quitting at once cannot both leave, or both stop, the homeserver.
"""

from __future__ import annotations

import os
from pathlib import Path

from ..fsutil import FileLock
from ..procs import process_alive

WINDOWS_DIR = "windows"
LOCK_FILE = "windows.lock"


def windows_lock(base: Path) -> FileLock:
    """The demo directory's window lock: `with windows_lock(base):` holds it (waiting for it)."""
    return FileLock(base / LOCK_FILE)


def register(base: Path, pid: int | None = None) -> None:
    directory = base / WINDOWS_DIR
    directory.mkdir(mode=0o700, exist_ok=True)
    (directory / str(pid or os.getpid())).touch()


def unregister(base: Path, pid: int | None = None) -> None:
    (base / WINDOWS_DIR / str(pid or os.getpid())).unlink(missing_ok=True)


def live_windows(base: Path, *, besides: int | None = None) -> list[int]:
    """Pids of the demo windows still running (stale entries of killed ones are removed)."""
    directory = base / WINDOWS_DIR
    found = []
    try:
        entries = list(directory.iterdir())
    except OSError:
        return []
    for entry in entries:
        try:
            pid = int(entry.name)
        except ValueError:
            continue
        if pid == besides:
            continue
        if process_alive(pid):  # (a zombie, exited and not yet reaped, is not a window)
            found.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return sorted(found)


__all__ = ["live_windows", "register", "unregister", "windows_lock"]
