"""SVG snapshots of the crypto views on the fake engine (fixed data, UTC, no server): the crypto
inspector, event details of a bundle-decrypted and of a not-shared message, the verify dialog
showing the engine's error, the warning for a changed identity, and the emoji of a verification.

Update with `pytest tests/ui/test_snapshots_crypto.py --snapshot-update` only after looking at
the new images.
"""

from __future__ import annotations

from textual.widgets import DataTable, Static

from tui_client.engine.models import OwnTrust
from tui_client.ui.screens.event_details import EventDetailsScreen
from tui_client.ui.screens.identity import VerifyDeviceScreen
from tui_client.ui.screens.inspector import CryptoInspectorScreen
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import CAROL, FakeEngine
from .test_snapshots import SIZE, freeze_cursors, main_ready, select


def with_carol_changed() -> FakeEngine:
    engine = FakeEngine()
    engine.changed.append(CAROL)
    return engine


def test_crypto_inspector(snap_compare, make_app) -> None:
    """Project X: a session shared by Alice in a bundle, our own, one received directly; the
    detail line spells out the highlighted one; tab titles count withheld keys, bundles, members."""

    async def run_before(pilot) -> None:
        app = pilot.app
        await main_ready(pilot)
        await pilot.press("f4")
        await wait_for(pilot, lambda: isinstance(app.screen, CryptoInspectorScreen))
        await wait_for(pilot, lambda: app.screen.query_one("#sessions-table", DataTable).row_count == 3)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


async def _details(pilot, event_id: str) -> None:
    app = pilot.app
    await select(pilot, event_id)
    await pilot.press("i")
    await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen.details is not None)
    await pilot.pause()
    freeze_cursors(app)


def test_event_details_shared_message(snap_compare, make_app) -> None:
    """Decrypted with Alice's bundle: the trust caveat, the provenance sentence, the JSON."""

    async def run_before(pilot) -> None:
        await _details(pilot, "$e3")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_event_details_not_shared_message(snap_compare, make_app) -> None:
    """Not decryptable: why (not shared), and the encrypted JSON tab opened."""

    async def run_before(pilot) -> None:
        await _details(pilot, "$e5")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_verify_dialog_with_an_error(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        await main_ready(pilot)
        await pilot.press("ctrl+t")
        await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen))
        await pilot.press(*"EsTc not my key", "enter")
        error = app.screen.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: error.display and not app.screen.busy)
        await pilot.pause()
        freeze_cursors(app)

    engine = FakeEngine(own_trust=OwnTrust(True, False, False, "k", "this device is not verified"))
    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=run_before)


def test_identity_changed_warning(snap_compare, make_app) -> None:
    """Carol reset her identity: ⚠ on the rooms she shares with us, a warning above Project X's
    timeline naming the accept key, and the start-up notification."""

    async def run_before(pilot) -> None:
        app = pilot.app
        screen = await main_ready(pilot)
        await wait_for(pilot, lambda: screen.query_one("#identity-warning").display)
        await wait_for(pilot, lambda: app._notifications)
        # The warning takes three lines from the timeline after it was laid out: let the
        # anchored timeline settle at its new height before the picture.
        timeline = screen.query_one(Timeline)
        # Where the scrollbar thumb lands after the re-layout varies by a cell from run to run;
        # it is not what this picture is about, so it is hidden.
        timeline.styles.scrollbar_size_vertical = 0
        previous = None
        for _ in range(100):  # until layout and scroll position stop moving
            timeline.scroll_end(animate=False, immediate=True)
            await pilot.pause(0.02)
            state = (timeline.size, timeline.virtual_size, timeline.scroll_y, timeline.max_scroll_y)
            if state == previous and timeline.scroll_y == timeline.max_scroll_y:
                break
            previous = state
        freeze_cursors(app)

    assert snap_compare(make_app(with_carol_changed()), terminal_size=SIZE, run_before=run_before)


def test_verification_emoji(snap_compare, make_app) -> None:
    """Alice asked to verify, we accepted: the seven emoji with their names, the numbers, and
    "They match" / "They don't match"."""
    from tui_client.ui.screens.verification import VerificationScreen

    from .fake_engine import ALICE

    engine = FakeEngine()

    async def run_before(pilot) -> None:
        app = pilot.app
        await main_ready(pilot)
        engine.incoming_verification(ALICE)
        await wait_for(pilot, lambda: isinstance(app.screen, VerificationScreen))
        await pilot.press("a")
        await wait_for(pilot, lambda: app.screen.query_one("#sas-emoji").display)
        await pilot.pause()

    assert snap_compare(make_app(engine), terminal_size=SIZE, run_before=run_before)
