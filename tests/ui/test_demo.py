"""`tui-client demo`, headless: the whole story on a real (temporary) demo homeserver.

Bob is invited by Alice with a key bundle, accepts with the keyboard, reads the history with
"🔑 shared by Alice" beside Alice's earlier messages and the reason beside Dave's, talks to Alice's
bot, invites Charlie from the command palette; then Charlie accepts and reads the same history,
shared by Bob, Dave's message still explained. The hint line follows along.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from pathlib import Path

import pytest
from textual.command import CommandList

from tui_client.demo.launcher import start_bot, stop_bot
from tui_client.demo.story import HISTORY, Demo
from tui_client.cli import open_backend
from tui_client.ui.demo import DemoApp
from tui_client.ui.screens.confirm import ConfirmScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.composer import Composer
from tui_client.ui.widgets.hints import HintLine
from tui_client.ui.widgets.invite_card import InviteCard
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (100, 30)
ALICE_SAID = [text for who, text in HISTORY if who == "alice"]
DAVE_SAID = next(text for who, text in HISTORY if who == "dave")
NOT_SHARED = "not shared: the sender's history settings did not allow it"


def text_of(widget) -> str:
    return str(widget.render())


def hint_text(app: DemoApp) -> str:
    lines = app.main_screen.query(HintLine) if app.main_screen is not None else []
    return text_of(lines.first()) if lines else ""


def view_text(timeline: Timeline, event_id: str) -> str:
    view = timeline.view_of(event_id)
    return str(view.drawn_rows()) if view is not None else ""


def palette_offers(app: DemoApp, title: str) -> bool:
    lists = app.screen.query(CommandList)
    return bool(lists) and any(title in str(o.prompt) for o in lists.first().options)


async def open_invite(pilot, app: DemoApp, note: str) -> InviteCard:
    """Wait for the main screen with the invite card showing `note`."""
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(InviteCard),
                   timeout=30, what="the invite card")
    card = app.screen.query_one(InviteCard)
    await wait_for(pilot, lambda: card.query(".invite-details") and note in text_of(card.query_one(".invite-details")),
                   timeout=30,
                   what=f"the invite's bundle note {note!r}")
    return card


async def accept_and_read(pilot, app: DemoApp, room_id: str) -> Timeline:
    """Accept with the keyboard; the room opens by itself and its history decrypts."""
    screen = app.main_screen
    await wait_for(pilot, lambda: isinstance(app.focused, InviteCard), what="the invite card to take the focus")
    await pilot.press("a")
    await wait_for(pilot, lambda: screen.current_room == room_id, timeout=30, what="the room to open")
    timeline = screen.query_one(Timeline)

    def history_shown() -> bool:
        items = {i.body: i for i in timeline.items if i.body}
        alice_ok = all(t in items and items[t].provenance is not None for t in ALICE_SAID)
        dave_ok = any(i.failure_code == "not_shared" for i in timeline.items)
        return alice_ok and dave_ok

    try:
        await wait_for(pilot, history_shown, timeout=30, what="the shared history and Dave's explained message")
    except AssertionError:
        shown = [(i.sender, i.body, i.failure_code) for i in timeline.items if i.is_message]
        engine = await app.bridge.read(lambda e: [(i.sender, i.body, i.failure_code) for i in e.timeline(room_id) if i.is_message])
        raise AssertionError(f"the history did not show as expected; the timeline holds {shown}; the engine {engine}") from None
    await pilot.pause()
    return timeline


async def select_until(pilot, timeline: Timeline, predicate, what: str) -> None:
    for _ in range(len(timeline.items) + 2):
        await pilot.press("k")
        await pilot.pause()
        item = next((i for i in timeline.items if i.event_id == timeline.selected), None)
        if item is not None and predicate(item):
            return
    raise AssertionError(f"k never reached {what}")


async def test_the_demo_story_headless(tmp_path: Path) -> None:
    await play(tmp_path)


async def test_slow_room_load_and_a_dead_bot(tmp_path: Path, monkeypatch) -> None:
    """The history's keys are imported while the room's timeline loads; a slow load must not
    leave the messages "waiting for keys" (the main screen holds engine updates that arrive
    during a load and replays them). Then
    Alice's bot dies: the TUI carries on and the hint line says Alice went quiet."""
    original = Timeline.show

    async def slow_show(self, room_id, items, at_start, **kwargs):
        await asyncio.sleep(1.0)
        return await original(self, room_id, items, at_start, **kwargs)

    monkeypatch.setattr(Timeline, "show", slow_show)
    await play(tmp_path, whole_story=False)


