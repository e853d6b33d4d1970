"""Screenshots of replies, edits, reactions, a deleted message, a thread, a poll and a place, and
of an offline start, from a real run (design habit 9: never drawn by hand).

    python screenshots/relations.py            # from the repository root

Starts a private Synapse in a temporary directory, registers Alice, Bob and Carol; Alice and
Carol are plain `Engine`s, Bob is the terminal UI on its real engine thread. They talk in an
encrypted room the way Element users do; then Bob quits, the homeserver stops, and Bob starts
again. Writes into this directory:

    relations.svg   a reply (to Alice), Bob's edited message, reactions, Carol's deleted
                    message, a thread with two replies, a poll with its votes, a place
    thread.svg      the thread, opened from its root (t)
    offline.svg     the restarted TUI with the homeserver down: the rooms and messages kept
                    from the last run, and the status bar saying so

Needs the Synapse that the tests use (installed on first use, or TUI_CLIENT_SYNAPSE_PYTHON).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from textual.widgets import Input, TextArea  # noqa: E402

from tui_client.cli import open_backend  # noqa: E402
from tui_client.config import Settings  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402
from tui_client.logs import setup_logging  # noqa: E402
from tui_client.ui.app import TuiApp  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.screens.thread import ThreadScreen  # noqa: E402
from tui_client.ui.widgets.room_list import RoomList  # noqa: E402
from tui_client.ui.widgets.timeline import Timeline  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (100, 44)
SETTINGS = Settings(sync_timeout_ms=3_000)


async def until(pilot: Any, predicate: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        await pilot.pause(0.05)
    return value


async def save(pilot: Any, name: str) -> None:
    app = pilot.app
    app.clear_notifications()
    for screen in app.screen_stack:
        for widget in screen.query("Input, TextArea"):
            if isinstance(widget, (Input, TextArea)):
                widget.cursor_blink = False
    await pilot.pause(0.5)
    path = OUT / f"{name}.svg"
    path.write_text(app.export_screenshot(title="tui-client"), encoding="utf-8")
    print(f"wrote {path.relative_to(ROOT)}")


async def send(engine: Engine, room_id: str, event_type: str, content: dict[str, Any]) -> str:
    """An event our engine has no command for (a poll, a vote, a place), as Element sends it."""
    client = engine.client
    assert client is not None
    resp = await client.room_send(room_id, event_type, content, ignore_unverified_devices=True)
    return str(resp.event_id)


async def seen(engine: Engine, room_id: str, event_id: str) -> None:
    await engine.wait_until(lambda: any(i.event_id == event_id for i in engine.timeline(room_id)), 30)


async def run(server: SynapseServer, work: Path) -> None:
    for name in ("alice", "bob", "carol"):
        server.register_user(name, f"{name}-password", displayname=name.capitalize())
    alice = Engine("alice", profile_dir=work / "alice", settings=SETTINGS)
    carol = Engine("carol", profile_dir=work / "carol", settings=SETTINGS)
    bob_seed = Engine("bob", profile_dir=work / "bob", settings=SETTINGS)
    for engine, name in ((alice, "alice"), (carol, "carol"), (bob_seed, "bob")):
        await engine.login(server.url, name, f"{name}-password")
        await engine.sync_once()
    await bob_seed.close()

    host, restored = open_backend("bob", SETTINGS, profile_dir=work / "bob")
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList), "main")
            screen = app.screen
            await until(pilot, lambda: app.sync_state.state == "syncing", "syncing")

            room = await alice.create_room("Launch", history_visibility="shared", topic="Friday's release")
            await alice.invite(room, "@carol:localhost")
            await carol.sync_once()
            await carol.join(room)
            await alice.invite(room, "@bob:localhost")
            room_list = screen.query_one(RoomList)
            await until(pilot, lambda: any(i.room_id == room for i in room_list.invites), "the invite")
            app.accept_invite(next(i for i in room_list.invites if i.room_id == room))
            await until(pilot, lambda: screen.current_room == room, "the room to open")
            await alice.wait_until(lambda: alice.room(room).joined_count == 3, 30)
            await carol.wait_until(lambda: carol.room(room) is not None and carol.room(room).joined_count == 3, 30)

            def bob(call: Callable[[Any], Any]) -> Any:
                return app.bridge.call(call)

            question = await alice.send_text(room, "Shall we launch on Friday?")
            await until(pilot, lambda: any(i.event_id == question for i in screen.query_one(Timeline).items),
                        "Alice's question")
            answer = await bob(lambda e: e.reply(room, question, "Yes, Friday at 9."))
            await until(pilot, lambda: any(i.event_id == answer for i in screen.query_one(Timeline).items),
                        "Bob's reply")
            await bob(lambda e: e.edit(room, answer, "Yes, Friday at 10 (the build takes an hour)."))
            for engine in (alice, carol):
                await seen(engine, room, question)
            await alice.react(room, question, "👍")
            await carol.react(room, question, "👍")
            await carol.react(room, question, "🎉")
            await bob(lambda e: e.react(room, question, "👍"))
            oops = await carol.send_text(room, "my new phone number is 0761 …")
            await seen(carol, room, oops)
            await carol.redact(room, oops, "wrong room")
            root = await alice.send_text(room, "Release checklist, one item per reply")
            await until(pilot, lambda: any(i.event_id == root for i in screen.query_one(Timeline).items), "root")
            await bob(lambda e: e.reply(room, root, "tests pass on all three platforms", in_thread=True))
            await seen(carol, room, root)
            await carol.reply(room, root, "release notes are written", in_thread=True)
            poll = await send(carol, room, "org.matrix.msc3381.poll.start", {
                "org.matrix.msc3381.poll.start": {
                    "question": {"org.matrix.msc1767.text": "Lunch after the launch?"},
                    "kind": "org.matrix.msc3381.poll.disclosed", "max_selections": 1,
                    "answers": [{"id": "pizza", "org.matrix.msc1767.text": "Pizza"},
                                {"id": "salad", "org.matrix.msc1767.text": "Salad"}],
                },
                "org.matrix.msc1767.text": "Lunch after the launch?\n1. Pizza\n2. Salad",
            })
            for engine, answer_id in ((alice, "pizza"), (carol, "salad")):
                await seen(engine, room, poll)
                await send(engine, room, "org.matrix.msc3381.poll.response", {
                    "m.relates_to": {"rel_type": "m.reference", "event_id": poll},
                    "org.matrix.msc3381.poll.response": {"answers": [answer_id]},
                })
            last = await send(alice, room, "m.room.message", {
                "msgtype": "m.location", "body": "Meet at the office (geo:52.52,13.40)", "geo_uri": "geo:52.52,13.40",
                "org.matrix.msc3488.location": {"uri": "geo:52.52,13.40", "description": "The office, 3rd floor"},
            })
            timeline = screen.query_one(Timeline)
            await until(pilot, lambda: any(i.event_id == last for i in timeline.items), "the last message", 60)
            await until(pilot, lambda: next(i for i in timeline.items if i.event_id == question).reactions
                        and next(i for i in timeline.items if i.event_id == answer).edited, "edits and reactions")
            await pilot.pause(1.0)
            timeline.focus()
            await pilot.pause(0.2)
            timeline.selected = answer
            await pilot.pause(0.3)
            timeline.scroll_end(animate=False)
            await save(pilot, "relations")

            timeline.selected = root
            await pilot.pause(0.3)
            await pilot.press("t")
            await until(pilot, lambda: isinstance(app.screen, ThreadScreen)
                        and len(app.screen.query_one(Timeline).items) == 3, "the thread")
            await pilot.resize_terminal(100, 22)  # a thread is short: no need for a tall picture
            await save(pilot, "thread")
            await pilot.press("escape")
            await pilot.press("ctrl+q")
    finally:
        host.stop()
        await alice.close()
        await carol.close()

    server.stop()
    host, restored = open_backend("bob", SETTINGS, profile_dir=work / "bob")
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "main, offline")
            screen = app.screen
            await until(pilot, lambda: screen.current_room is not None and screen.query_one(Timeline).items,
                        "the kept messages")
            await until(pilot, lambda: app.sync_state.state == "offline", "offline", 30)
            screen.query_one(Timeline).scroll_end(animate=False)
            await save(pilot, "offline")
            await pilot.press("ctrl+q")
    finally:
        host.stop()


def main() -> int:
    setup_logging("INFO", to_file=False)
    python = synapse_python() or ensure_synapse()
    with tempfile.TemporaryDirectory(prefix="tui-client-screenshots-") as tmp:
        work = Path(tmp)
        server = SynapseServer(work / "synapse", python=python)
        server.start()
        try:
            asyncio.run(run(server, work))
        finally:
            server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
