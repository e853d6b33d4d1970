"""Bulk work with Python's cyclic garbage collector paused.

Importing a key bundle builds tens of thousands of objects that all stay alive (sessions, their
metadata, rows): each young collection walks them, and as they age the older generations are
walked again, for garbage that is not there (the temporaries are freed by reference counting).
With 10,000 keys that was 30-130 ms of a 220-350 ms import, and most of the difference between one
run and the next. The collector is paused around such work and resumed after it; nested and
concurrent pauses (two imports, a restore beside an import) resume it when the last one ends, and
only if it was running before the first.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_depth = 0
_resume = False


@contextmanager
def collector_paused() -> Iterator[None]:
    global _depth, _resume
    with _lock:
        if _depth == 0:
            _resume = gc.isenabled()
            gc.disable()
        _depth += 1
    try:
        yield
    finally:
        with _lock:
            _depth -= 1
            if _depth == 0 and _resume:
                gc.enable()
