"""History sharing's decisions, as pure functions: previews, announcements, accepting the
inviter's bundle, downloads, record caps, and what an unreadable earlier message says."""

from __future__ import annotations


from tests.forge import random_key
from tui_client.engine.crypto.signing import Ed25519Key
from tui_client.engine.history_sharing import bundle as b
from tui_client.engine.history_sharing.explain import BUNDLE_GRACE_SECONDS, explain_before_join
from tui_client.engine.history_sharing.records import (
    AcceptedInvite,
    AcceptState,
    BundleState,
    ReceivedBundle,
    WithheldRecord,
    WithheldVia,
)
from tui_client.engine.history_sharing.rules import (
    MAX_UNANCHORED,
    MAX_UNANCHORED_PER_SENDER,
    AcceptAction,
    Announcement,
    InviteeFacts,
    RoomFacts,
    SenderTrust,
    SessionFacts,
    check_announcement,
    decide_accept,
    download_failure,
    plan_bundle,
    preview,
    records_to_drop,
    retry_delay,
    trust_verdict,
)

ROOM = "!room:x"
ALICE = "@alice:x"
DAY = 24 * 3600.0
NOW = 1_000_000.0
FILE = {
    "v": "v2", "url": "mxc://x/abc", "iv": "w+sE15fzSc0AAAAAAAAAAA",
    "key": {"kty": "oct", "alg": "A256CTR", "ext": True, "k": "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo", "key_ops": ["encrypt", "decrypt"]},
    "hashes": {"sha256": "u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7u7s"},
}


def bundle(state=BundleState.WAITING, *, room=ROOM, sender=ALICE, received=NOW - 10, finished=None, **kw):
    return ReceivedBundle(room, sender, "DEV", random_key(), None, FILE, received, state, finished_at=finished, **kw)


def accepted(state=AcceptState.JOINED, at=NOW - 5, inviter=ALICE):
    return AcceptedInvite(ROOM, inviter, at, state, at)


# -- the preview ---------------------------------------------------------------------------------

SHARED = RoomFacts(True, True, "shared")


def test_preview_says_why_nothing_is_shared():
    assert preview(None, True, "", 3, 0).reason == "you are not in this room"
    assert "not encrypted" in preview(RoomFacts(True, False, "shared"), True, "", 3, 0).reason
    assert "'joined'" in preview(RoomFacts(True, True, "joined"), True, "", 3, 0).reason
    assert "cross-signed device (not verified)" in preview(SHARED, False, "not verified", 3, 0).reason
    assert "no earlier messages" in preview(SHARED, True, "", 0, 0).reason
    ok = preview(SHARED, True, "", 3, 1)
    assert ok.shareable and ok.reason == "the keys to earlier messages (3 sessions) will be shared"
    assert preview(SHARED, True, "", 1, 0).reason.endswith("(1 session) will be shared")


def test_preview_checks_the_invitee_before_promising():
    """First ten minutes #6: inviting a user who does not exist promised '(6 sessions) will be shared'."""
    ghost = preview(SHARED, True, "", 6, 0, InviteeFacts("@ghost:x", False, "unknown", 0, 0))
    assert not ghost.shareable and ghost.warning == "@ghost:x may not exist: check the user id"
    unknown = preview(SHARED, True, "", 6, 0, InviteeFacts("@new:x", None, "unknown", 0, 0))
    assert not unknown.shareable and "no cross-signing identity" in unknown.reason and "may not exist" in unknown.warning
    unsigned = preview(SHARED, True, "", 6, 0, InviteeFacts("@bob:x", True, "pinned", 2, 0))
    assert not unsigned.shareable and "none of @bob:x's devices is cross-signed" in unsigned.reason
    changed = preview(SHARED, True, "", 6, 0, InviteeFacts("@bob:x", True, "changed", 2, 2))
    assert not changed.shareable and "identity changed" in changed.reason
    good = preview(SHARED, True, "", 6, 0, InviteeFacts("@bob:x", True, "pinned", 2, 1))
    assert good.shareable and good.reason.endswith("(6 sessions) will be shared with 1 device of @bob:x")


# -- what we put in a bundle -------------------------------------------------------------------------


def test_plan_puts_shareable_sessions_in_and_lists_the_rest_and_passes_on_not_shared_records():
    s1, s2, s3 = random_key(), random_key(), random_key()
    sessions = [SessionFacts(ROOM, s1, "c1", True), SessionFacts(ROOM, s2, "c2", False),
                SessionFacts("!elsewhere:x", s3, "c3", True)]
    received = [
        WithheldRecord(ROOM, random_key(), "c4", b.HISTORY_NOT_SHARED, "r", ALICE, "D", WithheldVia.BUNDLE, 1.0),
        WithheldRecord(ROOM, random_key(), "c5", "m.unverified", "r", ALICE, "D", WithheldVia.TO_DEVICE, 1.0),
        WithheldRecord(ROOM, s1, "c1", b.HISTORY_NOT_SHARED, "r", ALICE, "D", WithheldVia.BUNDLE, 1.0),
    ]
    plan = plan_bundle(ROOM, sessions, received, "MYDEV")
    assert [k.session_id for k in plan.keys] == [s1]
    assert [w.session_id for w in plan.withheld] == [s2, received[0].session_id]
    assert plan.withheld[0].from_device == "MYDEV" and plan.withheld[0].code == b.HISTORY_NOT_SHARED


