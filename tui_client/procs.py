"""Is that process still there, and is it ours? One answer (psutil's) for every layer.

The demo's windows, Alice's bot and a Synapse left running are known by the pid a file recorded.
A pid outlives its process: an exited child stays a zombie until reaped, and the system reuses
the number for something else later. So "alive" here means running and not a zombie, and a caller
about to signal a process first checks that its command line is the one it started.
"""

from __future__ import annotations

from collections.abc import Iterable

import psutil


def process_cmdline(pid: int) -> list[str] | None:
    """The command line of process `pid`; None when no such process runs (a zombie counts as
    gone). Empty when it cannot be read: another user's process, or one caught mid-exec (for a
    moment after `exec` the kernel has not set the new arguments yet)."""
    if pid <= 0:
        return None
    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return None
        return process.cmdline()
    except psutil.NoSuchProcess:  # (ZombieProcess is one)
        return None
    except psutil.AccessDenied:
        return []


def process_alive(pid: int, expect_in_cmdline: str | Iterable[str] = (), *, blank_ok: bool = False) -> bool:
    """Whether process `pid` runs (a zombie does not) and, when `expect_in_cmdline` names
    strings, whether each of them is one of its arguments (whole: "/x/demo" is not "/x/demo2"),
    so that a reused pid is not taken for ours. A command line that reads empty (see
    `process_cmdline`) counts as a match only with `blank_ok`: fine for "is the bot still up?",
    never before sending a signal."""
    cmdline = process_cmdline(pid)
    if cmdline is None:
        return False
    wanted = [expect_in_cmdline] if isinstance(expect_in_cmdline, str) else list(expect_in_cmdline)
    if not wanted:
        return True
    if not cmdline:
        return blank_ok
    return all(word in cmdline for word in wanted)


__all__ = ["process_alive", "process_cmdline"]
