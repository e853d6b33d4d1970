"""The everyday UI on the fake engine: direct chats in their own section, a space as a
collapsible tree with a room to join, the room switcher over 1,000 rooms, the bell on a mention,
typing, read receipts and the "new messages" line."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest
from textual.widgets import Input, OptionList, Static

from tui_client.config import Settings
from tui_client.engine.models import Attachment, Invite, RoomSummary, SpaceChild
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.switcher import RoomSwitcher
from tui_client.ui.widgets.composer import Composer
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.space_card import ChildCard, SpaceCard
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import ALICE, CAROL, GENERAL, ME, PROJECT, FakeEngine, default_rooms, members, ts

SIZE = (100, 30)
SPACE = "!company:example.org"
SUBSPACE = "!eng:example.org"
DESIGN = "!design-unjoined:example.org"
DM_ALICE = "!dm-alice:example.org"


def everyday_rooms() -> list[RoomSummary]:
    project, general, random_room = default_rooms()
    dm = RoomSummary(DM_ALICE, "Alice", None, True, "shared", members((ME, "Bob"), (ALICE, "Alice")), unread=1,
                     is_direct=True, dm_user=ALICE, last_active=ts(4, 11, 0))
    space = RoomSummary(SPACE, "Company", "Everything we do", False, "shared", members((ME, "Bob")), unread=0,
                        is_space=True, children=(
                            SpaceChild(PROJECT, None, None, True),
                            SpaceChild(SUBSPACE, None, None, True, is_space=True),
                            SpaceChild(DESIGN, "Design", "Pixels", False, member_count=12, via=("example.org",)),
                        ))
    sub = RoomSummary(SUBSPACE, "Engineering", None, False, "shared", members((ME, "Bob")), unread=0,
                      is_space=True, children=(SpaceChild(GENERAL, None, None, True), SpaceChild(SPACE, None, None, True)))
    return [replace(project, last_active=ts(4, 9, 7)), replace(general, unread=3, highlight=1), random_room, dm, space, sub]


def labels(room_list: RoomList) -> list[str]:
    return [str(o.prompt).split("\n")[0].strip() for o in room_list.options]


async def main_ready(pilot) -> MainScreen:
    app = pilot.app
    # The main screen is drawn before the engine answers ("loading your rooms…"): wait for the rooms.
    await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList)
                   and app.rooms_known and app.screen.query_one(RoomList).options, what="the main screen")
    return app.screen


async def test_direct_chats_and_a_space_tree(make_app):
    app = make_app(FakeEngine(rooms=everyday_rooms(), invites=[
        Invite("!dminvite:example.org", "Carol", CAROL, "Carol", True, is_direct=True)]))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        room_list = screen.query_one(RoomList)
        # The list may be drawn more than once while the rooms, the DM invite and the space's
        # children arrive: wait for all of it rather than for a number of rows.
        await wait_for(pilot, lambda: labels(room_list)[-2:] == ["ROOMS", "Random"]
                       and "+ Design · join" in labels(room_list) and "✉  Carol" in labels(room_list),
                       what="the whole list")
        shown = labels(room_list)
        assert shown[:3] == ["INVITES", "✉  Carol", "PEOPLE"]
        assert "Carol wants to chat" in str(room_list.get_option("invite:!dminvite:example.org").prompt)
        assert shown[3].startswith("🔒 Alice") and shown[4] == "SPACES"
        # The space, its sub-space with its room (and no loop back to the space), its own room,
        # and the room it lists that we have not joined; then the rooms of no space.
        assert shown[5].startswith("▾ ◆ Company")
        assert shown[6].startswith("▾ ◆ Engineering")
        assert shown[7].startswith("🔒 General") and shown[7].endswith("3")
        assert shown[8].startswith("🔒 Project X")
        assert shown[9] == "+ Design · join"
        assert shown[10:] == ["ROOMS", "Random"]

        # A space is not an empty chat: its card says what it holds.
        room_list.focus()
        room_list.select_id(SPACE)
        await wait_for(pilot, lambda: screen.query("#space-pane SpaceCard"), what="the space card")
        card = screen.query_one(SpaceCard)
        details = str(card.query_one(".space-details", Static).render())
        assert "Everything we do" in details and "A space of 3 rooms; you are in 2" in details
        assert screen.current_room is None and screen.query_one("#pane").current == "space-pane"

        # Fold it: what is under it hides, and its count (with the mention, in red) stays visible.
        await pilot.press("space")
        await wait_for(pilot, lambda: labels(room_list)[5].startswith("▸ ◆ Company"), what="the folded space")
        assert labels(room_list)[6:] == ["ROOMS", "Random"]
        assert labels(room_list)[5].endswith("3")
        await pilot.press("space")
        await wait_for(pilot, lambda: labels(room_list)[9] == "+ Design · join", what="the unfolded space")
        assert ("refresh_space", (SPACE,)) in app.fake.calls  # unfolding asks about its rooms

        # The room it lists that we have not joined: its card, and Enter joins it through the
        # servers the space names.
        room_list.select_id("join:" + DESIGN)
        await wait_for(pilot, lambda: screen.query("#space-pane ChildCard"), what="the child card")
        assert "12 members" in str(screen.query_one(ChildCard).query_one(".space-details", Static).render())
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("join", (DESIGN,)) in app.fake.calls, what="the join")

        # Opening a room inside a folded space unfolds it.
        room_list.focus()
        room_list.select_id(SPACE)
        await pilot.pause()
        await pilot.press("space")
        await wait_for(pilot, lambda: GENERAL not in [o.id for o in room_list.options], what="folded")
        assert room_list.select_id(GENERAL)
        await wait_for(pilot, lambda: screen.current_room == GENERAL, what="General open")


async def test_dm_command_and_palette(make_app):
    app = make_app(FakeEngine(rooms=everyday_rooms()))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        composer = screen.query_one(Composer)
        composer.focus()
        composer.insert("/dm @zoe:example.org")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.current_room == "!dm-zoe:example.org", what="the new DM to open")
        assert ("open_dm", ("@zoe:example.org",)) in app.fake.calls
        assert "PEOPLE" in labels(screen.query_one(RoomList))

        # The palette: "dm @user" offers the direct chat; the dialog opens it.
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"dm @alice:example.org")
        await wait_for(pilot, lambda: any("Direct chat with @alice:example.org" in str(o.prompt)
                                          for o in app.screen.query_one("CommandList").options),
                       what="the DM entry in the palette")
        await pilot.press("enter")
        await wait_for(pilot, lambda: app.screen.query("#dm-user"), what="the direct chat dialog")
        assert app.screen.query_one("#dm-user", Input).value == "@alice:example.org"
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.current_room == DM_ALICE, what="Alice's DM to open")


def thousand_rooms() -> list[RoomSummary]:
    rooms = []
    for n in range(1000):
        rooms.append(RoomSummary(f"!r{n}:example.org", f"Room {n:04d} {['alpha', 'beta', 'gamma', 'delta'][n % 4]}",
                                 None, n % 2 == 0, "shared", members((ME, "Bob")), unread=n % 7 == 0,
                                 last_active=ts(4, 0, 0) + n * 1000))
    rooms.append(RoomSummary("!target:example.org", "Quarterly planning", None, True, "shared",
                             members((ME, "Bob")), unread=0, last_active=ts(1, 0, 0)))
    rooms.append(RoomSummary("!dm-zed:example.org", "Zed Shaw", None, True, "shared",
                             members((ME, "Bob"), ("@zed:example.org", "Zed Shaw")), unread=0,
                             is_direct=True, dm_user="@zed:example.org", last_active=ts(2, 0, 0)))
    return rooms


async def test_the_switcher_finds_a_room_among_a_thousand(make_app):
    app = make_app(FakeEngine(rooms=thousand_rooms(), invites=[], timelines={}))
    async with app.run_test(size=(100, 40)) as pilot:
        screen = await main_ready(pilot)
        await wait_for(pilot, lambda: len(screen.query_one(RoomList).options) >= 1002, what="1,002 rooms listed")
        await pilot.press("ctrl+k")  # from the composer, which has the focus
        await wait_for(pilot, lambda: isinstance(app.screen, RoomSwitcher), what="the switcher")
        switcher = app.screen
        # Nothing typed: the most recently active first.
        assert switcher.matches[0].candidate.key == "!r999:example.org"
        assert "1002 in all" in str(switcher.query_one("#switcher-count", Static).render())
        await pilot.press(*"qplan")
        await wait_for(pilot, lambda: switcher.matches and switcher.matches[0].candidate.key == "!target:example.org",
                       what="Quarterly planning first")
        # A direct chat is found by the person's user id too.
        switcher.query_one(Input).value = "@zed"
        await wait_for(pilot, lambda: switcher.matches and switcher.matches[0].candidate.key == "!dm-zed:example.org",
                       what="Zed's DM")
        switcher.query_one(Input).value = "quarterly"
        await wait_for(pilot, lambda: switcher.matches[0].candidate.key == "!target:example.org", what="again")
        await pilot.press("enter")
        await wait_for(pilot, lambda: screen.current_room == "!target:example.org", what="the room to open")
        assert isinstance(app.focused, Composer)
        # Nothing matches: nothing is chosen.
        await pilot.press("ctrl+k")
        await wait_for(pilot, lambda: isinstance(app.screen, RoomSwitcher), what="the switcher again")
        app.screen.query_one(Input).value = "zzzzqqqq"
        await wait_for(pilot, lambda: not app.screen.matches, what="no match")
        assert app.screen.query_one(OptionList).option_count == 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back")
        assert screen.current_room == "!target:example.org"


class BellCounter:
    def __init__(self, app) -> None:
        self.count = 0
        app.bell = self.ring  # type: ignore[method-assign]

    def ring(self) -> None:
        self.count += 1


@pytest.mark.parametrize("setting,rings", [("mentions", [True, False, True, False]),
                                           ("all", [True, True, True, False]),
                                           ("off", [False, False, False, False])])
async def test_the_bell_rings_for_a_mention_or_a_dm_in_a_room_not_in_view(make_app, setting, rings):
    app = make_app(FakeEngine(rooms=everyday_rooms()), settings=Settings(notify_bell=setting, notify_desktop="off"))
    bell = BellCounter(app)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        await wait_for(pilot, lambda: screen.current_room == PROJECT, what="Project X open")
        seen = []

        async def step(room_id: str, body: str, **kw) -> None:
            before = bell.count
            app.fake.receive(room_id, ALICE, "Alice", body, notify=True, **kw)
            await pilot.pause(0.1)
            seen.append(bell.count > before)

        await step(GENERAL, "hey @Bob", highlight=True)  # a mention elsewhere
        await step(GENERAL, "lunch?")  # an ordinary message elsewhere
        await step(DM_ALICE, "psst", direct=True)  # a direct message elsewhere
        await step(PROJECT, "you are looking @Bob", highlight=True)  # in the room on screen
        assert seen == rings
        # The mention is highlighted where it is shown.
        await wait_for(pilot, lambda: screen.query_one(Timeline).items[-1].body == "you are looking @Bob",
                       what="the message")
        view = screen.query_one(Timeline).view_of(screen.query_one(Timeline).items[-1].event_id)
        assert isinstance(view, MessageView) and view.has_class("-highlight")


async def test_typing_receipts_and_the_new_messages_line(make_app):
    engine = FakeEngine(rooms=everyday_rooms())
    engine._markers[PROJECT] = "$e4"  # read up to the deadline message before this start
    engine._receipts[PROJECT] = {"$e8": ("Alice", "Carol")}
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.has_new_messages_line, what="Project X with its new messages line")
        await wait_for(pilot, lambda: (view := timeline.view_of("$e8")) is not None and view.shown_part("seen"),
                       what="the messages drawn")
        drawn = timeline.drawn_lines().splitlines()
        last_read = timeline.drawn_text("$e4")[-1]
        line = next(n for n, text in enumerate(drawn) if "new messages" in text)
        assert drawn[line - 2] == last_read and not drawn[line - 1].strip(), "the line follows the last read"
        assert timeline.view_of("$e8").shown_part("seen") == "seen by Alice and Carol"

        engine.someone_reads(PROJECT, {"$e9": ("Alice",), "$e8": ("Carol",)})
        await wait_for(pilot, lambda: timeline.readers_of("$e9") == ("Alice",), what="the receipts to move")
        assert timeline.view_of("$e8").shown_part("seen") == "seen by Carol"

        typing = screen.query_one("#typing", Static)
        assert not typing.display
        engine.someone_types(PROJECT, ("Alice",))
        await wait_for(pilot, lambda: typing.display and "Alice is typing…" in str(typing.render()), what="typing")
        engine.someone_types(GENERAL, ("Carol",))  # another room: not shown here
        await pilot.pause(0.1)
        assert "Carol" not in str(typing.render())
        engine.someone_types(PROJECT, ("Alice", "Carol", "Dave"))
        await wait_for(pilot, lambda: "Alice, Carol and 1 other are typing…" in str(typing.render()), what="three")
        engine.someone_types(PROJECT, ())
        await wait_for(pilot, lambda: not typing.display, what="nobody typing")

        # Our own typing: said once when we start, and taken back when the message goes.
        composer = screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"hello")
        await wait_for(pilot, lambda: ("set_typing", (PROJECT, True)) in engine.calls, what="typing sent")
        assert engine.calls.count(("set_typing", (PROJECT, True))) == 1
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("set_typing", (PROJECT, False)) in engine.calls, what="typing stopped")
        # A slash command is not typing.
        before = len([c for c in engine.calls if c[0] == "set_typing"])
        await pilot.press(*"/help")
        await pilot.pause(0.1)
        assert len([c for c in engine.calls if c[0] == "set_typing"]) == before


async def test_typing_notices_can_be_turned_off(make_app):
    app = make_app(FakeEngine(rooms=everyday_rooms()), settings=Settings(send_typing=False))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        await wait_for(pilot, lambda: screen.current_room == PROJECT, what="Project X open")
        composer = screen.query_one(Composer)
        composer.focus()
        await pilot.press(*"hello")
        await pilot.pause(0.2)
        assert not [c for c in app.fake.calls if c[0] == "set_typing"]


# -- files and images ---------------------------------------------------------------------------------------


def _png_bytes(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (width, height), (220, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def _attachment(name: str, mimetype: str) -> Attachment:
    """What the engine reads of a file message's content (an encrypted file)."""
    return Attachment(name, mimetype, 1234, True, "mxc://example.org/" + name.replace(".", ""))


