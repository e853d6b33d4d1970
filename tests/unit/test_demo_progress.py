"""The demo's first run never leaves the screen silent while Synapse installs (issue 16, item 14)."""

from __future__ import annotations

import time
from pathlib import Path

from tui_client.demo import story
from tui_client.demo.story import Demo


def test_a_slow_install_still_says_something_every_few_seconds(tmp_path: Path, monkeypatch):
    def slow_install(progress):
        time.sleep(0.6)  # pip says nothing we can parse the whole time
        return Path("/usr/bin/python3")

    monkeypatch.setattr(story, "ensure_synapse", slow_install)
    monkeypatch.setattr("tui_client.homeserver.default_env_dir", lambda: tmp_path / "no-env")
    lines: list[str] = []
    demo = Demo(tmp_path / "demo", progress=lines.append)
    assert demo._install_synapse(every=0.05, quiet_for=0.15) == Path("/usr/bin/python3")
    assert len(lines) >= 3, lines
    assert all(line.startswith("  … ") and "preparing the install" in line for line in lines), lines
