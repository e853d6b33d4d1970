"""What every command shares: its errors and exit codes, secrets read from a prompt or stdin, and
running a body on an opened, synced engine."""

from __future__ import annotations

import argparse
import getpass
import logging
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from .output import err

logger = logging.getLogger("tui_client.cli")


EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_PROFILE_UNUSABLE = 1, 2, 3, 4


class CliError(Exception):
    pass


def read_secret(args: argparse.Namespace, attr: str, stdin_flag: str, prompt: str) -> str:
    value = getattr(args, attr, None)
    if value:
        return value
    if getattr(args, stdin_flag, False) or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(prompt)
    if not value:
        raise CliError(f"no {attr.replace('_', ' ')} given")
    return value


# -- command implementations ---------------------------------------------------------------------


EXIT_FAILED, EXIT_USAGE, EXIT_LOCKED, EXIT_PROFILE_UNUSABLE = 1, 2, 3, 4


async def with_engine(
    args: argparse.Namespace, body: Callable[[Any], Awaitable[int]], *, sync: bool = True,
    broken_store_ok: bool = False, offline_ok: bool = False,
) -> int:
    """Run `body` on the profile's engine, after one sync. With `offline_ok`, a homeserver that
    cannot be reached is said on stderr and `body` reads what the last sync kept
    (`args.offline` is then True)."""
    from ..engine.engine import Engine
    from ..engine.errors import Unreachable

    engine = Engine(args.profile, settings=args.settings)
    args.offline = False
    try:
        if not await engine.open(broken_store_ok=broken_store_ok):
            raise CliError(f"profile {args.profile!r} is not logged in; run `tui-client login` first")
        if sync:
            try:
                await engine.sync_once()
            except Unreachable as exc:
                if not offline_ok:
                    raise
                args.offline = True
                err(f"offline: {exc}; showing what was kept from the last sync")
        code = await body(engine)
        if engine.logged_in and not engine.store_problem and not args.offline:
            await engine.flush()
        return code
    finally:
        await engine.close()


async def resolve_room(engine: Any, room: str, *, invited_ok: bool = False) -> str:
    """A room id from an id, an alias or an exact room name."""
    return str(await engine.resolve_room(room, invited_ok=invited_ok))


def remove_unused_profile(directory: Path) -> None:
    """Remove a profile folder a failed login created (no session in it), so a typo does not
    leave a profile behind."""
    import shutil

    if not (directory / "session.json").exists():
        shutil.rmtree(directory, ignore_errors=True)


def read_passphrase(args: argparse.Namespace, prompt: str, *, confirm: bool = False) -> str:
    if args.passphrase_stdin or not sys.stdin.isatty():
        value = sys.stdin.readline().rstrip("\n")
    else:
        value = getpass.getpass(prompt)
        if confirm and getpass.getpass("Repeat it: ") != value:
            raise CliError("the passphrases do not match")
    if not value:
        raise CliError("no passphrase given")
    return value
