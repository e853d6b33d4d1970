"""Pure text of the crypto views: the identity warning and its confirmation, the inspector's rows,
and that server strings reach the inspector's tables as literal text."""

from __future__ import annotations

from rich.text import Text

from tui_client.engine.models import (
    BundleSummary,
    DeviceReport,
    MemberReport,
    RoomInspection,
    SessionReport,
    WithheldReport,
)
from tui_client.ui.describe import (
    accept_identity_question,
    bundle_row,
    fingerprint,
    identity_warning,
    member_rows,
    pending_bundle_line,
    person,
    session_row,
    short_id,
    withheld_row,
)
from tui_client.ui.screens.inspector import CryptoInspectorScreen


def test_identity_warning_names_people_and_the_key() -> None:
    one = identity_warning([person("@carol:x", "Carol")], "^g")
    assert one.startswith("⚠ Carol (@carol:x) has a new identity.") and one.endswith("then accept it (^g).")
    many = identity_warning(["@a:x", "@b:x", "@c:x"], "^g")
    assert many.startswith("⚠ @a:x, @b:x and @c:x have new identities.") and "accept each (^g)" in many


def test_accept_question_explains_the_risk_with_or_without_keys() -> None:
    with_keys = accept_identity_question("Carol (@carol:x)", fingerprint("OLDKEYOLDKEY"), fingerprint("NEWKEYNEWKEY"))
    assert "Their new master key is NEWK EYNE WKEY (it was OLDK EYOL DKEY)." in with_keys
    assert "someone else has taken over their account" in with_keys and "Check with them first" in with_keys
    without = accept_identity_question("@carol:x")
    assert "master key" not in without and without.startswith("Accept the new identity of @carol:x?")
    assert fingerprint(None) is None


def test_inspector_rows() -> None:
    session = SessionReport("ABCDEFGHIJKLMNOP", "@alice:x", "DEV", "curve", 4, False, "bundle",
                            "shared by @alice:x (DEV) in a key bundle on 2025-03-04 09:01", shared_by="@alice:x")
    # The table's origin is compact (the detail line under it has the device and the date).
    assert session_row(session) == ("ABCDEFGHIJ…", "@alice:x DEV", "4", "no", "bundle from @alice:x")
    direct = SessionReport("S2", "@bob:x", "BD", "curve", 0, True, "direct", "received directly from its creator")
    assert session_row(direct)[4] == "directly from its creator"
    unknown = SessionReport("SHORT", None, None, "curve", 0, True, "unknown", "origin not recorded")
    assert session_row(unknown)[:2] == ("SHORT", "unknown")
    withheld = WithheldReport("S" * 20, "m.unverified", None, None, "@alice:x", None, "to-device", 0.0)
    assert withheld_row(withheld) == ("SSSSSSSSSS…", "m.unverified", "no reason given", "to-device", "@alice:x")
    one = BundleSummary("@alice:x", "imported", 0.0, key_count=1, imported_count=1)
    assert bundle_row(one, "Alice")[2] == "1 key"
    bundle = BundleSummary("@alice:x", "rejected", 0.0, key_count=3, detail="bad signature")
    assert bundle_row(bundle, "Alice") == (
        "Alice (@alice:x)", "rejected", "3 keys", "keys from Alice refused: bad signature")
    assert short_id(None) == "—"


def test_member_rows_one_per_device() -> None:
    member = MemberReport("@carol:x", "Carol", "invite", "changed", "MK",
                          (DeviceReport("D1", "Laptop", True, "ed"), DeviceReport("D2", "", False, None)))
    assert list(member_rows(member)) == [
        ("Carol (@carol:x) [invite]", "changed ⚠", "D1", "Laptop", "✔ yes"),
        ("", "", "D2", "", "✘ no"),
    ]
    lonely = MemberReport("@dave:x", None, "join", "unknown", None, ())
    assert list(member_rows(lonely)) == [("@dave:x", "unknown", "—", "no devices known", "—")]


def test_pending_bundle_line() -> None:
    report = RoomInspection("!r:x", "R", "shared", True, (), (), (), "@alice:x", 1.0, ())
    line = pending_bundle_line(report, "Alice", "2025-03-04 09:00:00")
    assert line == ("Waiting since 2025-03-04 09:00:00 for the key bundle of Alice (@alice:x), who invited "
                    "you: earlier messages decrypt when it arrives.")
    assert pending_bundle_line(RoomInspection("!r:x", "R", "shared", True, (), (), (), None, None, ()), None, None) is None


def test_inspector_cells_are_literal_text() -> None:
    """Table cells are Rich Text, which DataTable never parses as markup (a plain str would be)."""
    hostile = "[@click=app.quit]Mallory[/] \x1b[2J"
    cell = CryptoInspectorScreen._cell(object(), "members", 0, hostile)  # type: ignore[arg-type]
    assert isinstance(cell, Text) and cell.plain == "[@click=app.quit]Mallory[/] "
