"""Log lines say which process and profile wrote them; the bot's log is INFO, without
markdown-it's traces (issue 16, item 17). Each case runs in its own interpreter, as the
processes of a demo do."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def python(code: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, **(env or {})}, check=True)


def test_every_line_of_the_log_file_names_its_pid_and_profile(tmp_path: Path):
    config = tmp_path / "config.toml"
    config.write_text('no_such_setting = 1\n')
    env = {"XDG_STATE_HOME": str(tmp_path / "state"), "XDG_DATA_HOME": str(tmp_path / "data"),
           "XDG_CONFIG_HOME": str(tmp_path / "cfg"), "TUI_CLIENT_CONFIG": str(config)}
    proc = subprocess.Popen([sys.executable, "-m", "tui_client", "--profile", "carol", "doctor"],
                            env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.communicate(timeout=60)
    log = (tmp_path / "state" / "tui-client" / "log" / "tui-client.log").read_text()
    lines = [line for line in log.splitlines() if line.strip()]
    assert lines and all(re.search(rf" \[{proc.pid} carol\] ", line) for line in lines), log


def test_the_bot_log_is_info_and_free_of_markdown_traces(tmp_path: Path):
    python(
        "import logging, pathlib\n"
        "from tui_client.demo.bot import setup_bot_logging\n"
        f"setup_bot_logging(pathlib.Path({str(tmp_path)!r}))\n"
        "from tui_client.engine.outgoing import text_content\n"
        "text_content('**hello** _there_')\n"
        "logging.getLogger('tui_client.demo.bot').info('alice is listening')\n"
        "logging.getLogger('tui_client.engine').debug('a debug line')\n",
        env={"XDG_STATE_HOME": str(tmp_path / "state")},
    )
    log = (tmp_path / "bot.log").read_text()
    assert re.search(r" \[\d+ demo:alice-bot\] INFO    tui_client.demo.bot: alice is listening", log), log
    assert "markdown_it" not in log and "a debug line" not in log
