"""`tui-client demo`: start (or reuse) the demo homeserver and story, Alice's bot, then the TUI.

Quitting stops everything this process started. `--server-only` prints the URL and the users'
passwords instead of starting the TUI, for use with Element Web or another terminal.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from .story import USERS, Demo

logger = logging.getLogger(__name__)


def start_bot(demo: Demo) -> subprocess.Popen:
    log = open(demo.base / "bot.stdout.log", "ab")
    return subprocess.Popen(
        [sys.executable, "-m", "tui_client.demo.bot", str(demo.base)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def run_demo(*, as_user: str = "bob", fresh: bool = False, server_only: bool = False,
             hints: bool = True, base: Path | None = None) -> int:
    if as_user not in USERS:
        print(f"error: --as takes one of {', '.join(USERS)}", file=sys.stderr)
        return 2
    say = lambda line: print(line, flush=True)  # noqa: E731 - visible progress before the TUI
    demo = Demo(base, progress=say)
    bot = None
    try:
        if fresh:
            say("Starting the demo afresh…")
            demo.reset()
        t0 = time.monotonic()
        demo.start_server()
        if demo.owns_server:
            asyncio.run(demo.prepare())
            bot = start_bot(demo)
        elif not demo.state.story_done:
            print("error: another demo is still setting up; try again in a moment", file=sys.stderr)
            return 1
        logger.info("demo ready in %.1f s", time.monotonic() - t0)
        if server_only:
            say(f"\nDemo homeserver: {demo.url}   (server name: localhost)")
            say("Users (user / password):")
            for user_id, user, password in demo.credentials():
                say(f"  {user_id:22} {user:8} {password}")
            if demo.state.room_id:
                say(f"Room: {demo.state.room_id}")
            say("Press Ctrl-C to stop.")
            try:
                signal.pause() if hasattr(signal, "pause") else time.sleep(10**9)
            except KeyboardInterrupt:
                pass
            return 0
        from ..ui.app import run_demo_app

        return run_demo_app(demo, as_user, hints=hints)
    finally:
        stop_process(bot)
        demo.stop()
