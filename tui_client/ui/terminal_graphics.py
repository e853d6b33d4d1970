"""What the terminal can draw images with, asked once before Textual owns the terminal, in one
round trip and behind the start-up's imports.

textual-image asks the terminal three questions when it is imported (its cell size in pixels,
sixel support, kitty's graphics protocol), one after the other, each waiting up to 0.1 s for an
answer many terminals never send: 0.1-0.3 s before the first frame, for previews most starts
never show. Here the questions go out together, followed by the primary device attributes query
(DA1), which every terminal answers, and answers last: a terminal that ignores the others is done
in one round trip, and one that answers nothing costs one 0.1 s wait. `start()` asks on a thread
while the UI's modules import; `finish()` waits for the answer before Textual takes stdin.

textual-image is imported when the first preview is drawn (`widget_class`), told the answers
instead of asking: once Textual reads stdin, its questions would race Textual for the answers.
"""

from __future__ import annotations

import contextlib
import functools
import io
import os
import re
import select
import sys
import termios
import threading
import time
import tty
from collections.abc import Iterator
from typing import Any

from ..records import record

TIMEOUT = 0.1  # seconds to wait for the terminal's answers (what textual-image waits per question)
DEFAULT_CELL = (10, 20)  # (width, height) in pixels: a VT340's, textual-image's fallback too

# Cell size in pixels (XTWINOPS 16), kitty's graphics protocol (a query that draws nothing), DA1.
_QUESTIONS = b"\x1b[16t\x1b_Gi=31,s=1,v=1,a=q,t=d,f=24;AAAA\x1b\\\x1b[c"
_CELL_ANSWER = re.compile(rb"\x1b\[6;(\d+);(\d+)t")
_TGP_ANSWER = re.compile(rb"\x1b_Gi=31;OK\x1b\\")
_DA1_ANSWER = re.compile(rb"\x1b\[\?([\d;]*)c")


@record
class Graphics:
    protocol: str  # "sixel", "tgp" (kitty's) or "halfcell" (coloured half cells: any terminal)
    cell: tuple[int, int]  # (width, height) of a cell in pixels


_answer: Graphics | None = None
_thread: threading.Thread | None = None


def start() -> None:
    """Ask the terminal on a thread (nothing to ask without one: tests, pipes)."""
    global _thread
    if _thread is not None or _answer is not None:
        return
    if not (sys.__stdin__ and sys.__stdout__ and sys.__stdin__.isatty() and sys.__stdout__.isatty()):
        return
    _thread = threading.Thread(target=_probe, name="terminal-graphics", daemon=True)
    _thread.start()


def finish() -> None:
    """Wait until the terminal has answered (or not): it must be free before Textual reads it."""
    if _thread is not None:
        _thread.join()


def graphics() -> Graphics:
    """The answers, or what a terminal without graphics gets when nobody asked."""
    finish()
    return _answer or Graphics("halfcell", _cell_from_env() or DEFAULT_CELL)


def _probe() -> None:
    global _answer
    try:
        _answer = parse(_ask(), _cell_from_ioctl() or _cell_from_env())
    except (OSError, termios.error, ValueError):
        _answer = None  # (graphics() falls back to half cells)


def _ask() -> bytes:
    """Send the questions and read until DA1's answer or the timeout, in cbreak mode."""
    stdin, stdout = sys.__stdin__.fileno(), sys.__stdout__.fileno()  # type: ignore[union-attr]
    saved = termios.tcgetattr(stdin)
    tty.setcbreak(stdin, termios.TCSANOW)
    try:
        os.write(stdout, _QUESTIONS)
        got = b""
        deadline = time.monotonic() + TIMEOUT
        while not _DA1_ANSWER.search(got):
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([stdin], [], [], remaining)[0]:
                break
            got += os.read(stdin, 1024)
        return got
    finally:
        termios.tcsetattr(stdin, termios.TCSANOW, saved)


def parse(answers: bytes, known_cell: tuple[int, int] | None) -> Graphics:
    """What the answers say; sixel before kitty's protocol, as textual-image prefers."""
    cell = known_cell
    if cell is None and (found := _CELL_ANSWER.search(answers)):
        height, width = int(found.group(1)), int(found.group(2))
        cell = (width, height) if width and height else None
    da1 = _DA1_ANSWER.search(answers)
    if da1 and "4" in da1.group(1).decode().split(";"):
        protocol = "sixel"
    elif _TGP_ANSWER.search(answers):
        protocol = "tgp"
    else:
        protocol = "halfcell"
    return Graphics(protocol, cell or DEFAULT_CELL)


def _cell_from_ioctl() -> tuple[int, int] | None:
    import fcntl
    import struct

    packed = fcntl.ioctl(sys.__stdout__.fileno(), termios.TIOCGWINSZ, b"\0" * 8)  # type: ignore[union-attr]
    rows, columns, width, height = struct.unpack("HHHH", packed)
    if rows and columns and width and height:
        return width // columns, height // rows
    return None


def _cell_from_env() -> tuple[int, int] | None:
    """textual-serve's web terminals say it in the environment."""
    width, height = os.environ.get("TEXTUAL_CELL_WIDTH", ""), os.environ.get("TEXTUAL_CELL_HEIGHT", "")
    return (int(width), int(height)) if width.isdigit() and height.isdigit() else None


@functools.cache
def widget_class() -> Any:
    """textual-image's widget for this terminal, imported now, with the answers given to it."""
    from textual_image import _terminal

    found = graphics()
    setattr(_terminal.get_cell_size, "_result", _terminal.CellSize(*found.cell))  # (its cache)
    with _no_terminal():
        from textual_image.widget import HalfcellImage, SixelImage, TGPImage
    return {"sixel": SixelImage, "tgp": TGPImage}.get(found.protocol, HalfcellImage)


@contextlib.contextmanager
def _no_terminal() -> Iterator[None]:
    """textual-image's import asks the terminal unless stdout is not one; it has been asked."""
    saved = sys.__stdout__
    sys.__stdout__ = io.StringIO()  # type: ignore[misc,assignment]
    try:
        yield
    finally:
        sys.__stdout__ = saved  # type: ignore[misc]
