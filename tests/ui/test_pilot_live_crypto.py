"""The crypto views against a real Synapse, with real engines on both sides:

- Bob, in the TUI, accepts Alice's invite to a room whose history holds a message from Alice
  (its key comes in her bundle) and one from Dave, whose legacy client never marks sessions as
  shareable (so its key is withheld). The timeline shows the 🔑 badge and the not-shared reason;
  the crypto inspector shows the session "shared by" Alice and the withheld record; event details
  give the provenance sentence and the failure reason.
- Bob's second device, in the TUI, verifies itself with the recovery key his first device set up:
  a wrong key is refused in the dialog, the right one verifies (status bar, and the first device
  sees the new device cross-signed).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from textual.widgets import DataTable, Input, Static

from tests.helpers import bodies
from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.engine.crypto.secret_storage import encode_recovery_key
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.event_details import EventDetailsScreen
from tui_client.ui.screens.identity import VerifyDeviceScreen
from tui_client.ui.screens.inspector import CryptoInspectorScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.status import StatusBar
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (120, 40)
SETTINGS = Settings(sync_timeout_ms=5_000)


def logged_in_backend(profile: str, homeserver, user, tmp_path: Path):
    """An EngineHost for `user` on a new device, logged in before the UI starts (the login
    screen has its own live test)."""
    host, restored = open_backend(profile, SETTINGS, profile_dir=tmp_path / profile)
    assert restored is False
    try:
        host.run(lambda e: e.login(homeserver.url, user.localpart, user.password)).result(timeout=60)
    except BaseException:
        host.stop()
        raise
    return host


def text_of(widget) -> str:
    return "\n".join(str(s.render()) for s in widget.query(Static))


async def main_ready(pilot, app: TuiApp) -> MainScreen:
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                   timeout=20, what="the main screen")
    await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=20, what="syncing")
    return app.screen


async def test_shared_history_badge_inspector_and_event_details(homeserver, engines, make_user, tmp_path: Path):
    # Alice (an MSC4268 client) and Dave (a legacy client) talk before Bob is invited.
    alice = await engines("alice")
    dave = await engines("dave", legacy_no_shared_history=True)
    room_id = await alice.create_room("Mixed clients", history_visibility="shared")
    await alice.invite(room_id, dave.user_id)
    assert await dave.wait_until(lambda: any(i.room_id == room_id for i in dave.invites()), 20)
    await dave.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    a1 = await alice.send_text(room_id, "alice speaks")
    d1 = await dave.send_text(room_id, "dave speaks")
    assert await alice.wait_until(lambda: "dave speaks" in bodies(alice.timeline(room_id)))

    bob = make_user("bob")
    host = logged_in_backend("bob", homeserver, bob, tmp_path)
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            room_list = screen.query_one(RoomList)
            await alice.invite(room_id, bob.user_id)
            await wait_for(pilot, lambda: any(i.room_id == room_id for i in room_list.invites),
                           timeout=20, what="Alice's invite")
            room_list.focus()
            room_list.select_id("invite:" + room_id)
            await pilot.pause()
            await pilot.press("a")
            await wait_for(pilot, lambda: screen.current_room == room_id, timeout=20, what="the joined room")

            # The timeline: Alice's message decrypted with her bundle and badged; Dave's explained.
            timeline = screen.query_one(Timeline)

            def item(event_id: str):
                return next((i for i in timeline.items if i.event_id == event_id), None)

            await wait_for(pilot, lambda: (i := item(a1)) is not None and i.decrypted, timeout=30,
                           what="Alice's message to decrypt with her bundle")
            await wait_for(pilot, lambda: (i := item(d1)) is not None and i.failure_code == "not_shared",
                           timeout=30, what="Dave's message to be explained")
            assert f"🔑 shared by Alice ({alice.user_id})" in (timeline.view_of(a1).shown_part("meta") or "")
            dave_body = (timeline.view_of(d1).shown_part("body") or "")
            assert "not shared: the sender's history settings did not allow it (m.history_not_shared)" in dave_body

            # The crypto inspector: the session Alice shared, and the withheld record.
            await pilot.press("f4")
            inspector = await wait_for(pilot, lambda: isinstance(app.screen, CryptoInspectorScreen) and app.screen)
            sessions = inspector.query_one("#sessions-table", DataTable)
            await wait_for(pilot, lambda: inspector.report is not None, what="the inspection")
            origins = [str(sessions.get_row_at(i)[4]) for i in range(sessions.row_count)]
            assert f"bundle from {alice.user_id}" in origins, origins
            await pilot.press("2")
            withheld = inspector.query_one("#withheld-table", DataTable)
            rows = [[str(c) for c in withheld.get_row_at(i)] for i in range(withheld.row_count)]
            assert [(r[1], r[3]) for r in rows] == [("m.history_not_shared", "bundle")]
            assert rows[0][4].startswith(alice.user_id)
            await pilot.press("escape")

            # Event details of both messages.
            for event_id, expected in (
                (a1, f"Alice ({alice.user_id}, device {alice.device_id}) sent this message and shared its key later"),
                (d1, "not shared: the sender's history settings did not allow it"),
            ):
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
                timeline.focus()
                timeline.selected = event_id
                await pilot.press("i")
                details = await wait_for(
                    pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen.details is not None and app.screen
                )
                assert expected in text_of(details)
                assert details.details.session_id and details.details.encrypted_json is not None
                await pilot.press("escape")
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        host.stop()


async def test_second_device_verifies_with_the_recovery_key(homeserver, engines, tmp_path: Path):
    first = await engines("bob")  # the account's first device publishes the identity on login
    recovery_key = await first.setup_recovery()
    user = first.test_user

    host = logged_in_backend("bob-laptop", homeserver, user, tmp_path)
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob-laptop")
    try:
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            status = screen.query_one(StatusBar)
            await wait_for(pilot, lambda: "✗ not verified by your identity" in text_of(status), timeout=20,
                           what="the unverified status")
            await pilot.press("ctrl+t")
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen) and app.screen)
            field = dialog.query_one("#recovery-input", Input)
            field.value = encode_recovery_key(os.urandom(32))  # well-formed, but not this account's
            await pilot.press("enter")
            error = dialog.query_one("#dialog-error", Static)
            await wait_for(pilot, lambda: "does not match" in str(error.render()), timeout=30, what="the refusal")
            assert app.screen is dialog and not app.own_trust.device_verified

            field.value = recovery_key
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), timeout=30, what="the dialog to close")
            await wait_for(pilot, lambda: "✓ verified by your identity" in text_of(status), timeout=10)
            assert app.own_trust.device_verified and app.own_trust.have_private_keys
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        host.stop()

    # The first device sees the new one signed by the identity.
    device_id = app.device_id
    await first.refresh_keys(user.user_id)
    assert first.identity.device_cross_signed(user.user_id, device_id)
