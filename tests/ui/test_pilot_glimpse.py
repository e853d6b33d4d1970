"""A first start after login lists the rooms of the server's first answer as soon as it arrives
(engine.first_sync.glimpse), before the engine has opened or handled it, answers keys meanwhile,
and then shows the engine's own list."""

from __future__ import annotations

import threading

import pytest

from tests.integration.test_early_first_sync import bob_logs_in_on_a_new_device
from tui_client.cli.tui import engine_opener
from tui_client.engine.claim import claim_profile
from tui_client.engine.first_sync import glimpse, glimpse_sliding, glimpses_of, prefetch, prefetch_glimpse
from tui_client.engine.host import EngineHost
from tui_client.ui.app import TuiApp
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.room_list import RoomList

from .conftest import wait_for
from .test_pilot_kept_rooms import SETTINGS, SIZE, gated, listed

pytestmark = pytest.mark.integration


async def test_the_first_answer_is_listed_before_the_engine_has_handled_it(engines, homeserver, tmp_path):
    room_id, _, profile = await bob_logs_in_on_a_new_device(engines, homeserver, tmp_path)
    claimed = claim_profile("bob", profile)
    assert claimed.session is not None and claimed.never_synced and not claimed.kept_rooms
    claimed.early_glimpse = prefetch_glimpse(claimed.session)
    claimed.early_sync = prefetch(claimed.session)
    glimpsed = glimpses_of([(claimed.early_glimpse, glimpse_sliding), (claimed.early_sync, glimpse)],
                           claimed.session.user_id)

    gate = threading.Event()
    host = EngineHost(opener=gated(engine_opener(claimed, SETTINGS), gate), on_unopened=claimed.lock.release)
    host.start()
    app = TuiApp(host, restored=True, settings=SETTINGS, profile="bob", glimpses=glimpsed)
    try:
        async with app.run_test(size=SIZE) as pilot:
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen) and app.screen.query(RoomList),
                           what="the main screen")
            await wait_for(pilot, lambda: any("Early" in o for o in listed(app)), timeout=30,
                           what="the room of the first answer")
            assert app.sync_state.state == "connecting", "listed before the engine opened"
            await pilot.press("ctrl+p")  # keys work meanwhile
            await wait_for(pilot, lambda: app.screen.query("CommandList"), what="the command palette")
            await pilot.press("escape")
            await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the main screen again")

            gate.set()
            await wait_for(pilot, lambda: app.sync_state.state == "syncing", timeout=60, what="the first sync")
            assert any("Early" in o for o in listed(app)), "the engine's list has it too"
            assert room_id in [r.room_id for r in app.rooms]
            await pilot.press("ctrl+q")
    finally:
        gate.set()
        host.stop()
