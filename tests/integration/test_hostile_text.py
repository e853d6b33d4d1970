"""Text from other people never reaches the terminal or the log with escape sequences in it.

A real second user (Mallory) on the test Synapse puts CSI, OSC (OSC 52 sets the clipboard), C1,
BEL and bidi characters in her display name, device name, room names, topic, message body, link
target and in the cleartext session and device ids of an event. Bob reads all of it with every
text command, as JSON, and with `-v` (the log on stderr); none of that output, nor the log file,
may contain one of those bytes.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from tests import hostile_world as w

pytestmark = pytest.mark.integration


async def test_cli_output_and_log_carry_no_escape_sequences(homeserver, engines, make_user, cli_env):
    world = await w.build(homeserver, engines, make_user, cli_env)
    mallory = world.mallory

    async def run(*args: str) -> tuple[str, str]:
        proc = await asyncio.to_thread(w.cli, cli_env, "--profile", "b", *args)
        return proc.stdout.decode("utf-8"), proc.stderr.decode("utf-8")

    outputs: dict[str, tuple[str, str]] = {}
    for args in (
        ("invites",), ("invites", "--json"),
        ("rooms",), ("rooms", "--json"),
        ("-v", "--log-level", "DEBUG", "history", world.room_id, "--wait", "10"),
        ("history", world.room_id, "--all"), ("history", world.room_id, "--json"),
        ("inspect", world.room_id), ("inspect", world.room_id, "--json"),
        ("devices", mallory.user_id), ("devices", mallory.user_id, "--json"),
        ("doctor",),
    ):
        outputs[" ".join(args)] = await run(*args)

    log = (Path(cli_env["XDG_STATE_HOME"]) / "tui-client/log/tui-client.log").read_text(encoding="utf-8")
    for what, text in [*((f"{cmd} (stdout)", out) for cmd, (out, _) in outputs.items()),
                       *((f"{cmd} (stderr)", err) for cmd, (_, err) in outputs.items()), ("the log file", log)]:
        bad = w.TERMINAL_CONTROL.search(text)
        assert bad is None, f"{what} has {bad.group()!r} at {bad.start()}: {text[max(bad.start() - 60, 0):bad.start() + 20]!r}"

    # What was there is still readable, and what hid is shown.
    history = outputs[f"-v --log-level DEBUG history {world.room_id} --wait 10"]
    assert "click me" in history[0] and "👨‍👩‍👧 done" in history[0]  # the body, emoji intact
    assert "Mallory\\u202e\\u200bEvil: click me" in history[0]  # the name, bidi override shown
    # The attacker's session id, shown rather than silently cut.
    assert "no key for this message yet (session \\x1b]0;pwned-…)" in history[0]
    assert "DEBUG" in history[1]  # -v put the log on stderr, and it is clean too
    rooms = outputs["rooms"][0]
    assert "Evil room\\u202e\\u200b" in rooms
    assert "Second\\u202e\\u200btrap" in outputs["invites"][0]
    assert "Phone\\u202e\\u200b" in outputs[f"devices {mallory.user_id}"][0]
    # The log mentions the attacker's ids, visibly and on one line.
    assert "S\\u202eESSION" in log

    # JSON keeps the exact values (a script gets what was sent) and escapes the dangerous ones.
    rooms_json = json.loads(outputs["rooms --json"][0])
    room = next(r for r in rooms_json if r["room_id"] == world.room_id)
    assert room["name"] == w.ROOM and room["topic"] == w.TOPIC
    assert "\\u009b" in outputs["rooms --json"][0] and "\\u202e" in outputs["rooms --json"][0]
    items = {h["event_id"]: h for h in json.loads(outputs[f"history {world.room_id} --json"][0])}
    assert any(h["body"] == w.BODY and h["sender_name"] == w.NAME for h in items.values())
    assert items[world.raw_event_id]["failure_code"] == "missing_key"
    devices = json.loads(outputs[f"devices {mallory.user_id} --json"][0])["devices"]
    assert [d["display_name"] for d in devices] == [w.DEVICE_NAME]
