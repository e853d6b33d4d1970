"""Behaviour of the UI on a fake engine: what each key and command does, what a user sees.

The fake engine runs in a real EngineHost thread, so these tests exercise the bridge as well.
Real-server behaviour is in test_pilot_live.py.
"""

from __future__ import annotations

import logging
from pathlib import Path

from textual import events
from textual.widgets import Input, Static

from tui_client.config import Settings
from tui_client.engine.models import SyncState
from tui_client.logs import setup_logging
from tui_client.ui.screens.confirm import ConfirmScreen
from tui_client.ui.screens.create_room import CreateRoomScreen
from tui_client.ui.screens.help import HelpScreen
from tui_client.ui.screens.invites import InvitesScreen
from tui_client.ui.screens.log import LogScreen
from tui_client.ui.screens.login import LoginScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.composer import Composer
from tui_client.ui.widgets.invite_card import InviteCard
from tui_client.ui.widgets.message import ItemView, MessageView
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import (
    ALICE,
    DESIGN,
    GENERAL,
    ME,
    PROJECT,
    FakeEngine,
    _item,
    project_timeline,
    ts,
)

SIZE = (100, 30)


async def ready(pilot) -> MainScreen:
    """Wait until the main screen shows Project X's timeline."""
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, MainScreen) or not screen.query(Timeline):
            return False
        return screen.query_one(Timeline).row_of("$e9") is not None

    await wait_for(pilot, shown, what="the main screen with Project X")
    return app.screen


def texts(screen) -> str:
    """All the text of the screen's (or a widget's) statics and timelines (to assert what a user
    reads)."""
    if isinstance(screen, ItemView):  # what the timeline draws of one item
        return str(screen.drawn_rows())
    own = [screen] if isinstance(screen, Static) else []
    drawn = [timeline.drawn_lines() for timeline in screen.query(Timeline)]  # wrapped as drawn
    drawn += [str(view.drawn_rows()) for timeline in screen.query(Timeline) for item in timeline.items
              if (view := timeline.view_of(item.event_id)) is not None]  # each item's text, unwrapped
    return "\n".join([*(str(s.render()) for s in [*own, *screen.query(Static)]), *drawn])


def notifications(app) -> list[str]:
    return [n.message for n in app._notifications]


async def type_and_send(pilot, text: str) -> None:
    composer = pilot.app.screen.query_one(Composer)
    composer.focus()
    composer.insert(text)
    await pilot.press("enter")


