"""What a user does to one message: reply, edit, react, delete, open its thread.

- `ReactScreen`: eight quick reactions (number keys) or any text; choosing one you already gave
  takes it back.
- `DeleteMessageScreen`: asks first, says what deleting does, takes an optional reason.
- `MessageActions`: the screens that show a timeline and a composer (the main screen, a thread)
  mix this in: it turns `Timeline.MessageAction` and a submitted composer (with its reply or
  edit context) into engine commands, through the app's bridge, in workers; and saves, opens and
  previews a message's file.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any, ClassVar, cast

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Button, Input, Label, Static

from ...engine.models import TimelineItem
from ..formatting import clean
from ..widgets.composer import Composer, ComposerContext
from ..widgets.message_text import item_details
from ..widgets.timeline import Timeline
from .dialog import EngineDialog

if TYPE_CHECKING:
    from ..widgets.message import MessageView

logger = logging.getLogger(__name__)

QUICK_REACTIONS = ("👍", "❤️", "😂", "🎉", "😮", "😢", "👀", "✅")


def _snippet(item: TimelineItem, width: int = 60) -> str:
    text = (item.body or "").strip().split("\n")[0]
    return text if len(text) <= width else text[: width - 1] + "…"


class ReactScreen(EngineDialog[str]):
    """Dismissed with the reaction key sent (or taken back), None if cancelled."""

    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        *(Binding(str(n), f"pick({n - 1})", f"React {key}", id=f"quick_reaction_{n}", show=False)
          for n, key in enumerate(QUICK_REACTIONS, 1)),
    ]
    PROGRESS = "Sending…"

    def __init__(self, room_id: str, item: TimelineItem) -> None:
        super().__init__()
        self.room_id = room_id
        self.item = item

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="react-dialog"):
            yield Static(Content.styled(f"React to {clean(self.item.sender_name)}'s message", "bold"),
                         classes="dialog-title")
            yield Static(Content.styled(clean(_snippet(self.item)), "$foreground-muted"), classes="dialog-text",
                         markup=False)
            with Horizontal(id="quick-reactions"):
                for n, key in enumerate(QUICK_REACTIONS, 1):
                    mine = self.item.reaction(key)
                    yield Button(f"{n} {key}", id=f"quick-{n}", compact=True,
                                 variant="primary" if mine is not None and mine.own_event_id else "default")
            yield Label("Or type one (Enter sends). Choosing one you gave takes it back.")
            yield Input(placeholder="e.g. 🚀 or +1", id="reaction-input", compact=True, max_length=100)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    def on_mount(self) -> None:
        super().on_mount()
        self.query_one("#quick-1", Button).focus()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "pick" and isinstance(self.focused, Input):
            return False  # digits typed into the text box are text
        return super().check_action(action, parameters)

    def action_pick(self, index: int) -> None:
        self.choose(QUICK_REACTIONS[index])

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        button_id = event.button.id or ""
        if button_id.startswith("quick-"):
            event.stop()
            self.choose(QUICK_REACTIONS[int(button_id.removeprefix("quick-")) - 1])

    @on(Input.Submitted, "#reaction-input")
    def _typed(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.choose(event.value.strip())

    def choose(self, key: str) -> None:
        if self.busy:
            return
        held = self.item.reaction(key)
        room_id, event_id = self.room_id, self.item.event_id
        if held is not None and held.own_event_id is not None:
            own = held.own_event_id
            self.run_command("Taking back the reaction", lambda e: e.redact(room_id, own))
        else:
            self.run_command("Reacting", lambda e: e.react(room_id, event_id, key))
        self._key = key

    def succeeded(self, result: Any) -> None:
        self.dismiss(self._key)


class DeleteMessageScreen(EngineDialog[str]):
    """Dismissed with the redaction's event id once the message is deleted, None if cancelled."""

    BINDINGS = [
        Binding("escape", "cancel", "Cancel", id="cancel_dialog"),
        Binding("ctrl+d", "delete", "Delete", id="confirm_delete", priority=True, show=False),
    ]
    PROGRESS = "Deleting…"
    AUTO_FOCUS = "#delete-reason"

    def __init__(self, room_id: str, item: TimelineItem) -> None:
        super().__init__()
        self.room_id = room_id
        self.item = item

    def compose(self) -> ComposeResult:
        with Vertical(classes="dialog", id="delete-dialog"):
            yield Static(Content.styled("Delete this message?", "bold"), classes="dialog-title")
            yield Static(Content.styled(clean(_snippet(self.item)), "$foreground-muted"), classes="dialog-text",
                         markup=False)
            yield Static(
                "Its text (and the text of its edits) is removed from the server and from this client; "
                "everyone sees that a message was deleted, and the reason if you give one.",
                classes="dialog-text", markup=False,
            )
            yield Label("Reason (optional)")
            yield Input(placeholder="e.g. wrong room", id="delete-reason", compact=True, max_length=300)
            yield from self.compose_status()
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"Delete ({self.keys('confirm_delete')} / enter)", variant="error", id="delete",
                             compact=True)
                yield Button(f"Cancel ({self.keys('cancel_dialog')})", id="cancel", compact=True)

    @on(Input.Submitted, "#delete-reason")
    @on(Button.Pressed, "#delete")
    def _submit(self) -> None:
        self.action_delete()

    def action_delete(self) -> None:
        if self.busy:
            return
        reason = self.query_one("#delete-reason", Input).value.strip() or None
        room_id, event_id = self.room_id, self.item.event_id
        self.run_command("Deleting the message", lambda e: e.redact(room_id, event_id, reason))