async def test_an_image_previews_in_the_timeline_and_files_save(make_app, tmp_path):
    from tui_client.engine.models import Decryption
    from tui_client.ui.screens.send_file import SendFileScreen

    from .fake_engine import _item, general_timeline, project_timeline

    image = _item(50, PROJECT, ALICE, "Alice", ts(4, 9, 10), "message", "[image] red.png",
                  decryption=Decryption.DECRYPTED, msgtype="m.image", attachment=_attachment("red.png", "image/png"))
    document = _item(51, PROJECT, ALICE, "Alice", ts(4, 9, 11), "message", "[file] report.pdf",
                     decryption=Decryption.DECRYPTED, msgtype="m.file",
                     attachment=_attachment("report.pdf", "application/pdf"))
    engine = FakeEngine(rooms=everyday_rooms(), timelines={
        PROJECT: project_timeline() + [image, document], GENERAL: general_timeline()})
    engine._files["$e50"] = _png_bytes(64, 32)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.has_preview("$e50"), what="the image preview")
        assert ("attachment_bytes", (PROJECT, "$e50", True)) in engine.calls  # the thumbnail is enough
        assert not timeline.has_preview("$e51")  # a file is not an image

        # Save the selected file with "s".
        timeline.focus()
        timeline.selected = "$e51"
        await pilot.press("s")
        await wait_for(pilot, lambda: ("save_attachment", (PROJECT, "$e51")) in engine.calls, what="the save")
        # A message without a file offers neither.
        timeline.selected = "$e9"
        await pilot.pause()
        assert timeline.check_action("file", (False,)) is False

        # Send a file: /upload, and the dialog from the palette's entry.
        picture = tmp_path / "cat.png"
        picture.write_bytes(_png_bytes(10, 10))
        composer = screen.query_one(Composer)
        composer.focus()
        composer.insert(f"/upload {picture}")
        await pilot.press("enter")
        await wait_for(pilot, lambda: ("send_file", (PROJECT, str(picture))) in engine.calls, what="the upload")
        await pilot.press("ctrl+p")
        await pilot.pause()
        await pilot.press(*"Send a file")
        await wait_for(pilot, lambda: any("Send a file" in str(o.prompt)
                                          for o in app.screen.query_one("CommandList").options), what="the entry")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SendFileScreen), what="the dialog")
        app.screen.query_one(Input).value = str(tmp_path / "missing.png")
        await pilot.press("enter")
        await wait_for(pilot, lambda: "is not a file" in str(app.screen.query_one("#file-error", Static).render()),
                       what="the dialog's error")
        await pilot.press("escape")
        await wait_for(pilot, lambda: app.screen is screen, what="back")