async def play(tmp_path: Path, whole_story: bool = True) -> None:
    started = time.monotonic()
    demo = Demo(tmp_path / "demo", progress=lambda line: None)
    bot: subprocess.Popen | None = None
    demo.start_server()
    try:
        await demo.prepare()
        room_id = demo.state.room_id
        assert room_id and demo.state.story_done
        bot = start_bot(demo)
        assert demo.bot_alive() is True

        # -- act one: Bob ------------------------------------------------------------------------
        host, restored = open_backend("bob", demo.settings(), profile_dir=demo.profile_dir("bob"))
        assert restored
        app = DemoApp(host, demo=demo, user="bob", restored=True, settings=demo.settings(), poll_interval=0.1)
        try:
            async with app.run_test(size=SIZE) as pilot:
                card = await open_invite(pilot, app, "Alice shared the keys to 3 earlier messages")
                assert "Alice (@alice:localhost) invited you" in text_of(card.query_one(".invite-details"))
                await wait_for(pilot, lambda: "shared the keys to 3 earlier messages: press a" in hint_text(app),
                               what="the accept hint")

                timeline = await accept_and_read(pilot, app, room_id)
                for item in timeline.items:
                    if item.body in ALICE_SAID:
                        assert "🔑 shared by Alice" in view_text(timeline, item.event_id)
                dave = next(i for i in timeline.items if i.failure_code == "not_shared")
                assert dave.sender == "@dave:localhost"
                assert NOT_SHARED in view_text(timeline, dave.event_id)
                await wait_for(pilot, lambda: "Press f3, then k/↑" in hint_text(app), what="the read hint")
                if not whole_story:
                    # Alice's bot dies: the demo carries on, and the hint line says so.
                    bot.kill()
                    await wait_for(pilot, lambda: demo.bot_alive() is False, what="the bot to be seen dead")
                    await pilot.press("f3")
                    await select_until(pilot, timeline, lambda i: i.failure_code == "not_shared", "Dave's message")
                    await select_until(pilot, timeline, lambda i: i.provenance is not None, "a shared message")
                    await wait_for(pilot, lambda: "Alice went quiet" in hint_text(app) and "Invite Charlie" in hint_text(app),
                                   what="the quiet-Alice hint")
                    assert app.is_running and isinstance(app.screen, MainScreen)
                    await pilot.press("ctrl+q")
                    return

                # Read: f3 starts on the newest message (Alice's, shared), not on "Bob joined";
                # then Dave's. The detail line explains each.
                await pilot.press("f3")
                await pilot.pause()
                newest = next(i for i in timeline.items if i.event_id == timeline.selected)
                assert newest.is_message and newest.provenance is not None, newest
                detail = app.main_screen.query_one("#detail")
                assert "Alice (@alice:localhost, device" in text_of(detail)
                assert "not encrypted" not in text_of(detail)
                await wait_for(pilot, lambda: "Dave's message can't be read" in hint_text(app), what="the why hint")
                await select_until(pilot, timeline, lambda i: i.failure_code == "not_shared", "Dave's message")
                assert NOT_SHARED in text_of(detail)
                await wait_for(pilot, lambda: "Say something to Alice" in hint_text(app), what="the talk hint")

                # Talk: Alice's bot answers.
                await pilot.press("escape")
                composer = app.main_screen.query_one(Composer)
                assert composer.has_focus
                composer.insert("Hi Alice, I can read the history!")
                await pilot.press("enter")
                await wait_for(pilot, lambda: any(i.own and i.body for i in timeline.items), timeout=15,
                               what="Bob's message")
                await wait_for(
                    pilot,
                    lambda: any(i.sender == "@alice:localhost" and i.body and "You can read what we wrote" in i.body
                                for i in timeline.items),
                    timeout=20, what="Alice's bot to answer",
                )
                await wait_for(pilot, lambda: "Invite Charlie: ctrl+p" in hint_text(app), what="the invite hint")

                # Invite Charlie from the command palette, confirming the history sharing.
                await pilot.press("ctrl+p")
                await pilot.pause()
                await pilot.press(*"invite", "space", *"charlie")
                await wait_for(pilot, lambda: palette_offers(app, "Invite Charlie"), what="the palette's Invite Charlie")
                commands = app.screen.query_one(CommandList)
                if commands.highlighted is None:
                    await pilot.press("down")
                offered = str(commands.get_option_at_index(commands.highlighted).prompt)
                assert "Invite Charlie" in offered and "Invite @charlie:localhost to Project Aurora" in offered
                await pilot.press("enter")
                await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), timeout=10,
                               what="the invite confirmation")
                assert "@charlie:localhost" in app.screen.question
                # The room as Charlie will see it: Dave's message never shareable, the rest readable.
                from tui_client.ui.screens.share_preview import SharePreviewScreen

                assert isinstance(app.screen, SharePreviewScreen)
                shown = " ".join(str(w.render()) for w in app.screen.query("Static"))
                assert "@charlie:localhost will read" in shown and "1 was never shareable" in shown
                assert "✗ Dave: (encrypted) — not shareable" in shown
                await wait_for(pilot, lambda: "Press y: Charlie gets the invite" in hint_text(app),
                               what="the confirm hint")
                await pilot.press("y")
                await wait_for(pilot, lambda: "tui-client demo --as charlie" in hint_text(app), timeout=30,
                               what="the end of Bob's story")
                await pilot.press("ctrl+q")
            assert app.return_code == 0
        finally:
            host.stop()

        # -- act two: Charlie ----------------------------------------------------------------------
        host, restored = open_backend("charlie", demo.settings(), profile_dir=demo.profile_dir("charlie"))
        app = DemoApp(host, demo=demo, user="charlie", restored=restored, settings=demo.settings(),
                      poll_interval=0.1)
        try:
            async with app.run_test(size=SIZE) as pilot:
                await open_invite(pilot, app, "Bob shared the keys to")
                await wait_for(pilot, lambda: "Bob invited you and shared the keys" in hint_text(app),
                               what="Charlie's accept hint")
                timeline = await accept_and_read(pilot, app, room_id)
                for item in timeline.items:
                    if item.body in ALICE_SAID:
                        assert item.provenance.shared_by == "@bob:localhost"
                        assert "🔑 shared by Bob" in view_text(timeline, item.event_id)
                dave = next(i for i in timeline.items if i.failure_code == "not_shared")
                assert NOT_SHARED in view_text(timeline, dave.event_id)
                assert any(i.own is False and i.sender == "@bob:localhost" and i.provenance is not None
                           for i in timeline.items if i.body == "Hi Alice, I can read the history!")
                await wait_for(pilot, lambda: "Bob passed on the keys Alice gave him" in hint_text(app),
                               what="Charlie's read hint")
                await pilot.press("ctrl+q")
            assert app.return_code == 0
        finally:
            host.stop()
    finally:
        stop_bot(demo, bot)
        demo.stop()
    assert bot is None or bot.poll() is not None
    assert time.monotonic() - started < 90


