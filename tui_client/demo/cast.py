"""The demo's facts, as plain data: who is in the story, the room, what was said before Bob
joined, and the names of the files the demo keeps. Imports nothing (the UI of the demo and the
guide read it without pulling in the engine or the homeserver).

Cast:
- alice  runs on our engine in the background (the bot) and invites bob;
- bob    is the person at the keyboard (the TUI);
- charlie is invited by bob in the second act (`tui-client demo --as charlie`);
- dave   is a room member on a "legacy" client that never marks its keys shareable, so his
         message is the one Bob sees as "not shared" and can read why.
"""

from __future__ import annotations

USERS = ("alice", "bob", "charlie", "dave")
SERVER_NAME = "localhost"
ROOM_NAME = "Project Aurora"
HISTORY = (
    ("alice", "Welcome to Project Aurora! 🌌 This room is end-to-end encrypted."),
    ("alice", "The launch checklist is in the **shared drive**; please review it by Friday."),
    ("dave", "I'll handle the telescope calibration. (Dave's client predates history sharing.)"),
    ("alice", "Great. When I invite new people, my client hands them the keys to what we said here."),
)

#: Alice's bot runs as `python -m BOT_MODULE DEMO_DIR`; its pid is in DEMO_DIR/BOT_PID_FILE.
BOT_MODULE = "tui_client.demo.bot"
BOT_PID_FILE = "bot.pid"


def user_id(user: str) -> str:
    return f"@{user}:{SERVER_NAME}"


def password_for(user: str) -> str:
    return f"demo-{user}-password"