async def test_restored_session_shows_rooms_invites_and_the_first_room(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        assert [r.name for r in room_list.rooms] == ["Project X", "General", "Random"]
        assert [i.name for i in room_list.invites] == ["Design review", "Ops"]
        assert screen.current_room == PROJECT
        shown = texts(screen)
        assert "🔑 shared by Alice" in shown
        assert "⚠ Unable to decrypt: not shared: the sender's history settings did not allow it" in shown
        assert "[bold]x[/]" in shown  # markup in a body is shown literally
        assert "● connected" in shown and ME in shown and "BOBDEVICE" in shown
        assert app.fake.calls[0] == ("start_sync", ())


async def test_enter_sends_and_the_message_appears(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_and_send(pilot, "hello **there**")
        await wait_for(pilot, lambda: ("send_text", (PROJECT, "hello **there**", False)) in app.fake.calls)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.items[-1].body == "hello **there**", what="the echo")
        assert screen.query_one(Composer).text == ""


async def test_text_and_enter_in_one_burst_sends_all_the_text(make_app):
    """A terminal (or tmux send-keys) can deliver "hi" and Enter in one read: Enter must not
    overtake the characters typed before it."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        pilot.app.screen.query_one(Composer).focus()
        await pilot.pause()
        for key, char in (("h", "h"), ("i", "i"), ("enter", "\r")):
            app.post_message(events.Key(key, char))  # as the driver does, without pausing
        await wait_for(pilot, lambda: ("send_text", (PROJECT, "hi", False)) in app.fake.calls)


async def test_ctrl_j_inserts_a_newline_instead_of_sending(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        composer = screen.query_one(Composer)
        composer.focus()
        await pilot.press("a", "ctrl+j", "b")
        assert composer.text == "a\nb"
        assert not any(c[0] == "send_text" for c in app.fake.calls)


async def test_unknown_command_is_explained_and_the_text_kept(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_and_send(pilot, "/frobnicate now")
        await pilot.pause()
        assert any("unknown command /frobnicate" in n for n in notifications(app))
        assert screen.query_one(Composer).text == "/frobnicate now"
        assert not any(c[0] == "send_text" for c in app.fake.calls)


async def test_me_and_visibility_commands(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "/me waves")
        await wait_for(pilot, lambda: ("send_text", (PROJECT, "waves", True)) in app.fake.calls)
        await type_and_send(pilot, "/visibility joined")
        await wait_for(pilot, lambda: ("set_history_visibility", (PROJECT, "joined")) in app.fake.calls)


async def test_invite_into_a_shared_room_says_history_will_be_shared_first(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "/invite @dave:example.org")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = texts(app.screen)
        assert "@dave:example.org will read 4 of 5 earlier messages; 1 has a key we never had" in shown
        assert "✗ Carol: (encrypted) — we never had its key" in shown, "each message, as dave will see it"
        await pilot.press("y")
        await wait_for(pilot, lambda: ("invite", (PROJECT, "@dave:example.org")) in app.fake.calls)


async def test_inviting_someone_who_may_not_exist_warns_and_promises_nothing(make_app):
    """First ten minutes #6: '(6 sessions) will be shared' was promised for a user who does not exist."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await type_and_send(pilot, "/invite @ghost:example.org")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen), what="the confirmation")
        shown = texts(app.screen)
        assert "@ghost:example.org may not exist: check the user id" in shown
        assert "Earlier messages will not be shared with @ghost:example.org" in shown
        assert "will be shared" not in shown.replace("will not be shared", "")
        assert "Invite without history" not in shown, "nothing to share, so no second choice"
        await pilot.press("escape")
        await pilot.pause(0.2)
        assert not any(c[0] == "invite" for c in app.fake.calls), "the user decides; escape sends nothing"


async def test_a_failed_send_is_reported_and_the_text_restored(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await type_and_send(pilot, "fail")
        await wait_for(pilot, lambda: any("the server said no" in n for n in notifications(app)))
        assert screen.query_one(Composer).text == "fail"


async def test_keys_arriving_later_rerender_the_message_in_place(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        view = screen.query_one(Timeline).view_of("$e5")
        assert view is not None and view.has_class("-failed")
        app.fake.deliver_keys(PROJECT, "$e5", "Carol's early note")
        await wait_for(pilot, lambda: not view.has_class("-failed"), what="the re-render")
        assert screen.query_one(Timeline).view_of("$e5") is view
        assert "Carol's early note" in texts(view) and "🔑 shared by Alice" in texts(view)


async def test_selecting_a_message_shows_its_provenance_sentence(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        await pilot.pause()
        timeline.selected = "$e3"
        await pilot.pause()
        detail = str(screen.query_one("#detail", Static).render())
        assert "Alice (@alice:example.org, device ALICEDEVICE) sent this message and shared its key later" in detail
        assert "authenticity rests on Alice's word" in detail
        await pilot.press("k", "k")  # j/k move the selection like the arrows
        assert timeline.selected == "$e1"


async def test_new_messages_in_the_open_room_appear(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        app.fake.receive(PROJECT, ALICE, "Alice", "are you there?")
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.items[-1].body == "are you there?")


async def test_accept_an_invite_from_the_room_list(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        room_list = screen.query_one(RoomList)
        room_list.focus()
        assert room_list.select_id("invite:" + DESIGN)
        await pilot.pause()
        card = await wait_for(pilot, lambda: screen.query("#invite-pane InviteCard").first(None))
        assert "Carol shared the keys to 42 earlier messages" in texts(card)
        await pilot.press("a")
        await wait_for(pilot, lambda: screen.current_room == DESIGN, what="the joined room to open")
        assert ("join", (DESIGN,)) in app.fake.calls
        assert [i.room_id for i in room_list.invites] != [DESIGN]


async def test_decline_from_the_invites_screen(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, InvitesScreen))
        await wait_for(pilot, lambda: len(app.screen.query(InviteCard)) == 2)
        await pilot.press("j")
        assert app.screen.focused.invite.name == "Ops"
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: len(app.screen.query(InviteCard)) == 1, what="the card to go")
        assert any(c[0] == "decline" for c in app.fake.calls)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_create_room_with_defaults(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateRoomScreen))
        assert "people you invite later can be given the keys to earlier messages" in texts(app.screen)
        await pilot.press(*"Launch", "enter")
        await wait_for(pilot, lambda: ("create_room", ("Launch", True, "shared")) in app.fake.calls)
        await wait_for(pilot, lambda: screen.current_room == "!launch:example.org")


async def test_scrolling_to_the_top_loads_older_messages(make_app):
    older = [_item(90 + n, PROJECT, ALICE, "Alice", ts(2, 8, n), "message", f"old {n}") for n in range(30)]
    app = make_app(FakeEngine(older={PROJECT: older}))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        timeline.scroll_home(animate=False)
        await wait_for(pilot, lambda: timeline.items[0].body == "old 0", what="older messages")
        await wait_for(pilot, lambda: timeline.at_start and not timeline.loading_older)
        assert ("paginate_back", (PROJECT,)) in app.fake.calls
        assert [i.event_id for i in timeline.items[30:]] == [i.event_id for i in project_timeline()]


async def test_new_messages_stay_in_view_after_older_ones_load(make_app):
    """Loading history above a short timeline must not unhook it from the bottom."""
    older = [_item(90 + n, PROJECT, ALICE, "Alice", ts(2, 8, n), "message", f"old {n}") for n in range(3)]
    app = make_app(FakeEngine(older={PROJECT: older}))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.at_start and timeline.items[0].body == "old 0")
        for n in range(6):
            app.fake.receive(PROJECT, ALICE, "Alice", f"new {n}")
        await wait_for(pilot, lambda: timeline.items[-1].body == "new 5")
        await pilot.pause(0.1)
        last = timeline.region_of(timeline.items[-1].event_id)
        assert timeline.region.y < last.bottom <= timeline.region.bottom


async def test_switching_rooms_with_alt_down(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        await pilot.press("alt+down")
        await wait_for(pilot, lambda: screen.current_room == GENERAL)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: [i.body for i in timeline.items] == ["Lunch at noon?", "waves"])
        await wait_for(pilot, lambda: ("mark_read", (GENERAL,)) in app.fake.calls)


async def test_sync_retrying_shows_reason_countdown_and_reconnect(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        state = SyncState("retrying", "cannot reach the homeserver: refused", 8.0, app.now() - 3)
        app.fake.set_sync_state(state)
        await wait_for(pilot, lambda: "retrying in 5 s — cannot reach the homeserver" in texts(screen))
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: ("retry_now", ()) in app.fake.calls)


async def test_login_errors_then_success(make_app):
    app = make_app(FakeEngine(logged_in=False))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login"))
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#login").region.height, what="the login form")
        screen.query_one("#homeserver", Input).value = "ftp://matrix.example.org"
        screen.query_one("#user", Input).value = "bob"
        screen.query_one("#password", Input).value = "nope"
        await pilot.click("#login")
        await wait_for(pilot, lambda: "bad homeserver URL" in texts(screen))
        screen.query_one("#homeserver", Input).value = "https://example.org"
        screen.query_one("#password", Input).focus()
        await pilot.press("enter")
        await wait_for(pilot, lambda: "wrong user name or password" in texts(screen))
        screen.query_one("#password", Input).value = "secret"
        await pilot.press("enter")
        await ready(pilot)
        assert "@bob:example.org" in texts(app.screen)


async def test_rebinding_a_key_from_settings(make_app):
    app = make_app(settings=Settings(keys={"create_room": "f5"}))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert isinstance(app.screen, MainScreen)
        await pilot.press("f5")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateRoomScreen))
        await pilot.press("escape")
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        table = app.screen.query_one("DataTable")
        rows = [table.get_row_at(i) for i in range(table.row_count)]
        assert ["f5", "New room", "main screen", "create_room"] in [[str(c) for c in r] for r in rows]


