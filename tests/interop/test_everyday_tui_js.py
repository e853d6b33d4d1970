"""The TUI (on a real engine, in its engine thread, as `tui-client` runs it) and Element's
crypto (matrix-js-sdk 43 + Rust): a mention from Element in an encrypted room the user is not
looking at highlights the room and the message and rings the terminal bell; a message in the
room on screen does not ring."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.ui.conftest import wait_for
from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.engine.engine import Engine
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

pytestmark = [pytest.mark.interop, pytest.mark.integration]

SETTINGS = Settings(sync_timeout_ms=3_000, notify_desktop="off")


async def _profile(homeserver, user, directory: Path) -> None:
    engine = Engine("tui", profile_dir=directory)
    try:
        await engine.login(homeserver.url, user.localpart, user.password)
        await engine.sync_once()
    finally:
        await engine.close()


async def test_a_mention_from_element_rings_the_bell_and_highlights(homeserver, make_user, js_peer_factory, tmp_path):
    js = await js_peer_factory("element")
    me = make_user("tui")
    await _profile(homeserver, me, tmp_path / "tui")
    quiet = await js.create_room("Quiet", history_visibility="shared")
    busy = await js.create_room("Busy", history_visibility="shared")
    for room_id in (quiet, busy):
        await js.invite(room_id, me.user_id, share_history=False)

    host, restored = open_backend("tui", SETTINGS, profile_dir=tmp_path / "tui")
    assert restored
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="tui")
    rings: list[float] = []
    app.bell = lambda: rings.append(1.0)  # type: ignore[method-assign]
    try:
        async with app.run_test(size=(110, 34)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), timeout=30, what="the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: {i.room_id for i in room_list.invites} >= {quiet, busy}, timeout=30,
                           what="both invites")
            for room_id in (quiet, busy):
                await app.bridge.call(lambda e, r=room_id: e.join(r))
            await js.wait_for_membership(quiet, me.user_id)
            await js.wait_for_membership(busy, me.user_id)
            await wait_for(pilot, lambda: {r.room_id for r in room_list.rooms} >= {quiet, busy}, timeout=30,
                           what="both rooms listed")
            room_list.select_id(quiet)
            await wait_for(pilot, lambda: screen.current_room == quiet, what="Quiet open")
            await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=30, what="syncing")

            # In the room on screen: no bell.
            await js.send(quiet, "hello, you are looking at me")
            timeline = screen.query_one(Timeline)
            await wait_for(pilot, lambda: any(i.body == "hello, you are looking at me" for i in timeline.items),
                           timeout=30, what="the message in view")
            assert rings == []

            # A mention elsewhere: the bell, a red count on the room, and the message highlighted.
            await js.send_content(busy, {"msgtype": "m.text", "body": "Tui, the build is red",
                                         "m.mentions": {"user_ids": [me.user_id]}})
            await wait_for(pilot, lambda: rings, timeout=30, what="the bell")
            await wait_for(pilot, lambda: next(r for r in room_list.rooms if r.room_id == busy).highlight == 1,
                           timeout=10, what="the room's mention count")
            prompt = str(room_list.get_option(busy).prompt)
            assert prompt.rstrip().endswith("1")
            room_list.select_id(busy)
            await wait_for(pilot, lambda: any(i.body == "Tui, the build is red" for i in timeline.items),
                           timeout=20, what="the mention in its room")
            item = next(i for i in timeline.items if i.body == "Tui, the build is red")
            assert item.decrypted and item.highlight
            view = timeline.view_of(item.event_id)
            assert isinstance(view, MessageView) and view.has_class("-highlight")
            # Reading the room clears its count.
            await wait_for(pilot, lambda: next(r for r in room_list.rooms if r.room_id == busy).highlight == 0,
                           timeout=10, what="the count to clear once read")
            assert len(rings) == 1
            await pilot.press("ctrl+q")
    finally:
        host.stop()
