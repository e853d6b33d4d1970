"""One process per profile: nio's Olm state is corrupted by two writers (matrix-nio#72).

The lock is an advisory `flock` on `<profile>/lock`; the kernel drops it when the process
dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class ProfileLockedError(Exception):
    pass


class ProfileLock:
    def __init__(self, profile_dir: Path, profile: str) -> None:
        self.path = profile_dir / "lock"
        self.profile = profile
        self._fd: int | None = None

    def acquire(self) -> None:
        if self._fd is not None:
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                try:
                    holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
                finally:
                    os.close(fd)
                raise ProfileLockedError(
                    f"profile {self.profile!r} is already open in another tui-client process "
                    f"(pid {holder}); close it first or use --profile"
                ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            if fcntl is not None:
                fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    @property
    def held(self) -> bool:
        return self._fd is not None
