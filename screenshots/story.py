"""Screenshots of `tui-client demo`, one per step of the story, from a real run (habit 9).

    python screenshots/story.py            # from the repository root

Plays the demo headless in a fresh temporary demo directory (its own Synapse, the four users,
Alice's bot in its own process), pressing the keys the hint line asks for, and writes:

    story-1-invite.svg           Bob's invite, with the keys Alice shared
    story-2-history.svg          the history after accepting: 🔑 shared by Alice, and whose word it is
    story-3-not-shared.svg       Dave's message, and why it could not be shared
    story-4-conversation.svg     Bob writes; Alice's bot answers
    story-5-invite-charlie.svg   Bob invites Charlie from the command palette, history included
    story-6-charlie.svg          Charlie's view: the same history, shared by Bob

Needs the Synapse that the tests use (installed on first use, or TUI_CLIENT_SYNAPSE_PYTHON).
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.command import CommandList  # noqa: E402
from textual.widgets import Input, TextArea  # noqa: E402

from tui_client.cli import open_backend  # noqa: E402
from tui_client.demo.launcher import start_bot, stop_bot  # noqa: E402
from tui_client.demo.story import Demo  # noqa: E402
from tui_client.logs import setup_logging  # noqa: E402
from tui_client.ui.demo import DemoApp  # noqa: E402
from tui_client.ui.screens.confirm import ConfirmScreen  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.widgets.composer import Composer  # noqa: E402
from tui_client.ui.widgets.invite_card import InviteCard  # noqa: E402
from tui_client.ui.widgets.timeline import Timeline  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (100, 30)


async def until(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


async def save(pilot: Any, name: str) -> None:
    app = pilot.app
    app.clear_notifications()  # the toasts have been read; keep the picture clear
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False  # a steady cursor, not whatever phase the blink was in
    await pilot.pause(0.4)
    path = OUT / f"{name}.svg"
    path.write_text(app.export_screenshot(title="tui-client demo"), encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


def hint(app: DemoApp) -> str:
    return app.hint.text if app.hint is not None else ""


async def select(pilot: Any, timeline: Timeline, wanted: Callable[[Any], bool], what: str) -> None:
    """Press k (as the hint says) until the selected item is the one wanted."""
    for _ in range(len(timeline.items) + 2):
        await pilot.press("k")
        await pilot.pause(0.1)
        item = next((i for i in timeline.items if i.event_id == timeline.selected), None)
        if item is not None and wanted(item):
            return
    raise TimeoutError(f"k never reached {what}")


async def accept(pilot: Any, app: DemoApp, room_id: str) -> Timeline:
    await until(pilot, lambda: isinstance(app.focused, InviteCard), "the invite card to take the focus")
    await pilot.press("a")
    screen = app.main_screen
    await until(pilot, lambda: screen.current_room == room_id, "the room to open")
    timeline = screen.query_one(Timeline)
    await until(pilot, lambda: any(i.provenance for i in timeline.items)
                and any(i.failure_code == "not_shared" for i in timeline.items), "the shared history", 60)
    await pilot.pause(0.5)
    return timeline


async def bob(demo: Demo, room_id: str) -> None:
    host, restored = open_backend("bob", demo.settings(), profile_dir=demo.profile_dir("bob"))
    app = DemoApp(host, demo=demo, user="bob", restored=restored, settings=demo.settings())
    try:
        async with app.run_test(size=SIZE) as pilot:
            # 1. The invite, with the keys Alice shared.
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(InviteCard), "the invite")
            card = app.screen.query_one(InviteCard)
            await until(pilot, lambda: card.query(".invite-details")
                        and "earlier messages" in str(card.query_one(".invite-details").render()), "the bundle note")
            await until(pilot, lambda: "press a to accept" in hint(app), "the accept hint")
            await save(pilot, "story-1-invite")

            # 2. Accepted: the history, with the badge and (selected) whose word it rests on.
            timeline = await accept(pilot, app, room_id)
            await pilot.press("f3")  # starts on the newest message: one of Alice's, shared
            await pilot.pause(0.2)
            selected = next((i for i in timeline.items if i.event_id == timeline.selected), None)
            if selected is None or selected.provenance is None:
                await select(pilot, timeline, lambda i: i.provenance is not None, "a shared message")
            await until(pilot, lambda: "Dave's message" in hint(app), "the why hint")
            await save(pilot, "story-2-history")

            # 3. Dave's message and why its keys were not shared.
            await select(pilot, timeline, lambda i: i.failure_code == "not_shared", "Dave's message")
            await until(pilot, lambda: "Say something" in hint(app), "the talk hint")
            await save(pilot, "story-3-not-shared")

            # 4. Bob writes; Alice's bot answers.
            await pilot.press("escape")
            composer = app.main_screen.query_one(Composer)
            composer.insert("Hi Alice! I can read everything from before I joined, except Dave's message.")
            await pilot.press("enter")
            await until(pilot, lambda: any(i.sender == "@alice:localhost" and i.body and "Hi Bob" in i.body
                                           for i in timeline.items), "Alice's answer", 30)
            await until(pilot, lambda: "Invite Charlie" in hint(app), "the invite hint")
            await pilot.pause(0.5)
            await save(pilot, "story-4-conversation")

            # 5. Invite Charlie from the command palette; the dialog says the history goes along.
            await pilot.press("ctrl+p")
            await pilot.press(*"invite", "space", *"charlie")

            def offered() -> bool:
                lists = app.screen.query(CommandList)
                return bool(lists) and any("Invite Charlie" in str(o.prompt) for o in lists.first().options)

            await until(pilot, offered, "Invite Charlie in the palette")
            commands = app.screen.query_one(CommandList)
            if commands.highlighted is None:
                await pilot.press("down")
            assert "Invite Charlie" in str(commands.get_option_at_index(commands.highlighted).prompt)
            await pilot.press("enter")
            await until(pilot, lambda: isinstance(app.screen, ConfirmScreen), "the invite dialog")
            await until(pilot, lambda: "Press y" in hint(app), "the confirm hint")
            await save(pilot, "story-5-invite-charlie")
            await pilot.press("y")
            await until(pilot, lambda: "--as charlie" in hint(app), "Charlie invited", 30)
            await pilot.press("ctrl+q")
    finally:
        host.stop()


async def charlie(demo: Demo, room_id: str) -> None:
    host, restored = open_backend("charlie", demo.settings(), profile_dir=demo.profile_dir("charlie"))
    app = DemoApp(host, demo=demo, user="charlie", restored=restored, settings=demo.settings())
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(InviteCard), "the invite")
            await until(pilot, lambda: "press a to accept" in hint(app), "the accept hint")
            timeline = await accept(pilot, app, room_id)
            await until(pilot, lambda: sum(1 for i in timeline.items if i.provenance) >= 5, "the whole history", 30)
            # 6. Charlie's view: everything Bob could pass on, shared by Bob; Dave's still explained.
            await pilot.press("f3")
            await select(pilot, timeline, lambda i: i.provenance is not None and (i.body or "").startswith("Welcome"),
                         "Alice's first message")
            await save(pilot, "story-6-charlie")
            await pilot.press("ctrl+q")
    finally:
        host.stop()


async def run(demo: Demo) -> None:
    await demo.prepare()
    room_id = demo.state.room_id
    assert room_id is not None
    bot: subprocess.Popen | None = start_bot(demo)
    try:
        await bob(demo, room_id)
        await charlie(demo, room_id)
    finally:
        stop_bot(demo, bot)


def main() -> int:
    setup_logging("INFO", to_file=False)  # into the ring buffer (the log screen), not stderr
    with tempfile.TemporaryDirectory(prefix="tui-client-story-") as tmp:
        demo = Demo(Path(tmp) / "demo")
        demo.start_server()
        try:
            asyncio.run(run(demo))
        finally:
            demo.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
