"""Everything known about one timeline event: its ids, the sending device, how far it can be
trusted, where its key came from (the provenance sentence) or why it could not be decrypted, and
its raw JSON, decrypted and encrypted, in read-only text areas (select with the mouse or shift and
the arrows, then ctrl+c; or copy whole with the bindings).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static, TabbedContent, TabPane, TextArea

from ...engine.models import EventDetails, TimelineItem
from ... import safe_text
from ...safe_text import json_text
from ..describe import person
from ..formatting import MAX_CHARS, clean, clean_id
from ..workers import ReportsWorkerErrors

if TYPE_CHECKING:
    from ..app import TuiApp

FACTS = {
    "event": "Event id",
    "sender": "Sender",
    "session": "Session",
    "sent": "Sent",
    "trust": "Trust",
    "keys": "Keys",
    "failure": "Not decrypted",
}
NO_DECRYPTED = "(nothing: this event was not decrypted)"
NO_ENCRYPTED = "(nothing: this event was not encrypted, or its encrypted form is not kept)"
NO_TEXT = "(no text: this event has none, or it was not decrypted)"


def clean_text(text: str | None) -> str:
    """A message body for a text area, through the one sanitiser (lines and tabs kept)."""
    return safe_text.clean(text, multiline=True)


def as_json(value: dict | None) -> str | None:
    if value is None:
        return None
    return json_text(value, indent=2, sort_keys=True)  # C1, bidi and invisible characters escaped


class EventDetailsScreen(ReportsWorkerErrors, Screen):
    BINDINGS = [
        # priority: the read-only JSON areas would otherwise swallow escape
        Binding("escape,q", "close", "Back", id="close", priority=True),
        Binding("e", "copy('event')", "Copy event id", id="copy_event_id"),
        Binding("s", "copy('session')", "Copy session id", id="copy_session_id"),
        Binding("c", "copy('json')", "Copy", id="copy_json", tooltip="Copy what the open tab shows (JSON or the message text)"),
        Binding("1", "tab('decrypted')", "Decrypted JSON", id="details_decrypted", show=False),
        Binding("2", "tab('encrypted')", "Encrypted JSON", id="details_encrypted", show=False),
        Binding("3", "tab('text')", "Message text", id="details_text", show=False,
                tooltip="The whole text of the message, however long"),
    ]

    def __init__(self, item: TimelineItem, room_name: str, *, initial: str | None = None) -> None:
        super().__init__()
        self.item = item
        # A message too long for the timeline opens on its whole text.
        self.initial = initial or ("text" if len(item.body or "") > MAX_CHARS else "decrypted")
        self.room_name = room_name
        self.details: EventDetails | None = None

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(
            Content.assemble(("Event details", "bold"), ("  ·  ", "$foreground-muted"), (clean(self.room_name), "bold")),
            id="details-title",
            markup=False,
        )
        with Vertical(id="details-facts"):
            for field, label in FACTS.items():
                with Horizontal(classes="fact", id=f"fact-{field}"):
                    yield Static(Content.styled(label, "$foreground-muted"), classes="fact-label", markup=False)
                    yield Static(classes="fact-value", markup=False)
        with TabbedContent(id="details-tabs", initial=self.initial):
            with TabPane("1 Decrypted JSON", id="decrypted"):
                yield TextArea(read_only=True, id="decrypted-json", soft_wrap=False, show_line_numbers=False)
            with TabPane("2 Encrypted JSON", id="encrypted"):
                yield TextArea(read_only=True, id="encrypted-json", soft_wrap=False, show_line_numbers=False)
            with TabPane("3 Message text", id="text"):
                yield TextArea(read_only=True, id="text-json", soft_wrap=True, show_line_numbers=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        self._fill(None)
        self.query_one(f"#{self.initial}-json", TextArea).focus()
        self.load()

    @work(exclusive=True, group="details", name="Reading the event", exit_on_error=False)
    async def load(self) -> None:
        room_id, event_id = self.item.room_id, self.item.event_id
        details = await self.tui.bridge.read(lambda e: e.event_details(room_id, event_id))
        self.details = details
        self._fill(details)
        self.refresh_bindings()

    def _set(self, field: str, value: Content | str | None) -> None:
        row = self.query_one(f"#fact-{field}")
        row.display = bool(value)
        if value:
            row.query_one(".fact-value", Static).update(value if isinstance(value, Content) else Content(clean(value)))

    def _fill(self, details: EventDetails | None) -> None:
        item = self.item
        device = (details.sender_device if details else None) or item.sender_device
        sender = person(item.sender, item.sender_name)
        self._set("event", Content(clean_id(item.event_id)))
        self._set("sender", f"{sender} · device {device}" if device else sender)
        session = (details.session_id if details else None) or item.session_id
        self._set("session", Content(clean_id(session)) if session else None)
        self._set("sent", f"{self.tui.time_format.full(item.timestamp)} · {item.event_type}")
        if details is None:
            self._set("trust", Content.styled("reading…", "$foreground-muted"))
            provenance = item.provenance.sentence(item.sender) if item.provenance else None
            failure = item.failure_reason
        else:
            self._set("trust", details.trust)
            provenance, failure = details.provenance, details.failure_reason
        self._set("keys", Content.styled(clean(f"🔑 {provenance}"), "$text-accent") if provenance else None)
        self._set("failure", Content.styled(clean(f"⚠ {failure}"), "$text-error") if failure else None)
        decrypted = as_json(details.decrypted_json) if details else None
        encrypted = as_json(details.encrypted_json) if details else None
        waiting = "(reading…)"
        self.query_one("#decrypted-json", TextArea).load_text(
            decrypted or (waiting if details is None else NO_DECRYPTED)
        )
        self.query_one("#encrypted-json", TextArea).load_text(
            encrypted or (waiting if details is None else NO_ENCRYPTED)
        )
        self.query_one("#text-json", TextArea).load_text(self._text())
        if details is not None and decrypted is None and encrypted is not None and self.initial != "text":
            self.query_one(TabbedContent).active = "encrypted"
            self.query_one("#encrypted-json", TextArea).focus()

    def _text(self) -> str:
        """The message's whole text; for an edited message, every version after it."""
        item = self.item
        if item.redacted:
            by = f" by {item.redacted_by}" if item.redacted_by and item.redacted_by != item.sender else ""
            why = f": {item.redaction_reason}" if item.redaction_reason else ""
            return clean_text(f"(deleted{by}{why}; its text is gone)")
        text = clean_text(item.body) or NO_TEXT
        if item.edits:
            lines = [f"\n\n── edited: every version, oldest first ({len(item.edits)}) ──"]
            for version in item.edits:
                badge = f"  [{version.provenance.badge}]" if version.provenance else ""
                lines.append(f"{self.tui.time_format.full(version.timestamp)}  {clean_text(version.body)}{badge}")
            text += "\n".join(lines)
        return text

    # -- actions -----------------------------------------------------------------------------

    def _copyable(self, what: str) -> str | None:
        details = self.details
        if what == "event":
            return self.item.event_id
        if what == "session":
            return (details.session_id if details else None) or self.item.session_id
        tab = self.query_one(TabbedContent).active
        if what == "json" and tab == "text":
            return clean_text(self.item.body) or None
        if what == "json" and details is not None:
            return as_json(details.decrypted_json if tab == "decrypted" else details.encrypted_json)
        return None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "copy" and parameters:
            return self._copyable(str(parameters[0])) is not None
        return True

    def action_copy(self, what: str) -> None:
        text = self._copyable(what)
        if text is None:
            return
        self.app.copy_to_clipboard(text)
        label = {"event": "event id", "session": "session id", "json": "JSON"}[what]
        if what == "json" and self.query_one(TabbedContent).active == "text":
            label = "message text"
        self.notify(f"Copied the {label}" + (f" {text}" if what != "json" else ""), timeout=3)

    def action_tab(self, tab: str) -> None:
        self.query_one(TabbedContent).active = tab
        self.query_one(f"#{tab}-json", TextArea).focus()
        self.refresh_bindings()

    def on_tabbed_content_tab_activated(self, event: TabbedContent.TabActivated) -> None:
        self.refresh_bindings()

    def action_close(self) -> None:
        self.dismiss()
