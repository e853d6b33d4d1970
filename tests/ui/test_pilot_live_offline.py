"""With the homeserver down, a restarted TUI shows the rooms and the last messages it kept (status
bar: offline) before any sync, the CLI's `rooms` and `history --json` print them with a notice
on stderr, and when the server comes back the TUI reconnects by itself. And a message its sender
deletes leaves the TUI within one sync, its text gone from the store."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from tui_client.cli import open_backend
from tui_client.config import Settings
from tui_client.engine.crypto.symmetric import store_subkey, unseal
from tui_client.engine.engine import Engine
from tui_client.homeserver import SynapseServer
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.message import MessageView
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.status import StatusBar
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for

pytestmark = pytest.mark.integration

SIZE = (110, 34)
SETTINGS = Settings(sync_timeout_ms=2_000)


def status_text(app: TuiApp) -> str:
    return str(app.screen.query_one(StatusBar).query_one("#status-sync").render())


def cli(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_client", "--profile", "bob", *args], env=env,
                          capture_output=True, text=True, timeout=120)


@pytest.fixture
def private_homeserver(tmp_path, synapse_python_path):
    server = SynapseServer(tmp_path / "private-synapse", python=synapse_python_path)
    server.start()
    yield server
    server.stop()


async def test_offline_the_tui_and_the_cli_show_what_was_kept_and_the_tui_reconnects(
    private_homeserver, cli_env, tmp_path
):
    server = private_homeserver
    server.register_user("alice", "pw-alice", displayname="Alice")
    server.register_user("bob", "pw-bob", displayname="Bob")
    profile = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "profiles" / "bob"
    alice = Engine("alice", profile_dir=tmp_path / "alice")
    bob = Engine("bob", profile_dir=profile)
    try:
        await alice.login(server.url, "alice", "pw-alice")
        await bob.login(server.url, "bob", "pw-bob")
        await alice.sync_once()
        room_id = await alice.create_room("Kept", history_visibility="shared")
        first = await alice.send_text(room_id, "written before bob came")
        await alice.invite(room_id, "@bob:localhost")
        await bob.sync_once()
        await bob.join(room_id)
        await alice.sync_once()
        await alice.react(room_id, first, "👍")
        last = await alice.send_text(room_id, "the last words before the outage")
        assert await bob.wait_until(lambda: any(i.event_id == last for i in bob.timeline(room_id)), 20)
        assert await bob.wait_until(lambda: any(i.reactions for i in bob.timeline(room_id)), 20)
    finally:
        await alice.close()
        await bob.close()

    port = server.port
    server.stop()

    # The CLI, offline: a notice on stderr, then what was kept.
    rooms = cli(cli_env, "rooms", "--json")
    assert rooms.returncode == 0, rooms.stderr
    assert "offline" in rooms.stderr and [r["name"] for r in json.loads(rooms.stdout)] == ["Kept"]
    history = cli(cli_env, "history", "Kept", "--json")
    assert history.returncode == 0 and "offline" in history.stderr, history.stderr
    items = {i["event_id"]: i for i in json.loads(history.stdout)}
    assert items[last]["body"] == "the last words before the outage" and items[last]["decrypted"]
    assert items[first]["reactions"] == {"👍": ["@alice:localhost"]}

    # The TUI, offline: rooms and messages before any sync; the status bar says so.
    host, restored = open_backend("bob", SETTINGS, profile_dir=profile)
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            screen = app.screen
            await wait_for(pilot, lambda: screen.current_room == room_id, what="the kept room to open")
            timeline = screen.query_one(Timeline)
            await wait_for(pilot, lambda: timeline.view_of(last) is not None, what="the kept messages")
            assert app.sync_state.state != "syncing", "shown from the store, not from a sync"
            view = timeline.view_of(first)
            assert isinstance(view, MessageView) and "👍 1" in str(view._body())
            await wait_for(pilot, lambda: app.sync_state.state == "offline", timeout=20, what="offline")
            assert "offline" in status_text(app)

            restarted = SynapseServer(server.data_dir, port=port, python=server._python)
            restarted.start()
            try:
                await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=60,
                               what="the TUI to reconnect by itself")
                assert "connected" in status_text(app)
            finally:
                await pilot.press("ctrl+q")
                restarted.stop()
    finally:
        host.stop()


def sealed_rows(profile: Path) -> list[bytes]:
    """Every row of the offline cache, unsealed with the profile's store key (what an attacker
    with the key could read), plus the database files' raw bytes."""
    store_key = json.loads((profile / "session.json").read_text())["store_key"]
    key = store_subkey(store_key, "timeline cache")
    conn = sqlite3.connect(profile / "crypto.db")
    try:
        out = []
        for room_id, summary, timeline in conn.execute("SELECT room_id, summary, timeline FROM tc_room_cache"):
            if summary:
                out.append(unseal(key, bytes(summary), f"summary\0{room_id}".encode()))
            if timeline:
                out.append(unseal(key, bytes(timeline), f"timeline\0{room_id}".encode()))
    finally:
        conn.close()
    for suffix in ("", "-wal", "-shm"):
        path = profile / f"crypto.db{suffix}"
        if path.exists():
            out.append(path.read_bytes())
    return out


