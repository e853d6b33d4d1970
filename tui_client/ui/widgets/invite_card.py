"""An invite, explained: the room, who invited you, whether it is encrypted, and whether the
inviter's key bundle arrived (so accepting is an informed choice), with Accept and Decline.

Used in the main screen's right pane and, one per invite, on the invites screen. It posts
`InviteCard.Accepted` / `InviteCard.Declined`; the screen runs the engine command.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.widgets import Button, Static

from ...engine.models import Invite
from ..describe import bundle_line, invite_line
from ..formatting import clean


def invite_details(invite: Invite) -> Content:
    lines = [
        Content.assemble(("✉  ", "$text-accent"), (clean(invite.name), "bold")),
        Content(clean(invite_line(invite))),
        Content.styled(
            "🔒 end-to-end encrypted" if invite.encrypted else "not encrypted",
            "$text-success" if invite.encrypted else "$foreground-muted",
        ),
    ]
    bundle = bundle_line(invite)
    if bundle:
        lines.append(Content.styled(clean(f"🔑 {bundle}"), "$text-accent"))
    elif invite.encrypted:
        lines.append(
            Content.styled(
                "No keys to earlier messages have arrived from the inviter; "
                "you will read from the moment you join.",
                "$foreground-muted",
            )
        )
    return Content("\n").join(lines)


class InviteCard(Vertical, can_focus=True):
    """One pending invite with its two answers."""

    BINDINGS = [
        Binding("a", "accept", "Accept", id="accept_invite", tooltip="Accept this invite"),
        Binding("d", "decline", "Decline", id="decline_invite", tooltip="Decline this invite"),
    ]

    class Accepted(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    class Declined(Message):
        def __init__(self, invite: Invite) -> None:
            super().__init__()
            self.invite = invite

    def __init__(self, invite: Invite, *, id: str | None = None) -> None:
        super().__init__(id=id, classes="invite-card")
        self.invite = invite

    def compose(self) -> ComposeResult:
        yield Static(invite_details(self.invite), classes="invite-details", markup=False)
        with Horizontal(classes="invite-buttons"):
            yield Button("Accept (a)", variant="success", classes="accept", compact=True)
            yield Button("Decline (d)", variant="error", classes="decline", compact=True)

    def set_invite(self, invite: Invite) -> None:
        self.invite = invite
        # (No details while the card is being composed, which uses `invite`, or taken away: a
        # room highlighted right after the invite removes it while the lists change.)
        for details in self.query(".invite-details").results(Static):
            details.update(invite_details(invite))

    def action_accept(self) -> None:
        self.post_message(self.Accepted(self.invite))

    def action_decline(self) -> None:
        self.post_message(self.Declined(self.invite))

    @on(Button.Pressed, ".accept")
    def _accept_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_accept()

    @on(Button.Pressed, ".decline")
    def _decline_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_decline()
