"""Checks the `[keys]` table of the settings against the app's bindings.

Textual ignores a keymap entry whose action id does not exist and lets two actions share a key
silently (one of them simply stops working, and can vanish from the footer). `keymap_problems`
finds both, so the app can warn at start (a notification and a log line) and `tui-client doctor`
can list them.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..records import record


@record
class _Bound:
    action_id: str
    where: str  # the help screen's label, e.g. "everywhere", "room list"
    keys: frozenset[str]
    from_settings: bool


def _keys(text: str) -> frozenset[str]:
    return frozenset(k.strip() for k in text.split(",") if k.strip())


# Bindings in these places are live at the same time as those of the main screen.
_MAIN_SCREEN_PARTS = {"main screen", "room list", "timeline", "composer", "invite", "space room"}
# The thread screen shows a timeline and a composer too.
_THREAD_SCREEN_PARTS = {"thread", "timeline", "composer"}


def _overlap(a: str, b: str) -> bool:
    """Whether bindings declared in places `a` and `b` can be active at once."""
    if a == b or "everywhere" in (a, b):
        return True
    if a in _THREAD_SCREEN_PARTS and b in _THREAD_SCREEN_PARTS and "thread" in (a, b):
        return True
    return a in _MAIN_SCREEN_PARTS and b in _MAIN_SCREEN_PARTS and "main screen" in (a, b)


def keymap_problems(keymap: Mapping[str, str], sources: Iterable[tuple[str, type]] | None = None) -> list[str]:
    """One sentence per unknown action id and per key given to two actions that are live at once
    (only where the settings are involved: the defaults are designed not to clash)."""
    from .palette import declared_bindings

    if sources is None:
        from .app import binding_sources

        sources = binding_sources()
    bound: list[_Bound] = []
    known: set[str] = set()
    for where, cls in sources:
        for binding in declared_bindings(cls):
            assert binding.id is not None
            known.add(binding.id)
            custom = binding.id in keymap
            bound.append(_Bound(binding.id, where, _keys(keymap[binding.id] if custom else binding.key), custom))
    problems = []
    for action_id in keymap:
        if action_id not in known:
            problems.append(
                f"[keys] {action_id!r} is not an action id; ignored (the help screen lists the ids)"
            )
    reported: set[tuple[str, str, str]] = set()
    for index, first in enumerate(bound):
        for second in bound[index + 1:]:
            if first.action_id == second.action_id or not (first.from_settings or second.from_settings):
                continue
            if not _overlap(first.where, second.where):
                continue
            for key in sorted(first.keys & second.keys):
                one, other = sorted((first.action_id, second.action_id))
                if (key, one, other) in reported:
                    continue
                reported.add((key, one, other))
                problems.append(
                    f"[keys] {key!r} is bound to both {first.action_id!r} and {second.action_id!r}; "
                    "only one of them can work: give one of them another key"
                )
    return problems


__all__ = ["keymap_problems"]
