"""What a new user meets in the first minutes (issue 16), on the fake engine: the 🔑 badge on every
shared message with the sharer's user id, event details that do not contradict themselves when
the sender shared their own key, the messages pane starting on the newest message, no stale
placeholder after logging in, long messages readable in full, toasts clear of the status bar,
key bindings from the config checked at start, and the small print (plurals, palette order,
ctrl+c, sync state, leading spaces).
"""

from __future__ import annotations

from textual.widgets import Input, Static, TextArea

from tui_client.engine.models import Decryption
from tui_client.ui.screens.event_details import EventDetailsScreen
from tui_client.ui.screens.login import LoginScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import ALICE, PROJECT, FakeEngine, _item, project_timeline, ts
from .test_pilot_fake import SIZE, notifications, ready, texts

def header(timeline: Timeline, event_id: str) -> str:
    view = timeline.view_of(event_id)
    assert isinstance(view, MessageView)
    return view.shown_part("meta") or ""


async def test_every_shared_message_carries_the_badge_with_the_sharers_user_id(make_app):
    """Alice's two messages in a row were decrypted with keys she shared: both say so, and the
    badge names her user id, so a look-alike display name cannot pass as her."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        for event_id in ("$e3", "$e4"):
            assert "🔑 shared by Alice (@alice:example.org)" in header(timeline, event_id), event_id
        # Messages without shared keys still group under one header.
        assert not timeline.view_of("$e9").has_class("-continuation") or "🔑" not in header(timeline, "$e9")


async def test_details_of_a_message_whose_sender_shared_its_key(make_app):
    """Alice sent it and Alice shared its key: the details line must not say the key came from
    someone other than the sender."""
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
        await pilot.press("i")
        details = await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen)
        await wait_for(pilot, lambda: details.details is not None)
        shown = texts(details)
        assert "the sender shared this key later, in a key bundle" in shown
        assert "not from the sender" not in shown


async def test_the_messages_pane_starts_on_the_newest_message(make_app):
    """f3 selects the newest message, not the membership lines after it (which read "not
    encrypted" in the detail line)."""
    items = project_timeline()[:5] + [
        _item(6, PROJECT, ALICE, "Alice", ts(4, 8, 55), "membership", "Alice invited Bob"),
        _item(7, PROJECT, "@bob:example.org", "Bob", ts(4, 9, 1), "membership", "Bob joined"),
    ]
    app = make_app(FakeEngine(timelines={PROJECT: items}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(Timeline)
                       and app.screen.query_one(Timeline).view_of("$e7") is not None, what="the timeline")
        screen = app.screen
        await pilot.press("f3")
        await pilot.pause()
        timeline = screen.query_one(Timeline)
        assert timeline.selected == "$e5"  # Carol's message, the newest one
        await pilot.press("k")
        await pilot.pause()
        assert timeline.selected == "$e4"
        assert "🔑 Alice" in str(screen.query_one("#detail", Static).render())


async def test_no_stale_placeholder_after_logging_in(make_app):
    """Log in on an account whose rooms arrive after the main screen shows: the room's timeline
    replaces "No room open…"."""
    engine = FakeEngine(logged_in=False, rooms=[], invites=[], timelines={})
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login"))
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#login").region.height, what="the login form")
        screen.query_one("#homeserver", Input).value = "https://example.org"
        screen.query_one("#user", Input).value = "bob"
        screen.query_one("#password", Input).value = "secret"
        await pilot.click("#login")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(Timeline),
                       what="the main screen")
        timeline = app.screen.query_one(Timeline)
        await wait_for(pilot, lambda: "No room open" in timeline.banner_text)
        await app.bridge.call(lambda e: e.create_room("First room"))
        await wait_for(pilot, lambda: timeline.room_id == "!firstroom:example.org", what="the room to open")
        await pilot.pause()
        banner = timeline.banner_text
        assert "No room open" not in banner and "beginning of the room" in banner


async def test_a_long_message_says_it_goes_on_and_details_show_all_of_it(make_app):
    long_text = "Chapter one. " + "word " * 3000 + "THE END"
    items = project_timeline() + [
        _item(10, PROJECT, ALICE, "Alice", ts(4, 9, 10), "message", long_text, decryption=Decryption.DECRYPTED),
    ]
    app = make_app(FakeEngine(timelines={PROJECT: items}))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(Timeline)
                       and (view := app.screen.query_one(Timeline).view_of("$e10")) is not None
                       and view.shown_part("body"), what="the long message")
        screen = app.screen
        timeline = screen.query_one(Timeline)
        body = timeline.view_of("$e10").shown_part("body")
        assert "THE END" not in body
        assert f"the message goes on: {len(long_text):,} characters in all" in body
        await pilot.press("f3")
        await pilot.pause()
        assert timeline.selected == "$e10"
        await pilot.press("i")
        details = await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen)
        text = details.query_one("#text-json", TextArea)
        assert details.query_one("TabbedContent").active == "text"
        assert text.text == long_text and text.has_focus
        await pilot.press("c")
        assert app.clipboard == long_text


