"""Replying, editing, reacting, deleting and threads in the UI, on the fake engine: the keys on a
selected message, the composer's "replying to…" / "editing…" line, the react and delete dialogs,
the thread view, and what each shows afterwards. (The same against Element's real events:
test_pilot_live_relations.py.)"""

from __future__ import annotations

from textual.widgets import Input, Static

from tui_client.ui.screens.help import HelpScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.message_actions import DeleteMessageScreen, ReactScreen
from tui_client.ui.screens.thread import ThreadScreen
from tui_client.ui.widgets.composer import Composer
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import LAUNCH, FakeEngine, launch_room, launch_timeline

SIZE = (110, 36)


def engine() -> FakeEngine:
    return FakeEngine(rooms=[launch_room()], invites=[], timelines={LAUNCH: launch_timeline()})


async def opened(pilot) -> MainScreen:
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, MainScreen) or not screen.query(Timeline):
            return False
        return screen.query_one(Timeline).row_of("$e47") is not None

    await wait_for(pilot, shown, what="the Launch room")
    return app.screen


async def select(pilot, screen, event_id: str) -> Timeline:
    timeline = screen.query_one(Timeline)
    timeline.focus()
    await pilot.pause()
    timeline.selected = event_id
    await pilot.pause()
    return timeline


def body_of(timeline: Timeline, event_id: str) -> str:
    view = timeline.view_of(event_id)
    assert isinstance(view, MessageView)
    return str(view._body())


async def test_a_room_shows_replies_edits_reactions_deletions_threads_polls_and_places(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        timeline = screen.query_one(Timeline)
        assert "👍 3" in body_of(timeline, "$e40") and "🎉 1" in body_of(timeline, "$e40")
        reply = body_of(timeline, "$e41")
        assert "Alice: Shall we launch on Friday?" in reply and "Yes, Friday at 10. (edited)" in reply
        assert "🗑 message deleted: wrong room" in body_of(timeline, "$e42")
        assert "🧵 2 replies · Carol: docs are done" in body_of(timeline, "$e43")
        assert "🧵 in a thread" in body_of(timeline, "$e44")
        poll = body_of(timeline, "$e46")
        assert "📊 Lunch after?" in poll and "◉ Pizza  2 votes" in poll and "○ Salad  1 vote" in poll
        assert "📍 The office, 3rd floor · geo:51.5,-0.12" in body_of(timeline, "$e47")


async def test_reply_to_the_selected_message_and_cancel_another(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "$e43")
        await pilot.press("r")
        composer = screen.query_one(Composer)
        label = screen.query_one("#composer-context", Static)
        assert composer.has_focus and label.display
        assert "Replying to Alice: Release checklist" in str(label.render()) and "esc to cancel" in str(label.render())
        await pilot.press("escape")
        assert not label.display and composer.context is None and composer.has_focus

        await select(pilot, screen, "$e40")
        await pilot.press("r")
        composer.insert("count me in")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("reply", (LAUNCH, "$e40", "count me in", False)) in app.fake.calls,
                       what="the reply")
        await wait_for(pilot, lambda: any(i.reply_to == "$e40" and i.body == "count me in"
                                          for i in screen.query_one(Timeline).items), what="the reply shown")
        assert not label.display


async def test_edit_one_of_our_messages_and_see_it_edited(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        timeline = await select(pilot, screen, "$e40")
        assert not timeline.check_action("message", ("edit",)), "not ours: nothing to edit"
        await select(pilot, screen, "$e44")
        await pilot.press("e")
        composer = screen.query_one(Composer)
        assert composer.text == "tests pass" and "Editing your message" in str(
            screen.query_one("#composer-context", Static).render())
        composer.clear()
        composer.insert("all tests pass")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "all tests pass (edited)" in body_of(timeline, "$e44"), what="the edit")
        assert ("edit", (LAUNCH, "$e44", "all tests pass")) in app.fake.calls


async def test_react_with_a_quick_pick_then_take_it_back(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        timeline = await select(pilot, screen, "$e43")
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactScreen), what="the react dialog")
        await pilot.press("4")  # 🎉
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the dialog to close")
        await wait_for(pilot, lambda: "🎉 1" in body_of(timeline, "$e43"), what="the reaction")
        assert ("react", (LAUNCH, "$e43", "🎉")) in app.fake.calls

        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactScreen), what="the react dialog again")
        await pilot.press("4")  # ours already: taken back
        await wait_for(pilot, lambda: "🎉" not in body_of(timeline, "$e43"), what="the reaction taken back")
        assert any(call[0] == "redact" for call in app.fake.calls)


