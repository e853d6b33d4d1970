"""Fuzzy matching for the room switcher (pure, no Textual): "prx" finds "Project X".

Each word of the query must match one of a candidate's texts (its name, or for a direct chat
also the person's user id), either as a substring (best at the start of a word, better at the
start of the text) or as letters in order (better when they start words or follow each other).
Ties go to the room used most recently. Texts are lowercased once, when the candidates are
built, so a keystroke costs one pass over 1,000 rooms in a few milliseconds.
"""

from __future__ import annotations

from ..records import record


@record
class Candidate:
    key: str  # what choosing it selects (a room id, "invite:" + id)
    label: str  # shown
    texts: tuple[str, ...]  # searched, lowercased
    activity: int = 0  # ms; more recent first among equals
    kind: str = "room"  # "room" | "dm" | "space" | "invite"


@record
class Match:
    candidate: Candidate
    score: float
    positions: tuple[int, ...]  # in the label, for highlighting (empty when it matched elsewhere)


def _word_start(text: str, i: int) -> bool:
    return i == 0 or not text[i - 1].isalnum()


def score_word(word: str, text: str) -> tuple[float, tuple[int, ...]] | None:
    """How well one (lowercased) query word matches a (lowercased) text; None if it does not."""
    if not word:
        return 0.0, ()
    at = text.find(word)
    if at >= 0:
        # Prefer a match at a word start over the first occurrence.
        best = at
        i = at
        while i >= 0 and not _word_start(text, i):
            i = text.find(word, i + 1)
        if i >= 0:
            best = i
        score = 100.0 + 10 * len(word) - min(best, 30) * 0.5
        if _word_start(text, best):
            score += 40
        if best == 0:
            score += 40
        if len(word) == len(text):
            score += 50
        return score, tuple(range(best, best + len(word)))
    positions: list[int] = []
    pos = 0
    score = 0.0
    for ch in word:
        found = text.find(ch, pos)
        if found < 0:
            return None
        # A later occurrence that starts a word is worth skipping to.
        probe = found
        while probe >= 0 and not _word_start(text, probe):
            probe = text.find(ch, probe + 1)
        if probe >= 0 and probe - found < 20:
            found = probe
        if positions and found == positions[-1] + 1:
            score += 8
        if _word_start(text, found):
            score += 10
        score += 1
        positions.append(found)
        pos = found + 1
    return score - (positions[-1] - positions[0]) * 0.2, tuple(positions)


def score(query_words: list[str], candidate: Candidate) -> tuple[float, tuple[int, ...]] | None:
    total = 0.0
    positions: set[int] = set()
    for word in query_words:
        best: tuple[float, tuple[int, ...]] | None = None
        best_index = -1
        for index, text in enumerate(candidate.texts):
            found = score_word(word, text)
            if found is not None and (best is None or found[0] > best[0]):
                best, best_index = found, index
        if best is None:
            return None
        total += best[0]
        if best_index == 0:
            positions.update(best[1])
    return total, tuple(sorted(positions))


def search(candidates: list[Candidate], query: str, limit: int = 50) -> list[Match]:
    """The best `limit` candidates for `query` (all of them by activity when it is empty)."""
    words = query.lower().split()
    if not words:
        ordered = sorted(candidates, key=lambda c: (c.kind != "invite", -c.activity, c.label.lower()))
        return [Match(c, 0.0, ()) for c in ordered[:limit]]
    found: list[Match] = []
    for candidate in candidates:
        result = score(words, candidate)
        if result is not None:
            found.append(Match(candidate, result[0], result[1]))
    found.sort(key=lambda m: (-m.score, -m.candidate.activity, m.candidate.label.lower()))
    return found[:limit]