async def test_an_images_reactions_stay_under_the_picture_and_late_or_deleted_images_follow(make_app):
    """Issue 12's reactions and issue 14's preview on one message: the picture comes between
    the text and the reactions. An undecryptable message that turns out to be an image gets its
    preview then; a deleted image loses it."""
    from tui_client.engine.events import TimelineItemUpdated
    from tui_client.engine.models import Decryption, Reaction

    from .fake_engine import _item, project_timeline

    image = _item(50, PROJECT, ALICE, "Alice", ts(4, 9, 10), "message", "[image] red.png",
                  decryption=Decryption.DECRYPTED, msgtype="m.image", attachment=_attachment("red.png", "image/png"),
                  reactions=(Reaction("👍", (CAROL,)),))
    late = _item(52, PROJECT, ALICE, "Alice", ts(4, 9, 12), "encrypted", None, event_type="m.room.encrypted",
                 decryption=Decryption.FAILED, failure_code="missing_key", failure_reason="no key for this message yet")
    engine = FakeEngine(rooms=everyday_rooms(), timelines={PROJECT: project_timeline() + [image, late]})
    engine._files["$e50"] = engine._files["$e52"] = _png_bytes(64, 32)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.has_preview("$e50"), what="the image preview")
        view = timeline.view_of("$e50")
        drawn = timeline.drawn_text("$e50")
        text = next(n for n, line in enumerate(drawn) if "red.png" in line)
        picture = [n for n, line in enumerate(drawn) if "▀" in line]
        reactions = next(n for n, line in enumerate(drawn) if "👍 1" in line)
        assert len(picture) > 1 and text < picture[0] and picture[-1] < reactions, drawn
        assert not timeline.has_preview("$e52")

        decrypted = replace(late, kind="message", body="[image] late.png", decryption=Decryption.DECRYPTED,
                            failure_code=None, failure_reason=None, msgtype="m.image",
                            attachment=_attachment("late.png", "image/png"))
        engine.emit(TimelineItemUpdated(PROJECT, decrypted))
        await wait_for(pilot, lambda: timeline.has_preview("$e52"), what="the late image's preview")

        deleted = replace(image, body=None, redacted=True, redacted_by=ALICE, attachment=None, reactions=())
        engine.emit(TimelineItemUpdated(PROJECT, deleted))
        await wait_for(pilot, lambda: not timeline.has_preview("$e50"), what="the deleted image's preview gone")
        assert view.shown_part("marks") is None and "👍" not in "\n".join(timeline.drawn_text("$e50"))
        assert not any("▀" in line for line in timeline.drawn_text("$e50"))


