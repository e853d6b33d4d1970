"""The UI against a real Synapse: log in through the login screen, accept an invite, talk with
another engine (which decrypts what the UI sent), then quit and start again without a login.

The UI's engine runs in a real EngineHost thread exactly as `tui-client` runs it; the other side
is an `Engine` from the `engines` fixture.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.widgets import Input

from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.engine.models import SyncState
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.login import LoginScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.composer import Composer
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (120, 40)
SETTINGS = Settings(sync_timeout_ms=5_000)


def bodies(app: TuiApp) -> list[str]:
    return [i.body or "" for i in app.screen.query_one(Timeline).items if i.is_message]


async def test_login_accept_invite_and_talk(homeserver, engines, make_user, tmp_path: Path) -> None:
    alice = await engines("alice")
    bob = make_user("bob")

    host, restored = open_backend("bob", SETTINGS, profile_dir=tmp_path / "bob")
    assert restored is False
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            # Log in through the login screen.
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#password"))
            login = app.screen
            login.query_one("#homeserver", Input).value = homeserver.url
            login.query_one("#user", Input).value = bob.localpart
            login.query_one("#password", Input).value = "not the password"
            login.query_one("#password", Input).focus()
            await pilot.press("enter")
            await wait_for(pilot, lambda: "wrong user name or password" in str(login.query_one("#login-error").render()),
                           timeout=15, what="the wrong-password error")
            login.query_one("#password", Input).value = bob.password
            await pilot.press("enter")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           timeout=20, what="the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=20, what="syncing")

            # Alice (already logged in elsewhere) writes some history, then invites Bob.
            room_id = await alice.create_room("Lounge", history_visibility="shared")
            await alice.send_text(room_id, "sent before Bob was invited")
            await alice.invite(room_id, bob.user_id)

            # The invite is listed with its inviter; accept it and the room joins the list.
            await wait_for(pilot, lambda: any(i.room_id == room_id for i in room_list.invites),
                           timeout=20, what="Alice's invite")
            invite = next(i for i in room_list.invites if i.room_id == room_id)
            assert invite.inviter == alice.user_id and invite.encrypted
            room_list.focus()
            room_list.select_id("invite:" + room_id)
            await pilot.pause()
            await pilot.press("a")
            await wait_for(pilot, lambda: any(r.room_id == room_id for r in room_list.rooms),
                           timeout=20, what="the joined room in the list")
            await wait_for(pilot, lambda: screen.current_room == room_id, timeout=10, what="the room to open")
            assert not any(i.room_id == room_id for i in room_list.invites)

            # The history from before Bob joined reads with Alice's key bundle, badge and all.
            timeline = screen.query_one(Timeline)
            await wait_for(pilot, lambda: "sent before Bob was invited" in bodies(app), timeout=30,
                           what="the shared history to decrypt")
            early = next(i for i in timeline.items if i.body == "sent before Bob was invited")
            assert early.provenance is not None and early.provenance.shared_by == alice.user_id
            assert "🔑 shared by Alice" in (timeline.view_of(early.event_id).shown_part("meta") or "")

            # Send from the composer; Alice's engine decrypts it.
            composer = screen.query_one(Composer)
            composer.focus()
            composer.insert("hello **Alice**")
            await pilot.press("enter")
            assert await alice.wait_until(
                lambda: any(i.body == "hello **Alice**" and i.decrypted for i in alice.timeline(room_id)), 20
            ), "Alice could not decrypt Bob's message"

            # Alice replies; it appears in the UI, decrypted.
            await alice.send_text(room_id, "welcome, Bob")
            await wait_for(pilot, lambda: "welcome, Bob" in bodies(app), timeout=20, what="Alice's reply")
            reply = next(i for i in screen.query_one(Timeline).items if i.body == "welcome, Bob")
            assert reply.decrypted and reply.sender == alice.user_id and reply.sender_name == "Alice"
            assert app.sync_state.state == "syncing"

            await pilot.press("ctrl+q")  # stops the engine, releasing the profile lock, then exits
        assert app.return_code == 0
    finally:
        host.stop()

    # The next start restores the session: no login screen, the room is there. (Opening the
    # profile again would raise ProfileLockedError had the quit not released the lock.)
    host, restored = open_backend("bob", SETTINGS, profile_dir=tmp_path / "bob")
    assert restored is True
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           timeout=20, what="the restored main screen")
            assert not any(isinstance(s, LoginScreen) for s in app.screen_stack)
            room_list = app.screen.query_one(RoomList)
            await wait_for(pilot, lambda: any(r.room_id == room_id for r in room_list.rooms),
                           timeout=20, what="the room after a restart")
            await wait_for(pilot, lambda: app.sync_state == SyncState("syncing", since=app.sync_state.since))
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        host.stop()


async def test_unreachable_server_and_bad_url_are_explained(tmp_path: Path) -> None:
    host, restored = open_backend("carol", SETTINGS, profile_dir=tmp_path / "carol")
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="carol")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#password"))
            login = app.screen
            error = login.query_one("#login-error")
            # A typed loopback address without a scheme means http (nothing listens on port 9).
            for url, expected in (("ftp://matrix.example.org", "bad homeserver URL"),
                                  ("127.0.0.1:9", "cannot reach http://127.0.0.1:9")):
                login.query_one("#homeserver", Input).value = url
                login.query_one("#user", Input).value = "carol"
                login.query_one("#password", Input).value = "pw"
                login.query_one("#password", Input).focus()
                await pilot.press("enter")
                await wait_for(pilot, lambda: expected in str(error.render()), timeout=15, what=expected)
            assert isinstance(app.screen, LoginScreen)
    finally:
        host.stop()
