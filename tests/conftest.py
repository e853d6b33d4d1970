"""Shared fixtures: one real Synapse per test session on 127.0.0.1, fresh users per test,
and engines that log in as them in throwaway profile directories."""

from __future__ import annotations

import itertools
import os
import secrets
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tui_client.homeserver import SynapseServer, ensure_synapse, synapse_python

_counter = itertools.count(1)


@dataclass(frozen=True)
class TestUser:
    localpart: str
    user_id: str
    password: str


@pytest.fixture(scope="session")
def synapse_python_path() -> Path:
    return synapse_python() or ensure_synapse()


@pytest.fixture(scope="session")
def homeserver(tmp_path_factory: pytest.TempPathFactory, synapse_python_path: Path) -> SynapseServer:
    server = SynapseServer(tmp_path_factory.mktemp("synapse"), python=synapse_python_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def make_user(homeserver: SynapseServer) -> Callable[[str], TestUser]:
    """Register a fresh user: make_user("alice") -> @alice-<n><rand>:localhost."""

    def factory(name: str) -> TestUser:
        localpart = f"{name}-{next(_counter)}{secrets.token_hex(2)}"
        password = secrets.token_urlsafe(12)
        user_id = homeserver.register_user(localpart, password, displayname=name.capitalize())
        return TestUser(localpart, user_id, password)

    return factory


@pytest.fixture
async def engines(tmp_path: Path, homeserver: SynapseServer, make_user) -> AsyncIterator[Callable]:
    """`await engines("alice")` -> a logged-in, synced Engine for a fresh user (closed at teardown)."""
    from tui_client.engine.engine import Engine

    opened: list[Engine] = []

    async def factory(name: str, *, user: TestUser | None = None, profile_dir: Path | None = None, **kwargs) -> Engine:
        user = user or make_user(name)
        engine = Engine(name, profile_dir=profile_dir or tmp_path / f"{name}-{next(_counter)}", **kwargs)
        opened.append(engine)
        await engine.login(homeserver.url, user.localpart, user.password)
        await engine.sync_once()
        engine.test_user = user  # type: ignore[attr-defined]
        return engine

    yield factory
    for engine in opened:
        try:
            await engine.close()
        except Exception:
            pass


@pytest.fixture
def cli_env(tmp_path: Path) -> dict[str, str]:
    """Environment for running `tui-client` as a subprocess in isolated XDG directories."""
    env = dict(os.environ)
    for var in ("XDG_DATA_HOME", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_STATE_HOME"):
        env[var] = str(tmp_path / var.lower())
    env.pop("TUI_CLIENT_CONFIG", None)
    return env
