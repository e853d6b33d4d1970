"""All pending invites, one card each: who invited you and the state of their key bundle, with
Accept / Decline (a / d on the focused card, j / k to move between cards)."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.content import Content
from textual.screen import Screen
from textual.widgets import Footer, Static

from ...engine.models import Invite
from ..widgets.invite_card import InviteCard

if TYPE_CHECKING:
    from ..app import TuiApp


class InvitesScreen(Screen):
    BINDINGS = [
        Binding("escape", "close", "Back", id="close"),
        Binding("down,j", "move(1)", "Next invite", id="cursor_down", show=False),
        Binding("up,k", "move(-1)", "Previous invite", id="cursor_up", show=False),
    ]

    @property
    def tui(self) -> TuiApp:
        return cast("TuiApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(Content.styled("Invites", "bold"), id="invites-title")
        yield VerticalScroll(id="invite-cards")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self.watch(self.app, "invites", self._invites_changed)

    async def _invites_changed(self, invites: tuple[Invite, ...]) -> None:
        cards = self.query_one("#invite-cards", VerticalScroll)
        focused_room = self.focused.invite.room_id if isinstance(self.focused, InviteCard) else None
        existing = {card.invite.room_id: card for card in cards.query(InviteCard)}
        for room_id, card in existing.items():
            if room_id not in {i.room_id for i in invites}:
                await card.remove()
        for invite in invites:
            if invite.room_id in existing:
                existing[invite.room_id].set_invite(invite)
            else:
                await cards.mount(InviteCard(invite))
        await cards.query("#no-invites").remove()
        if not invites:
            await cards.mount(
                Static(Content.styled("No pending invites.", "italic $foreground-muted"), id="no-invites")
            )
            return
        target = next((c for c in cards.query(InviteCard) if c.invite.room_id == focused_room), None)
        if target is None and not isinstance(self.focused, InviteCard):
            target = cards.query(InviteCard).first()
        if target is not None:
            target.focus()

    def action_move(self, step: int) -> None:
        cards = list(self.query(InviteCard))
        if not cards:
            return
        current = self.focused if isinstance(self.focused, InviteCard) else None
        index = cards.index(current) + step if current in cards else 0
        cards[max(0, min(index, len(cards) - 1))].focus()

    def action_close(self) -> None:
        self.dismiss()

    @on(InviteCard.Accepted)
    def _accept(self, message: InviteCard.Accepted) -> None:
        self.tui.accept_invite(message.invite)

    @on(InviteCard.Declined)
    def _decline(self, message: InviteCard.Declined) -> None:
        self.tui.ask_decline(message.invite)
