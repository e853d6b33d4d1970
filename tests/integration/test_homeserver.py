"""Tests of tui_client.homeserver against a real Synapse on loopback.

Set TUI_CLIENT_SYNAPSE_PYTHON to an interpreter with Synapse to skip the cached install;
otherwise the first run installs Synapse into the user cache (~30 s). The test that installs
Synapse into a fresh directory runs only with TUI_CLIENT_TEST_INSTALL=1.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import stat
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tui_client.homeserver import (
    SYNAPSE_VERSION,
    HomeserverError,
    SynapseServer,
    ensure_synapse,
    find_free_port,
    synapse_python,
)
from tui_client.homeserver import install as install_module
from tui_client.homeserver import synapse as synapse_module

pytestmark = pytest.mark.integration

_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def call(
    base_url: str,
    method: str,
    path: str,
    body: dict[str, Any] | None = None,
    token: str | None = None,
) -> tuple[int, dict[str, Any]]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(base_url + path, data=data, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with _OPENER.open(request, timeout=30) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"{}")


def login(base_url: str, localpart: str, password: str) -> tuple[int, dict[str, Any]]:
    return call(
        base_url,
        "POST",
        "/_matrix/client/v3/login",
        {
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": localpart},
            "password": password,
        },
    )


def synapse_pids(config_path: Path) -> list[int]:
    """PIDs of live processes whose command line names this config file."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(config_path) in cmdline:
            pids.append(int(entry.name))
    return pids


def fresh_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


@pytest.fixture(scope="module")
def python() -> Path:
    return ensure_synapse()


