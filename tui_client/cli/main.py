"""The entry point: settings, logging, then the TUI or one command, with its exit code."""

from __future__ import annotations

import asyncio
import logging
import os
import sys

from .. import paths
from ..config import load_settings
from ..logs import set_log_context, setup_logging
from .common import EXIT_FAILED, EXIT_LOCKED, EXIT_PROFILE_UNUSABLE, CliError
from .output import err
from .parser import parse_command_line
from .tui import run_tui

logger = logging.getLogger("tui_client.cli")


def main(argv: list[str] | None = None) -> int:
    # Everything the client writes (store, session, logs, screenshots, key files) is for this
    # user only: files 0600, directories 0700, whatever the shell's umask.
    os.umask(0o077)
    args, refuse = parse_command_line(argv)
    loaded = load_settings()
    args.settings = loaded.settings
    args.config_problems = loaded.problems
    args.profile = args.profile or loaded.settings.default_profile
    try:
        paths.validate_profile_name(args.profile)
    except ValueError as exc:
        refuse(str(exc))
    level = args.log_level or loaded.settings.log_level
    setup_logging(level, stderr_level="DEBUG" if args.verbose else None)
    set_log_context(args.profile if args.command != "demo" else "demo")
    for problem in loaded.problems:
        logger.warning("config: %s", problem)
        if args.command:
            err(f"warning: {problem}")
    if not args.command:
        return run_tui(args.profile, loaded)
    from ..engine.errors import (
        EngineError,
        ProfileLockedError,
        SessionFileError,
        StoreError,
    )

    try:
        if not asyncio.iscoroutinefunction(args.func):
            return args.func(args)
        return asyncio.run(args.func(args))
    except ProfileLockedError as exc:
        err(f"error: {exc}")
        return EXIT_LOCKED
    except (StoreError, SessionFileError) as exc:
        err(f"error: {exc}")
        return EXIT_PROFILE_UNUSABLE
    except (CliError, EngineError) as exc:
        from ..engine.errors_text import explain

        logger.info("%s failed: %s", args.command, exc)
        err(f"error: {explain(str(exc))}")
        return EXIT_FAILED
    except KeyboardInterrupt:
        err("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