async def test_a_message_deleted_by_its_sender_leaves_the_tui_within_one_sync_and_the_store(
    homeserver, engines, make_user, tmp_path
):
    alice = await engines("alice")
    bob = make_user("bob")
    profile = tmp_path / "bob-profile"
    seed = Engine("bob", profile_dir=profile)
    await seed.login(homeserver.url, bob.localpart, bob.password)
    await seed.close()
    room_id = await alice.create_room("Oops", history_visibility="shared")
    await alice.invite(room_id, bob.user_id)

    host, restored = open_backend("bob", SETTINGS, profile_dir=profile)
    app = TuiApp(host, restored=restored, settings=SETTINGS, profile="bob")
    secret = "my card number is 4111 1111"
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen")
            screen = app.screen
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: any(i.room_id == room_id for i in room_list.invites), timeout=30,
                           what="the invite")
            app.accept_invite(next(i for i in room_list.invites if i.room_id == room_id))
            await wait_for(pilot, lambda: screen.current_room == room_id, timeout=30, what="the room")
            await alice.wait_until(lambda: alice.room(room_id).joined_count == 2, 20)
            oops = await alice.send_text(room_id, secret)
            timeline = screen.query_one(Timeline)
            await wait_for(pilot, lambda: timeline.view_of(oops) is not None, timeout=30, what="the message")
            await pilot.pause(0.5)  # the cache is written after the sync that brought it

            before = await app.bridge.read(lambda e: e.client.next_batch)  # type: ignore[attr-defined]
            await alice.redact(room_id, oops, "wrong room")
            syncs: list[str] = []

            def one_sync_later() -> bool:
                return bool(syncs) and syncs[-1] != before

            async def poll_token() -> None:
                syncs.append(await app.bridge.read(lambda e: e.client.next_batch))  # type: ignore[attr-defined]

            while not one_sync_later():
                await poll_token()
                await pilot.pause(0.05)
            await pilot.pause(0.3)  # the engine's event reaches the screen
            view = timeline.view_of(oops)
            assert isinstance(view, MessageView)
            shown = str(view._body())
            assert "🗑 message deleted: wrong room" in shown and secret not in shown, shown
            await pilot.press("ctrl+q")
    finally:
        host.stop()

    rows = sealed_rows(profile)
    for blob in rows:
        assert secret.encode() not in blob
    cached = [e for blob in rows if blob.startswith(b"{") and b'"events"' in blob
              for e in json.loads(blob)["events"]]
    kept = next(e for e in cached if e["event_id"] == oops)
    assert kept["redacted"]["reason"] == "wrong room" and kept["content"] == {}, "kept as deleted, with no text"