@pytest.fixture(scope="module")
def server(python: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[SynapseServer]:
    hs = SynapseServer(tmp_path_factory.mktemp("synapse"), python=python)
    hs.start()
    try:
        yield hs
    finally:
        hs.stop()


# ------------------------------------------------------------------ the shared server


def test_start_makes_a_ready_server_on_loopback(server: SynapseServer) -> None:
    assert server.running
    assert server.pid is not None and server.pid in synapse_pids(server.config_path)
    assert server.url == f"http://127.0.0.1:{server.port}"
    assert server.server_name == "localhost"
    status, body = call(server.url, "GET", "/_matrix/client/versions")
    assert status == 200 and "versions" in body
    # Only the client listener: no federation endpoints.
    status, _ = call(server.url, "GET", "/_matrix/federation/v1/version")
    assert status == 404


def test_secret_files_are_private_and_config_is_ours(server: SynapseServer) -> None:
    # Synapse's generated config comes first on its command line, ours (JSON) second, and ours wins.
    config_text = server.overrides_path.read_text()
    names = (server.config_path.name, server.overrides_path.name, "localhost.signing.key", "localhost.log.config")
    for name in names:
        mode = stat.S_IMODE((server.data_dir / name).stat().st_mode)
        assert mode == 0o600, f"{name} has mode {oct(mode)}"
    config = json.loads("\n".join(line for line in config_text.splitlines() if not line.startswith("#")))
    assert config["listeners"][0]["bind_addresses"] == ["127.0.0.1"]
    assert config["listeners"][0]["port"] == server.port
    assert config["rc_login"]["failed_attempts"] == {"per_second": 1_000_000, "burst_count": 1_000_000}
    assert len(config["registration_shared_secret"]) >= 32


def test_register_user_then_password_login(server: SynapseServer) -> None:
    name = fresh_name("alice")
    user_id = server.register_user(name, "correct horse", displayname="Alice")
    assert user_id == f"@{name}:localhost"
    status, body = login(server.url, name, "correct horse")
    assert status == 200, body
    assert body["user_id"] == user_id
    status, profile = call(server.url, "GET", f"/_matrix/client/v3/profile/{user_id}")
    assert status == 200 and profile.get("displayname") == "Alice"
    status, _ = login(server.url, name, "wrong")
    assert status == 403


def test_registering_the_same_user_twice_returns_the_id(server: SynapseServer) -> None:
    name = fresh_name("bob")
    first = server.register_user(name, "pw1")
    second = server.register_user(name, "pw2")
    assert first == second == f"@{name}:localhost"
    assert login(server.url, name, "pw1")[0] == 200  # the original password stays


def test_admin_token_is_an_admin_and_is_cached(server: SynapseServer) -> None:
    token = server.admin_token()
    assert server.admin_token() == token
    status, body = call(server.url, "GET", "/_matrix/client/v3/account/whoami", token=token)
    assert status == 200 and body["user_id"] == "@tui-admin:localhost"
    status, _ = call(server.url, "GET", "/_synapse/admin/v2/users/@tui-admin:localhost", token=token)
    assert status == 200
    saved = server.data_dir / "admin.json"
    assert stat.S_IMODE(saved.stat().st_mode) == 0o600
    assert json.loads(saved.read_text())["access_token"] == token


def test_no_rate_limiting_under_a_burst(server: SynapseServer) -> None:
    """~300 requests that all hit limiters with tiny default bursts (3-10); none may get 429."""
    name = fresh_name("burst")
    server.register_user(name, "pw")
    statuses: list[int] = []

    for _ in range(120):  # rc_login.address / rc_login.account: default burst 5
        status, body = login(server.url, name, "pw")
        statuses.append(status)
    token = body["access_token"]
    for _ in range(30):  # rc_login.failed_attempts: default burst 3
        statuses.append(login(server.url, name, "wrong")[0])
    room_ids = []
    for _ in range(15):  # rc_room_creation: default burst 10
        status, body = call(server.url, "POST", "/_matrix/client/v3/createRoom", {}, token)
        statuses.append(status)
        room_ids.append(body.get("room_id"))
    for i in range(120):  # rc_message: default burst 10
        status, _ = call(
            server.url,
            "PUT",
            f"/_matrix/client/v3/rooms/{room_ids[0]}/send/m.room.message/t{i}",
            {"msgtype": "m.text", "body": f"message {i}"},
            token,
        )
        statuses.append(status)
    for _ in range(20):  # rc_registration: default burst 3
        status, _ = call(
            server.url,
            "POST",
            "/_matrix/client/v3/register",
            {"username": fresh_name("reg"), "password": "pw", "auth": {"type": "m.login.dummy"}},
        )
        statuses.append(status)

    assert len(statuses) >= 300
    assert 429 not in statuses
    expected = [200] * 120 + [403] * 30 + [200] * 155
    assert statuses == expected


def test_first_cross_signing_upload_needs_no_user_interactive_auth(server: SynapseServer) -> None:
    name = fresh_name("xsign")
    user_id = server.register_user(name, "pw")
    token = login(server.url, name, "pw")[1]["access_token"]

    def master_key(key: str) -> dict[str, Any]:
        return {"master_key": {"user_id": user_id, "usage": ["master"], "keys": {f"ed25519:{key}": key}}}

    path = "/_matrix/client/v3/keys/device_signing/upload"
    status, body = call(server.url, "POST", path, master_key("A" * 43), token)
    assert status == 200, body
    # Replacing existing keys does need UIA.
    status, body = call(server.url, "POST", path, master_key("B" * 43), token)
    assert status == 401 and "m.login.password" in json.dumps(body["flows"])


# ------------------------------------------------------------------ lifecycle


@pytest.fixture
def data_dir(server: SynapseServer, tmp_path: Path) -> Path:
    """A new data directory holding a copy of the shared server's config and keys only.

    Saves the 2 s config generation per test, and proves a moved data directory works.
    """
    target = tmp_path / "hs"
    target.mkdir()
    for name in (server.config_path.name, "localhost.signing.key", "localhost.log.config"):
        shutil.copy2(server.data_dir / name, target / name)
    return target


def test_stop_restart_keeps_users_and_can_change_port(python: Path, data_dir: Path) -> None:
    hs = SynapseServer(data_dir, python=python)
    with hs:
        hs.register_user("carol", "secret")
        pid, first_port = hs.pid, hs.port
        assert pid is not None
    assert not hs.running and hs.pid is None
    assert synapse_pids(hs.config_path) == []
    assert not (hs.data_dir / "synapse.pid").exists()
    hs.stop()  # idempotent

    other_port = find_free_port()
    while other_port == first_port:
        other_port = find_free_port()
    again = SynapseServer(data_dir, python=python, port=other_port)
    again.start()
    try:
        assert again.url == f"http://127.0.0.1:{other_port}"
        status, body = login(again.url, "carol", "secret")
        assert status == 200 and body["user_id"] == "@carol:localhost"
        assert again.register_user("carol", "other") == "@carol:localhost"
    finally:
        again.stop()
        again.stop()


def test_start_on_a_port_in_use_fails_cleanly(python: Path, data_dir: Path) -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        hs = SynapseServer(data_dir, python=python, port=port)
        with pytest.raises(HomeserverError, match=f"port {port} on 127.0.0.1 is already in use"):
            hs.start()
        assert not hs.running and hs.pid is None
        assert synapse_pids(hs.config_path) == []


def test_synapse_losing_the_port_race_fails_cleanly_or_retries(
    python: Path, data_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """When the port is taken between our check and Synapse's bind, Synapse itself exits."""
    monkeypatch.setattr(synapse_module, "_port_is_free", lambda port: True)
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        taken = blocker.getsockname()[1]
        hs = SynapseServer(data_dir, python=python, port=taken)
        with pytest.raises(HomeserverError, match="already in use"):
            hs.start()
        assert synapse_pids(hs.config_path) == []

        # With a port of our own choosing it simply tries another one.
        picks = iter([taken])
        real = synapse_module.find_free_port
        monkeypatch.setattr(synapse_module, "find_free_port", lambda: next(picks, None) or real())
        auto = SynapseServer(data_dir, python=python)
        auto.start()
        try:
            assert auto.port != taken
            assert call(auto.url, "GET", "/_matrix/client/versions")[0] == 200
        finally:
            auto.stop()


def test_synapse_exiting_at_startup_raises_with_the_reason(python: Path, data_dir: Path) -> None:
    hs = SynapseServer(data_dir, python=python, max_upload_size="lots")
    with pytest.raises(HomeserverError) as info:
        hs.start()
    message = str(info.value)
    assert "exited with code" in message and "'lots'" in message
    assert "\n" not in message
    assert not hs.running and synapse_pids(hs.config_path) == []
    # The data directory is still usable.
    fixed = SynapseServer(data_dir, python=python)
    with fixed:
        assert fixed.running


def test_a_second_owner_of_the_same_data_dir_is_refused(
    server: SynapseServer, python: Path
) -> None:
    intruder = SynapseServer(server.data_dir, python=python)
    with pytest.raises(HomeserverError, match="already running Synapse"):
        intruder.start()
    assert server.running


def test_orphan_from_a_crashed_owner_is_stopped_on_next_start(python: Path, data_dir: Path) -> None:
    # A process that starts Synapse and dies without running atexit handlers.
    script = (
        "import os, sys; from pathlib import Path; "
        "from tui_client.homeserver import SynapseServer; "
        f"s = SynapseServer(Path({str(data_dir)!r}), python=Path({str(python)!r})); s.start(); "
        "print(s.pid, flush=True); os._exit(0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    orphan = int(result.stdout.strip())
    hs = SynapseServer(data_dir, python=python)
    assert orphan in synapse_pids(hs.config_path)
    with hs:
        assert synapse_pids(hs.config_path) == [hs.pid]
    assert synapse_pids(hs.config_path) == []


# ------------------------------------------------------------------ installing


def test_synapse_python_and_ensure_synapse_use_the_marker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(install_module.PYTHON_ENV_VAR, raising=False)
    env_dir = tmp_path / "env"
    assert synapse_python(env_dir) is None
    (env_dir / "bin").mkdir(parents=True)
    (env_dir / "bin" / "python").touch()
    assert synapse_python(env_dir) is None  # no marker: an interrupted install
    (env_dir / ".tui-client-installed").write_text(SYNAPSE_VERSION + "\n")
    assert synapse_python(env_dir) == env_dir / "bin" / "python"
    lines: list[str] = []
    started = time.monotonic()
    assert ensure_synapse(lines.append, env_dir=env_dir) == env_dir / "bin" / "python"
    assert time.monotonic() - started < 0.5 and lines == []

    monkeypatch.setenv(install_module.PYTHON_ENV_VAR, "/explicit/python")
    assert synapse_python() == Path("/explicit/python")
    assert synapse_python(env_dir) == env_dir / "bin" / "python"  # an explicit dir wins
    with pytest.raises(HomeserverError, match="does not exist"):
        ensure_synapse(lines.append)


def test_concurrent_ensure_synapse_installs_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[Path] = []

    def fake_install(env_dir: Path, report: Any) -> None:
        calls.append(env_dir)
        time.sleep(0.3)
        (env_dir / "bin").mkdir(parents=True)
        (env_dir / "bin" / "python").touch()
        (env_dir / ".tui-client-installed").write_text(SYNAPSE_VERSION)

    monkeypatch.setattr(install_module, "_install", fake_install)
    env_dir = tmp_path / "env"
    results: list[Path] = []
    lines: list[str] = []
    threads = [
        threading.Thread(target=lambda: results.append(ensure_synapse(lines.append, env_dir=env_dir)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(calls) == 1
    assert results == [env_dir / "bin" / "python"] * 2
    assert any("waiting" in line for line in lines)


@pytest.mark.skipif(
    os.environ.get("TUI_CLIENT_TEST_INSTALL") != "1",
    reason="installs Synapse from PyPI (~30 s); set TUI_CLIENT_TEST_INSTALL=1",
)
def test_ensure_synapse_really_installs(tmp_path: Path) -> None:
    lines: list[str] = []
    env_dir = tmp_path / "synapse-env"
    started = time.monotonic()
    python = ensure_synapse(lines.append, env_dir=env_dir)
    elapsed = time.monotonic() - started
    assert python == env_dir / "bin" / "python" and python.exists()
    assert len(lines) == 3 and "this takes" in lines[1] and lines[2].startswith("Done")
    assert synapse_python(env_dir) == python
    version = subprocess.run(
        [str(python), "-c", "import synapse; print(synapse.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    assert version == SYNAPSE_VERSION
    print(f"ensure_synapse on a fresh dir took {elapsed:.1f} s")
    # Second call: quick, silent.
    again: list[str] = []
    started = time.monotonic()
    assert ensure_synapse(again.append, env_dir=env_dir) == python
    assert time.monotonic() - started < 0.5 and again == []
