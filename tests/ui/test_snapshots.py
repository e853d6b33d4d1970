"""SVG snapshots of the main views, on the fake engine (fixed data, UTC, no server, no clock).

Update with `pytest tests/ui/test_snapshots.py --snapshot-update` only after looking at the new
images (the failure report shows old and new side by side).
"""

from __future__ import annotations

from textual.widgets import Input, TextArea

from tui_client.ui.screens.create_room import CreateRoomScreen
from tui_client.ui.screens.invites import InvitesScreen
from tui_client.ui.screens.login import LoginScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.invite_card import InviteCard
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import DESIGN, FakeEngine

SIZE = (100, 30)


def freeze_cursors(app) -> None:
    """Blinking cursors would make the images depend on timing."""
    for widget in app.screen.query("Input, TextArea"):
        if isinstance(widget, (Input, TextArea)):
            widget.cursor_blink = False


async def main_ready(pilot) -> MainScreen:
    app = pilot.app

    def shown() -> bool:
        screen = app.screen
        if not isinstance(screen, MainScreen) or not screen.query(Timeline):
            return False
        return screen.query_one(Timeline).row_of("$e9") is not None

    await wait_for(pilot, shown, what="the main screen")
    await pilot.pause()
    return app.screen


async def select(pilot, event_id: str) -> None:
    screen = await main_ready(pilot)
    timeline = screen.query_one(Timeline)
    timeline.focus()
    await pilot.pause()
    timeline.selected = event_id
    await pilot.pause()
    freeze_cursors(pilot.app)


def test_login_screen(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        await wait_for(pilot, lambda: isinstance(app.screen, LoginScreen) and app.screen.query("#login"))
        await wait_for(pilot, lambda: app.screen.query_one("#login").region.height)
        freeze_cursors(app)

    assert snap_compare(make_app(FakeEngine(logged_in=False)), terminal_size=SIZE, run_before=run_before)


def test_main_screen(snap_compare, make_app) -> None:
    """Project X: day separators, a 🔑 shared-by-Alice group, a failed decryption with its reason,
    state one-liners, a literal "[bold]x[/]" body and a markdown list; invites on top of the list."""

    async def run_before(pilot) -> None:
        await main_ready(pilot)
        freeze_cursors(pilot.app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_failed_decryption_selected(snap_compare, make_app) -> None:
    """The undecryptable message selected: the detail line repeats why, and which session."""

    async def run_before(pilot) -> None:
        await select(pilot, "$e5")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_shared_message_selected(snap_compare, make_app) -> None:
    """A message decrypted with Alice's bundle selected: the full provenance sentence."""

    async def run_before(pilot) -> None:
        await select(pilot, "$e3")

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_invites_screen(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        await main_ready(pilot)
        await pilot.press("ctrl+o")
        await wait_for(pilot, lambda: isinstance(app.screen, InvitesScreen))
        await wait_for(pilot, lambda: len(app.screen.query(InviteCard)) == 2)
        await pilot.pause()

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_invite_in_the_main_pane(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        screen = await main_ready(pilot)
        room_list = screen.query_one(RoomList)
        room_list.focus()
        room_list.select_id("invite:" + DESIGN)
        await wait_for(pilot, lambda: screen.query("#invite-pane InviteCard"))
        await pilot.pause()
        freeze_cursors(pilot.app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_create_room_dialog(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        app = pilot.app
        await main_ready(pilot)
        await pilot.press("ctrl+n")
        await wait_for(pilot, lambda: isinstance(app.screen, CreateRoomScreen))
        await pilot.pause()
        freeze_cursors(app)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_main_screen_wide(snap_compare, make_app) -> None:
    async def run_before(pilot) -> None:
        await main_ready(pilot)
        freeze_cursors(pilot.app)

    assert snap_compare(make_app(), terminal_size=(200, 50), run_before=run_before)


def test_share_preview_before_an_invite(snap_compare, make_app) -> None:
    """The timeline as the invitee will see it: each message readable or not, and why."""
    from tui_client.ui.screens.share_preview import SharePreviewScreen
    from tui_client.ui.widgets.composer import Composer

    async def run_before(pilot) -> None:
        app = pilot.app
        screen = await main_ready(pilot)
        composer = screen.query_one(Composer)
        composer.focus()
        composer.insert("/invite @dave:example.org")
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, SharePreviewScreen), what="the preview")
        await pilot.pause()
        freeze_cursors(app)

    assert snap_compare(make_app(), terminal_size=(120, 32), run_before=run_before)
