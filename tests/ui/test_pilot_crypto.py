"""The crypto side of the UI on the fake engine: verifying this device, recovery, resetting the
identity, other people's changed identities, the crypto inspector, event details, key files.

Each test drives the keys a user would press and checks what they read (dialog errors stay in the
dialog; results end in a notification). Real-server versions are in test_pilot_live_crypto.py.
"""

from __future__ import annotations

import threading

from pathlib import Path

from textual.widgets import DataTable, Input, Static, TextArea

from tui_client.engine.events import OwnTrustChanged
from tui_client.engine.models import OwnTrust
from tui_client.ui.palette import ActionsProvider
from tui_client.ui.screens.confirm import ConfirmScreen
from tui_client.ui.screens.event_details import NO_DECRYPTED, EventDetailsScreen
from tui_client.ui.screens.identity import RecoveryScreen, ResetIdentityScreen, VerifyDeviceScreen
from tui_client.ui.screens.inspector import CryptoInspectorScreen
from tui_client.ui.screens.key_files import ExportKeysScreen, ImportKeysScreen
from tui_client.ui.screens.main import MainScreen
from tui_client.ui.widgets.room_list import RoomList
from tui_client.ui.widgets.status import StatusBar
from tui_client.ui.widgets.timeline import Timeline

from .conftest import wait_for
from .fake_engine import CAROL, DAVE, GENERAL, PROJECT, RECOVERY_KEY, FakeEngine
from .test_pilot_fake import notifications, ready, texts

SIZE = (100, 30)
UNVERIFIED = OwnTrust(True, False, False, "BobMasterKey", "this device is not verified: verify it with your recovery key")
SIGNER = OwnTrust(True, True, True, "BobMasterKey", "this device is verified by your identity")


def status_text(app) -> str:
    return texts(app.screen.query_one(StatusBar))


def palette_titles(screen) -> set[str]:
    return {title for title, _, _ in ActionsProvider(screen)._actions()}


def cells(table: DataTable) -> list[list[str]]:
    return [[str(c) for c in table.get_row_at(i)] for i in range(table.row_count)]


async def test_verify_device_shows_progress_and_the_error_then_verifies(make_app):
    engine = FakeEngine(own_trust=UNVERIFIED)
    # PBKDF2 takes a moment: the dialog must say so and stay usable. The test holds the
    # verification open until it has seen that, however slow the machine.
    engine.verify_gate = threading.Event()
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: "✗ not verified by your identity (^t)" in status_text(app), what="the hint")
        assert "Verify device" in palette_titles(app.screen)
        await pilot.press("ctrl+t")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, VerifyDeviceScreen) and app.screen)
        field = dialog.query_one("#recovery-input", Input)
        assert field.password and app.focused is field
        await pilot.press(*"not my key", "enter")
        await wait_for(pilot, lambda: dialog.busy, what="the progress line")
        assert dialog.query_one("#dialog-progress").display and field.disabled
        await pilot.press("escape")  # held back while the engine works
        assert app.screen is dialog
        engine.verify_gate.set()
        error = dialog.query_one("#dialog-error", Static)
        await wait_for(pilot, lambda: "does not match this account's secret storage key" in str(error.render()))
        assert app.screen is dialog and not dialog.busy and app.focused is field
        field.value = RECOVERY_KEY
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the dialog to close")
        await wait_for(pilot, lambda: "This device is now verified by your identity." in notifications(app))
        await wait_for(pilot, lambda: "✓ verified by your identity" in status_text(app))
        assert "Verify device" not in palette_titles(app.screen)