async def test_the_palette_lists_every_action_on_screen(make_app):
    from tui_client.ui.palette import ActionsProvider

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        titles = {title for title, _, _ in ActionsProvider(screen)._actions()}
        for title in ("New room", "Invites", "Quit", "Help", "Logs", "Screenshot", "Send", "Newline",
                      "Next room", "Previous message", "First message"):
            assert title in titles, title
        assert not {"Accept", "Decline", "Reconnect"} & titles  # no invite shown; sync is fine

        room_list = screen.query_one(RoomList)
        room_list.select_id("invite:" + DESIGN)
        await wait_for(pilot, lambda: screen.query("#invite-pane InviteCard"))
        await pilot.pause()
        titles = {title for title, _, _ in ActionsProvider(screen)._actions()}
        assert {"Accept", "Decline"} <= titles and "Send" not in titles


async def test_log_screen_shows_lines_live(make_app):
    setup_logging("INFO", to_file=False)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+l")
        await wait_for(pilot, lambda: isinstance(app.screen, LogScreen))
        logging.getLogger("tui_client.test").warning("a line for the log screen")
        log = app.screen.query_one("#log")
        await wait_for(pilot, lambda: any("a line for the log screen" in line for line in log.lines))
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_screenshot_binding_saves_an_svg(make_app, tmp_path: Path):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+s")
        await pilot.pause()
        saved = list((tmp_path / "screenshots").glob("*.svg"))
        assert len(saved) == 1
        assert any(str(saved[0]) in n for n in notifications(app))


