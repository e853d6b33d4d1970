"""Fixtures for interop tests against the matrix-js-sdk reference peer (see jspeer.py)."""
from __future__ import annotations

import secrets

import pytest
import pytest_asyncio

from tests.interop.jspeer import JsPeer, ensure_node_modules


@pytest.fixture(scope="session")
def js_peer_node_modules():
    """Installs tests/interop/peer/node_modules (npm ci) once per session if it is missing."""
    ensure_node_modules()


@pytest_asyncio.fixture
async def js_peer_factory(homeserver, js_peer_node_modules, tmp_path):
    """``await make("alice", cross_signing=True)`` -> a logged-in :class:`JsPeer` for a fresh user.

    The user is ``@<name>-<random>:<server>``; ``peer.user_id``/``peer.password`` are set. All peers
    are stopped at teardown, and their log paths are printed (pytest shows them for failed tests).
    """
    peers: list[JsPeer] = []

    async def make(name: str, *, login: bool = True, cross_signing: bool = False) -> JsPeer:
        password = secrets.token_urlsafe(12)
        user_id = homeserver.register_user(f"{name}-{secrets.token_hex(4)}", password)
        peer = JsPeer(name, log_dir=tmp_path / "jspeer-logs")
        peers.append(peer)
        await peer.start()
        peer.user_id, peer.password = user_id, password
        if login:
            await peer.login(homeserver.url, user_id, password)
        if cross_signing:
            await peer.bootstrap_cross_signing()
        return peer

    yield make

    for peer in peers:
        await peer.stop()
    for peer in peers:
        print(f"js peer {peer.name} ({peer.user_id} / {peer.device_id}) log: {peer.log_path}")
