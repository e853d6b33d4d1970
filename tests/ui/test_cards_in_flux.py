"""An invite or space card told of a newer invite or space while it is being composed or taken
away (a room highlighted right after an invite removes the card while the room lists change:
seen as 'Checking identities failed' and a lost notification) takes it without an error, and
shows it once composed."""

from __future__ import annotations

from textual.app import App, ComposeResult
from textual.widgets import Static

from tui_client.engine.models import Invite, RoomSummary
from tui_client.ui.widgets.invite_card import InviteCard
from tui_client.ui.widgets.space_card import SpaceCard


def invite(name: str) -> Invite:
    return Invite("!r:hs", name, "@carol:hs", "Carol", True)


def space(name: str) -> RoomSummary:
    return RoomSummary("!s:hs", name, None, False, "shared", (), 0, is_space=True)


class Cards(App[None]):
    def compose(self) -> ComposeResult:
        yield InviteCard(invite("First name"))
        yield SpaceCard(space("First space"), {})


def details(card: InviteCard | SpaceCard) -> str:
    return " ".join(str(s.render()) for s in card.query(".invite-details, .space-details").results(Static))


async def test_a_card_whose_details_are_gone_takes_the_newer_invite_without_an_error():
    app = Cards()
    async with app.run_test() as pilot:
        card, space_card = app.query_one(InviteCard), app.query_one(SpaceCard)
        assert "First name" in details(card) and "First space" in details(space_card)
        await card.query_one(".invite-details").remove()  # what a card being taken away goes through
        await space_card.query_one(".space-details").remove()
        card.set_invite(invite("Second name"))
        space_card.set_space(space("Second space"), {})
        await pilot.pause()
        assert card.invite.name == "Second name" and space_card.space.name == "Second space"


async def test_a_card_told_before_it_is_composed_shows_the_newer_invite():
    app = Cards()
    async with app.run_test() as pilot:
        card = InviteCard(invite("First name"))
        card.set_invite(invite("Second name"))
        await app.mount(card)
        await pilot.pause()
        assert "Second name" in details(card) and "First name" not in details(card)
