"""Before an invite: the room's earlier messages as the invitee will see them — each marked
readable or not, with the reason in words — and the choice to invite with or without history.

Dismissed with "yes" (invite, sharing history), "other" (invite without history) or None.
"""

from __future__ import annotations

from collections.abc import Mapping

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.content import Content
from textual.widgets import Button, Static

from ...engine.models import SharePrediction, TimelineItem
from ..formatting import clean
from .confirm import ConfirmScreen


def headline(user_id: str, prediction: SharePrediction) -> str:
    """The one sentence above the list."""
    if not prediction.shareable:
        return f"Earlier messages will not be shared with {user_id}: {prediction.reason}."
    return f"{prediction.summary(user_id)}."


def row(item: TimelineItem | None, readable: bool, reason: str | None) -> Content:
    mark = ("✓ ", "$success") if readable else ("✗ ", "$error")
    who = clean(item.sender_name) if item else "?"
    if item is not None and item.body is not None:
        first = clean(item.body).splitlines()[0] if item.body else ""
        text = first if len(first) <= 60 else first[:59] + "…"
    else:
        text = "(encrypted)"
    parts: list[tuple[str, str] | str] = [mark, (f"{who}: ", "bold"), text]
    if not readable and reason:
        parts.append((f" — {clean(reason)}", "$foreground-muted"))
    return Content.assemble(*parts)


class SharePreviewScreen(ConfirmScreen):
    """A `ConfirmScreen` with the timeline as the invitee will see it."""

    def __init__(
        self, room_name: str, user_id: str, prediction: SharePrediction, items: Mapping[str, TimelineItem]
    ) -> None:
        other = "Invite without history" if prediction.shareable else None
        super().__init__(f"Invite {user_id} to {room_name}?", confirm="Invite", other=other)
        self.add_class("share-preview")
        self.user_id = user_id
        self.prediction = prediction
        self.items = items

    def compose(self) -> ComposeResult:
        prediction = self.prediction
        with Vertical(classes="dialog wide-dialog"):
            yield Static(clean(self.question), classes="question dialog-title", markup=False)
            yield Static(clean(headline(self.user_id, prediction)), classes="question", markup=False)
            if prediction.preview.warning:
                yield Static(Content.styled(f"⚠ {clean(prediction.preview.warning)}.", "$warning"),
                             classes="question")
            if prediction.events:
                yield Static(Content.styled(f"As {clean(self.user_id)} will see it:", "bold"), classes="question")
                with VerticalScroll(classes="preview-list"):
                    for event in prediction.events:
                        yield Static(row(self.items.get(event.event_id), event.readable, event.reason),
                                     classes="preview-row")
            with Horizontal(classes="dialog-buttons"):
                yield Button(f"{self.labels['yes']} ({self._key('confirm_yes')})", variant="primary", id="yes")
                if self.labels["other"]:
                    yield Button(f"{self.labels['other']} ({self._key('confirm_other')})", id="other")
                yield Button(f"{self.labels['no']} ({self._key('confirm_no')})", id="no")
