"""Screenshots of the everyday features from a real run (habit 9):

    python screenshots/everyday.py            # from the repository root

Starts a private Synapse in a temporary directory, lets Alice, Carol and Dave (engines of our
own, before the TUI starts) build a world for Bob: a space with rooms (one Bob has not joined), a
direct chat, an encrypted room with a photo; then runs the TUI headless as Bob and writes:

    everyday-image.svg      an image sent in an encrypted room, previewed in the timeline
    everyday-dm.svg         a direct chat: its own section, "Alice is typing…", "seen by Alice"
    everyday-space.svg      a space as a tree, with a room to join
    everyday-switcher.svg   the room switcher (ctrl+k), "la" typed

Typing and the read receipt during the TUI run are sent as Alice over plain HTTP (a second nio
engine must not run in the TUI's process at the same time).
"""

from __future__ import annotations

import asyncio
import io
import json
import math
import secrets
import sys
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from PIL import Image, ImageDraw  # noqa: E402
from textual.widgets import Input, TextArea  # noqa: E402

from tui_client.cli import open_backend  # noqa: E402
from tui_client.config import Settings  # noqa: E402
from tui_client.engine.engine import Engine  # noqa: E402
from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python  # noqa: E402
from tui_client.ui.app import TuiApp  # noqa: E402
from tui_client.ui.screens.main import MainScreen  # noqa: E402
from tui_client.ui.screens.switcher import RoomSwitcher  # noqa: E402
from tui_client.ui.widgets.room_list import RoomList  # noqa: E402
from tui_client.ui.widgets.timeline import Timeline  # noqa: E402

OUT = Path(__file__).resolve().parent
SIZE = (110, 32)
SETTINGS = Settings(sync_timeout_ms=2_000, notify_desktop="off")


