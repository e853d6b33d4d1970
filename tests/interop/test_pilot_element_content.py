"""The TUI, on its real engine, reading what Element (matrix-js-sdk 43 + Rust crypto) wrote before
inviting us, through the key bundle: edits, reactions, a reply, a deletion, a thread, polls, a
place, a sticker, a notice, an emote and an unknown msgtype, each shown as Element means it."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import pytest

from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.engine.engine import Engine
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

from .test_interop_timeline import element_writes_everything

pytestmark = [pytest.mark.interop, pytest.mark.integration]

SETTINGS = Settings(sync_timeout_ms=3_000)


async def wait_for(pilot: Any, predicate: Callable[[], Any], timeout: float = 30.0, what: str = "") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


async def test_the_tui_shows_what_element_wrote_through_the_key_bundle(homeserver, make_user, js_peer_factory,
                                                                       tmp_path):
    alice = await js_peer_factory("alice", cross_signing=True)
    bob = make_user("bob")
    profile = tmp_path / "bob"
    seed = Engine("bob", profile_dir=profile)
    await seed.login(homeserver.url, bob.localpart, bob.password)  # (cross-signed, so Alice shares)
    await seed.close()

    room_id = await alice.create_room("Element's history", history_visibility="shared")
    ids = await element_writes_everything(alice, room_id)
    await alice.invite(room_id, bob.user_id)

    host, restored = open_backend("bob", SETTINGS, profile_dir=profile)
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=(120, 50)) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: any(i.room_id == room_id and i.bundle for i in room_list.invites),
                           what="Alice's invite with its keys")
            app.accept_invite(next(i for i in room_list.invites if i.room_id == room_id))
            await wait_for(pilot, lambda: screen.current_room == room_id, what="the room")
            timeline = screen.query_one(Timeline)
            for _ in range(20):  # page back to the start of the room
                if timeline.at_start:
                    break
                timeline.scroll_home(animate=False)
                await pilot.pause(0.3)

            def text(key: str) -> str:
                view = timeline.view_of(ids[key])
                return str(view._body()) if isinstance(view, MessageView) else ""

            def header(key: str) -> str:
                view = timeline.view_of(ids[key])
                return str(view._header()) if isinstance(view, MessageView) else ""

            await wait_for(pilot, lambda: "plain hello, edited (edited)" in text("text") and "Lunch?" in text("poll"),
                           timeout=60, what="the history, decrypted with Alice's keys")
            assert "shared by" in header("text")
            for folded in ("edit", "thumbs", "party", "vote", "poll_end", "stable_vote"):
                assert timeline.view_of(ids[folded]) is None, f"the {folded} event is not a message of its own"
            question = text("question")
            assert "👍 1" in question and "🎉" not in question
            reply = text("reply")
            assert "Shall we ship on Friday?" in reply and "Yes, Friday it is" in reply and "> <" not in reply
            assert "🗑 message deleted: typo" in text("doomed") and "mistake" not in text("doomed")
            assert "🧵 1 reply" in text("root")
            assert "🧵 in a thread" in text("in_thread") and "tests pass" in text("in_thread")
            poll = text("poll")
            assert "📊 Lunch? (ended)" in poll and "Salad  1 vote" in poll and "Pizza  0 votes" in poll
            assert "📊 Stable poll?" in text("stable_poll") and "Yes  1 vote" in text("stable_poll")
            assert "📍 The office · geo:51.5,-0.12" in text("location")
            assert "[sticker] a thumbs up" in text("sticker")
            assert "build is green" in text("notice") and timeline.view_of(ids["notice"]).has_class("-notice")
            assert "waves" in text("emote") and text("emote").startswith("* ")
            assert "words for old clients" in text("custom")
            await pilot.press("ctrl+q")
    finally:
        host.stop()
