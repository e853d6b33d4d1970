"""The demo's guided hints: what the audience should press next, as a pure state machine.

The demo app looks at what is on screen (the invite, the open room, the timeline's items and
selection, who is in the room, whether Alice's bot still runs), sums it up as `Facts`, and asks
`Guide.update(facts)` for the one line to show. The guide walks a fixed list of steps for the
viewer (Bob's or Charlie's part of the story); a step is done when the facts say so, and stays
done (selecting Dave's message once is enough, even after the selection moves on). The current
step is the first one not done. No Textual, no engine: the unit tests feed it facts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..records import record
from .cast import ROOM_NAME

# Where a selected timeline item stands, as far as the story goes.
SHARED = "shared"  # decrypted with keys someone shared (🔑)
NOT_SHARED = "not_shared"  # undecryptable, with the reason the keys were not shared
OTHER = "other"


QUIET = "Alice went quiet (her bot stopped; see bot.log)."


@record
class Facts:
    """What the demo app sees, reduced to what the story needs."""

    invite_from: str | None = None  # a pending invite to the demo room, from this person
    invite_bundle: bool = False  # the invite came with a key bundle
    invite_messages: int | None = None  # "… shared the keys to N earlier messages", when the inviter said
    joined: bool = False  # we are a member of the demo room
    room_open: bool = False  # the demo room's timeline is on screen
    shared_by: str | None = None  # who the 🔑 badges in the open timeline name
    shared_count: int = 0  # messages decrypted with shared keys
    not_shared_count: int = 0  # messages shown as "not shared: …"
    selected: str | None = None  # SHARED / NOT_SHARED / OTHER while the timeline has focus
    own_messages: int = 0  # messages we wrote in the demo room
    answered: bool = False  # Alice wrote after our last message
    charlie_in_room: bool = False  # Charlie is invited to (or in) the demo room
    charlie_got_keys: bool = True  # the invite to Charlie went with a key bundle
    charlie_joined: bool = False  # Charlie accepted and is in the demo room
    charlie_spoke: bool = False  # Charlie wrote in the demo room
    server_gone: bool = False  # the demo's homeserver stopped answering
    dialog: str | None = None  # "invite" while the invite's confirmation is open
    bot_alive: bool | None = None  # Alice's bot runs (None: not known)


@record
class Hint:
    step: str
    text: str
    tone: str = "info"  # "info" | "warning" | "done"


@dataclass
class Guide:
    """Walks the viewer's steps; `update` returns the hint for the current facts."""

    user: str = "bob"
    room_name: str = ROOM_NAME
    done: set[str] = field(default_factory=set)
    # How to start the demo from another terminal (the running executable's path when
    # `tui-client` is not on PATH, as in a fresh clone's venv).
    command: str = "tui-client"

    @property
    def steps(self) -> tuple[str, ...]:
        if self.user == "bob":
            return ("accept", "read", "why", "talk", "invite", "charlie", "greet", "end")
        if self.user == "charlie":
            return ("accept", "read", "why", "talk", "end")
        return ("end",)

    @property
    def inviter(self) -> str:
        return "Bob" if self.user == "charlie" else "Alice"

    def _is_done(self, step: str, f: Facts) -> bool:
        if step == "accept":
            return f.joined
        if step == "read":
            # With nothing decrypted by shared keys (the inviter shared none), reading anything
            # will do. (Not before the viewer moves: the keys may still be on their way.)
            return f.selected == SHARED or (f.selected is not None and f.shared_count == 0)
        if step == "why":
            return f.selected == NOT_SHARED or (f.selected is not None and f.not_shared_count == 0)
        if step == "talk":
            return f.answered or f.bot_alive is False  # a quiet Alice does not hold the story up
        if step == "invite":
            return f.charlie_in_room
        if step == "charlie":
            return f.charlie_joined
        if step == "greet":
            return f.charlie_spoke
        return False  # "end" is where the story rests

    def update(self, facts: Facts) -> Hint:
        # Every step is checked, not only the current one: what the viewer did out of order
        # (selecting Dave's message before a shared one) counts when its turn comes.
        for step in self.steps:
            if step not in self.done and self._is_done(step, facts):
                self.done.add(step)
        return self._hint(self.current, facts)

    @property
    def current(self) -> str:
        return next((s for s in self.steps if s not in self.done), "end")

    # -- the words --------------------------------------------------------------------------------

    def _hint(self, step: str, f: Facts) -> Hint:
        inviter = self.inviter
        quiet = f.bot_alive is False
        if f.server_gone:
            return Hint("gone", "The demo is over (its homeserver stopped with the other window): ctrl+q quits",
                        "warning")
        if step == "accept":
            if f.joined is False and f.invite_from is None:
                if self.user == "charlie":
                    return Hint("wait", f"Waiting for Bob's invite (in another terminal:  {self.command} demo)")
                return Hint("wait", f"Waiting for {inviter}'s invite to {self.room_name}…")
            who = f.invite_from or inviter
            if f.invite_messages:
                plural = "s" if f.invite_messages != 1 else ""
                return Hint("accept", f"{who} invited you and shared the keys to {f.invite_messages} "
                                      f"earlier message{plural}: press a to accept")
            if f.invite_bundle:
                return Hint("accept", f"{who} invited you and shared the keys to earlier messages: press a to accept")
            return Hint("accept", f"{who} invited you to {self.room_name}: press a to accept")
        if not f.room_open and step in ("read", "why", "talk", "invite"):
            return Hint("open", f"Open {self.room_name}: f2 for the room list, ↓/↑ to select it")
        if step == "read":
            if self.user == "charlie":
                return Hint("read", "Press f3, then k/↑ to read the history: 🔑 Bob passed on the keys Alice gave him")
            return Hint("read", f"Press f3, then k/↑ to read what was said before you joined: 🔑 = keys {inviter} shared")
        if step == "why":
            if self.user == "charlie":
                return Hint("why", "Dave's message is still explained: k/↑ to select it and read why below")
            return Hint("why", "Dave's message can't be read: k/↑ to select it, the line below says why")
        if step == "talk":
            if f.own_messages and not f.answered:
                return Hint("talk", "Alice is writing an answer…")
            if self.user == "charlie":
                return Hint("talk", "Say hello: esc, type a message, Enter. Alice answers here too")
            return Hint("talk", "Say something to Alice: esc, type a message, Enter. She answers")
        if step == "invite":
            if f.dialog == "invite":
                return Hint("invite", "Press y: Charlie gets the invite and the keys you hold to earlier messages")
            if quiet:
                return Hint("invite", f"{QUIET} Invite Charlie: ctrl+p → Invite Charlie", "warning")
            return Hint("invite", "Invite Charlie: ctrl+p → Invite Charlie (or /invite @charlie:localhost)")
        # the end
        if self.user == "charlie" and quiet:
            return Hint("end", f"{QUIET} That's the story; ctrl+q quits", "warning")
        if step == "charlie":
            # The command may be a long path (a venv not on PATH): it comes first, whole.
            return Hint("charlie", f"Done! Now in another terminal:  {self.command} demo --as charlie", "done")
        if step == "greet":
            reads = ("reads the history you passed on (🔑 shared by Bob)" if f.charlie_got_keys
                     else "reads what is written from now on")
            return Hint("greet", f"Charlie joined and {reads}: say hello", "done")
        if self.user in ("bob", "charlie"):
            return Hint("end", "That's the story! ctrl+q quits; running the demo again replays it", "done")
        return Hint("end", "This is the demo room as seen by a cast member; the story is Bob's")