def test_plan_never_passes_on_more_than_the_caps():
    received = [WithheldRecord(ROOM, f"s{i}", None, b.HISTORY_NOT_SHARED, None, ALICE, None, WithheldVia.BUNDLE, 1.0)
                for i in range(b.MAX_WITHHELD + 50)]
    plan = plan_bundle(ROOM, [], received, "D")
    assert len(plan.withheld) == b.MAX_WITHHELD and plan.capped == 50


# -- an announcement arrives -----------------------------------------------------------------------


def signed_device(user: str = ALICE, device: str = "DEV") -> tuple[dict, Ed25519Key, str]:
    from tui_client.engine.crypto.canonical import canonical_json

    signing = Ed25519Key.generate()
    curve = random_key()
    obj = {"user_id": user, "device_id": device, "algorithms": [b.MEGOLM],
           "keys": {f"ed25519:{device}": signing.public_key, f"curve25519:{device}": curve}}
    obj["signatures"] = {user: {f"ed25519:{device}": signing.sign(canonical_json(obj))}}
    return obj, signing, curve


def test_announcement_checks():
    sdk, signing, curve = signed_device()
    payload = {"content": {"room_id": ROOM, "file": FILE}, "keys": {"ed25519": signing.public_key},
               "sender_device_keys": sdk}
    ok = check_announcement(payload, ALICE, curve, {})
    assert isinstance(ok, Announcement) and ok.room_id == ROOM and ok.sender_device == "DEV"
    assert check_announcement({**payload, "sender_device_keys": None}, ALICE, curve, {}) == \
        "it carries no sender_device_keys"
    assert "different user" in check_announcement(payload, "@mallory:x", curve, {})
    assert "curve25519" in check_announcement(payload, ALICE, random_key(), {})
    assert "signing key differs" in check_announcement(payload, ALICE, curve, {"DEV": random_key()})
    assert "room_id" in check_announcement({**payload, "content": {"room_id": "nope", "file": FILE}}, ALICE, curve, {})
    assert "mxc" in check_announcement(
        {**payload, "content": {"room_id": ROOM, "file": {**FILE, "url": "https://x/y"}}}, ALICE, curve, {})
    assert "not an object" in check_announcement({**payload, "content": []}, ALICE, curve, {})


# -- accepting the inviter's bundle -----------------------------------------------------------------


def decide(acceptance, bundle_, joined=True, now=NOW):
    return decide_accept(acceptance, bundle_, joined=joined, now=now, window=DAY)


def test_nothing_without_an_open_acceptance():
    assert decide(None, bundle()).action is AcceptAction.NOTHING
    assert decide(accepted(AcceptState.DONE), bundle()).action is AcceptAction.NOTHING
    assert decide(accepted(AcceptState.EXPIRED), bundle()).action is AcceptAction.NOTHING


def test_the_window_counts_from_the_acceptance():
    assert decide(accepted(at=NOW - DAY + 60), bundle()).action is AcceptAction.IMPORT
    late = decide(accepted(at=NOW - DAY - 3600), bundle())
    assert late.action is AcceptAction.EXPIRE and "longer than the 24 h" in late.reason


def test_an_acceptance_recorded_before_join_counts_once_we_are_in_the_room():
    """Hole 6: the inviter was recorded only after /join answered; a lost answer lost it."""
    joining = accepted(AcceptState.JOINING)
    assert decide(joining, bundle(), joined=False).action is AcceptAction.WAIT
    assert decide(joining, bundle(), joined=True).action is AcceptAction.IMPORT


def test_wait_until_joined_and_until_the_inviters_bundle_is_here():
    assert decide(accepted(AcceptState.JOINING), bundle(), joined=False).action is AcceptAction.WAIT
    waiting = decide(accepted(), None)
    assert waiting.action is AcceptAction.WAIT and ALICE in waiting.reason
    # a bundle from someone else is never looked up: the receiver asks only for the inviter's
    assert decide(accepted(inviter="@carol:x"), None).action is AcceptAction.WAIT


def test_a_bundle_handled_for_an_earlier_acceptance_does_not_close_a_new_one():
    """Hole 7: after leaving and being invited again, the old 'imported' record cleared the new
    acceptance, and the re-shared bundle was ignored."""
    old = bundle(BundleState.IMPORTED, received=NOW - 3000, finished=NOW - 2900)
    assert decide(accepted(at=NOW - 100), old).action is AcceptAction.WAIT
    fresh = bundle(BundleState.IMPORTED, received=NOW - 50, finished=NOW - 40)
    assert decide(accepted(at=NOW - 100), fresh).action is AcceptAction.DONE