async def test_config_problems_are_notified(make_app):
    app = make_app(problems=("config.toml: unknown setting 'colour' ignored",))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert "config.toml: unknown setting 'colour' ignored" in notifications(app)


async def test_ctrl_q_closes_the_engine_and_exits(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+q")
        await wait_for(pilot, lambda: app.fake.closed, what="the engine to close")
    assert app.return_code == 0


async def test_messages_group_and_name_the_sender_once(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        # Alice's two messages decrypted with keys she shared each show their header (and badge).
        first, second = timeline.view_of("$e3"), timeline.view_of("$e4")
        assert isinstance(first, MessageView) and isinstance(second, MessageView)
        assert first.show_header and second.show_header
        assert not timeline.view_of("$e5").has_class("-continuation")
        # Two ordinary messages in a row from her: one header.
        one = app.fake.receive(PROJECT, ALICE, "Alice", "are you there?")
        two = app.fake.receive(PROJECT, ALICE, "Alice", "hello?")
        await wait_for(pilot, lambda: timeline.view_of(two.event_id) is not None)
        assert timeline.view_of(one.event_id).show_header and not timeline.view_of(two.event_id).show_header
        # The first one goes (it turned out to be an edit): the second now starts the group and
        # names her, though it was drawn without a header.
        await timeline.remove_items([one.event_id])
        await pilot.pause()
        view = timeline.view_of(two.event_id)
        assert view.show_header and not view.has_class("-continuation")
        # Drawn on its first line, the text under it.
        drawn = timeline.drawn_text(two.event_id)
        assert "Alice" in drawn[0] and two.body in drawn[1]


class BrokenEngine(FakeEngine):
    def rooms(self):
        raise RuntimeError("no such column: message_count")


async def test_a_failed_start_says_what_and_where_the_log_is(make_app):
    from tui_client.ui.screens.failure import StartupFailedScreen

    app = make_app(BrokenEngine())
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, StartupFailedScreen) and app.screen.query("#failure-hint"))
        shown = texts(app.screen)
        assert "RuntimeError: no such column: message_count" in shown and "tui-client.log" in shown
        await pilot.press("ctrl+q")
    assert app.return_code == 0


async def test_hostile_names_and_bodies_reach_the_screen_as_plain_text(make_app):
    """Server-controlled strings never become markup or terminal escape sequences."""
    from dataclasses import replace

    from tui_client.engine.models import RoomSummary

    evil = "[@click=app.quit]Evil[/] \x1b[2J room"
    rooms = [RoomSummary(PROJECT, evil, None, True, "shared", (), unread=2)]
    items = [replace(i, sender_name="[b]Mallory[/b]\x1b]0;pwned\x07") for i in project_timeline()]
    app = make_app(FakeEngine(rooms=rooms, invites=[], timelines={PROJECT: items}))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        header = str(screen.query_one("#room-header").render())
        assert "[@click=app.quit]Evil[/]" in header and "\x1b" not in header
        view_text = texts(screen.query_one(Timeline).view_of("$e3"))
        assert "[b]Mallory[/b]  " in view_text and "pwned" not in view_text and "\x1b" not in view_text
        option = str(screen.query_one(RoomList).get_option(PROJECT).prompt)
        assert option.startswith("🔒 [@click=app.quit]E") and "\x1b" not in option
        assert isinstance(app.screen, MainScreen)  # nothing was "clicked"