async def test_setup_recovery_shows_the_key_once_with_copy(make_app):
    app = make_app(FakeEngine(own_trust=UNVERIFIED))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: app.own_trust is not None)
        assert "Set up recovery" not in palette_titles(app.screen)  # this device cannot sign
        app.own_trust = SIGNER  # the UI thinks this device can sign; the engine disagrees
        await pilot.pause()
        titles = palette_titles(app.screen)
        for title in ("Set up recovery", "Reset identity", "Inspector", "Export keys", "Import keys", "Details"):
            assert title in titles, title
        await pilot.press("f7")  # a priority binding: the composer (TextArea) has focus and binds f7
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, RecoveryScreen) and app.screen)
        assert "A recovery key set up earlier stops working" in texts(dialog)
        await pilot.press("enter")
        await wait_for(pilot, lambda: "this device cannot sign for your identity" in texts(dialog))
        assert dialog.recovery_key is None and app.focused is dialog.query_one("#create")
        app.fake._trust = SIGNER  # e.g. verified from another device meanwhile
        app.fake.emit(OwnTrustChanged(SIGNER))
        create = dialog.query_one("#create")
        await wait_for(pilot, lambda: not create.has_class("-active"))  # a Button ignores presses for 0.2 s
        await pilot.press("enter")  # try again
        await wait_for(pilot, lambda: dialog.recovery_key == RECOVERY_KEY, what="the key")
        assert "cannot sign" not in texts(dialog)
        shown = texts(dialog)
        assert RECOVERY_KEY in shown and "Write this down now" in shown and "shown only this once" in shown
        await pilot.press("enter")  # focus is on Copy: a second Enter does not close the dialog
        assert app.screen is dialog and app.clipboard == RECOVERY_KEY
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: any("Recovery is set up" in n for n in notifications(app)))


async def test_reset_identity_explains_and_asks_for_the_password(make_app):
    app = make_app(FakeEngine(own_trust=UNVERIFIED))
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f8")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ResetIdentityScreen) and app.screen)
        shown = texts(dialog)
        assert "your other devices are no longer verified" in shown and "recovery key stops working" in shown
        await pilot.press("enter")
        await wait_for(pilot, lambda: "Enter your account password." in texts(dialog))
        await pilot.press(*"wrong", "enter")
        await wait_for(pilot, lambda: "wrong password" in texts(dialog))
        assert ("reset_identity", ()) in app.fake.calls and app.screen is dialog
        dialog.query_one(Input).value = "secret"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        await wait_for(pilot, lambda: any("You have a new identity" in n for n in notifications(app)))
        await wait_for(pilot, lambda: "✓ verified by your identity" in status_text(app))


async def test_the_start_ups_new_identity_toast_survives_an_identity_event_right_after_it(make_app):
    """At start-up the app says once who has a new identity; an identity event in the meantime
    re-reads the list and cancelled that reading, and the toast was never shown (CI, once)."""
    engine = FakeEngine()
    engine.changed.append(CAROL)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: any("has a new identity" in n for n in notifications(app)),
                       what="the real start-up's toast")
        await pilot.pause(0.2)
        app.clear_notifications()
        app.refresh_identities(announce=True)  # as at start-up
        app.refresh_identities()  # an identity event: the worker is exclusive
        await wait_for(pilot, lambda: any("has a new identity" in n for n in notifications(app)),
                       what="the start-up's toast")
        await pilot.pause(0.2)
        assert sum("has a new identity" in n for n in notifications(app)) == 1  # once


async def test_changed_identities_are_marked_until_accepted(make_app):
    engine = FakeEngine()
    engine.changed.append(CAROL)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        warning = screen.query_one("#identity-warning", Static)
        await wait_for(pilot, lambda: warning.display, what="the warning in Project X")
        assert "Carol (@carol:example.org) has a new identity" in str(warning.render())
        assert "accept it (^g)" in str(warning.render())
        await wait_for(pilot, lambda: any("has a new identity" in n for n in notifications(app)),
                       what="the toast, said once at start-up")
        room_list = screen.query_one(RoomList)
        assert "⚠" in str(room_list.get_option(PROJECT).prompt) and "⚠" in str(room_list.get_option(GENERAL).prompt)

        await pilot.press("ctrl+g")
        confirm = await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen) and app.screen)
        question = texts(confirm)
        assert "Accept the new identity of Carol (@carol:example.org)?" in question
        assert "someone else has taken over their account" in question and "Caro lNew" in question
        await pilot.press("y")
        await wait_for(pilot, lambda: ("accept_identity", (CAROL,)) in app.fake.calls)
        await wait_for(pilot, lambda: not warning.display, what="the warning to go")
        assert "⚠" not in str(room_list.get_option(PROJECT).prompt)

        # A change found while running: the engine's event marks the rooms again.
        app.fake.change_identity(DAVE)
        await wait_for(pilot, lambda: "⚠" in str(room_list.get_option(GENERAL).prompt), what="General marked")
        assert not warning.display  # Dave is not in Project X
        assert any("@dave:example.org has a new cryptographic identity" in n for n in notifications(app))


