"""What the composer's text means: a message, an emote, or a slash command.

Pure parsing (no Textual, no engine) so every command and every mistake has a unit test. A line
starting with "//" sends the rest literally ("//shrug" sends "/shrug").
"""

from __future__ import annotations

import re

from ..config import HISTORY_VISIBILITIES
from ..records import record

USER_ID = re.compile(r"^@[^:\s]+:\S+$")
ROOM_REF = re.compile(r"^[#!][^:\s]+:\S+$")


class CommandError(ValueError):
    """The text looks like a command but cannot be run; the message is for the user."""


@record
class SendText:
    text: str
    emote: bool = False


@record
class InviteUser:
    user_id: str


@record
class DirectChat:
    user_id: str


@record
class SendFile:
    path: str


@record
class JoinRoom:
    room: str


@record
class LeaveRoom:
    pass


@record
class SetVisibility:
    visibility: str


@record
class CommandHelp:
    pass


Action = SendText | InviteUser | DirectChat | SendFile | JoinRoom | LeaveRoom | SetVisibility | CommandHelp

COMMANDS: dict[str, str] = {
    "/invite @user:server": "invite someone to this room",
    "/dm @user:server": "open (or start) the direct chat with someone",
    "/upload path": "send a file (an image shows as one; encrypted in an encrypted room)",
    "/join #alias:server | !id:server": "join a room",
    "/leave": "leave this room",
    "/me text": "send an emote (\"* Alice waves\")",
    "/visibility " + "|".join(HISTORY_VISIBILITIES): "who can read this room's history from now on",
    "/help": "list these commands",
    "//text": "send text that starts with /",
}


def parse(text: str) -> Action:
    """Turn composer text into an action, or raise CommandError with a reason."""
    if not text.startswith("/") or text.startswith("//"):
        body = text[1:] if text.startswith("//") else text
        if not body.strip():
            raise CommandError("nothing to send")
        return SendText(body)
    name, _, rest = text.partition(" ")
    name = name.lower()
    arg = rest.strip()
    if name == "/me":
        if not arg:
            raise CommandError("/me needs some text, e.g. /me waves")
        return SendText(rest.lstrip(" "), emote=True)
    if name == "/invite":
        if not arg:
            raise CommandError("/invite needs a user id, e.g. /invite @bob:example.org")
        if not USER_ID.match(arg):
            raise CommandError(f"{arg!r} is not a user id; use the full form @name:server")
        return InviteUser(arg)
    if name == "/dm":
        if not arg:
            raise CommandError("/dm needs a user id, e.g. /dm @alice:example.org")
        if not USER_ID.match(arg):
            raise CommandError(f"{arg!r} is not a user id; use the full form @name:server")
        return DirectChat(arg)
    if name == "/upload":
        if not arg:
            raise CommandError("/upload needs the path of a file, e.g. /upload ~/Pictures/cat.png")
        return SendFile(arg)
    if name == "/join":
        if not arg:
            raise CommandError("/join needs a room alias or id, e.g. /join #general:example.org")
        if not ROOM_REF.match(arg):
            raise CommandError(f"{arg!r} is not a room alias (#name:server) or id (!id:server)")
        return JoinRoom(arg)
    if name == "/leave":
        if arg:
            raise CommandError("/leave takes no argument; it leaves the room you are in")
        return LeaveRoom()
    if name == "/visibility":
        if arg not in HISTORY_VISIBILITIES:
            raise CommandError(f"/visibility needs one of: {', '.join(HISTORY_VISIBILITIES)}")
        return SetVisibility(arg)
    if name == "/help":
        return CommandHelp()
    known = ", ".join(c.split(" ")[0] for c in COMMANDS if not c.startswith("//"))
    raise CommandError(f"unknown command {name}; known: {known} (start with // to send a slash)")