async def test_an_image_previews_again_when_its_room_is_opened_again(make_app):
    """Leaving a room drops its previews; coming back asks for the image again and draws it."""
    from tui_client.engine.models import Decryption

    from .fake_engine import _item, project_timeline

    image = _item(50, PROJECT, ALICE, "Alice", ts(4, 9, 10), "message", "[image] red.png",
                  decryption=Decryption.DECRYPTED, msgtype="m.image", attachment=_attachment("red.png", "image/png"))
    engine = FakeEngine(rooms=everyday_rooms(), timelines={PROJECT: project_timeline() + [image]})
    engine._files["$e50"] = _png_bytes(64, 32)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        room_list = screen.query_one(RoomList)
        room_list.select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.has_preview("$e50"), what="the image preview")
        room_list.select_id(GENERAL)
        await wait_for(pilot, lambda: screen.current_room == GENERAL, what="General open")
        assert not timeline.has_preview("$e50")
        room_list.select_id(PROJECT)
        await wait_for(pilot, lambda: timeline.has_preview("$e50"), what="the image preview, back in the room")
        assert any("▀" in line for line in timeline.drawn_text("$e50"))
        assert [c for c in engine.calls if c[0] == "attachment_bytes"].count(("attachment_bytes", (PROJECT, "$e50", True))) == 2


