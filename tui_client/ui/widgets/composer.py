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

from ...engine.models import TimelineItem
from ...records import record


@record
class ComposerContext:
    """What the composer's text will be: a reply to `item`, or its new text (an edit)."""

    mode: str  # "reply" | "edit"
    item: TimelineItem


class Composer(TextArea):
    BINDINGS = [
        Binding("enter", "send", "Send", id="send"),
        Binding("ctrl+j,shift+enter,alt+enter", "newline", "Newline", id="newline"),
        Binding("escape", "cancel_context", "Cancel reply or edit", id="cancel_context", show=False),
    ]

    class Submitted(Message):
        """The user pressed Enter on non-empty text (the composer is cleared)."""

        def __init__(self, text: str, context: ComposerContext | None = None) -> None:
            super().__init__()
            self.text = text
            self.context = context

    class ContextChanged(Message):
        """Replying or editing started or ended (the screen shows what the text will be)."""

        def __init__(self, context: ComposerContext | None) -> None:
            super().__init__()
            self.context = context

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
        self.context: ComposerContext | None = None

    def set_context(self, context: ComposerContext | None) -> None:
        """Reply to or edit a message with the next text (an edit starts from its text)."""
        previous, self.context = self.context, context
        if context is not None and context.mode == "edit":
            self.load_text(context.item.body or "")
            self.move_cursor(self.document.end)
        elif previous is not None and previous.mode == "edit" and context is None:
            self.clear()  # the old text of a message is not something to send by accident
        self.post_message(self.ContextChanged(context))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "cancel_context":
            return self.context is not None  # otherwise escape goes on to the screen
        return True

    def action_cancel_context(self) -> None:
        self.set_context(None)

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
        context, self.context = self.context, None
        self.clear()
        if context is not None:
            self.post_message(self.ContextChanged(None))
        self.post_message(self.Submitted(text, context))

    def action_newline(self) -> None:
        self.insert("\n")

    def restore(self, text: str, context: ComposerContext | None = None) -> None:
        """Put back text whose sending failed (and what it replied to or edited), unless the user
        already typed something new."""
        if not self.text.strip():
            self.load_text(text)
            self.move_cursor(self.document.end)
            if context is not None and self.context is None:
                self.context = context
                self.post_message(self.ContextChanged(context))
