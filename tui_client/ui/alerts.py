"""Telling the user about a new message in a room they are not looking at: the terminal bell
(tmux and screen flag the window, most terminals flash or beep) and, where the desktop offers
one, a desktop notification (`notify-send`, freedesktop). Both follow the settings
`notify_bell` / `notify_desktop`: "mentions" (a mention, a keyword or a direct message), "all"
(whatever the push rules say to notify), "off".

The desktop notification carries text from other people: it is sanitised (safe_text) and cut
short, and passed as arguments, never through a shell.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
from collections.abc import Callable, Mapping

from ..safe_text import clean, clean_name

logger = logging.getLogger(__name__)

MAX_BODY = 200


def wanted(setting: str, *, highlight: bool, direct: bool) -> bool:
    """Whether a notification with these facts should alert, under `setting`."""
    if setting == "all":
        return True
    if setting == "mentions":
        return highlight or direct
    return False


def desktop_command(env: Mapping[str, str] | None = None, which: Callable[[str], str | None] = shutil.which) -> str | None:
    """The notify-send to call, or None when the desktop offers none (no session bus or display,
    or the tool is not installed)."""
    env = os.environ if env is None else env
    if not (env.get("DBUS_SESSION_BUS_ADDRESS") or env.get("DISPLAY") or env.get("WAYLAND_DISPLAY")):
        return None
    return which("notify-send")


def desktop_args(tool: str, title: str, body: str) -> list[str]:
    text = clean(body).replace("\n", " ")
    if len(text) > MAX_BODY:
        text = text[: MAX_BODY - 1] + "…"
    return [tool, "--app-name=tui-client", "--", clean_name(title)[:100], text]


def send_desktop(args: list[str]) -> None:
    """Run notify-send (in a worker thread: it can take a moment); failures are only logged."""
    try:
        subprocess.run(args, check=False, timeout=5, stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError) as exc:
        logger.info("desktop notification failed: %s", exc)


def open_with_system(path: object) -> bool:
    """Open a file with the system's viewer (xdg-open, open); False when there is none. The path
    is ours (a file we saved), passed as an argument, never through a shell."""
    import sys

    tool = "open" if sys.platform == "darwin" else "xdg-open"
    found = shutil.which(tool)
    if found is None:
        return False
    try:
        subprocess.Popen([found, str(path)], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, start_new_session=True)
    except OSError as exc:
        logger.info("could not open %s: %s", path, exc)
        return False
    return True
