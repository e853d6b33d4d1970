"""The terminal UI and the demo: where the engine is built and handed to the UI."""

from __future__ import annotations

import argparse
import logging
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

from .. import paths
from ..config import LoadedSettings, Settings

if TYPE_CHECKING:
    from concurrent.futures import Future

    from ..demo.story import Demo
    from ..engine.claim import ClaimedProfile
    from ..engine.engine import Engine
    from ..engine.host import EngineHost
    from ..engine.models import RoomSummary

from .common import (
    EXIT_FAILED,
    EXIT_LOCKED,
    EXIT_PROFILE_UNUSABLE,
    remove_unused_profile,
)
from .output import err

logger = logging.getLogger("tui_client.cli")


def open_backend(profile: str, settings: Settings, profile_dir: Path | None = None) -> tuple[EngineHost, bool]:
    """An `EngineHost` with its profile opened (locked, session restored if there is one), and
    whether a session was restored.

    Raises `ProfileLockedError` when another process has the profile open, `StoreError` or
    `SessionFileError` when its saved session or crypto store cannot be used.
    """
    from ..engine.engine import Engine
    from ..engine.host import EngineHost

    host = EngineHost(Engine(profile, settings=settings, profile_dir=profile_dir))
    host.start()
    try:
        restored = host.run(lambda e: e.open()).result(timeout=120)
    except BaseException:
        host.stop()
        raise
    return host, bool(restored)


def deferred_backend(profile: str, settings: Settings, profile_dir: Path | None = None) -> tuple[EngineHost, ClaimedProfile]:
    """An `EngineHost` on a claimed profile (locked, session read, store checked, cached room list
    read: nothing heavy) whose engine is built and opened on its thread when the UI calls
    `begin()` after its first frame, so that importing nio and opening the store never delay it;
    and the claim (whether a session exists, the rooms to show until the engine answers). On a
    first start after login the initial sync is asked for at once, with a sliding sync of the
    newest rooms for the list meanwhile (`engine.first_sync`): the server works while the UI
    imports and draws, and the engine, begun after the first frame as on any start, takes the
    answer. (Begun at once, its imports shared the GIL with the UI's and the first frame came
    0.3-0.4 s later.)

    Raises as `open_backend` does, before anything is started."""
    from ..engine.claim import claim_profile
    from ..engine.host import EngineHost

    claimed = claim_profile(profile, profile_dir)
    if claimed.session is not None and claimed.never_synced:
        from ..engine.first_sync import prefetch, prefetch_glimpse

        # The server works while we import: the newest rooms for the list, and the full sync.
        claimed.early_glimpse = prefetch_glimpse(claimed.session)
        claimed.early_sync = prefetch(claimed.session)
    host = EngineHost(opener=engine_opener(claimed, settings), on_unopened=claimed.lock.release)
    host.start()
    if claimed.session is not None and not claimed.kept_rooms and claimed.early_sync is None:
        host.begin()  # (nothing to list before the engine: it may as well start at once)
    return host, claimed


def engine_opener(claimed: ClaimedProfile, settings: Settings) -> Callable[[], Awaitable[Engine]]:
    """What builds and opens the engine on a claimed profile, on the engine thread."""

    async def open_engine() -> Engine:
        from ..engine.engine import Engine  # (nio is imported here, on the engine thread)

        engine = Engine(claimed.profile, settings=settings, profile_dir=claimed.directory, claimed=claimed)
        try:
            await engine.open()
        except BaseException:
            await engine.close()
            raise
        return engine

    return open_engine


def run_tui(profile: str, loaded: LoadedSettings) -> int:
    """`tui-client` without a command: claim the profile *before* the terminal is taken over (so
    a locked or unusable profile is one line on stderr and its exit code), then run the UI on it,
    listing the rooms the cache kept; the engine opens behind the UI's first frame."""
    from ..engine.errors import ProfileLockedError, SessionFileError, StoreError

    directory = paths.profile_dir(profile)
    existed = directory.exists()
    try:
        host, claimed = deferred_backend(profile, loaded.settings)
    except ProfileLockedError as exc:
        err(f"error: {exc}")
        return EXIT_LOCKED
    except (StoreError, SessionFileError) as exc:
        err(f"error: {exc}")  # the same sentence as the commands'
        return EXIT_PROFILE_UNUSABLE
    except Exception as exc:
        logger.exception("could not open profile %s", profile)
        err(f"error: could not open profile {profile!r}: {exc}")
        return EXIT_FAILED
    try:
        from ..ui.app import run_app

        glimpses: tuple[Future[tuple[RoomSummary, ...]], ...] = ()
        if claimed.early_sync is not None and claimed.session is not None:
            from ..engine import first_sync

            quick = ([(claimed.early_glimpse, first_sync.glimpse_sliding)]
                     if claimed.early_glimpse is not None else [])
            glimpses = first_sync.glimpses_of([*quick, (claimed.early_sync, first_sync.glimpse)],
                                              claimed.session.user_id)
        return run_app(host, restored=claimed.session is not None, loaded=loaded, profile=profile,
                       kept_rooms=claimed.kept_rooms, glimpses=glimpses)
    finally:
        host.stop()  # a no-op after a clean quit; closes the engine if the app ended otherwise
        if not existed:
            # Nobody logged in (or every attempt failed): leave no empty profile behind.
            remove_unused_profile(directory)


def run_demo_tui(demo: Demo, as_user: str, *, hints: bool, command: str) -> int:
    """The demo's TUI as `as_user`, on their profile in the demo directory."""
    from ..engine.errors import ProfileLockedError
    from ..ui.demo import run_demo_app

    settings = demo.settings()
    try:
        host, restored = open_backend(as_user, settings, profile_dir=demo.profile_dir(as_user))
    except ProfileLockedError:
        who = "Alice's bot" if as_user == "alice" else "another terminal"
        err(f"error: {as_user.capitalize()}'s demo profile is open in {who}; "
            "use another user (--as bob or --as charlie) or quit that one first")
        return EXIT_LOCKED
    except Exception as exc:
        logger.exception("could not open the demo profile of %s", as_user)
        err(f"error: could not open {as_user}'s demo profile: {exc}")
        return EXIT_FAILED
    try:
        return run_demo_app(host, restored=restored, demo=demo, as_user=as_user, settings=settings,
                            hints=hints, command=command)
    finally:
        host.stop()


def cmd_demo(args: argparse.Namespace) -> int:
    """The launcher sets up the demo's world (homeserver, story, Alice's bot) for this window, the
    demo's UI runs on it, and leaving the `with` tidies up what this window started."""
    from ..demo.launcher import DemoRefused, demo_command, demo_world, serve

    try:
        with demo_world(as_user=args.as_user, fresh=args.fresh) as demo:
            if args.server_only:
                serve(demo, args.as_user)
                return 0
            return run_demo_tui(demo, args.as_user, hints=not args.no_hints and args.settings.demo_hints,
                                command=demo_command())
    except DemoRefused as exc:
        err(f"error: {exc}")
        return exc.code
