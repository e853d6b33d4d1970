"""The emoji verification dialog on the fake engine, both ways: someone asks us (the dialog opens
by itself: accept or decline, the seven emoji with their names, they match or not, the result),
and we ask (f10, or "another device" in the verify-device dialog). A real-server run is in
test_pilot_live_verification.py."""

from __future__ import annotations

from textual.widgets import Button, Input, Static

from tui_client.engine.models import OwnTrust
from tui_client.ui.palette import ActionsProvider
from tui_client.ui.screens.help import HelpScreen
from tui_client.ui.screens.identity import VerifyDeviceScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.verification import VerificationScreen, VerifyWhoScreen

from .conftest import wait_for
from .fake_engine import ALICE, FAKE_EMOJI, ME, FakeEngine
from .test_pilot_fake import ready, texts

SIZE = (100, 32)


def visible_buttons(screen) -> list[str]:
    return [str(b.label) for b in screen.query(Button) if b.display]


def palette_titles(screen) -> set[str]:
    return {title for title, _, _ in ActionsProvider(screen)._actions()}


async def dialog(pilot) -> VerificationScreen:
    return await wait_for(pilot, lambda: isinstance(pilot.app.screen, VerificationScreen) and pilot.app.screen,
                          what="the verification dialog")


async def test_someone_asks_we_accept_compare_the_emoji_and_they_match(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        info = engine.incoming_verification(ALICE)
        screen = await dialog(pilot)
        assert "Alice (@alice:example.org) wants to verify you" in texts(screen)
        assert visible_buttons(screen) == ["Accept (a)", "Decline (d)", "Cancel (esc)"]
        assert {"Accept", "Decline"} <= palette_titles(screen)
        assert not {"They match", "They don't match"} & palette_titles(screen)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.query_one("#sas-emoji").display, what="the emoji")
        shown = texts(screen)
        for symbol, name in FAKE_EMOJI:
            assert symbol in shown and name in shown
        assert "or the numbers  1234  5678  910" in shown
        assert visible_buttons(screen) == ["They match (y)", "They don't match (n)", "Cancel (esc)"]
        assert {"They match", "They don't match"} <= palette_titles(screen)
        await pilot.press("y")
        await wait_for(pilot, lambda: "✓ Verified" in texts(screen), what="the result")
        assert f"{ALICE} is now verified" in texts(screen)
        assert visible_buttons(screen) == ["Close (esc)"]
        assert [c[0] for c in engine.calls if "verification" in c[0]] == ["accept_verification", "confirm_verification"]
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the dialog to close")
        assert engine.verifications_by_id[info.flow_id].phase.value == "done"


async def test_declining_a_request_says_so_and_verifies_nothing(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        info = engine.incoming_verification(ME, "PHONEDEVICE")
        screen = await dialog(pilot)
        assert "Verify your other device?" in texts(screen)
        assert "your device PHONEDEVICE asks to compare emoji with this device" in texts(screen)
        await pilot.press("d")
        await wait_for(pilot, lambda: "✗ Not verified" in texts(screen), what="the cancellation")
        assert "You cancelled: cancelled by the user (m.user)" in texts(screen)
        assert engine.verifications_by_id[info.flow_id].cancel_code == "m.user"


async def test_the_other_side_cancelling_is_shown_in_the_open_dialog(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        info = engine.incoming_verification(ALICE)
        screen = await dialog(pilot)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.query_one("#sas-emoji").display, what="the emoji")
        engine.peer_cancels(info.flow_id, "m.timeout", "the emoji were not compared within 5 minutes")
        await wait_for(pilot, lambda: "✗ Not verified" in texts(screen), what="their cancel")
        assert "the emoji were not compared within 5 minutes (m.timeout)" in texts(screen)
        assert not screen.query_one("#sas-emoji").display


async def test_we_ask_someone_and_the_emoji_do_not_match(make_app):
    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "Verify by emoji" in palette_titles(app.screen)
        await pilot.press("f10")
        who = await wait_for(pilot, lambda: isinstance(app.screen, VerifyWhoScreen) and app.screen)
        field = who.query_one("#verify-who", Input)
        field.value = "alice"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Enter a full user id" in texts(who), what="the error")
        field.value = ALICE
        await pilot.press("enter")
        screen = await dialog(pilot)
        await wait_for(pilot, lambda: "Waiting for Alice (@alice:example.org) to accept" in texts(screen),
                       what="the waiting line")
        assert ("request_verification", (ALICE, None)) in engine.calls
        flow_id = screen.flow_id
        assert flow_id is not None
        engine.peer_ready(flow_id)
        await wait_for(pilot, lambda: screen.query_one("#sas-emoji").display, what="the emoji")
        await pilot.press("n")
        await wait_for(pilot, lambda: "✗ Not verified" in texts(screen), what="the mismatch")
        assert "The emoji did not match, so nothing was verified" in texts(screen)
        assert engine.verifications_by_id[flow_id].cancel_code == "m.mismatched_sas"


async def test_our_other_devices_are_one_key_away_from_the_verify_device_dialog(make_app):
    engine = FakeEngine(own_trust=OwnTrust(True, False, False, "BobMasterKey", "not verified"))
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        # From the verify-device dialog: "another device" compares emoji with our other devices.
        await pilot.press("ctrl+t")
        verify = await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen) and app.screen)
        assert "Other device (^e)" in visible_buttons(verify)
        await pilot.press("ctrl+e")
        screen = await dialog(pilot)
        await wait_for(pilot, lambda: "Waiting for your other devices to accept" in texts(screen))
        assert ("request_verification", (ME, None)) in engine.calls
        await pilot.press("escape")  # closing an unfinished verification cancels it
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: ("cancel_verification", (screen.flow_id,)) in engine.calls)


async def test_asking_without_another_device_says_why_in_the_dialog(make_app):
    engine = FakeEngine()
    engine.other_devices = False
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f10")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyWhoScreen) and app.screen)
        await pilot.press("ctrl+o")
        screen = await dialog(pilot)
        error = screen.query_one("#verification-error", Static)
        await wait_for(pilot, lambda: "you have no other device to verify with" in str(error.render()))
        assert visible_buttons(screen) == ["Close (esc)"]


async def test_the_verification_keys_are_in_the_help(make_app):
    app = make_app(FakeEngine())
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f1")
        help_screen = await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen) and app.screen)
        from textual.widgets import DataTable

        table = help_screen.query_one(DataTable)
        rows = [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]
        ids = {row[3] for row in rows}
        assert {"verify_by_emoji", "verification_accept", "verification_decline", "verification_match",
                "verification_mismatch", "verify_with_emoji", "verify_own_devices"} <= ids
        assert ["f10", "Verify by emoji", "main screen", "verify_by_emoji"] in rows
