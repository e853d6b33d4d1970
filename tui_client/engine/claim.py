"""Claiming a profile before the engine exists: its lock, its saved session, its store checked.

Everything here is light (no nio, no Textual): the TUI claims the profile first, so that a
profile locked by another process or a store that cannot be used is one line on stderr with its
exit code before the terminal is taken over, then draws its first screen, and only then builds
the engine (importing nio and opening the store) on the engine thread (`host.EngineHost` with an
opener). An `Engine` given the claim uses its lock and session instead of taking them again.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .. import paths
from .lock import ProfileLock
from .session import SessionInfo, load_session
from .store_guard import check_store


@dataclass
class ClaimedProfile:
    profile: str
    directory: Path
    lock: ProfileLock
    session: SessionInfo | None  # None: nobody is logged in (the TUI shows its login screen)


def claim_profile(profile: str, profile_dir: Path | None = None) -> ClaimedProfile:
    """Lock the profile, read its session and check its crypto store.

    Raises `ProfileLockedError`, `SessionFileError` or `StoreError` (nothing held then)."""
    directory = profile_dir or paths.profile_dir(profile)
    lock = ProfileLock(paths.ensure_private_dir(directory), profile)
    lock.acquire()
    try:
        info = load_session(directory)
        if info is not None:
            check_store(directory, profile, info)
    except BaseException:
        lock.release()
        raise
    return ClaimedProfile(profile, directory, lock, info)