def test_held_and_interrupted_bundles_are_tried_again_and_retries_wait_their_turn():
    assert decide(accepted(), bundle(BundleState.HELD)).action is AcceptAction.IMPORT
    assert decide(accepted(), bundle(BundleState.DOWNLOADING)).action is AcceptAction.IMPORT
    assert decide(accepted(), bundle(BundleState.IMPORTING)).action is AcceptAction.IMPORT
    soon = bundle(BundleState.RETRYING, next_attempt_at=NOW + 30)
    assert decide(accepted(), soon).action is AcceptAction.WAIT
    due = bundle(BundleState.RETRYING, next_attempt_at=NOW - 1)
    assert decide(accepted(), due).action is AcceptAction.IMPORT


def test_trust_verdicts():
    assert trust_verdict(SenderTrust.CROSS_SIGNED, ALICE) == (None, "")
    state, why = trust_verdict(SenderTrust.IDENTITY_CHANGED, ALICE)
    assert state is BundleState.HELD and "accept the new identity" in why  # hole 8: not final
    assert trust_verdict(SenderTrust.NO_IDENTITY, ALICE)[0] is BundleState.REJECTED
    state, why = trust_verdict(SenderTrust.NOT_CROSS_SIGNED, ALICE)
    assert state is BundleState.REJECTED and "not cross-signed by its owner" in why


def test_download_failures_final_or_not():
    """Hole 5: a URL on another server (403) was treated as temporary for 24 h."""
    for status in (403, 404, 410, 413):
        final, why = download_failure(status, "x")
        assert final and f"HTTP {status}" in why
    for status in (500, 502, 503, 429, None):
        assert not download_failure(status, "connection reset")[0]
    assert [retry_delay(n) for n in (1, 2, 3, 4, 5, 6, 9)] == [5, 15, 45, 135, 405, 600, 600]


# -- keeping records bounded ---------------------------------------------------------------------------


def test_unsolicited_bundles_are_capped_per_sender_and_expire():
    """Hole 9: bundles for rooms we were never invited to were all kept (100 per sync)."""
    flood = [bundle(room=f"!r{i}:x", sender="@spam:x", received=NOW - i) for i in range(50)]
    other = [bundle(room=f"!o{i}:x", sender=f"@u{i}:x", received=NOW - 1000 - i) for i in range(150)]
    invited = bundle(room="!invited:x", received=NOW - 5 * DAY)
    old = bundle(room="!old:x", sender="@bob:x", received=NOW - 2 * DAY)
    done = bundle(BundleState.IMPORTED, room="!done:x", received=NOW - 9 * DAY)
    drop = set(records_to_drop([*flood, *other, invited, old, done], {("!invited:x", ALICE)}, now=NOW, window=DAY))
    kept_spam = [x for x in flood if (x.room_id, x.sender_user) not in drop]
    assert len(kept_spam) == MAX_UNANCHORED_PER_SENDER
    assert {x.room_id for x in kept_spam} == {f"!r{i}:x" for i in range(MAX_UNANCHORED_PER_SENDER)}, "newest kept"
    kept_loose = [x for x in [*flood, *other] if (x.room_id, x.sender_user) not in drop]
    assert len(kept_loose) == MAX_UNANCHORED
    assert ("!old:x", "@bob:x") in drop, "unanchored and older than the window"
    assert ("!invited:x", ALICE) not in drop and ("!done:x", ALICE) not in drop


# -- what an earlier message says -------------------------------------------------------------------


def explain(acceptance, bundle_=None, *, now=NOW, signed=True):
    return explain_before_join("Alice", acceptance, bundle_, now=now, own_device_cross_signed=signed)


def test_explanations_follow_the_bundle():
    a = accepted(at=NOW - 5)
    assert explain(a) == ("waiting_for_bundle", "sent before you joined — waiting for keys from Alice")
    assert explain(a, bundle(BundleState.DOWNLOADING, bytes_done=1_200_000, bytes_total=5_300_000))[1] == \
        "sent before you joined — downloading the keys Alice shared (1.2 MB of 5.3 MB)"
    assert explain(a, bundle(BundleState.RETRYING, detail="HTTP 502"))[0] == "bundle_retrying"
    assert explain(a, bundle(BundleState.HELD, detail="her identity changed"))[1].endswith("on hold: her identity changed")
    assert explain(a, bundle(BundleState.REJECTED, detail="bad", finished=NOW))[0] == "bundle_rejected"
    assert explain(a, bundle(BundleState.IMPORTED, finished=NOW))[1] == "sent before you joined; Alice did not share its key"


def test_explanations_say_the_final_truth_when_no_bundle_comes():
    """First ten minutes #7: 'waiting for keys from Alice' forever on a device that got none."""
    late = accepted(at=NOW - BUNDLE_GRACE_SECONDS - 10)
    assert explain(late) == (
        "before_join", "sent before you joined; Alice did not share the keys to earlier messages with you"
    )
    code, text = explain(accepted(at=NOW - 5), signed=False)
    assert code == "device_not_eligible" and "this device: it is not cross-signed" in text
    stale = bundle(BundleState.IMPORTED, received=NOW - 5000, finished=NOW - 4000)
    assert explain(accepted(at=NOW - 5), stale)[0] == "waiting_for_bundle", "an earlier acceptance's bundle says nothing"
