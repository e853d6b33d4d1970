"""A profile whose crypto store is missing, empty, damaged or paired with the wrong session file
stops with one clear error and never becomes a new device under the old device id.

Before this, nio created a new Olm account for the same device id and uploaded new device keys:
the server then listed the device as not cross-signed, every room key was gone, and `doctor`
said "integrity ok". Each case here breaks a real profile (logged in with the CLI against the
test Synapse), checks what the user sees and that the server's keys for the device did not
change, then restores the files, which is the remedy the error suggests.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import raw_request
from tui_client.engine.errors import StoreError

pytestmark = pytest.mark.integration

MESSAGES = 7


def run(env: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "tui_client", *args], env=env, input=input,
                          capture_output=True, text=True, timeout=120)


def ok(env: dict, *args: str, input: str | None = None) -> subprocess.CompletedProcess:
    proc = run(env, *args, input=input)
    assert proc.returncode == 0, f"tui-client {' '.join(args)} failed ({proc.returncode}): {proc.stderr}"
    return proc


def server_view(session: dict) -> tuple[dict, dict]:
    """(the device's keys as the server publishes them, its one-time key counts)."""
    base, token, user, device = (session["homeserver"], session["access_token"], session["user_id"],
                                 session["device_id"])
    keys = raw_request(base, token, "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user: []}})
    counts = raw_request(base, token, "POST", "/_matrix/client/v3/keys/upload", {})  # uploads nothing
    return keys["device_keys"][user][device], counts["one_time_key_counts"]


def _missing(profile: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{profile}/crypto.db{suffix}").unlink(missing_ok=True)


def _empty(profile: Path) -> None:
    _missing(profile)
    (profile / "crypto.db").write_bytes(b"")


def _not_sqlite(profile: Path) -> None:
    _missing(profile)
    (profile / "crypto.db").write_bytes(os.urandom(64 * 1024))


def _no_account(profile: Path) -> None:
    # A readable SQLite file that holds nothing of ours (say, a fresh file restored by mistake).
    _missing(profile)
    db = sqlite3.connect(profile / "crypto.db")
    db.execute("CREATE TABLE notes (text TEXT)")
    db.commit()
    db.close()


def _wrong_key(profile: Path) -> None:
    session = json.loads((profile / "session.json").read_text())
    session["store_key"] = "not-the-key-of-this-store"
    (profile / "session.json").write_text(json.dumps(session))


CASES = {
    "missing": (_missing, "is missing"),
    "empty": (_empty, "is empty"),
    "not_sqlite": (_not_sqlite, "is damaged"),
    "no_account": (_no_account, "holds no Olm account"),
    "wrong_key": (_wrong_key, "cannot be read with the store key"),
}


def test_a_broken_store_never_becomes_a_new_device(homeserver, make_user, cli_env):
    user = make_user("keeper")
    ok(cli_env, "--profile", "k", "login", "--homeserver", homeserver.url, "--user", user.localpart,
       "--password-stdin", input=user.password + "\n")
    room_id = ok(cli_env, "--profile", "k", "create-room", "Keep", "--history-visibility", "shared").stdout.strip()
    for n in range(MESSAGES):
        ok(cli_env, "--profile", "k", "send", room_id, f"message {n}")

    profile = Path(cli_env["XDG_DATA_HOME"]) / "tui-client/profiles/k"
    session = json.loads((profile / "session.json").read_text())
    keys_before, counts_before = server_view(session)
    assert keys_before["signatures"][user.user_id].keys() > {f"ed25519:{session['device_id']}"}  # cross-signed
    backup = profile.parent / "k-backup"
    shutil.copytree(profile, backup, ignore=shutil.ignore_patterns("lock"))

    for case, (damage, what) in CASES.items():
        damage(profile)
        stored = {p.name: p.read_bytes() for p in profile.iterdir() if p.is_file()}

        history = run(cli_env, "--profile", "k", "history", room_id)
        assert history.returncode == 4, (case, history.stderr)
        lines = history.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), (case, history.stderr)
        assert what in lines[0] and session["device_id"] in lines[0], (case, lines[0])
        assert "logout" in lines[0] and "backup" in lines[0], (case, lines[0])  # what the user can do
        assert "Traceback" not in history.stderr and not history.stdout

        doctor = json.loads(ok(cli_env, "--profile", "k", "doctor", "--json").stdout)
        assert doctor["store"]["usable"] is False, case
        assert any(what in p for p in doctor["problems"]), (case, doctor["problems"])
        assert doctor["device_keys"]["server_ed25519"] == keys_before["keys"][f"ed25519:{session['device_id']}"]

        # Nothing was written to the profile, nothing uploaded for the device.
        assert {p.name: p.read_bytes() for p in profile.iterdir() if p.is_file() and p.name != "lock"} == {
            k: v for k, v in stored.items() if k != "lock"}, case
        assert server_view(session) == (keys_before, counts_before), case

        if case == "missing":
            # The terminal UI says the same sentence, before it takes over the terminal.
            tui = run(cli_env, "--profile", "k")
            assert tui.returncode == 4 and tui.stderr.strip() == lines[0]
            text = ok(cli_env, "--profile", "k", "doctor").stdout
            assert "NOT USABLE" in text and f"problem: {lines[0][len('error: '):]}" in text

        # The remedy the error names first: restore the files from the backup.
        for item in profile.iterdir():
            if item.name != "lock":
                item.unlink()
        for item in backup.iterdir():
            shutil.copy2(item, profile / item.name)

    restored = json.loads(ok(cli_env, "--profile", "k", "history", room_id, "--json").stdout)
    assert [h["body"] for h in restored] == [f"message {n}" for n in range(MESSAGES)]
    assert all(h["decrypted"] for h in restored)
    doctor = json.loads(ok(cli_env, "--profile", "k", "doctor", "--json").stdout)
    assert doctor["store"]["usable"] and doctor["device_keys"]["matches"] is True and not doctor["problems"]
    assert server_view(session)[0] == keys_before

    # The other remedy: log out (works on a broken store, which is kept aside), log in anew.
    _missing(profile)
    (profile / "crypto.db").write_bytes(b"garbage")
    out = ok(cli_env, "--profile", "k", "logout").stdout
    assert "kept in" in out
    assert not (profile / "session.json").exists() and not (profile / "crypto.db").exists()
    assert [p.read_bytes() for p in profile.glob("crypto.db.unusable-*")] == [b"garbage"]
    ok(cli_env, "--profile", "k", "login", "--homeserver", homeserver.url, "--user", user.localpart,
       "--password-stdin", input=user.password + "\n")
    new_session = json.loads((profile / "session.json").read_text())
    assert new_session["device_id"] != session["device_id"]
    assert stat.S_IMODE(os.stat(profile / "crypto.db").st_mode) == 0o600


def test_a_damaged_session_file_is_one_error(homeserver, make_user, cli_env):
    user = make_user("sess")
    ok(cli_env, "--profile", "s", "login", "--homeserver", homeserver.url, "--user", user.localpart,
       "--password-stdin", input=user.password + "\n")
    path = Path(cli_env["XDG_DATA_HOME"]) / "tui-client/profiles/s/session.json"
    for damage in (b"\xff\xfe not utf-8", b"[1, 2]", b'{"homeserver": "x"}'):
        path.write_bytes(damage)
        rooms = run(cli_env, "--profile", "s", "rooms")
        assert rooms.returncode == 4, rooms.stderr
        assert rooms.stderr.startswith("error: ") and len(rooms.stderr.strip().splitlines()) == 1
        assert "session" in rooms.stderr and "Traceback" not in rooms.stderr
        doctor = json.loads(ok(cli_env, "--profile", "s", "doctor", "--json").stdout)
        assert any("saved session" in p for p in doctor["problems"])


async def test_doctor_flags_a_store_whose_account_is_not_the_servers(engines, tmp_path):
    """What an earlier build left behind after silently resetting the device: the store opens,
    but its account is not the one whose keys the server publishes for this device."""
    from nio.crypto import OlmAccount

    from tui_client.engine.engine import Engine

    alice = await engines("alice")
    profile, device, key = alice.dir, alice.device_id, alice.session.store_key
    good = await alice.doctor()
    assert good["device_keys"]["matches"] is True and not good["problems"]
    await alice.close()

    db = sqlite3.connect(profile / "crypto.db")
    db.execute("UPDATE accounts SET account = ? WHERE device_id = ?", (OlmAccount().pickle(key), device))
    db.commit()
    db.close()

    engine = Engine("alice", profile_dir=profile)
    try:
        assert await engine.open()
        report = await engine.doctor()
    finally:
        await engine.close()
    assert report["device_keys"]["matches"] is False
    assert any(f"the server's keys for device {device}" in p and "not those of the account in this store" in p
               for p in report["problems"])


async def test_engine_open_refuses_before_nio_creates_an_account(engines):
    alice = await engines("alice")
    profile = alice.dir
    await alice.close()
    _missing(profile)

    from tui_client.engine.engine import Engine

    engine = Engine("alice", profile_dir=profile)
    try:
        with pytest.raises(StoreError, match="is missing"):
            await engine.open()
        assert engine.client is None
    finally:
        await engine.close()
    assert not (profile / "crypto.db").exists()  # not even an empty file was created