async def test_crypto_inspector_tabs_copy_refresh_and_accept(make_app):
    engine = FakeEngine()
    engine.changed.append(CAROL)
    app = make_app(engine)
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f4")
        inspector = await wait_for(pilot, lambda: isinstance(app.screen, CryptoInspectorScreen) and app.screen)
        sessions = inspector.query_one("#sessions-table", DataTable)
        await wait_for(pilot, lambda: sessions.row_count == 3, what="the sessions")
        rows = cells(sessions)
        assert rows[0][:4] == ["SESSIONAAA…", "@alice:example.org ALICEDEVICE", "0", "yes"]
        assert rows[0][4] == "bundle from @alice:example.org"  # compact: the line below has the sentence
        assert "SESSIONAAAAAAAAAA" in texts(inspector)  # the detail line has the whole id
        await pilot.press("c")
        assert app.clipboard == "SESSIONAAAAAAAAAA"

        await pilot.press("2")
        withheld = inspector.query_one("#withheld-table", DataTable)
        assert app.focused is withheld
        assert cells(withheld) == [["SESSIONCCC…", "m.history_not_shared", "The sender disabled sharing encrypted history.",
                                    "bundle", "@alice:example.org ALICEDEVICE"]]
        await pilot.press("3")
        assert cells(inspector.query_one("#bundles-table", DataTable))[0][1:] == [
            "imported", "2 keys, 1 withheld", "Alice's keys imported: 1 of 2 session keys"]

        await pilot.press("4")
        members = inspector.query_one("#members-table", DataTable)
        rows = cells(members)
        assert rows[0] == ["Alice (@alice:example.org)", "pinned", "ALICEDEVICE", "Alice's laptop", "✔ yes"]
        assert rows[2][2:] == ["BOBPHONE", "Element Android", "✘ no"]
        assert rows[3][:2] == ["Carol (@carol:example.org)", "changed ⚠"]
        assert "Accept identity" not in palette_titles(inspector)  # Alice is highlighted
        await pilot.press("down", "down", "down")
        assert "Accept identity" in palette_titles(inspector)
        assert "This identity changed since you first saw it" in texts(inspector)
        await pilot.press("a")
        await wait_for(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await wait_for(pilot, lambda: app.screen is inspector and cells(members)[3][1] == "pinned",
                       what="the inspector to read the accepted identity")
        reads = sum(1 for c in app.fake.calls if c[0] == "inspect_room")
        await pilot.press("r")
        await wait_for(pilot, lambda: sum(1 for c in app.fake.calls if c[0] == "inspect_room") == reads + 1)
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_event_details_of_a_shared_and_a_failed_message(make_app):
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        screen = await ready(pilot)
        timeline = screen.query_one(Timeline)
        timeline.focus()
        await pilot.pause()
        timeline.selected = "$e3"
        await pilot.press("i")
        details = await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen)
        await wait_for(pilot, lambda: details.details is not None)
        shown = texts(details)
        # Alice sent it and shared its key herself: nothing may claim the key came from someone else.
        assert "Alice (@alice:example.org, device ALICEDEVICE) sent this message and shared its key later" in shown
        assert "authenticity rests on the sender's word: the sender shared this key later" in shown
        assert "not from the sender" not in shown
        assert "SESSIONAAAAAAAAAA" in shown
        decrypted = details.query_one("#decrypted-json", TextArea)
        assert decrypted.read_only and '"body": "Welcome to **Project X**!"' in decrypted.text
        await pilot.press("e")
        assert app.clipboard == "$e3"
        await pilot.press("c")
        assert app.clipboard == decrypted.text
        await pilot.press("2")
        await pilot.press("c")
        assert '"ciphertext"' in app.clipboard
        await pilot.press("escape")

        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen))
        timeline.focus()
        timeline.selected = "$e5"
        await pilot.press("enter")
        details = await wait_for(pilot, lambda: isinstance(app.screen, EventDetailsScreen) and app.screen)
        await wait_for(pilot, lambda: details.details is not None)
        shown = texts(details)
        assert "⚠ not shared: the sender's history settings did not allow it (m.history_not_shared)" in shown
        assert "not decrypted, so nothing can be said about it" in shown
        assert details.query_one("#decrypted-json", TextArea).text == NO_DECRYPTED
        assert details.query_one("TabbedContent").active == "encrypted"
        await pilot.press("s")
        assert app.clipboard == "SESSIONCCCCCCCCCC"
        await pilot.press("escape")
        assert isinstance(app.screen, MainScreen)


