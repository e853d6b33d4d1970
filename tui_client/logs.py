"""Logging: a file in the platformdirs log directory, an in-memory ring buffer for the log
screen, a filter that keeps secrets (access tokens, keys, passwords) out of both, and a formatter
that keeps other people's text from reaching a terminal through them: a room name or a session id
with escape sequences, bidi overrides or newlines in it is logged visibly escaped, on one line."""

from __future__ import annotations

import logging
import logging.handlers
import os
import re
import threading
from collections import deque
from collections.abc import Callable
from io import TextIOWrapper
from pathlib import Path
from types import TracebackType

from . import paths
from .safe_text import clean_log, one_line
from .records import record

_SECRET_PATTERNS = [
    # Authorization headers and access tokens in URLs or JSON.
    (re.compile(r"(Bearer\s+)[A-Za-z0-9._~+/=-]+"), r"\1<redacted>"),
    (re.compile(r"(access_token[\"']?\s*[:=]\s*[\"']?)[^\s\"'&,}]+"), r"\1<redacted>"),
    (re.compile(r"(\"(?:password|session_key|k|private_key|pickle_key|recovery_key)\"\s*:\s*\")[^\"]*"), r"\1<redacted>"),
    (re.compile(r"(syt_)[A-Za-z0-9_]+"), r"\1<redacted>"),
]


def redact(text: str) -> str:
    for pattern, repl in _SECRET_PATTERNS:
        text = pattern.sub(repl, text)
    return text


class RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


class SafeFormatter(logging.Formatter):
    """Every line it writes is safe for a terminal: the message on one line with escape
    sequences removed and invisible characters shown; a traceback keeps its lines."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        record.message = one_line(record.message)
        return super().formatMessage(record)

    def formatException(
        self, ei: tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]
    ) -> str:
        return clean_log(super().formatException(ei))

    def formatStack(self, stack_info: str) -> str:
        return clean_log(super().formatStack(stack_info))


class PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are created 0600 (they name rooms and people)."""

    def _open(self) -> TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.fchmod(fd, 0o600)
        except OSError:
            pass
        return os.fdopen(fd, "a", encoding=self.encoding, errors=self.errors)


# Every line in a log file says which process wrote it and for which profile: the demo's set-up,
# Bob's window, Charlie's and Alice's bot all write at the same time.
LINE_FORMAT = "%(asctime)s [%(process)d %(log_context)s] %(levelname)-7s %(name)s: %(message)s"
_context = {"value": "-"}


def set_log_context(value: str) -> None:
    """What each log line of this process names after its pid: the profile, or e.g. "demo:bob"."""
    _context["value"] = value


class ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.log_context = _context["value"]
        return True


def add_line_context(handler: logging.Handler) -> None:
    """Give a handler the file format: time, pid and context, level, logger, message (redacted,
    safe for a terminal)."""
    handler.setFormatter(SafeFormatter(LINE_FORMAT))
    handler.addFilter(ContextFilter())
    handler.addFilter(RedactingFilter())


@record
class LogLine:
    created: float
    level: str
    name: str
    message: str


class RingBufferHandler(logging.Handler):
    """Keeps the last `capacity` records for the log screen and tells listeners about new ones."""

    def __init__(self, capacity: int = 2000) -> None:
        super().__init__()
        self.lines: deque[LogLine] = deque(maxlen=capacity)
        self._listeners: list[Callable[[LogLine], object]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = LogLine(record.created, record.levelname, record.name, self.format(record))
        except Exception:  # a broken log call must never break the app
            return
        with self._lock:
            self.lines.append(line)
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(line)
            except Exception:
                pass

    def snapshot(self) -> list[LogLine]:
        with self._lock:
            return list(self.lines)

    def subscribe(self, listener: Callable[[LogLine], object]) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe


ring_buffer = RingBufferHandler()
_configured_file: Path | None = None


def log_file() -> Path:
    return paths.log_dir() / "tui-client.log"


def setup_logging(level: str = "INFO", *, to_file: bool = True, stderr_level: str | None = None) -> Path | None:
    """Configure the root logger once: ring buffer always, rotating file unless disabled."""
    global _configured_file
    root = logging.getLogger()
    root.setLevel(logging.DEBUG)
    redactor = RedactingFilter()
    if ring_buffer not in root.handlers:
        ring_buffer.setLevel(level)
        ring_buffer.setFormatter(SafeFormatter("%(message)s"))
        ring_buffer.addFilter(redactor)
        root.addHandler(ring_buffer)
    else:
        ring_buffer.setLevel(level)
    if to_file and _configured_file is None:
        path = log_file()
        try:
            paths.ensure_private_dir(path.parent)
            handler = PrivateRotatingFileHandler(
                path, maxBytes=5 * 1024 * 1024, backupCount=3, encoding="utf-8"
            )
            handler.setLevel(level)
            add_line_context(handler)
            root.addHandler(handler)
            path.chmod(0o600)
            _configured_file = path
        except OSError:
            _configured_file = None
    if stderr_level:
        stream = logging.StreamHandler()
        stream.setLevel(stderr_level)
        add_line_context(stream)
        root.addHandler(stream)
    # nio and peewee are chatty at INFO, markdown-it traces every rule at DEBUG; their warnings
    # still come through.
    for noisy in ("peewee", "nio.responses", "nio.rooms", "nio.events", "aiohttp.access", "markdown_it"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    return _configured_file