async def test_the_room_shows_the_inviters_keys_while_they_download(make_app):
    """History sharing under attack, hole 5: the download is a state on the room, not a wait."""
    from dataclasses import replace

    from tests.ui.fake_engine import ALICE, default_rooms
    from tui_client.engine.models import BundleSummary

    downloading = BundleSummary(ALICE, "downloading", ts(4, 9, 0) / 1000, bytes_done=1_200_000, bytes_total=5_300_000)
    rooms = [replace(r, incoming_keys=downloading) if r.room_id == PROJECT else r for r in default_rooms()]
    app = make_app(FakeEngine(rooms=rooms))
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        header = str(screen.query_one("#room-header").render())
        assert "⇣ downloading the keys Alice shared… 1.2 of 5.3 MB" in header


async def test_the_mouse_selects_and_copies_a_messages_text(make_app):
    """The timeline draws each message's header, text and marks as lines: a drag over its text
    selects that text (not the header above it), lines counted across the messages."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        said = app.fake.receive(PROJECT, ALICE, "Alice", "select me please")
        await wait_for(pilot, lambda: timeline.row_of(said.event_id) is not None, what="the message drawn")
        timeline.focus()  # (focused, it selects a message: its details show under the timeline)
        timeline.selected = said.event_id
        # The selection's details take lines under the timeline, which shrinks and follows its
        # newest line: the message moves up. Drag where it is once that is done.
        stable: list[object] = []

        def settled() -> bool:
            stable.append((timeline.region, timeline.region_of(said.event_id), timeline.scroll_y))
            return len(stable) >= 3 and stable[-1] == stable[-2] == stable[-3]

        await wait_for(pilot, settled, what="the timeline settled")
        region = timeline.region_of(said.event_id)
        row = region.y + 1 - timeline.region.y  # its text, under its header
        left = region.x - timeline.region.x
        assert timeline.render_line(row - timeline.gutter.top).text.startswith("  select me please")
        await pilot.mouse_down(timeline, offset=(left + 2, row))
        await pilot.hover(timeline, offset=(left + 10, row))  # the last cell under the pointer is selected
        await pilot.mouse_up(timeline, offset=(left + 10, row))
        await pilot.pause()
        assert screen.get_selected_text() == "select me"


async def test_the_main_screen_follows_a_resize_and_ignores_one_to_its_own_size(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        laid_out: list[object] = []  # the sizes the whole screen was laid out for (on a resize)
        original = screen._refresh_layout

        def refresh_layout(size=None, *args, **kwargs):
            if size is not None:
                laid_out.append(size)
            return original(size, *args, **kwargs)

        screen._refresh_layout = refresh_layout
        screen.post_message(events.Resize(screen.size, screen.size))  # what the terminal reports at start
        await pilot.pause(0.1)
        assert laid_out == [], "a resize to the size it has is not a layout of the whole screen"
        width = timeline.size.width
        await pilot.resize_terminal(140, 40)
        await wait_for(pilot, lambda: timeline.size.width > width, what="the timeline widening")
        assert screen.size == (140, 40) and (140, 40) in laid_out


async def test_a_mention_is_marked_at_its_left_edge_on_its_own_background(make_app):
    """A message that mentions the reader is drawn on the highlight's background with a red mark
    at its left edge, the mark on that background too (as Textual draws an "outer" left border)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        said = app.fake.receive(PROJECT, ALICE, "Alice", "look @Bob", highlight=True)
        await wait_for(pilot, lambda: timeline.row_of(said.event_id) is not None, what="the message drawn")
        await pilot.pause()
        row = timeline.region_of(said.event_id).y - timeline.region.y + 1  # its text, under its header
        mark, *text = [segment for segment in timeline.render_line(row - timeline.gutter.top) if segment.text]
        assert mark.text.startswith("▌") and "look @Bob" in "".join(s.text for s in text)
        assert mark.style.bgcolor == text[0].style.bgcolor, "the mark on the message's background"
        assert mark.style.color != text[0].style.color
        assert text[0].style.bgcolor != timeline.visual_style.rich_style.bgcolor, "a mention stands out"