async def test_export_then_import_keys_with_errors_in_the_dialogs(make_app, tmp_path: Path):
    app = make_app()
    target = tmp_path / "keys.txt"
    async with app.run_test(size=SIZE) as pilot:
        await ready(pilot)
        await pilot.press("f5")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ExportKeysScreen) and app.screen)
        assert dialog.query_one("#export-path", Input).value == "~/tui-client-keys.txt"
        dialog.query_one("#export-path", Input).value = str(tmp_path)
        await pilot.pause()
        assert "That is a folder" in texts(dialog)
        dialog.query_one("#export-path", Input).value = str(target)
        dialog.query_one("#export-passphrase", Input).value = "correct horse"
        dialog.query_one("#export-confirm", Input).value = "correct hose"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "The two passphrases differ" in texts(dialog))
        assert app.focused is dialog.query_one("#export-confirm", Input)
        await pilot.press(*"correct horse")
        dialog.query_one("#room-only").value = True
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the export")
        assert ("export_keys", (str(target), PROJECT)) in app.fake.calls
        await wait_for(pilot, lambda: f"Exported 3 room keys to {target}" in notifications(app))

        (tmp_path / "notes.txt").write_text("hello")
        await pilot.press("f6")
        dialog = await wait_for(pilot, lambda: isinstance(app.screen, ImportKeysScreen) and app.screen)
        path, passphrase = dialog.query_one("#import-path", Input), dialog.query_one("#import-passphrase", Input)
        path.value = str(tmp_path / "missing.txt")
        passphrase.value = "x"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "There is no file at" in texts(dialog))
        path.value = str(tmp_path / "notes.txt")
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "this is not a key export file" in texts(dialog))
        path.value = str(target)
        passphrase.value = "wrong"
        await pilot.press("ctrl+s")
        await wait_for(pilot, lambda: "wrong passphrase, or the file is damaged" in texts(dialog))
        assert app.focused is passphrase and app.screen is dialog
        passphrase.value = "correct horse"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, MainScreen), what="the import")
        await wait_for(pilot, lambda: "Imported 4 room keys; 1 already known" in notifications(app))


async def test_a_restore_from_the_key_backup_shows_its_progress_and_opening_a_room_asks_for_its_keys(make_app):
    from tui_client.engine.events import Notice

    engine = FakeEngine()
    app = make_app(engine)
    async with app.run_test(size=(120, 30)) as pilot:
        await ready(pilot)
        await wait_for(pilot, lambda: ("room_opened", (PROJECT,)) in engine.calls, what="Project X's keys asked for")
        assert "key backup" not in status_text(app), "nothing to say while nothing is under way"

        engine.set_backup_progress(500, 2000)
        await wait_for(pilot, lambda: "🔑 restoring keys from the key backup: 500 of 2,000" in status_text(app))
        engine.set_backup_progress(1500, 2000)
        await wait_for(pilot, lambda: "🔑 restoring keys from the key backup: 1,500 of 2,000" in status_text(app))
        assert "@bob:example.org  device BOBDEVICE" in status_text(app), "the rest of the bar stays"

        engine.set_backup_progress(2000, 2000, finished=True)
        engine.emit(Notice("Restored 2000 keys from the key backup"))
        await wait_for(pilot, lambda: "key backup" not in status_text(app), what="the progress to go away")
        await wait_for(pilot, lambda: "Restored 2000 keys from the key backup" in notifications(app))

        engine.set_backup_progress(10, 2000, finished=True, error="could not download the key backup: HTTP 500")
        await wait_for(pilot, lambda: "⚠ key backup: the restore failed (see the log)" in status_text(app))

        await pilot.press("alt+down")  # the next room: its keys are asked for too
        await wait_for(pilot, lambda: ("room_opened", (GENERAL,)) in engine.calls, what="General's keys asked for")
