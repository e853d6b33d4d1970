"""The message composer: Enter sends, ctrl+j (or shift+enter / alt+enter where the terminal
reports them) inserts a newline. Slash commands are parsed by the screen (`ui.slash_commands`).

Terminals differ in what they send: plain xterm-likes and tmux send the same byte for Enter and
shift+Enter, so ctrl+j (a real line feed) is the newline key that works everywhere; kitty,
WezTerm, foot and recent iTerm2 report shift+enter through the kitty keyboard protocol.
"""

from __future__ import annotations

from textual import events
from textual.binding import Binding
from textual.message import Message
from textual.widgets import TextArea


class Composer(TextArea):
    BINDINGS = [
        Binding("enter", "send", "Send", id="send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "Newline", id="newline"),
    ]

    class Submitted(Message):
        """The user pressed Enter on non-empty text (the composer is cleared)."""

        def __init__(self, text: str) -> None:
            super().__init__()
            self.text = text

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(
            id=id,
            soft_wrap=True,
            tab_behavior="focus",
            show_line_numbers=False,
            compact=True,
            highlight_cursor_line=False,
            placeholder="Write a message… (/help lists commands)",
        )

    def _bound_keys(self) -> set[str]:
        """The keys of our own bindings, after the user's keymap (settings.keys)."""
        keymap: dict[str, str] = getattr(self.app, "keymap", {})
        keys: set[str] = set()
        for binding in self.BINDINGS:
            if isinstance(binding, Binding):
                keys.update(k.strip() for k in keymap.get(binding.id or "", binding.key).split(","))
        return keys

    async def _on_key(self, event: events.Key) -> None:
        # TextArea would insert a newline for Enter and stop the event. Our keys instead bubble on
        # to the (non-priority) bindings, which run in order after the keys typed before them; a
        # priority binding would run Enter before the text typed just ahead of it had arrived.
        # (Textual calls `_on_key` of every class in the MRO; prevent_default stops TextArea's.)
        if event.key in self._bound_keys():
            event.prevent_default()

    def action_send(self) -> None:
        text = self.text
        if not text.strip():
            return
        self.clear()
        self.post_message(self.Submitted(text))

    def action_newline(self) -> None:
        self.insert("\n")

    def restore(self, text: str) -> None:
        """Put back text whose sending failed, unless the user already typed something new."""
        if not self.text.strip():
            self.load_text(text)
            self.move_cursor(self.document.end)
