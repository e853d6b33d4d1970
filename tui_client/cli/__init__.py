"""`tui-client`: the TUI by default, plus scriptable commands on the same engine.

Every command exits 0 on success and non-zero with one line on stderr otherwise:
1 = the command failed, 2 = bad usage, 3 = the profile is open in another process,
4 = the profile's saved session or crypto store cannot be used (missing, empty, damaged, or not
readable with the session's store key); the line says what to do, and nothing was changed.
`doctor` reports all of these as problems and exits 0.

All output is sanitised (`safe_text`): other people's names, bodies and ids never reach the
terminal with escape sequences, control characters or hidden bidi/invisible characters in them.
"""

from __future__ import annotations

from .main import main
from .tui import open_backend, run_tui

__all__ = ["main", "open_backend", "run_tui"]
