"""The command line as a new user meets it (issue 16): logging out, errors in words with the next
step, settings problems reported, login without a URL, no leftovers from a failed login."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers import raw_request

from .test_cli import run

pytestmark = pytest.mark.integration


def login(env: dict, profile: str, homeserver, user) -> None:
    run(env, "--profile", profile, "login", "--homeserver", homeserver.url, "--user", user.localpart,
        "--password-stdin", input=user.password + "\n")


def test_logout_says_so_once_and_succeeds(homeserver, make_user, cli_env):
    user = make_user("leaver")
    login(cli_env, "x", homeserver, user)
    out = run(cli_env, "--profile", "x", "logout", check=False)
    assert (out.returncode, out.stdout.strip(), out.stderr.strip()) == (0, "logged out of profile 'x'", "")
    after = run(cli_env, "--profile", "x", "whoami", check=False)
    assert after.returncode == 1 and "not logged in" in after.stderr


def test_server_errors_read_as_sentences_with_the_next_step(homeserver, make_user, cli_env):
    alice, bob = make_user("alice"), make_user("bob")
    login(cli_env, "a", homeserver, alice)
    login(cli_env, "b", homeserver, bob)

    # A room where only the admin may write: Bob's message is refused, in words.
    room_id = run(cli_env, "--profile", "a", "create-room", "Announcements").stdout.strip()
    run(cli_env, "--profile", "a", "invite", room_id, bob.user_id)
    run(cli_env, "--profile", "b", "join", room_id)
    token = json.loads((Path(cli_env["XDG_DATA_HOME"]) / "tui-client/profiles/a/session.json").read_text())["access_token"]
    path = f"/_matrix/client/v3/rooms/{room_id}/state/m.room.power_levels/"
    levels = raw_request(homeserver.url, token, "GET", path)
    raw_request(homeserver.url, token, "PUT", path, {**levels, "events_default": 100})
    refused = run(cli_env, "--profile", "b", "send", room_id, "may I?", check=False)
    assert refused.returncode == 1
    assert refused.stderr.strip() == (
        "error: could not send: your power level in this room is 0 and this needs 100; ask one of the "
        "room's admins or moderators to raise your level (or to do it for you)"
    )
    assert "user_level" not in refused.stderr and "M_FORBIDDEN" not in refused.stderr

    # Alice leaves a room she is alone in: she is told what that does; Bob's invite is now useless.
    lonely = run(cli_env, "--profile", "a", "create-room", "Lonely").stdout.strip()
    run(cli_env, "--profile", "a", "invite", lonely, bob.user_id)
    left = run(cli_env, "--profile", "a", "leave", lonely)
    assert "note: you were its last member: nobody can join it any more" in left.stderr
    join = run(cli_env, "--profile", "b", "join", lonely, check=False)
    assert join.returncode == 1
    assert join.stderr.startswith(
        f"error: could not join {lonely}: nobody is left in this room (its last member left), so it cannot be "
        "joined any more; ask someone to invite you to another room")
    assert "M_UNKNOWN" not in join.stderr and "remote room" not in join.stderr


def test_invite_checks_the_user_id_before_anything_else(homeserver, make_user, cli_env):
    alice = make_user("alice")
    login(cli_env, "a", homeserver, alice)
    room_id = run(cli_env, "--profile", "a", "create-room", "Invites").stdout.strip()
    bad = run(cli_env, "--profile", "a", "invite", room_id, "not-a-user", check=False)
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines() == ["error: 'not-a-user' is not a user id; use the full form @name:server"]


def test_doctor_and_every_start_report_bad_key_bindings(cli_env, tmp_path):
    config = Path(cli_env["XDG_CONFIG_HOME"]) / "tui-client" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[keys]\nquit = "f11"\nhelp = "f11"\nlaunch_rockets = "f5"\n')
    out = run(cli_env, "doctor")
    problems = [line for line in out.stdout.splitlines() if line.startswith("problem:")]
    assert "problem: [keys] 'launch_rockets' is not an action id; ignored (the help screen lists the ids)" in problems
    assert any("'f11' is bound to both 'quit' and 'help'" in p for p in problems), problems
    report = json.loads(run(cli_env, "doctor", "--json").stdout)
    assert len([p for p in report["config_problems"] if p.startswith("[keys]")]) == 2


def test_login_without_a_url_needs_a_full_user_id_and_a_failed_login_leaves_nothing(homeserver, make_user, cli_env):
    user = make_user("newbie")
    profiles = Path(cli_env["XDG_DATA_HOME"]) / "tui-client" / "profiles"
    bare = run(cli_env, "--profile", "n", "login", "--user", user.localpart, "--password-stdin",
               input=user.password + "\n", check=False)
    assert bare.returncode == 1
    assert bare.stderr.strip() == (
        "error: give --homeserver URL, or your full user id (--user @name:server) to look it up"
    )
    wrong = run(cli_env, "--profile", "n", "login", "--homeserver", homeserver.url, "--user", user.localpart,
                "--password-stdin", input="wrong\n", check=False)
    assert wrong.returncode == 1 and wrong.stderr.strip() == "error: wrong user name or password"
    assert not (profiles / "n").exists(), "a failed login must not leave a profile folder behind"
    # A homeserver on this machine typed without a scheme is http.
    hostport = homeserver.url.removeprefix("http://")
    ok = run(cli_env, "--profile", "n", "login", "--homeserver", hostport, "--user", user.localpart,
             "--password-stdin", input=user.password + "\n")
    assert f"logged in as {user.user_id}" in ok.stdout


def test_invite_asks_about_the_invitee_before_promising_history(homeserver, make_user, cli_env):
    """First ten minutes #6: '…(1 session) will be shared' was printed for a user who does not
    exist, and for one without a cross-signed device."""
    alice, carol = make_user("alice"), make_user("carol")
    login(cli_env, "a", homeserver, alice)
    room_id = run(cli_env, "--profile", "a", "create-room", "History").stdout.strip()
    run(cli_env, "--profile", "a", "send", room_id, "earlier")

    ghost = f"@nobody-{carol.localpart}:localhost"
    out = run(cli_env, "--profile", "a", "invite", room_id, ghost, check=False)
    assert f"warning: {ghost} may not exist: check the user id" in out.stderr
    assert "will be shared" not in out.stderr

    # carol exists, but has no device yet (she never logged in): nothing can be promised either
    out = run(cli_env, "--profile", "a", "invite", room_id, carol.user_id)
    assert "history: " in out.stderr and "will be shared" not in out.stderr
    assert "no cross-signing identity" in out.stderr and "history not shared" in out.stdout