class ReadOnlyRoomEngine(FakeEngine):
    async def send_text(self, room_id, text, *, emote=False, notice=False):
        from tui_client.engine.engine import EngineError

        raise EngineError("could not send: user_level (0) < send_level (100) (M_FORBIDDEN)")


async def test_a_refusal_from_the_server_reads_as_a_sentence(make_app):
    app = make_app(ReadOnlyRoomEngine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        composer = screen.query_one("Composer")
        composer.focus()
        composer.insert("may I?")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any("power level" in n for n in notifications(app)), what="the error")
        [shown] = [n for n in notifications(app) if "power level" in n]
        assert shown == ("could not send: your power level in this room is 0 and this needs 100; ask one of the "
                         "room's admins or moderators to raise your level (or to do it for you)")


async def test_leaving_as_the_last_member_warns_first(make_app):
    from tui_client.ui.screens.confirm import ConfirmScreen

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.query_one("RoomList").select_id("!random:example.org")  # Bob is alone in Random
        await pilot.pause()
        composer = screen.query_one("Composer")
        composer.focus()
        composer.insert("/leave")
        await pilot.press("enter")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen)
        assert "You are the only member left: if you leave, nobody can join it any more" in dialog.question
        await pilot.press("escape")
        screen.query_one("RoomList").select_id(PROJECT)  # Alice and Carol are there too
        await pilot.pause()
        composer.focus()
        composer.insert("/leave")
        await pilot.press("enter")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen)
        assert "only member left" not in dialog.question


async def test_bad_key_bindings_in_the_settings_are_reported_at_start(make_app, caplog):
    from tui_client.config import Settings

    settings = Settings(keys={"quit": "f11", "help": "f11", "launch_rockets": "f5"})
    with caplog.at_level("WARNING"):
        app = make_app(settings=settings)
        async with app.run_test(size=SIZE) as pilot:
            await ready(pilot)
            shown = notifications(app)
            assert any("'launch_rockets' is not an action id" in n for n in shown), shown
            assert any("'f11' is bound to both 'quit' and 'help'" in n for n in shown), shown
    logged = caplog.text
    assert "launch_rockets" in logged and "'f11' is bound to both" in logged


async def test_a_homeserver_on_this_machine_needs_no_scheme(make_app):
    app = make_app(FakeEngine(logged_in=False))
    async with app.run_test(size=SIZE) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login"))
        screen = app.screen
        await wait_for(pilot, lambda: screen.query_one("#login").region.height, what="the login form")
        screen.query_one("#homeserver", Input).value = "127.0.0.1:8008"
        screen.query_one("#user", Input).value = "bob"
        screen.query_one("#password", Input).value = "secret"
        await pilot.click("#login")
        await ready(pilot)
        assert ("login", ("http://127.0.0.1:8008", "bob")) in app.fake.calls


async def test_the_room_list_is_never_drawn_at_a_made_up_width(make_app, monkeypatch):
    """Invites were once fitted to 10 columns before the first layout, so the names showed
    wrapped into shreds ("Ali / ce / sha / red…") for a frame at start."""
    from tui_client.ui.widgets import room_list

    widths: list[int] = []
    original = room_list.invite_prompt

    def recording(invite, width):
        widths.append(width)
        return original(invite, width)

    monkeypatch.setattr(room_list, "invite_prompt", recording)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        assert widths and min(widths) >= 24, widths


async def test_at_80_by_24_the_detail_line_and_the_sync_state_are_whole(make_app):
    from tui_client.engine.models import SyncState

    app = make_app(FakeEngine(own_trust=True))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        await pilot.pause()
        timeline.selected = "$e3"
        await pilot.pause(0.2)
        detail = screen.query_one("#detail", Static)
        needed = detail.get_content_height(detail.size, app.size, detail.content_region.width)
        assert detail.content_region.height >= needed, "the session line is cut off"
        assert "session SESSIONAAA" in str(detail.render())
        sync = screen.query_one("#status-sync", Static)
        app.user_id, app.device_id = "@charlie:localhost", "QWERTYUIOPAS"  # as long as the demo's
        for state in (SyncState("syncing"), SyncState("connecting")):
            app.sync_state = state
            await pilot.pause(0.1)
            shown = str(sync.render())
            assert len(shown) <= sync.content_region.width, (shown, sync.content_region.width)
        assert "✓ verified" in str(screen.query_one("#status-who", Static).render())