def picture() -> bytes:
    """A small landscape: sky, sun, hills, a lake (so the preview shows something)."""
    width, height = 480, 270
    image = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(image)
    for y in range(height):
        t = y / height
        draw.line([(0, y), (width, y)], fill=(int(40 + 180 * t), int(90 + 120 * t), int(200 - 60 * t)))
    draw.ellipse([330, 40, 400, 110], fill=(255, 210, 90))
    for i, colour in enumerate([(60, 120, 70), (40, 95, 55)]):
        points = [(x, int(170 + 25 * i + 30 * math.sin(x / (60 + 20 * i) + i))) for x in range(0, width + 1, 8)]
        draw.polygon(points + [(width, height), (0, height)], fill=colour)
    draw.rectangle([0, 225, width, height], fill=(50, 110, 170))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def http(server: SynapseServer, token: str, method: str, path: str, body: Any = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(server.url + path, data=data, method=method,
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


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


async def world(server: SynapseServer, base: Path) -> dict[str, Any]:
    """Alice, Carol and Dave build Bob's world; Bob (an engine, then closed) joins most of it."""
    password = {name: secrets.token_urlsafe(10) for name in ("alice", "bob", "carol", "dave")}
    users = {name: server.register_user(name, pw, displayname=name.capitalize()) for name, pw in password.items()}
    engines: dict[str, Engine] = {}
    for name in ("alice", "carol", "bob"):
        engine = Engine(name, profile_dir=base / name, settings=SETTINGS)
        await engine.login(server.url, name, password[name])
        await engine.sync_once()
        engines[name] = engine
    alice, carol, bob = engines["alice"], engines["carol"], engines["bob"]
    token = {name: e.client.access_token for name, e in engines.items()}

    def raw(name: str, method: str, path: str, body: Any = None) -> dict:
        return http(server, token[name], method, path, body)

    async def room(owner: Engine, name: str, members: list[Engine], *, topic: str | None = None) -> str:
        room_id = await owner.create_room(name, history_visibility="shared", topic=topic)
        for member in members:
            await owner.invite(room_id, member.user_id)
            await member.wait_until(lambda: any(i.room_id == room_id for i in member.invites()))
            await member.join(room_id)
        return room_id

    launch = await room(alice, "Launch plan", [bob, carol])
    engineering = await room(carol, "Engineering", [bob, alice])
    random_room = await room(carol, "Random", [bob])
    books = await room(alice, "Book club", [bob])
    design = raw("carol", "POST", "/_matrix/client/v3/createRoom",
                 {"name": "Design", "topic": "Pixels, fonts and mockups", "preset": "public_chat"})["room_id"]
    infra = raw("alice", "POST", "/_matrix/client/v3/createRoom",
                {"name": "Infrastructure", "creation_content": {"type": "m.space"}, "preset": "public_chat",
                 "initial_state": [{"type": "m.space.child", "state_key": engineering, "content": {"via": ["localhost"]}}]})["room_id"]
    space = raw("alice", "POST", "/_matrix/client/v3/createRoom", {
        "name": "Aurora Labs", "topic": "Everything about the Aurora project", "creation_content": {"type": "m.space"},
        "preset": "public_chat", "initial_state": [
            {"type": "m.space.child", "state_key": child, "content": {"via": ["localhost"]}}
            for child in (launch, infra, design)]})["room_id"]
    await bob.join(space)
    await bob.join(infra)

    await alice.send_text(launch, "The launch checklist is final. @Bob can you check the press kit?")
    await carol.send_text(engineering, "Build 142 is green on all platforms.")
    await carol.send_text(random_room, "Anyone up for lunch?")
    await alice.send_text(books, "Next month: *The Left Hand of Darkness*.")
    photo = base / "lake.png"
    photo.write_bytes(picture())
    await alice.send_text(launch, "Here is the photo for the announcement:")
    await alice.send_file(launch, photo)
    await bob.sync_once()

    dm = await alice.open_dm(bob.user_id)
    await bob.wait_until(lambda: any(i.room_id == dm for i in bob.invites()))
    await bob.join(dm)
    await alice.send_text(dm, "Hi Bob! Did you see the photo I posted in Launch plan?")
    await bob.sync_once()
    last = await bob.send_text(dm, "I did, it's lovely. I'll use it for the blog post.")
    await bob.wait_until(lambda: any(i.event_id == last for i in bob.timeline(dm)))
    await alice.sync_once()
    for engine in engines.values():
        await engine.close()
    return {"space": space, "launch": launch, "dm": dm, "design": design, "last_dm": last,
            "alice_token": token["alice"], "bob": users["bob"]}


async def tui(server: SynapseServer, base: Path, facts: dict[str, Any]) -> None:
    host, restored = open_backend("bob", SETTINGS, profile_dir=base / "bob")
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    alice = facts["alice_token"]
    try:
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: isinstance(app.screen, MainScreen), "the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await until(pilot, lambda: any(r.room_id == facts["space"] and r.children for r in room_list.rooms),
                        "the space and its rooms")
            await until(pilot, lambda: app.sync_state.state == "syncing", "syncing")

            # The image, previewed where it was sent.
            room_list.select_id(facts["launch"])
            timeline = screen.query_one(Timeline)
            await until(pilot, lambda: screen.current_room == facts["launch"], "Launch plan open")
            await until(pilot, lambda: any(timeline.has_preview(i.event_id) for i in timeline.items),
                        "the image preview", 60)
            await save(pilot, "everyday-image")

            # The space: a tree, and a room of it Bob has not joined.
            room_list.focus()
            room_list.select_id("join:" + facts["design"])
            await until(pilot, lambda: screen.query("#space-pane ChildCard"), "Design's card")
            await until(pilot, lambda: "Pixels" in str(screen.query_one("#space-pane").query_one(".space-details").render()),
                        "what the server says of Design")
            await save(pilot, "everyday-space")

            # The direct chat: Alice has read Bob's answer and is typing.
            room_list.select_id(facts["dm"])
            await until(pilot, lambda: screen.current_room == facts["dm"], "the DM open")
            await asyncio.to_thread(http, server, alice, "POST",
                                    f"/_matrix/client/v3/rooms/{urllib.parse.quote(facts['dm'])}/receipt/m.read/"
                                    f"{urllib.parse.quote(facts['last_dm'])}", {})
            typing_path = (f"/_matrix/client/v3/rooms/{urllib.parse.quote(facts['dm'])}/typing/"
                           f"{urllib.parse.quote('@alice:localhost')}")
            for _ in range(10):  # (a notice can cross a sync; say it again until it shows)
                await asyncio.to_thread(http, server, alice, "PUT", typing_path, {"typing": True, "timeout": 30000})
                try:
                    await until(pilot, lambda: "Alice is typing" in str(screen.query_one("#typing").render()),
                                "typing", 3)
                    break
                except TimeoutError:
                    continue
            else:
                raise TimeoutError("Alice's typing never showed")
            await until(pilot, lambda: timeline.readers_of(facts["last_dm"]), "Alice's receipt", 30)
            await save(pilot, "everyday-dm")

            # The switcher.
            await pilot.press("ctrl+k")
            await until(pilot, lambda: isinstance(app.screen, RoomSwitcher), "the switcher")
            await pilot.press("l", "a")
            await until(pilot, lambda: app.screen.matches, "results")
            await save(pilot, "everyday-switcher")
            await pilot.press("escape")
            await pilot.press("ctrl+q")
    finally:
        host.stop()


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="tui-everyday-") as tmp:
        base = Path(tmp)
        server = SynapseServer(base / "synapse", python=synapse_python() or ensure_synapse())
        server.start()
        try:
            facts = await world(server, base)
            await tui(server, base, facts)
        finally:
            server.stop()


if __name__ == "__main__":
    asyncio.run(main())
