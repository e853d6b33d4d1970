"""The share prediction, pure: each message classified from what we hold and the room's
visibility when it was sent; the summary a user reads."""

from __future__ import annotations

from tui_client.engine.history_sharing.prediction import EventFacts, predict
from tui_client.engine.history_sharing.records import WithheldRecord, WithheldVia
from tui_client.engine.models import SharePreview

ROOM = "!r:x"
OK = SharePreview(True, "the keys to earlier messages (2 sessions) will be shared")


def facts(event_id, *, decrypted=True, session="S1", failure=None, visibility="shared", encrypted=True):
    return EventFacts(event_id, encrypted, decrypted, session, failure, visibility)


def withheld(session, code="m.history_not_shared", who="@alice:x"):
    return WithheldRecord(ROOM, session, None, code, None, who, "D", WithheldVia.BUNDLE, 1.0)


def test_each_reason():
    events = [
        facts("$shared"),
        facts("$unshareable", session="S2"),
        facts("$late", decrypted=False, session="S1", failure="index"),
        facts("$passed-on", decrypted=False, session="S3", failure="not_shared"),
        facts("$withheld", decrypted=False, session="S4", failure="withheld"),
        facts("$never", decrypted=False, session="S5", failure="missing_key"),
        facts("$hidden", visibility="joined"),
        facts("$plain", encrypted=False, decrypted=False, session=None),
        facts("$unknown-visibility", visibility=None),
    ]
    prediction = predict(events, OK, {"S1"}, {"S3": withheld("S3"), "S4": withheld("S4", "m.unverified", "@bob:x")},
                         {"@alice:x": "Alice"})
    got = {e.event_id: (e.readable, e.code) for e in prediction.events}
    assert got == {
        "$shared": (True, "readable"), "$unshareable": (False, "not_shareable"), "$late": (False, "late_index"),
        "$passed-on": (False, "not_shareable"), "$withheld": (False, "withheld"), "$never": (False, "never_had"),
        "$hidden": (False, "hidden"), "$plain": (True, "not_encrypted"), "$unknown-visibility": (True, "readable"),
    }
    reasons = {e.event_id: e.reason for e in prediction.events}
    assert reasons["$passed-on"] == "not shareable: its sender's history settings did not allow it (we were told so by Alice)"
    assert reasons["$withheld"] == "withheld from us by @bob:x (m.unverified)"
    assert reasons["$shared"] is None


def test_nothing_shared_explains_every_encrypted_message():
    room = SharePreview(False, "@carol:x has no cross-signing identity, so no device of theirs may receive the keys")
    prediction = predict([facts("$a"), facts("$b", encrypted=False, decrypted=False)], room, {"S1"}, {})
    assert not prediction.shareable and prediction.reason == room.reason
    assert [(e.readable, e.code) for e in prediction.events] == [(False, "nothing_shared"), (True, "not_encrypted")]


def test_the_summary_reads_as_a_sentence():
    events = [facts(f"$ok{i}") for i in range(41)] + [facts(f"$no{i}", session="S9") for i in range(6)]
    prediction = predict(events, OK, {"S1"}, {})
    assert prediction.summary("Charlie") == "Charlie will read 41 of 47 earlier messages; 6 were never shareable"
    one = predict([facts("$a"), facts("$b", decrypted=False, failure="index")], OK, {"S1"}, {})
    assert one.summary() == "they will read 1 of 2 earlier messages; 1 predates the keys we hold"
    assert predict([], OK, set(), {}).summary() == "they will find no earlier messages here"
