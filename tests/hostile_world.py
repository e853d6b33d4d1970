"""A room full of text crafted to attack a terminal, made by a real second user on Synapse.

Mallory's display name, device name, room name, topic, message body and HTML link target carry
CSI, OSC (OSC 52 writes the clipboard), 8-bit C1, BEL and bidi/invisible characters; one of her
events is "encrypted" with a cleartext session id and device id full of the same. Bob (a CLI
profile) has joined that room and has a pending invite to a second one.
"""

from __future__ import annotations

import asyncio
import html
import re
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

from tests.helpers import raw_request, send_raw_event

# ESC and 8-bit forms: clear screen, report cursor (the terminal answers on stdin), set title,
# set clipboard, then a bidi override, a zero-width space and a bell.
CSI_CLEAR, CSI_REPORT, OSC_TITLE = "\x1b[2J", "\x1b[6n", "\x1b]0;pwned-title\x07"
OSC52 = "\x1b]52;c;cHduZWQ=\x07"  # base64("pwned")
C1_CSI, C1_OSC52 = "\x9b5i", "\x9d52;c;cHduZWQ=\x9c"
HOSTILE = f"{CSI_CLEAR}{OSC_TITLE}{C1_CSI}{C1_OSC52}\u202e\u200b\x07{CSI_REPORT}"
ATTACKS = (CSI_CLEAR, CSI_REPORT, OSC_TITLE, OSC52, C1_CSI, C1_OSC52, "\x1b]52", "\x9d52")

NAME = f"Mallory{HOSTILE}Evil"
ROOM = f"Evil room{HOSTILE}"
INVITE_ROOM = f"Second{HOSTILE}trap"
TOPIC = f"topic{HOSTILE}end"
DEVICE_NAME = f"Phone{HOSTILE}"
BODY = f"click me{HOSTILE} 👨‍👩‍👧 done"
EVIL_LINK = f"https://example.org/{OSC52}"
SAFE_LINK = "https://example.org/safe"
FORMATTED = (
    f'<a href="{html.escape(EVIL_LINK)}">click me</a> <a href="{SAFE_LINK}">safe</a> '
    f'<a href="javascript:alert(1)">script</a> <b>{html.escape(HOSTILE)}</b> 👨‍👩‍👧 done'
)
SESSION_ID = f"{OSC_TITLE}{C1_CSI}S\u202eESSION"
DEVICE_ID = f"DEV{OSC52}"

# What no terminal output may contain: C0 controls but tab and newline (ESC and BEL included),
# DEL and C1 controls.
TERMINAL_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


@dataclass
class World:
    mallory: object  # Engine
    bob_user_id: str
    bob_profile: Path
    room_id: str
    invite_room_id: str
    raw_event_id: str


def cli(env: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    proc = subprocess.run([sys.executable, "-m", "tui_client", *args], env=env, input=input,
                          capture_output=True, timeout=120)
    assert proc.returncode == 0, f"tui-client {' '.join(args)} failed ({proc.returncode}): {proc.stderr!r}"
    return proc


async def build(homeserver, engines, make_user, cli_env: dict, profile: str = "b") -> World:
    bob = make_user("bob")
    await asyncio.to_thread(cli, cli_env, "--profile", profile, "login", "--homeserver", homeserver.url,
                            "--user", bob.localpart, "--password-stdin", input=(bob.password + "\n").encode())
    mallory = await engines("mallory")
    client = mallory.client
    quote = urllib.parse.quote
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT",
                            f"/_matrix/client/v3/profile/{quote(mallory.user_id)}/displayname", {"displayname": NAME})
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT",
                            f"/_matrix/client/v3/devices/{quote(mallory.device_id)}", {"display_name": DEVICE_NAME})
    room_id = await mallory.create_room(ROOM, history_visibility="shared", topic=TOPIC)
    await mallory.invite(room_id, bob.user_id)
    invite_room_id = await mallory.create_room(INVITE_ROOM, history_visibility="shared")
    await mallory.invite(invite_room_id, bob.user_id)
    await asyncio.to_thread(cli, cli_env, "--profile", profile, "join", room_id)
    assert await mallory.wait_until(lambda: mallory.room(room_id).joined_count == 2, 30)

    # An encrypted message with the hostile body, HTML and link target, sent by nio as usual.
    await mallory.client.joined_members(room_id)
    await mallory.refresh_keys(bob.user_id)
    resp = await client.room_send(room_id, "m.room.message", {
        "msgtype": "m.text", "body": BODY, "format": "org.matrix.custom.html", "formatted_body": FORMATTED,
    }, ignore_unverified_devices=True)
    assert getattr(resp, "event_id", None), resp
    # An "encrypted" event nobody has the key for, with attacker-chosen cleartext ids.
    raw_event_id = await send_raw_event(mallory, room_id, "m.room.encrypted", {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": client.olm.account.identity_keys["curve25519"],
        "ciphertext": "AwgAEhAAAAAAAAAAAAAAAAAAAAAA",
        "session_id": SESSION_ID,
        "device_id": DEVICE_ID,
    })
    profile_dir = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "profiles" / profile
    return World(mallory, bob.user_id, profile_dir, room_id, invite_room_id, raw_event_id)