async def test_toasts_keep_clear_of_the_status_bar_and_the_hint_line(make_app, tmp_path):
    from textual.widgets._toast import Toast

    from tui_client.demo.story import Demo
    from tui_client.engine.host import EngineHost
    from tui_client.ui.demo import DemoApp
    from tui_client.ui.widgets.hints import HintLine
    from tui_client.ui.widgets.status import StatusBar

    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        screen = await ready(pilot)
        app.notify("A toast", timeout=30)
        toast = await wait_for(pilot, lambda: app.screen.query(Toast) and app.screen.query_one(Toast))
        await pilot.pause(0.2)
        assert toast.region.bottom <= screen.query_one(StatusBar).region.y

    host = EngineHost(FakeEngine())
    demo = DemoApp(host, demo=Demo(tmp_path / "demo", progress=lambda line: None), user="bob", restored=True,
                   bot_check=lambda: True, poll_interval=0.05)
    try:
        async with demo.run_test(size=SIZE, notifications=True) as pilot:
            await wait_for(pilot, lambda: demo.main_screen is not None and demo.main_screen.query(HintLine),
                           what="the hint line")
            demo.notify("A toast", timeout=30)
            toast = await wait_for(pilot, lambda: demo.screen.query(Toast) and demo.screen.query_one(Toast))
            await pilot.pause(0.2)
            assert toast.region.bottom <= demo.main_screen.query_one(HintLine).region.y
    finally:
        host.stop()


async def test_the_palette_lists_the_apps_actions_before_textuals(make_app):
    from textual.command import CommandList

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("ctrl+p")
        commands = await wait_for(pilot, lambda: app.screen.query(CommandList) and app.screen.query_one(CommandList)
                                  if app.screen.query(CommandList) and app.screen.query_one(CommandList).option_count > 5
                                  else None, what="the palette's entries")
        await pilot.pause(0.5)
        titles = [str(commands.get_option_at_index(i).prompt).split("\n")[0] for i in range(commands.option_count)]
        assert "Theme" in " ".join(titles), titles
        first_textual = next(i for i, t in enumerate(titles) if t.startswith(("Theme", "Keys", "Maximize")))
        assert first_textual > titles.index("New room"), titles
        assert all(t[:1].isupper() for t in titles), titles


async def test_ctrl_c_says_how_to_quit_without_markup(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        screen.query_one(Timeline).focus()
        await pilot.press("ctrl+c")
        await wait_for(pilot, lambda: any("quit" in n for n in notifications(app)))
        assert "Press ctrl+q to quit." in notifications(app)
        assert not any("[b]" in n for n in notifications(app))


def test_quitting_the_login_screen_leaves_no_empty_profile(tmp_path, monkeypatch):
    """`tui-client --profile typo` then ctrl+q at the login screen (or after failed logins)
    must not leave a profile folder behind. The terminal is the one part not run here."""
    from tui_client import paths
    from tui_client.cli import run_tui
    from tui_client.config import load_settings
    from tui_client.ui.app import TuiApp

    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    monkeypatch.setenv("TUI_CLIENT_CONFIG", str(tmp_path / "none.toml"))
    opened = []
    monkeypatch.setattr(TuiApp, "run", lambda self, *a, **k: opened.append(self.restored))
    assert run_tui("typo", load_settings()) == 0
    assert opened == [False], "the app ran on a profile without a session"
    assert not paths.profile_dir("typo").exists()


async def test_bobs_last_hints_follow_charlie_into_the_room(tmp_path):
    """After Bob invites Charlie the hint tells him how to open Charlie's view; once Charlie is
    in the room and has spoken it says the story is over, instead of repeating the command."""
    from dataclasses import replace

    from tui_client.demo.story import Demo
    from tui_client.engine.host import EngineHost
    from tui_client.engine.models import Member
    from tui_client.ui.demo import DemoApp

    from .fake_engine import default_rooms

    charlie = "@charlie:localhost"
    project = next(r for r in default_rooms() if r.room_id == PROJECT)
    invited = replace(project, members=project.members + (Member(charlie, "Charlie", "invite"),))
    engine = FakeEngine(rooms=[invited], invites=[])
    demo = Demo(tmp_path / "demo", progress=lambda line: None)
    demo.state.room_id = PROJECT
    host = EngineHost(engine)
    app = DemoApp(host, demo=demo, user="bob", restored=True, bot_check=lambda: True, poll_interval=0.05,
                  command="~/clone/.venv/bin/tui-client")
    app.guide.done.update({"accept", "read", "why", "talk"})
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: app.hint is not None and app.hint.step == "charlie", what="the invite hint")
            assert app.hint.text == "Done! Now in another terminal:  ~/clone/.venv/bin/tui-client demo --as charlie"
            joined = replace(project, members=project.members + (Member(charlie, "Charlie", "join"),))
            engine._rooms = [joined]
            engine.emit_rooms()
            await wait_for(pilot, lambda: app.hint.step == "greet", what="the hint for Charlie's arrival")
            assert "Charlie joined" in app.hint.text and "--as charlie" not in app.hint.text
            engine.receive(PROJECT, charlie, "Charlie", "Hello everyone!")
            await wait_for(pilot, lambda: app.hint.step == "end", what="the end of the story")
            assert app.hint.text.startswith("That's the story!")
    finally:
        host.stop()
