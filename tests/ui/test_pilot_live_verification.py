"""The verification dialog against a real Synapse, with real engines on both sides:

- Bob's new device, in the TUI, compares emoji with his first device (ctrl+t → "Other device"):
  the same seven emoji on both, "They match", and the new device ends verified, holding the
  identity's keys (by secret gossip from the first device).
- Alice asks Bob (in the TUI) to verify in a direct chat: the dialog opens by itself, Bob accepts,
  the emoji match, and each ends with the other's identity verified.

The other engine runs on the TUI engine's thread (`beside`): nio's store binds its peewee models
globally for each call, so two engines in one process must not use their stores from two threads.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
from textual.widgets import Static

from tui_client.engine.engine import Engine
from tui_client.engine.models import VerificationInfo, VerificationPhase
from tui_client.cli import open_backend
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.identity import VerifyDeviceScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.screens.verification import VerificationScreen
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.status import StatusBar

from .conftest import wait_for
from .test_pilot_live_crypto import SETTINGS, SIZE, main_ready, text_of

pytestmark = pytest.mark.integration

T = TypeVar("T")


class Beside:
    """Another engine, driven on the TUI engine's loop and thread."""

    def __init__(self, host: Any, engine: Engine) -> None:
        self.host, self.engine = host, engine

    async def __call__(self, func: Callable[[Engine], Awaitable[T]]) -> T:
        return await asyncio.wrap_future(self.host.submit(func(self.engine)))

    async def read(self, func: Callable[[Engine], T]) -> T:
        async def run(engine: Engine) -> T:
            return func(engine)

        return await self(run)

    async def flow(self, flow_id: str) -> VerificationInfo | None:
        return await self.read(lambda e: next((i for i in e.verifications() if i.flow_id == flow_id), None))


async def other_engine(host: Any, name: str, directory: Path, homeserver, user) -> Beside:
    engine = Engine(name, profile_dir=directory, settings=SETTINGS)
    beside = Beside(host, engine)

    async def start(e: Engine) -> None:
        await e.login(homeserver.url, user.localpart, user.password)
        await e.sync_once()
        e.start_sync()

    await beside(start)
    return beside


async def until_true(pilot, check: Callable[[], Awaitable[Any]], timeout: float = 30, what: str = "") -> Any:
    """Like `wait_for`, for a check that has to ask the other engine."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not (value := await check()):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await pilot.pause(0.1)
    return value


def dialog_emoji(dialog: VerificationScreen) -> list[str]:
    return [str(dialog.query_one(f"#emoji-{i}", Static).render()) for i in range(7)]


async def test_a_new_device_compares_emoji_with_the_first_one(homeserver, make_user, tmp_path: Path):
    user = make_user("bob")
    host, _ = open_backend("bob-phone", SETTINGS, profile_dir=tmp_path / "phone")
    first: Beside | None = None
    try:
        # The first device publishes the identity; the TUI's is the new one.
        first = await other_engine(host, "bob-laptop", tmp_path / "laptop", homeserver, user)
        await asyncio.wrap_future(host.run(lambda e: e.login(homeserver.url, user.localpart, user.password)))
        app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob-phone")
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            status = screen.query_one(StatusBar)
            await wait_for(pilot, lambda: "✗ not verified by your identity" in text_of(status), timeout=20)
            await first(lambda e: e.refresh_keys(user.user_id))
            await pilot.press("ctrl+t")
            await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen))
            await pilot.press("ctrl+e")
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen) and app.screen)
            await wait_for(pilot, lambda: "Waiting for your other devices to accept" in text_of(dialog), timeout=20)

            request = await until_true(
                pilot, lambda: first.read(lambda e: next((i for i in e.verifications() if i.incoming), None)),
                what="the request on the first device")
            await first(lambda e: e.accept_verification(request.flow_id))
            await wait_for(pilot, lambda: dialog.query_one("#sas-emoji").display, timeout=30, what="the emoji")
            theirs = await until_true(
                pilot, lambda: _with_emoji(first, request.flow_id), what="the first device's emoji")
            assert dialog_emoji(dialog) == [symbol for symbol, _ in theirs.emoji]
            await pilot.press("y")
            await first(lambda e: e.confirm_verification(request.flow_id))
            await wait_for(pilot, lambda: "✓ Verified" in text_of(dialog), timeout=30, what="verified")
            await wait_for(pilot, lambda: "asked your device" in text_of(dialog), timeout=10)
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
            await wait_for(pilot, lambda: "✓ verified by your identity" in text_of(status), timeout=45,
                           what="the status bar")
            await wait_for(pilot, lambda: bool(app.own_trust and app.own_trust.have_private_keys), timeout=45,
                           what="the identity's keys")
            await first(lambda e: e.close())
            first = None
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        if first is not None:
            try:
                await first(lambda e: e.close())
            except Exception:
                pass
        host.stop()


async def _with_emoji(beside: Beside, flow_id: str) -> VerificationInfo | None:
    info = await beside.flow(flow_id)
    return info if info is not None and info.phase is VerificationPhase.EMOJI else None


async def test_someone_asks_in_a_direct_chat_and_the_dialog_opens(homeserver, make_user, tmp_path: Path):
    alice_user, bob = make_user("alice"), make_user("bob")
    host, _ = open_backend("bob", SETTINGS, profile_dir=tmp_path / "bob")
    alice: Beside | None = None
    try:
        await asyncio.wrap_future(host.run(lambda e: e.login(homeserver.url, bob.localpart, bob.password)))
        alice = await other_engine(host, "alice", tmp_path / "alice", homeserver, alice_user)
        app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob")
        async with app.run_test(size=SIZE) as pilot:
            screen = await main_ready(pilot, app)
            asking = asyncio.ensure_future(alice(lambda e: e.request_verification(bob.user_id, timeout=60)))
            room_list = screen.query_one(RoomList)
            await wait_for(pilot, lambda: room_list.invites, timeout=30, what="the direct chat invite")
            room_list.focus()
            room_list.select_id("invite:" + room_list.invites[0].room_id)
            await pilot.pause()
            await pilot.press("a")  # join the direct chat
            asked = await asking
            # (drawn once mounted: the screen is current a moment before)
            dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen)
                                    and "wants to verify you" in text_of(app.screen) and app.screen,
                                    timeout=30, what="the dialog to open by itself")
            assert alice_user.user_id in text_of(dialog)
            await pilot.press("a")
            await wait_for(pilot, lambda: dialog.query_one("#sas-emoji").display, timeout=30, what="the emoji")
            mine = await until_true(pilot, lambda: _with_emoji(alice, asked.flow_id), what="Alice's emoji")
            assert dialog_emoji(dialog) == [symbol for symbol, _ in mine.emoji]
            for _, name in mine.emoji:
                assert name in text_of(dialog)
            await alice(lambda e: e.confirm_verification(asked.flow_id))
            await pilot.press("y")
            await wait_for(pilot, lambda: "✓ Verified" in text_of(dialog), timeout=30, what="verified")
            await wait_for(pilot, lambda: f"{alice_user.user_id} is now verified" in text_of(dialog), timeout=30)
            await until_true(pilot, lambda: alice.read(lambda e: e.identity_info(bob.user_id).state == "verified"),
                             what="Bob verified for Alice")
            await pilot.press("escape")
            await alice(lambda e: e.close())
            alice = None
            await pilot.press("ctrl+q")
        assert app.return_code == 0
    finally:
        if alice is not None:
            try:
                await alice(lambda e: e.close())
            except Exception:
                pass
        host.stop()
