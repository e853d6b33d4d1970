"""The collector is told, twice, that what is alive will stay: once the app has started, and once
the first sync is in (issue 15: its rooms and members were walked by the first full collection
that followed, 7-18 ms of the UI loop at the end of an initial sync of 100 rooms)."""

from __future__ import annotations

import gc

from tui_client.engine.models import SyncPhase, SyncState
from tui_client.ui import runtime
from tui_client.ui.bridge import Bridge

from .conftest import wait_for
from .test_pilot_fake import SIZE, ready


async def test_the_first_sync_is_frozen_once_and_later_syncs_are_not(make_app, monkeypatch):
    frozen: list[str] = []
    monkeypatch.setattr(gc, "freeze", lambda: frozen.append("freeze"))  # (the test process's own stays as is)
    monkeypatch.setattr(runtime, "_first_sync_frozen", False)
    app = make_app()
    app.freeze_after_start = True
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.sync_state.state == SyncPhase.SYNCING, what="the first sync")
        await pilot.pause(0.1)
        assert frozen == ["freeze", "freeze"], "the start-up, then the first sync"
        for state in (SyncPhase.RETRYING, SyncPhase.SYNCING, SyncPhase.OFFLINE, SyncPhase.SYNCING):
            app.post_message(Bridge.SyncStateChanged(SyncState(state)))
            await pilot.pause()
            await pilot.pause()
        await pilot.pause(0.1)
        assert app.sync_state.state == SyncPhase.SYNCING
        assert frozen == ["freeze", "freeze"], "a later sync is not frozen: its garbage would stay"
