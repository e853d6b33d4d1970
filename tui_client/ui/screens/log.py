"""The log screen: the last lines of the app's log (from `tui_client.logs.ring_buffer`), updating
live, and where the full log file is."""

from __future__ import annotations

import time
from collections.abc import Callable

from textual.app import ComposeResult
from textual.binding import Binding
from textual.content import Content
from textual.message import Message
from textual.screen import Screen
from textual.widgets import Footer, Log, Static

from ... import logs
from ..formatting import clean


def format_line(line: logs.LogLine) -> str:
    stamp = time.strftime("%H:%M:%S", time.localtime(line.created))
    return clean(f"{stamp} {line.level:<7} {line.name}: {line.message}")


class LogScreen(Screen):
    BINDINGS = [
        Binding("escape", "close", "Back", id="close"),
        Binding("end,G", "follow", "Follow", id="log_follow", show=False),
    ]

    class LineLogged(Message):
        """A log record arrived (posted from whichever thread logged it)."""

        def __init__(self, line: logs.LogLine) -> None:
            super().__init__()
            self.line = line

    def __init__(self) -> None:
        super().__init__()
        self._unsubscribe: Callable[[], None] | None = None

    def compose(self) -> ComposeResult:
        where = logs.log_file()
        yield Static(
            Content.assemble(("Log", "bold"), ("   full log: ", "$foreground-muted"), str(where)), id="log-title"
        )
        yield Log(id="log", highlight=False, max_lines=5000)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        log = self.query_one(Log)
        log.write_lines([format_line(line) for line in logs.ring_buffer.snapshot()])
        self._unsubscribe = logs.ring_buffer.subscribe(lambda line: self.post_message(self.LineLogged(line)))
        log.focus()

    def on_unmount(self) -> None:
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def on_log_screen_line_logged(self, message: LineLogged) -> None:
        self.query_one(Log).write_line(format_line(message.line))

    def action_follow(self) -> None:
        self.query_one(Log).scroll_end(animate=False)

    def action_close(self) -> None:
        self.dismiss()
