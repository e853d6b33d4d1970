"""The command the hint line gives for the second terminal works there (issue 16, item 3): a
fresh clone's venv is not on PATH, so it names the running executable."""

from __future__ import annotations

import sys
from pathlib import Path

from tui_client.demo import launcher


def test_a_venv_not_on_path_is_named_by_its_path(tmp_path: Path, monkeypatch):
    exe = tmp_path / "clone" / ".venv" / "bin" / "tui-client"
    exe.parent.mkdir(parents=True)
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(exe), "demo"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert launcher.demo_command() == "~/clone/.venv/bin/tui-client"
    monkeypatch.setenv("HOME", "/nonexistent")
    assert launcher.demo_command() == str(exe)


def test_plain_name_when_the_shell_finds_the_same_program(tmp_path: Path, monkeypatch):
    exe = tmp_path / "bin" / "tui-client"
    exe.parent.mkdir()
    exe.write_text("#!/bin/sh\n")
    exe.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(exe), "demo"])
    monkeypatch.setenv("PATH", f"{exe.parent}:/usr/bin")
    assert launcher.demo_command() == "tui-client"


def test_run_as_a_module(monkeypatch):
    monkeypatch.setattr(sys, "argv", ["/somewhere/tui_client/__main__.py", "demo"])
    monkeypatch.setenv("HOME", "/nonexistent")
    assert launcher.demo_command() == f"{sys.executable} -m tui_client"