async def test_a_second_run_on_a_used_profile_lands_on_its_own_invite(tmp_path: Path) -> None:
    """Bob accepted the first story's invite and made a room of his own; the next `tui-client
    demo` stages a new invite: the app must open on it with the focus there, so the `a` the hint
    asks for accepts it (it used to open Bob's room and type "a" into its composer)."""
    demo = Demo(tmp_path / "demo", progress=lambda line: None)
    demo.start_server()
    try:
        await demo.prepare()
        first = demo.state.room_id
        bob = await demo.engine("bob")
        try:
            await bob.join(first)
            await bob.create_room("Bob's notes")
        finally:
            await bob.close()
        await demo.prepare(replay=True)  # what the launcher does on the next run
        room_id = demo.state.room_id
        assert room_id != first

        host, restored = open_backend("bob", demo.settings(), profile_dir=demo.profile_dir("bob"))
        app = DemoApp(host, demo=demo, user="bob", restored=restored, settings=demo.settings(),
                      bot_check=lambda: None, poll_interval=0.1)
        try:
            async with app.run_test(size=SIZE) as pilot:
                def landed() -> bool:
                    return isinstance(app.focused, InviteCard) and app.focused.invite.room_id == room_id

                try:
                    await wait_for(pilot, landed, timeout=30, what="the new invite to take the focus")
                except AssertionError:
                    from tui_client.ui.widgets.room_list import RoomList

                    rooms = app.main_screen.query_one(RoomList) if app.main_screen else None
                    raise AssertionError(
                        f"the invite to {room_id} never took the focus: screen {app.screen}, focused {app.focused}, "
                        f"invites {[i.room_id for i in app.invites]}, rooms {[r.name for r in app.rooms]}, "
                        f"list options {rooms.option_count if rooms else None}, current {rooms._current if rooms else None}"
                    ) from None
                await wait_for(pilot, lambda: "press a to accept" in hint_text(app), what="the accept hint")
                await pilot.press("a")
                screen = app.main_screen
                await wait_for(pilot, lambda: screen.current_room == room_id, timeout=30, what="the new room to open")
                assert screen.query_one(Composer).text == "", "the a went into a composer"
                await pilot.press("ctrl+q")
        finally:
            host.stop()
    finally:
        demo.stop()
