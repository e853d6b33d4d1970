"""Claiming a profile before the engine exists: its lock, its saved session, its store checked.

Everything here is light (no nio, no Textual): the TUI claims the profile first, so that a
profile locked by another process or a store that cannot be used is one line on stderr with its
exit code before the terminal is taken over, then draws its first screen, and only then builds
the engine (importing nio and opening the store) on the engine thread (`host.EngineHost` with an
opener). An `Engine` given the claim uses its lock and session instead of taking them again.

The claim also reads the offline cache's room list (sqlite and the store key, no nio), so that
first screen already lists the rooms kept by the last run, until the engine's list replaces it.
"""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path

from .. import paths
from .lock import ProfileLock
from .models import RoomSummary
from .session import SessionInfo, load_session
from .store_guard import check_store, has_sync_token, store_path
from .timeline.cache import read_room_list


@dataclass
class ClaimedProfile:
    profile: str
    directory: Path
    lock: ProfileLock
    session: SessionInfo | None  # None: nobody is logged in (the TUI shows its login screen)
    kept_rooms: tuple[RoomSummary, ...] = ()  # the offline cache's room list, in list order
    never_synced: bool = False  # the store has no sync token: the next sync is an initial one
    # That initial sync, asked for early (first_sync.prefetch): the engine's first sync uses it.
    early_sync: Future[bytes] | None = None
    # The sliding sync of the first rooms only, for the room list meanwhile (first_sync.prefetch_glimpse).
    early_glimpse: Future[bytes] | None = None


def claim_profile(profile: str, profile_dir: Path | None = None) -> ClaimedProfile:
    """Lock the profile, read its session, check its crypto store and read its cached room list.

    Raises `ProfileLockedError`, `SessionFileError` or `StoreError` (nothing held then)."""
    directory = profile_dir or paths.profile_dir(profile)
    lock = ProfileLock(paths.ensure_private_dir(directory), profile)
    lock.acquire()
    kept: list[RoomSummary] = []
    never_synced = False
    try:
        info = load_session(directory)
        if info is not None:
            check_store(directory, profile, info)
            kept = read_room_list(store_path(directory), info.store_key)
            never_synced = not has_sync_token(store_path(directory))
    except BaseException:
        lock.release()
        raise
    return ClaimedProfile(profile, directory, lock, info, tuple(kept), never_synced)
