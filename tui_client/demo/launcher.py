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

from ..logs import set_log_context
from .story import ROOM_NAME, USERS, Demo
from .windows import register, unregister, windows_lock

logger = logging.getLogger(__name__)


BOT_PID_FILE = "bot.pid"


def start_bot(demo: Demo) -> subprocess.Popen:
    """Start Alice's bot in its own process (and session: a crash, or a Ctrl-C meant for the
    TUI, never crosses over). Its pid goes to `bot.pid`, where the TUI looks to see it is alive."""
    stop_leftover_bot(demo)
    log = open(demo.base / "bot.stdout.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui_client.demo.bot", str(demo.base)],
        stdout=log, stderr=log, stdin=subprocess.DEVNULL, start_new_session=True,
    )
    log.close()
    (demo.base / BOT_PID_FILE).write_text(f"{proc.pid}\n")
    return proc


def stop_bot(demo: Demo, proc: subprocess.Popen | None) -> None:
    stop_process(proc)
    if proc is not None:
        (demo.base / BOT_PID_FILE).unlink(missing_ok=True)


def stop_leftover_bot(demo: Demo) -> None:
    """Stop a bot a killed launcher left behind (it holds Alice's profile). Only a process whose
    command line is our bot on this demo directory is touched."""
    path = demo.base / BOT_PID_FILE
    try:
        pid = int(path.read_text().strip())
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return
    if b"tui_client.demo.bot" in cmdline and str(demo.base).encode() in cmdline:
        logger.info("stopping the bot a previous demo left running (pid %s)", pid)
        try:
            os.kill(pid, signal.SIGTERM)
            for _ in range(50):
                time.sleep(0.1)
                os.kill(pid, 0)
        except ProcessLookupError:
            pass
    path.unlink(missing_ok=True)


def stop_process(proc: subprocess.Popen | None, timeout: float = 5.0) -> None:
    if proc is None or proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout)


def _exit_on_signal(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)


def demo_command() -> str:
    """How to start this program again from another terminal, e.g. `~/src/tui_client/.venv/bin/
    tui-client` (the hint line and the README tell people to run the demo as Charlie with it).
    Just `tui-client` when that is what the shell finds."""
    import shutil

    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name in ("tui-client", "tui-client.exe"):
        found = shutil.which("tui-client")
        if found and Path(found).resolve() == argv0.resolve():
            return "tui-client"
        return _home_relative(argv0.absolute())
    return f"{_home_relative(Path(sys.executable))} -m tui_client"


def _home_relative(path: Path) -> str:
    try:
        return f"~/{path.relative_to(Path.home())}"
    except ValueError:
        return str(path)


def run_demo(*, as_user: str = "bob", fresh: bool = False, server_only: bool = False,
             hints: bool = True, base: Path | None = None) -> int:
    if as_user not in USERS:
        print(f"error: --as takes one of {', '.join(USERS)}", file=sys.stderr)
        return 2
    say = lambda line: print(line, flush=True)  # noqa: E731 - visible progress before the TUI
    demo = Demo(base, progress=say)
    bot = None
    # Closing the terminal or a kill must still reach the `finally` below, which stops the
    # homeserver and the bot (both run in their own sessions, so no signal reaches them).
    handled = [s for s in (getattr(signal, "SIGHUP", None), signal.SIGTERM) if s is not None]
    for sig in handled:
        signal.signal(sig, _exit_on_signal)
    with windows_lock(demo.base):
        others = demo.other_windows()
        if fresh and others:
            print(f"error: another demo window is open (pid {', '.join(map(str, others))}); quit it "
                  "before starting afresh", file=sys.stderr)
            return 1
        register(demo.base)
    try:
        if fresh:
            say("Starting the demo afresh…")
            demo.reset()
        t0 = time.monotonic()
        demo.start_server()
        if demo.owns_server:
            set_log_context("demo set-up")
            asyncio.run(demo.prepare(replay=as_user == "bob"))
            bot = start_bot(demo)
        elif not demo.state.story_done:
            print("error: another demo is still setting up; try again in a moment", file=sys.stderr)
            return 1
        set_log_context(f"demo:{as_user}")
        logger.info("demo ready in %.1f s", time.monotonic() - t0)
        if server_only:
            say(f"\nDemo homeserver: {demo.url}   (server name: localhost)")
            say("Users (user id / user name / password):")
            for user_id, user, password in demo.credentials():
                say(f"  {user_id:22} {user:8} {password}")
            if demo.state.room_id:
                pending = "  (Bob has a pending invite from Alice)" if as_user == "bob" else ""
                say(f"Room: {ROOM_NAME} {demo.state.room_id}{pending}")
            say("Alice's bot answers messages in the room. Press Ctrl-C to stop.")
            try:
                signal.pause() if hasattr(signal, "pause") else time.sleep(10**9)
            except KeyboardInterrupt:
                pass
            return 0
        from ..ui.demo import run_demo_app

        return run_demo_app(demo, as_user, hints=hints, command=demo_command())
    finally:
        for sig in handled:
            signal.signal(sig, signal.SIG_IGN)  # tidy up undisturbed
        with windows_lock(demo.base):
            unregister(demo.base)
            others = demo.other_windows()
            if others:
                # Another window (Charlie's, say) still uses the homeserver and Alice: leave them
                # running; the last window to quit stops them.
                demo.leave_running()
                say(f"The demo homeserver and Alice keep running for the other demo window (pid "
                    f"{', '.join(map(str, others))}); they stop when it quits.")
            else:
                stop_bot(demo, bot)
                stop_leftover_bot(demo)
                if demo.owns_server:
                    demo.stop()
                else:
                    demo.stop_leftover()
