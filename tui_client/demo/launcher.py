"""`tui-client demo`'s world: start (or reuse) the demo homeserver, the story and Alice's bot
for one demo window, and tidy up after it. The CLI runs the window (the TUI) in between:

    with demo_world(as_user="bob") as demo:    # DemoRefused when it cannot go ahead
        ...                                    # the TUI on demo.profile_dir("bob"), or `serve`
    # leaving stops what this window started, unless another demo window still uses it: the
    # last window to quit stops the homeserver and the bot

`--server-only` (`serve`) prints the URL and the users' passwords instead of starting the TUI, for
use with Element Web or another terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from ..logs import set_log_context
from ..procs import process_alive
from .cast import BOT_MODULE, BOT_PID_FILE, ROOM_NAME, SERVER_NAME, USERS
from .story import Demo
from .windows import register, unregister, windows_lock

logger = logging.getLogger(__name__)


class DemoRefused(Exception):
    """The demo cannot go ahead as asked; the message says why and `code` is the exit code."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


def _say(line: str) -> None:
    print(line, flush=True)  # visible progress before the TUI


def start_bot(demo: Demo) -> subprocess.Popen:
    """Start Alice's bot in its own process (and session: a crash, or a Ctrl-C meant for the
    TUI, never crosses over). Its pid goes to `bot.pid`, where the TUI looks to see it is alive."""
    stop_leftover_bot(demo)
    log = open(demo.base / "bot.stdout.log", "ab")
    proc = subprocess.Popen(
        [sys.executable, "-m", BOT_MODULE, str(demo.base)],
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
    except (OSError, ValueError):
        path.unlink(missing_ok=True)
        return
    if process_alive(pid, (BOT_MODULE, str(demo.base))):
        logger.info("stopping the bot a previous demo left running (pid %s)", pid)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        else:
            for _ in range(50):
                time.sleep(0.1)
                if not process_alive(pid):
                    break
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


@contextlib.contextmanager
def demo_world(*, as_user: str = "bob", fresh: bool = False, base: Path | None = None,
               say: Callable[[str], None] = _say) -> Iterator[Demo]:
    """The demo's world, ready for `as_user`'s window: this window registered, the homeserver
    started (or shared with the window that started it), the story staged, Alice's bot running.
    On leaving, what this window started is stopped, unless another demo window still uses it.

    Raises `DemoRefused` when the demo cannot go ahead (an unknown user, `fresh` while another
    window is open, another demo still setting up)."""
    if as_user not in USERS:
        raise DemoRefused(f"--as takes one of {', '.join(USERS)}", code=2)
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
            raise DemoRefused(f"another demo window is open (pid {', '.join(map(str, others))}); quit it "
                              "before starting afresh")
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
            raise DemoRefused("another demo is still setting up; try again in a moment")
        set_log_context(f"demo:{as_user}")
        logger.info("demo ready in %.1f s", time.monotonic() - t0)
        yield demo
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


def serve(demo: Demo, as_user: str, say: Callable[[str], None] = _say) -> None:
    """`--server-only`: say where the homeserver is and how to log in, then wait for Ctrl-C."""
    say(f"\nDemo homeserver: {demo.url}   (server name: {SERVER_NAME})")
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
