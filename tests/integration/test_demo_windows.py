"""Two demo windows on one demo directory (issue 16, item 9): quitting the one that started the
homeserver leaves it, and Alice's bot, running for the other; the last one to quit stops both.

Run with `tui-client demo --server-only`, which is a demo window without the TUI."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from tui_client.procs import process_alive

pytestmark = pytest.mark.integration


class Window:
    """A `tui-client demo --server-only` process whose output is read as it comes."""

    def __init__(self, env: dict, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tui_client", "demo", "--server-only", *args],
            env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            # Ctrl-C in a terminal: a run started in the background by a non-interactive shell
            # (as CI may be) passes SIGINT on ignored, and the window would never hear it.
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
        self.lines: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def wait_for(self, text: str, timeout: float = 180) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.5)
            except queue.Empty:
                if self.proc.poll() is not None:
                    break
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} never came; the window said: {self.seen}")

    def quit(self) -> str:
        self.proc.send_signal(signal.SIGINT)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"the window did not quit on Ctrl-C; it said: {self.seen}") from None
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "\n".join(self.seen)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_matrix/client/versions", timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def eventually(predicate, timeout: float = 20) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return predicate()


def test_the_homeserver_lives_as_long_as_any_demo_window(cli_env, synapse_python_path):
    env = {**cli_env, "TUI_CLIENT_SYNAPSE_PYTHON": str(synapse_python_path)}
    base = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "demo"
    bob = Window(env)
    charlie = None
    try:
        url = bob.wait_for("Demo homeserver:").split()[2]
        bob.wait_for("Press Ctrl-C to stop.")
        bot = int((base / "bot.pid").read_text())
        charlie = Window(env, "--as", "charlie")
        charlie.wait_for("Press Ctrl-C to stop.", timeout=60)

        said = bob.quit()
        assert bob.proc.returncode == 0
        assert "The demo homeserver and Alice keep running for the other demo window" in said
        time.sleep(2.5)  # (the bot checks every second whether it is still wanted)
        assert answers(url) and process_alive(bot), "the homeserver and Alice must outlive the first window"

        charlie.quit()
        assert charlie.proc.returncode == 0
        assert eventually(lambda: not answers(url)), "the last window stops the homeserver"
        assert eventually(lambda: not process_alive(bot)), "the last window stops Alice's bot"
        assert not any((base / "windows").iterdir())
    finally:
        for window in (bob, charlie):
            if window is not None and window.proc.poll() is None:
                window.proc.kill()
                window.proc.wait(10)
        # Whatever happened, nothing of this test keeps running.
        for pid_file in (base / "bot.pid", base / "synapse" / "synapse.pid"):
            try:
                os.kill(int(pid_file.read_text()), signal.SIGKILL)
            except (OSError, ValueError):
                pass
