"""The bytes the TUI writes to the terminal hold no escape sequence that came from someone else.

Mallory, a real second user on the test Synapse, fills her display name, device name, room names,
topic, message body and an HTML link target with CSI, OSC 52 (clipboard), C1, BEL and bidi
characters (see tests/hostile_world.py). Bob's TUI runs on a driver that records every byte
Textual writes, while he opens the room, selects her messages, opens event details and the
crypto inspector, and gets a notification of her next invite. The recording may hold only
Textual's own sequences: cursor moves and colours, OSC 8 hyperlinks whose targets are safe, and
the pointer shape.

Before the fix, the link's href went raw into Textual's OSC 8 sequence: viewing the message set
the clipboard.
"""

from __future__ import annotations

import re

import pytest
import textual.drivers.headless_driver as headless_driver

from tests import hostile_world as w
from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.safe_text import safe_link
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.event_details import EventDetailsScreen
from tui_client.ui.screens.inspector import CryptoInspectorScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (120, 40)
SETTINGS = Settings(sync_timeout_ms=5_000)

# Textual's own output: CSI sequences (cursor position, colours, modes), OSC strings.
_SEQUENCE = re.compile(r"\x1b\[[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b.?", re.S)
# What Textual writes while drawing: cursor position (H), colours and attributes (m).
_TEXTUAL_CSI = re.compile(r"\x1b\[[0-9;]*[Hm]")


def check_terminal_output(out: str) -> list[str]:
    """Fail on any sequence Textual does not write itself; return the hyperlink targets."""
    links = []
    for match in _SEQUENCE.finditer(out):
        seq = match.group()
        context = repr(out[max(match.start() - 80, 0):match.end() + 40])
        if seq.startswith("\x1b]"):
            body = seq[2:].removesuffix("\x07").removesuffix("\x1b\\")
            if body.startswith("8;"):
                target = body[2:].partition(";")[2]
                assert target == "" or safe_link(target) == target, f"unsafe hyperlink {seq!r} in {context}"
                links.append(target)
            else:
                assert body.startswith("22;"), f"OSC {seq!r} (not a hyperlink or pointer shape) in {context}"
        else:
            assert _TEXTUAL_CSI.fullmatch(seq), f"escape sequence {seq!r} Textual does not write, in {context}"
    text = _SEQUENCE.sub("", out)
    bad = w.TERMINAL_CONTROL.search(text)
    assert bad is None, f"{bad.group()!r} in text: {text[max(bad.start() - 80, 0):bad.start() + 40]!r}"
    return links


async def test_tui_writes_no_escape_sequence_from_other_people(homeserver, engines, make_user, cli_env, monkeypatch):
    world = await w.build(homeserver, engines, make_user, cli_env)
    mallory = world.mallory
    written: list[str] = []

    class RecordingDriver(headless_driver.HeadlessDriver):
        """The headless driver, but Textual renders to it as to a terminal; we keep the bytes."""

        @property
        def is_headless(self) -> bool:
            return False

        def write(self, data: str) -> None:
            written.append(data)

        def flush(self) -> None:
            pass

    monkeypatch.setattr(headless_driver, "HeadlessDriver", RecordingDriver)
    host, restored = open_backend("b", SETTINGS, profile_dir=world.bob_profile)
    assert restored
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="b")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           timeout=20, what="the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: any(r.room_id == world.room_id for r in room_list.rooms)
                           and any(i.room_id == world.invite_room_id for i in room_list.invites),
                           timeout=20, what="the room and the invite")
            room_list.focus()
            room_list.select_id(world.room_id)
            await pilot.press("enter")
            await wait_for(pilot, lambda: screen.current_room == world.room_id, timeout=10, what="the room")
            timeline = screen.query_one(Timeline)
            await wait_for(pilot, lambda: any(i.body == w.BODY and i.decrypted for i in timeline.items),
                           timeout=30, what="Mallory's message, decrypted")
            await wait_for(pilot, lambda: any(i.event_id == world.raw_event_id for i in timeline.items),
                           timeout=30, what="the event with hostile ids")
            message = next(i for i in timeline.items if i.body == w.BODY)

            # Select each of her messages (the detail line names sender, session and device),
            # then open its event details (ids, raw JSON).
            for event_id in (message.event_id, world.raw_event_id):
                timeline.focus()
                timeline.selected = event_id
                await pilot.pause()
                await pilot.press("i")
                await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen)
                               and app.screen.details is not None, timeout=10, what="event details")
                for tab in ("2", "1"):  # the encrypted and the decrypted JSON
                    await pilot.press(tab)
                    await pilot.pause()
                await pilot.press("escape")
                await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))

            # The crypto inspector: sessions, members and their devices (her device name).
            await pilot.press("f4")
            inspector = await wait_for(pilot, lambda: isinstance(app.screen, CryptoInspectorScreen)
                                       and app.screen.report is not None and app.screen, timeout=10)
            for tab in ("1", "2", "3", "4"):
                await pilot.press(tab)
                await pilot.pause()
            await pilot.press("down")
            await pilot.pause()
            assert inspector.report.name == w.ROOM
            await pilot.press("escape")

            # A new invite while Bob watches: the notification names her and the room.
            third = await mallory.create_room(w.INVITE_ROOM + "3", history_visibility="shared")
            await mallory.invite(third, world.bob_user_id)
            await wait_for(pilot, lambda: any(i.room_id == third for i in room_list.invites), timeout=20,
                           what="the third invite")
            await wait_for(pilot, lambda: app._notifications, timeout=5, what="a notification")
            await pilot.pause(0.3)
            await pilot.press("ctrl+q")
    finally:
        host.stop()

    out = "".join(written)
    assert "click me" in out and "👨" in out  # the screen showed her message
    assert "\\u202e" in out  # and, in her names, the override she hid, visibly
    links = check_terminal_output(out)
    for attack in w.ATTACKS:
        assert attack not in out, attack
    # The safe link is a link; the one with OSC 52 in its target, and javascript:, are plain text.
    assert w.SAFE_LINK in links and not any("52;" in link or link.startswith("javascript") for link in links)