class MessageActions:
    """For screens with a `Timeline` and a `Composer` (see the module docstring)."""

    app: Any
    tui: Any

    def _actions_room(self) -> str | None:
        """The room the timeline shows."""
        raise NotImplementedError

    def open_thread(self, item: TimelineItem) -> None:
        raise NotImplementedError

    def message_action(self, action: str, item: TimelineItem) -> None:
        room_id = self._actions_room()
        if room_id is None:
            return
        screen: Any = self
        composer = screen.query_one(Composer)
        if action in ("reply", "edit"):
            composer.set_context(ComposerContext(action, item))
            composer.focus()
        elif action == "react":
            self.app.push_screen(ReactScreen(room_id, item))
        elif action == "delete":
            self.app.push_screen(DeleteMessageScreen(room_id, item))
        elif action == "thread":
            self.open_thread(item)

    # The detail line under the timeline and the line above the composer, the same on every
    # screen with both (handlers by name: this mixin is not a widget class, so `@on` would not
    # register here).

    def on_timeline_selected(self, message: Timeline.Selected) -> None:
        """Show the selected item's provenance, failure and facts under the timeline."""
        detail = cast(Screen[Any], self).query_one("#detail", Static)
        if message.item is None:
            detail.display = False
            return
        detail.update(item_details(message.item, self.tui.time_format))
        detail.display = True

    def on_composer_context_changed(self, message: Composer.ContextChanged) -> None:
        """Say above the composer what the next text will be (a reply, an edit) and how to cancel."""
        label = cast(Screen[Any], self).query_one("#composer-context", Static)
        binding = next(b for b in Composer.BINDINGS if isinstance(b, Binding) and b.id == "cancel_context")
        content = self.context_label(message.context, self.tui.keys_for(binding).split(" / ")[0])
        label.update(content or "")
        label.display = content is not None

    def context_label(self, context: ComposerContext | None, cancel_key: str) -> Content | None:
        """The line above the composer: what the next text will be."""
        if context is None:
            return None
        item = context.item
        if context.mode == "edit":
            head = "✎ Editing your message"
        else:
            head = f"↩ Replying to {clean(item.sender_name)}: {clean(_snippet(item, 50))}"
        return Content.assemble((head, "bold"), (f"   ({cancel_key} to cancel)", "$foreground-muted"))

    @work(group="send", name="Sending", exit_on_error=False)
    async def send_with_context(self, room_id: str, text: str, emote: bool, context: ComposerContext | None,
                                in_thread_of: str | None = None) -> None:
        """Send composer text: a reply, an edit, a message in a thread, or a plain message."""
        lock: asyncio.Lock = getattr(self, "_send_lock")
        async with lock:  # keep messages in the order they were written
            try:
                if context is not None and context.mode == "edit":
                    event_id = context.item.event_id
                    await self.tui.bridge.call(lambda e: e.edit(room_id, event_id, text))
                elif context is not None:
                    event_id = context.item.event_id
                    await self.tui.bridge.call(lambda e: e.reply(room_id, event_id, text, emote=emote))
                elif in_thread_of is not None:
                    root = in_thread_of
                    await self.tui.bridge.call(lambda e: e.reply(room_id, root, text, in_thread=True, emote=emote))
                else:
                    await self.tui.bridge.call(lambda e: e.send_text(room_id, text, emote=emote))
            except Exception:
                screen: Any = self
                screen.query_one(Composer).restore(f"/me {text}" if emote else text, context)
                raise

    # -- a message's file (the screen's handlers of Timeline.FileWanted and
    # MessageView.PreviewWanted call these) ---------------------------------------------------------

    @work(group="download", name="Downloading the file", exit_on_error=False)
    async def save_file(self, room_id: str, event_id: str, open_it: bool) -> None:
        screen: Any = self
        screen.notify("Downloading…")
        path = await self.tui.bridge.call(lambda e: e.save_attachment(room_id, event_id))
        if open_it:
            from ..alerts import open_with_system

            if not await asyncio.to_thread(open_with_system, path):
                screen.notify(f"Saved to {path}; nothing here can open it.", title="Saved", severity="warning")
                return
        screen.notify(str(path), title="Opened" if open_it else "Saved")

    @work(group="previews", name="Loading an image", exit_on_error=False)
    async def load_preview(self, view: MessageView, timeline: Any) -> None:
        from ..widgets.image_preview import decode

        item = view.item
        try:
            data = await self.tui.bridge.call(lambda e: e.attachment_bytes(item.room_id, item.event_id, thumbnail=True))
        except Exception as exc:  # a preview that cannot load is only a missing picture
            logger.info("no preview for %s: %s", item.event_id, exc)
            return
        image = await asyncio.to_thread(decode, data)
        if image is not None and timeline.is_mounted:
            timeline.show_preview(item.event_id, image)
