"""The command line's everyday commands against the test Synapse: `dm`, `rooms --json` with
its DM and space fields, `invites --json` saying a DM invite is one."""

from __future__ import annotations

import json

import pytest

from tests.integration.test_cli import run

pytestmark = pytest.mark.integration


def login(env: dict, homeserver, user, profile: str) -> None:
    run(env, "--profile", profile, "login", "--homeserver", homeserver.url, "--user", user.localpart,
        "--password-stdin", input=user.password + "\n")


def test_dm_from_the_command_line(homeserver, make_user, cli_env):
    alice, bob = make_user("alice"), make_user("bob")
    login(cli_env, homeserver, alice, "a")
    login(cli_env, homeserver, bob, "b")

    room_id = run(cli_env, "--profile", "a", "dm", bob.user_id, "hi bob, just us").stdout.strip()
    assert room_id.startswith("!")
    rooms = json.loads(run(cli_env, "--profile", "a", "rooms", "--json").stdout)
    dm = next(r for r in rooms if r["room_id"] == room_id)
    assert dm["is_direct"] and dm["dm_user"] == bob.user_id and dm["encrypted"] and not dm["is_space"]
    assert dm["name"] == "Bob"
    # The same command finds it again rather than making another.
    assert run(cli_env, "--profile", "a", "dm", bob.user_id).stdout.strip() == room_id

    invites = json.loads(run(cli_env, "--profile", "b", "invites", "--json").stdout)
    assert [(i["room_id"], i["is_direct"]) for i in invites] == [(room_id, True)]
    assert "direct chat, invited by Alice" in run(cli_env, "--profile", "b", "invites").stdout
    # Bob's `dm alice` accepts her invite instead of creating a second room.
    assert run(cli_env, "--profile", "b", "dm", alice.user_id).stdout.strip() == room_id
    bob_rooms = json.loads(run(cli_env, "--profile", "b", "rooms", "--json").stdout)
    assert [(r["room_id"], r["is_direct"], r["dm_user"]) for r in bob_rooms] == [(room_id, True, alice.user_id)]
    history = json.loads(run(cli_env, "--profile", "b", "history", room_id, "--json").stdout)
    assert any(h["body"] == "hi bob, just us" and h["decrypted"] for h in history)

    bad = run(cli_env, "--profile", "a", "dm", "bob", check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: 'bob' is not a user id; use the full form @name:server"