async def test_image_previews_can_be_turned_off(make_app):
    from tui_client.engine.models import Decryption

    from .fake_engine import _item, project_timeline

    image = _item(50, PROJECT, ALICE, "Alice", ts(4, 9, 10), "message", "[image] red.png",
                  decryption=Decryption.DECRYPTED, msgtype="m.image", attachment=_attachment("red.png", "image/png"))
    engine = FakeEngine(rooms=everyday_rooms(), timelines={PROJECT: project_timeline() + [image]})
    app = make_app(engine, settings=Settings(image_previews=False))
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.view_of("$e50") is not None, what="the image message")
        await pilot.pause(0.2)
        assert not timeline.has_preview("$e50")
        assert not [c for c in engine.calls if c[0] == "attachment_bytes"]


async def test_typing_and_receipts_that_arrive_while_a_room_opens_are_not_lost(make_app, monkeypatch):
    engine = FakeEngine(rooms=everyday_rooms())
    original = Timeline.show

    async def show_while_news_arrive(self, room_id, items, at_start, **kwargs):
        if room_id == PROJECT:
            # The engine's state moved on after the screen read it, before the timeline is up.
            engine.someone_types(PROJECT, ("Alice",))
            engine.someone_reads(PROJECT, {"$e9": ("Carol",)})
            await asyncio.sleep(0.2)
        return await original(self, room_id, items, at_start, **kwargs)

    monkeypatch.setattr(Timeline, "show", show_while_news_arrive)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await main_ready(pilot)
        screen.query_one(RoomList).select_id(PROJECT)
        timeline = screen.query_one(Timeline)
        await wait_for(pilot, lambda: timeline.room_id == PROJECT and timeline.view_of("$e9") is not None
                       and screen._loading_room is None, what="Project X loaded")
        await pilot.pause(0.1)
        assert "Alice is typing…" in str(screen.query_one("#typing", Static).render())
        assert timeline.readers_of("$e9") == ("Carol",)
