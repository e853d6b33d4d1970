"""Push-rule globs (`*` any run of characters, `?` one character, case-insensitive) matched in
time linear in the text for any pattern, so neither a rule nor a message can make matching slow.

Two ways to match, as the spec asks of `event_match`:

- `matches_whole(pattern, value)`: the glob covers the whole value (`sender`, `room_id`, …);
- `matches_words(pattern, text)`: the glob covers a run of the text that starts and ends at word
  boundaries (`content.body`: keywords, `@room`, a user's name).

A word character is what Python's `\\w` says (letters, digits and `_` of any script); a boundary
is the start or end of the text or a non-word character next to the run.

How: split the glob at its stars into fixed-length segments (each compiled to a regex with `.`
for `?`: no nesting, no backtracking beyond one segment). Between the first and the last
segment, taking each middle segment at its leftmost place is never worse than any other choice,
so one left-to-right pass decides the match.
"""

from __future__ import annotations

import re
from functools import lru_cache

from ...records import record

MAX_PATTERN = 1000  # characters; longer patterns never match (no real rule is this long)


def _is_word(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


@record
class _Glob:
    segments: tuple[re.Pattern[str], ...]  # at least one; empty segments where stars are at the ends
    lengths: tuple[int, ...]


@lru_cache(maxsize=512)
def _compile(pattern: str) -> _Glob | None:
    if len(pattern) > MAX_PATTERN:
        return None
    parts = pattern.split("*")
    segments = tuple(
        re.compile("".join("." if ch == "?" else re.escape(ch) for ch in part), re.IGNORECASE | re.DOTALL)
        for part in parts
    )
    return _Glob(segments, tuple(len(p) for p in parts))


def _at(segment: re.Pattern[str], text: str, pos: int, length: int) -> bool:
    return pos + length <= len(text) and segment.match(text, pos, pos + length) is not None


def _find(segment: re.Pattern[str], text: str, pos: int, length: int) -> int:
    """The leftmost start ≥ pos where `segment` (fixed `length`) matches, or -1."""
    if length == 0:
        return pos if pos <= len(text) else -1
    found = segment.search(text, pos)
    return found.start() if found else -1


def _middles(glob: _Glob, text: str, pos: int) -> int:
    """After the first segment ends at `pos`, place the middle segments leftmost; the position
    after the last of them, or -1."""
    for segment, length in zip(glob.segments[1:-1], glob.lengths[1:-1]):
        start = _find(segment, text, pos, length)
        if start < 0:
            return -1
        pos = start + length
    return pos


def matches_whole(pattern: str, value: str) -> bool:
    glob = _compile(pattern)
    if glob is None:
        return False
    first, last = glob.segments[0], glob.segments[-1]
    if len(glob.segments) == 1:
        return glob.lengths[0] == len(value) and _at(first, value, 0, len(value))
    if not _at(first, value, 0, glob.lengths[0]):
        return False
    pos = _middles(glob, value, glob.lengths[0])
    if pos < 0:
        return False
    tail = len(value) - glob.lengths[-1]
    return tail >= pos and _at(last, value, tail, glob.lengths[-1])


def _left_boundary(text: str, pos: int) -> bool:
    return pos == 0 or not _is_word(text[pos - 1])


def _right_boundary(text: str, pos: int) -> bool:
    return pos == len(text) or not _is_word(text[pos])


def matches_words(pattern: str, text: str) -> bool:
    glob = _compile(pattern)
    if glob is None:
        return False
    first, length0 = glob.segments[0], glob.lengths[0]
    # The first place the first segment matches after a boundary. With a star in the pattern a
    # later start can only do worse (its middle segments land no further left), so one start
    # is enough; without one, every occurrence must be tried for its right boundary.
    pos = 0
    while True:
        start = _find(first, text, pos, length0)
        if start < 0:
            return False
        if _left_boundary(text, start):
            if len(glob.segments) == 1:
                if _right_boundary(text, start + length0):
                    return True
            else:
                return _tail_matches(glob, text, start + length0)
        pos = start + 1
        if pos > len(text):
            return False


def _tail_matches(glob: _Glob, text: str, pos: int) -> bool:
    pos = _middles(glob, text, pos)
    if pos < 0:
        return False
    last, length = glob.segments[-1], glob.lengths[-1]
    while True:
        start = _find(last, text, pos, length)
        if start < 0:
            return False
        if _right_boundary(text, start + length):
            return True
        pos = start + 1
        if pos > len(text):
            return False
