"""Server errors in words a user can act on.

The engine's errors carry what the homeserver said, e.g. "could not send: user_level (0) <
send_level (100) (M_FORBIDDEN)". `explain()` turns the common ones into a sentence that says what
happened and what to do next, keeping the command's own context ("could not send: …"); errors it
does not recognise come back unchanged. The CLI and the UI both show errors through it; the logs
keep the server's words. Pure (no nio, no UI), so every rule has a unit test.
"""

from __future__ import annotations

import re
from collections.abc import Callable

# "<context>: <server message> (<errcode>)", the shape of the engine's errors.
_SHAPE = re.compile(r"^(?P<context>could not [^:]*?(?: [!#@]\S+)?: |login failed: |sync failed: )?(?P<message>.*?)"
                    r"(?: \((?P<code>M_[A-Z_]+)\))?$", re.DOTALL)

Rule = tuple[str | None, re.Pattern[str], Callable[[re.Match[str]], str]]


def _levels(match: re.Match[str]) -> str:
    have, need = match.group(1), match.group(2)
    return (f"your power level in this room is {have} and this needs {need}; ask one of the room's "
            "admins or moderators to raise your level (or to do it for you)")


_RULES: list[Rule] = [
    ("M_FORBIDDEN", re.compile(r"user_level \((\d+)\) < \w+_level \((\d+)\)"), _levels),
    ("M_FORBIDDEN", re.compile(r"don't have permission to invite", re.I),
     lambda m: "you may not invite people to this room; ask one of its admins or moderators to invite them"),
    ("M_FORBIDDEN", re.compile(r"not invited to this room|cannot join|not allowed to join", re.I),
     lambda m: "this room is invite-only and you have no invite; ask a member to invite you"),
    ("M_FORBIDDEN", re.compile(r"banned", re.I),
     lambda m: "you are banned from this room; only its moderators can lift that"),
    ("M_FORBIDDEN", re.compile(r"is already in the room", re.I),
     lambda m: "they are already in the room"),
    (None, re.compile(r"no servers (that are )?in the room|no known servers|no servers .* have been provided", re.I),
     lambda m: "nobody is left in this room (its last member left), so it cannot be joined any more; "
               "ask someone to invite you to another room"),
    ("M_NOT_FOUND", re.compile(r"room alias .* not found|alias .* not found", re.I),
     lambda m: "no room has this alias; check the spelling, or use the room's id (!…:server)"),
    ("M_INVALID_PARAM", re.compile(r"not a valid user id|invalid user", re.I),
     lambda m: "that is not a valid user id; use the full form @name:server"),
    ("M_LIMIT_EXCEEDED", re.compile(r".*"),
     lambda m: "the server asks us to slow down; wait a few seconds and try again"),
    ("M_UNKNOWN_TOKEN", re.compile(r".*"),
     lambda m: "the server ended this session (it no longer accepts our access token); log in again"),
    ("M_TOO_LARGE", re.compile(r".*"),
     lambda m: "the server refused it as too large"),
    ("M_USER_IN_USE", re.compile(r".*"), lambda m: "that user name is taken"),
    ("M_RESOURCE_LIMIT_EXCEEDED", re.compile(r".*"),
     lambda m: "the server has reached a limit set by its administrator; contact them"),
]


def explain(text: str) -> str:
    """`text` (an engine error) with the server's part in words, or unchanged."""
    shape = _SHAPE.match(text.strip())
    if shape is None:
        return text
    context, message, code = shape.group("context") or "", shape.group("message"), shape.group("code")
    for rule_code, pattern, sentence in _RULES:
        if rule_code is not None and rule_code != code:
            continue
        found = pattern.search(message)
        if found is not None:
            return f"{context}{sentence(found)}"
    return text


# What leaving does to a room when you are the only member left.
LAST_MEMBER_EFFECT = (
    "nobody can join it any more, not even people already invited, and its history is gone for good"
)
LAST_MEMBER = f"you were its last member: {LAST_MEMBER_EFFECT}"


def is_last_member(room: object, user_id: str) -> bool:
    """Whether `user_id` is the only one left in `room` (a RoomSummary): leaving ends the room."""
    members = [m for m in getattr(room, "members", ()) if m.membership == "join"]
    return bool(members) and all(m.user_id == user_id for m in members)


__all__ = ["LAST_MEMBER", "LAST_MEMBER_EFFECT", "explain", "is_last_member"]
