"""One process per profile: nio's Olm state is corrupted by two writers (matrix-nio#72).

An advisory lock on `<profile>/lock` (`fsutil.FileLock`); the kernel drops it when the process
dies, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

from pathlib import Path

from ..fsutil import FileLock, LockHeld
from .errors import ProfileLockedError as ProfileLockedError  # (defined with the other errors, for front ends)


class ProfileLock:
    def __init__(self, profile_dir: Path, profile: str) -> None:
        self.path = profile_dir / "lock"
        self.profile = profile
        self._lock = FileLock(self.path)

    def acquire(self) -> None:
        try:
            self._lock.acquire()
        except LockHeld as exc:
            raise ProfileLockedError(
                f"profile {self.profile!r} is already open in another tui-client process "
                f"(pid {exc.holder}); close it first or use --profile"
            ) from None

    def release(self) -> None:
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._lock.held
