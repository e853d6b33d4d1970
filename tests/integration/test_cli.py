"""The scriptable command line against the test Synapse, as a user's script would run it."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration


def run(env: dict, *args: str, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(
        [sys.executable, "-m", "tui_client", *args],
        env=env, input=input, capture_output=True, text=True, timeout=120,
    )
    if check and proc.returncode != 0:
        raise AssertionError(f"tui-client {' '.join(args)} failed ({proc.returncode}): {proc.stderr}")
    return proc


def test_cli_conversation_end_to_end(homeserver, make_user, cli_env):
    alice, bob = make_user("alice"), make_user("bob")
    out = run(cli_env, "--profile", "a", "login", "--homeserver", homeserver.url, "--user", alice.localpart,
              "--password-stdin", input=alice.password + "\n")
    assert f"logged in as {alice.user_id}" in out.stdout
    run(cli_env, "--profile", "b", "login", "--homeserver", homeserver.url, "--user", bob.localpart,
        f"--password={bob.password}")  # "=": a random password may start with "-"

    session = Path(cli_env["xdg_data_home"] if "xdg_data_home" in cli_env else cli_env["XDG_DATA_HOME"]) / "tui-client/profiles/a/session.json"
    assert stat.S_IMODE(os.stat(session).st_mode) == 0o600

    room_id = run(cli_env, "--profile", "a", "create-room", "CLI room", "--history-visibility", "joined").stdout.strip()
    assert room_id.startswith("!")
    rooms = json.loads(run(cli_env, "--profile", "a", "rooms", "--json").stdout)
    room = next(r for r in rooms if r["room_id"] == room_id)
    assert room["encrypted"] and room["history_visibility"] == "joined" and room["name"] == "CLI room"

    invite = run(cli_env, "--profile", "a", "invite", room_id, bob.user_id)
    # Before the invite goes out, the user learns what happens to the history (here: nothing).
    assert "history: the room's history visibility is 'joined'" in invite.stderr
    assert invite.stdout.startswith(f"invited {bob.user_id}; history not shared")
    invites = json.loads(run(cli_env, "--profile", "b", "invites", "--json").stdout)
    assert [(i["room_id"], i["inviter"], i["encrypted"]) for i in invites] == [(room_id, alice.user_id, True)]

    assert run(cli_env, "--profile", "b", "join", "CLI room").stdout.strip() == room_id
    run(cli_env, "--profile", "a", "send", room_id, "hello from *alice*")
    run(cli_env, "--profile", "b", "send", "CLI room", "hi alice")

    history = json.loads(run(cli_env, "--profile", "b", "history", room_id, "--json").stdout)
    messages = [(h["sender"], h["body"], h["decrypted"], h["failure_reason"]) for h in history]
    assert (alice.user_id, "hello from *alice*", True, None) in messages
    assert (bob.user_id, "hi alice", True, None) in messages
    for h in history:
        assert set(h) >= {"event_id", "sender", "timestamp", "body", "decrypted", "failure_reason"}
    assert [h["timestamp"] for h in history] == sorted(h["timestamp"] for h in history)

    alice_view = json.loads(run(cli_env, "--profile", "a", "history", "CLI room", "--json").stdout)
    assert any(h["body"] == "hi alice" and h["decrypted"] for h in alice_view)

    run(cli_env, "--profile", "b", "leave", room_id)
    assert json.loads(run(cli_env, "--profile", "b", "rooms", "--json").stdout) == []


def test_cli_errors_are_one_line_and_non_zero(homeserver, make_user, cli_env):
    user = make_user("eve")
    bad = run(cli_env, "--profile", "e", "login", "--homeserver", homeserver.url, "--user", user.localpart,
              "--password-stdin", input="wrong\n", check=False)
    assert bad.returncode == 1 and bad.stderr.strip() == "error: wrong user name or password"

    not_logged = run(cli_env, "--profile", "nobody", "rooms", check=False)
    assert not_logged.returncode == 1 and "not logged in" in not_logged.stderr

    run(cli_env, "--profile", "e", "login", "--homeserver", homeserver.url, "--user", user.localpart,
        "--password-stdin", input=user.password + "\n")
    again = run(cli_env, "--profile", "e", "login", "--homeserver", homeserver.url, "--user", user.localpart,
                "--password-stdin", input=user.password + "\n", check=False)
    assert again.returncode == 1 and "already logged in as" in again.stderr

    unknown = run(cli_env, "--profile", "e", "send", "No such room", "x", check=False)
    assert unknown.returncode == 1 and "no room called 'No such room'" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1

    usage = run(cli_env, "--profile", "e", "create-room", "x", "--history-visibility", "everyone", check=False)
    assert usage.returncode == 2


def test_cli_refuses_a_profile_open_elsewhere(homeserver, make_user, cli_env):
    user = make_user("lock")
    run(cli_env, "--profile", "l", "login", "--homeserver", homeserver.url, "--user", user.localpart,
        "--password-stdin", input=user.password + "\n")
    holder = subprocess.Popen(
        [sys.executable, "-m", "tui_client", "--profile", "l", "sync", "--seconds", "20"],
        env=cli_env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        lock = Path(cli_env["XDG_DATA_HOME"]) / "tui-client/profiles/l/lock"
        for _ in range(100):
            if lock.exists() and lock.read_text().strip() == str(holder.pid):
                break
            subprocess.run(["sleep", "0.1"])
        second = run(cli_env, "--profile", "l", "rooms", check=False)
        assert second.returncode == 3
        assert f"already open in another tui-client process (pid {holder.pid})" in second.stderr
    finally:
        holder.terminate()
        holder.wait(10)
    assert run(cli_env, "--profile", "l", "rooms").returncode == 0


def test_everything_the_cli_writes_is_private(homeserver, make_user, cli_env, tmp_path):
    """Under a permissive umask, the store, its -wal/-shm, the session, the logs and exported
    keys are 0600 and every directory the client creates is 0700."""
    user = make_user("priv")
    env = dict(cli_env)
    old = os.umask(0o022)  # what a subprocess inherits
    try:
        run(env, "--profile", "p", "login", "--homeserver", homeserver.url, "--user", user.localpart,
            "--password-stdin", input=user.password + "\n")
        room_id = run(env, "--profile", "p", "create-room", "Private").stdout.strip()
        run(env, "--profile", "p", "send", room_id, "hello")
        run(env, "--profile", "p", "export-keys", str(tmp_path / "keys.txt"), "--passphrase-stdin", input="pw\n")
        holder = subprocess.Popen([sys.executable, "-m", "tui_client", "--profile", "p", "sync", "--seconds", "30"],
                                  env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            profile = Path(env["XDG_DATA_HOME"]) / "tui-client/profiles/p"
            for _ in range(200):  # while it runs, the WAL files exist
                if Path(f"{profile}/crypto.db-wal").exists() and Path(f"{profile}/crypto.db-shm").exists():
                    break
                subprocess.run(["sleep", "0.05"])
            seen = {}
            for root in (Path(env["XDG_DATA_HOME"]) / "tui-client", Path(env["XDG_STATE_HOME"]) / "tui-client"):
                for path in [root, *root.rglob("*")]:
                    seen[path] = stat.S_IMODE(path.lstat().st_mode)
        finally:
            holder.terminate()
            holder.wait(10)
    finally:
        os.umask(old)
    names = {p.name for p in seen}
    assert {"crypto.db", "crypto.db-wal", "crypto.db-shm", "session.json", "lock", "tui-client.log"} <= names
    loose = {str(p): oct(m) for p, m in seen.items() if m != (0o700 if p.is_dir() else 0o600)}
    assert not loose
    assert stat.S_IMODE((tmp_path / "keys.txt").stat().st_mode) == 0o600


def test_a_config_file_that_is_a_fifo_is_refused_not_waited_on(cli_env, tmp_path):
    fifo = tmp_path / "config.toml"
    os.mkfifo(fifo)
    env = dict(cli_env, TUI_CLIENT_CONFIG=str(fifo))
    proc = subprocess.run([sys.executable, "-m", "tui_client", "--profile", "nobody", "rooms"], env=env,
                          capture_output=True, text=True, timeout=60)
    assert proc.stderr.splitlines()[0] == f"warning: {fifo} is not a regular file; ignored, using defaults"
    assert proc.returncode == 1 and "not logged in" in proc.stderr  # and it carried on with defaults
