"""Which demo windows are open on a demo directory, so the homeserver and Alice's bot live as long
as any of them does.

Each `tui-client demo` process (Bob's, Charlie's, `--server-only`) registers its pid in
`DEMO_DIR/windows/` while it runs. The one that started the homeserver does not stop it when it
quits while another window still uses it: it leaves it running, and the last window to quit stops
it (and the bot). Deciding "am I the last one?" and unregistering happen under one file lock, so
two windows quitting at once cannot both leave, or both stop, the homeserver.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no locking, best effort
    fcntl = None  # type: ignore[assignment]

WINDOWS_DIR = "windows"
LOCK_FILE = "windows.lock"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie (exited, not yet reaped) is not a window any more
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rpartition(")")[2].split()[:1] != ["Z"]


@contextlib.contextmanager
def windows_lock(base: Path) -> Iterator[None]:
    """Hold the demo directory's window lock (blocking)."""
    handle = open(base / LOCK_FILE, "a+b")  # noqa: SIM115 - closed below
    try:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        yield
    finally:
        handle.close()  # drops the lock


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
        if _alive(pid):
            found.append(pid)
        else:
            entry.unlink(missing_ok=True)
    return sorted(found)


__all__ = ["live_windows", "register", "unregister", "windows_lock"]