async def test_react_with_any_text(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        timeline = await select(pilot, screen, "$e47")
        await pilot.press("plus")
        await wait_for(pilot, lambda: isinstance(app.screen, ReactScreen), what="the react dialog")
        app.screen.query_one("#reaction-input", Input).focus()
        await pilot.press("1", "2", "3")  # digits in the text box are text, not quick picks
        await pilot.press("enter")
        await wait_for(pilot, lambda: "123 1" in body_of(timeline, "$e47"), what="the typed reaction")


async def test_delete_our_message_after_a_question_with_a_reason(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        timeline = await select(pilot, screen, "$e40")
        assert not timeline.check_action("message", ("delete",)), "not ours: nothing to delete"
        await select(pilot, screen, "$e41")
        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteMessageScreen), what="the question")
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="cancelled")
        assert not any(call[0] == "redact" for call in app.fake.calls)

        await pilot.press("d")
        await wait_for(pilot, lambda: isinstance(app.screen, DeleteMessageScreen), what="the question again")
        app.screen.query_one("#delete-reason", Input).value = "changed my mind"
        await pilot.press("enter")
        await wait_for(pilot, lambda: "🗑 message deleted: changed my mind" in body_of(timeline, "$e41"),
                       what="the placeholder")
        assert "Yes, Friday" not in body_of(timeline, "$e41")


async def test_a_thread_opens_with_its_replies_and_takes_new_ones(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "$e45")  # a reply in the thread opens the whole thread
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), what="the thread")
        thread = app.screen
        await wait_for(pilot, lambda: [i.event_id for i in thread.query_one(Timeline).items] == ["$e43", "$e44", "$e45"],
                       what="the thread's messages")
        composer = thread.query_one(Composer)
        assert composer.has_focus
        composer.insert("ship it")
        await pilot.press("enter")
        await wait_for(pilot, lambda: any(i.body == "ship it" for i in thread.query_one(Timeline).items),
                       what="the new thread message")
        assert ("reply", (LAUNCH, "$e43", "ship it", True)) in app.fake.calls
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="back in the room")
        assert "🧵 3 replies · Bob: ship it" in body_of(screen.query_one(Timeline), "$e43")


async def test_every_message_action_is_in_the_help_and_the_palette_with_its_id(make_app):
    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "$e44")
        from tui_client.ui.palette import ActionsProvider

        provider = ActionsProvider(screen)
        titles = {title for title, _, _ in provider._actions()}
        assert {"Reply", "Edit", "React", "Delete", "Thread"} <= titles
        await pilot.press("f1")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen), what="help")
        table = app.screen.query_one("DataTable")
        ids = {str(table.get_row_at(i)[-1]) for i in range(table.row_count)}
        assert {"reply", "edit_message", "react", "delete_message", "open_thread", "cancel_context",
                "close_thread", "quick_reaction_1", "confirm_delete"} <= ids


async def test_event_details_list_every_version_of_an_edited_message(make_app):
    from textual.widgets import TextArea

    from tui_client.ui.screens.event_details import EventDetailsScreen

    app = make_app(engine())
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "$e41")
        await pilot.press("i")
        await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen), what="the details")
        await pilot.press("3")
        text = app.screen.query_one("#text-json", TextArea).text
        assert text.startswith("Yes, Friday at 10.") and "every version, oldest first (2)" in text
        assert "Yes, Friday at 9." in text.split("──")[-1]


async def test_files_open_and_preview_in_a_thread_and_news_from_the_room_on_screen_do_not_ring(make_app):
    """Issue 14's files and bell inside issue 12's thread view: `s` saves the selected file, an
    image previews, and a mention in the room whose thread is on screen is not rung for."""
    import io

    from PIL import Image

    from tui_client.engine.models import Attachment, Decryption

    from .fake_engine import ALICE, _item, ts

    picture = _item(48, LAUNCH, ALICE, "Alice", ts(4, 9, 10), "message", "[image] chart.png",
                    decryption=Decryption.DECRYPTED, msgtype="m.image", thread_root="$e43",
                    attachment=Attachment("chart.png", "image/png", 100, True, "mxc://example.org/chart"))
    fake = FakeEngine(rooms=[launch_room()], invites=[], timelines={LAUNCH: launch_timeline() + [picture]})
    data = io.BytesIO()
    Image.new("RGB", (40, 20), (20, 120, 220)).save(data, format="PNG")
    fake._files["$e48"] = data.getvalue()
    app = make_app(fake)
    rang: list[bool] = []
    app.bell = lambda: rang.append(True)  # type: ignore[method-assign]
    async with app.run_test(size=SIZE) as pilot:
        screen = await opened(pilot)
        await select(pilot, screen, "$e43")
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, ThreadScreen), what="the thread")
        thread = app.screen
        timeline = thread.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.has_preview("$e48"),
                       what="the image's preview in the thread")
        timeline.focus()
        timeline.selected = "$e48"
        await pilot.pause()
        await pilot.press("s")
        await wait_for(pilot, lambda: ("save_attachment", (LAUNCH, "$e48")) in fake.calls, what="the save")

        fake.receive(LAUNCH, ALICE, "Alice", "look @Bob", highlight=True, notify=True)
        await pilot.pause(0.1)
        assert not rang
