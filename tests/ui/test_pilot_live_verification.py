"""The verification dialog against a real Synapse, with real engines on both sides:

- Bob's new device, in the TUI, compares emoji with his first device (ctrl+t → "Other device"):
  the same seven emoji on both, "They match", and the new device ends verified, holding the
  identity's keys (by secret gossip from the first device).
- Alice asks Bob (in the TUI) to verify in a direct chat: the dialog opens by itself, Bob accepts,
  the emoji match, and each ends with the other's identity verified.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from textual.widgets import Static

from tui_client.engine.models import VerificationPhase
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.identity import VerifyDeviceScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.verification import VerificationScreen
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.status import StatusBar

from .conftest import wait_for
from .test_pilot_live_crypto import SETTINGS, SIZE, logged_in_backend, main_ready, text_of

pytestmark = pytest.mark.integration


def dialog_emoji(dialog: VerificationScreen) -> list[str]:
    return [str(dialog.query_one(f"#emoji-{i}", Static).render()) for i in range(7)]


async def test_a_new_device_compares_emoji_with_the_first_one(homeserver, engines, tmp_path: Path):
    first = await engines("bob")
    user = first.test_user
    host = logged_in_backend("bob-phone", homeserver, user, tmp_path)
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob-phone")
    first.start_sync()
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            status = screen.query_one(StatusBar)
            await wait_for(pilot, lambda: "✗ not verified by your identity" in text_of(status), timeout=20)
            await first.refresh_keys(user.user_id)
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen))
            await pilot.press("ctrl+e")
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen) and app.screen)
            await wait_for(pilot, lambda: "Waiting for your other devices to accept" in text_of(dialog), timeout=20)

            request = await wait_for(pilot, lambda: next((i for i in first.verifications() if i.incoming), None),
                                     timeout=30, what="the request on the first device")
            await first.accept_verification(request.flow_id)
            await wait_for(pilot, lambda: dialog.query_one("#sas-emoji").display, timeout=30, what="the emoji")
            theirs = await wait_for(
                pilot, lambda: (i := next(i for i in first.verifications() if i.flow_id == request.flow_id))
                and i.phase is VerificationPhase.EMOJI and i, timeout=30,
            )
            assert dialog_emoji(dialog) == [symbol for symbol, _ in theirs.emoji]
            await pilot.press("y")
            await first.confirm_verification(request.flow_id)
            await wait_for(pilot, lambda: "✓ Verified" in text_of(dialog), timeout=30, what="verified")
            await wait_for(pilot, lambda: "asked your device" in text_of(dialog), timeout=10)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await wait_for(pilot, lambda: "✓ verified by your identity" in text_of(status), timeout=45,
                           what="the status bar")
            await wait_for(pilot, lambda: bool(app.own_trust and app.own_trust.have_private_keys), timeout=45,
                           what="the identity's keys")
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        host.stop()


async def test_someone_asks_in_a_direct_chat_and_the_dialog_opens(homeserver, engines, make_user, tmp_path: Path):
    alice = await engines("alice")
    bob = make_user("bob")
    host = logged_in_backend("bob", homeserver, bob, tmp_path)
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob")
    alice.start_sync()
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            asking = asyncio.create_task(alice.request_verification(bob.user_id, timeout=60))
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: room_list.invites, timeout=30, what="the direct chat invite")
            room_list.focus()
            room_list.select_id("invite:" + room_list.invites[0].room_id)
            await pilot.pause()
            await pilot.press("a")  # join the direct chat
            asked = await asking
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen) and app.screen,
                                    timeout=30, what="the dialog to open by itself")
            assert "wants to verify you" in text_of(dialog) and alice.user_id in text_of(dialog)
            await pilot.press("a")
            await wait_for(pilot, lambda: dialog.query_one("#sas-emoji").display, timeout=30, what="the emoji")
            mine = next(i for i in alice.verifications() if i.flow_id == asked.flow_id)
            await wait_for(pilot, lambda: next(i for i in alice.verifications() if i.flow_id == asked.flow_id).emoji)
            mine = next(i for i in alice.verifications() if i.flow_id == asked.flow_id)
            assert dialog_emoji(dialog) == [symbol for symbol, _ in mine.emoji]
            for symbol, name in mine.emoji:
                assert name in text_of(dialog)
            await alice.confirm_verification(asked.flow_id)
            await pilot.press("y")
            await wait_for(pilot, lambda: "✓ Verified" in text_of(dialog), timeout=30, what="verified")
            await wait_for(pilot, lambda: f"{alice.user_id} is now verified" in text_of(dialog), timeout=30)
            await wait_for(pilot, lambda: alice.identity_info(bob.user_id).state == "verified", timeout=30)
            await pilot.press("escape")
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        host.stop()
