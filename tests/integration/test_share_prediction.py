"""Before an invite, the engine predicts, message by message, what the invitee will read; after
they join, what they actually decrypt must be exactly that. Real engines on a real Synapse."""

from __future__ import annotations

import pytest

from tests.helpers import bodies
from tests.integration.test_history_sharing import _room_with_legacy_member, invited, room_with_messages
from tui_client.engine.engine import Engine

pytestmark = pytest.mark.integration


async def caught_up(engine: Engine, room_id: str) -> None:
    """The engine has synced everything sent so far and loaded the room's whole history (as a
    user looking at the room has; the prediction covers what is loaded)."""
    await engine.sync_once()
    await engine.load_full_history(room_id)


async def predict_then_check(inviter: Engine, invitee: Engine, room_id: str) -> tuple[set[str], set[str]]:
    """Invite `invitee` after predicting what they will read; return (predicted, actually read)
    over the predicted messages."""
    await caught_up(inviter, room_id)
    prediction = await inviter.share_prediction(room_id, invitee.user_id)
    predicted = {e.event_id for e in prediction.events if e.readable}
    await inviter.invite(room_id, invitee.user_id)
    await invited(invitee, room_id)
    await invitee.join(room_id)
    await invitee.settle(20)
    await invitee.load_full_history(room_id)
    asked = {e.event_id for e in prediction.events}
    read = {i.event_id for i in invitee.timeline(room_id) if i.decrypted and i.event_id in asked}
    return predicted, read


async def test_shared_history_is_predicted_readable_and_read(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["one", "two", "three"])
    predicted, read = await predict_then_check(alice, bob, room_id)
    assert predicted == read == set(ids)


async def test_a_legacy_members_messages_are_predicted_unreadable_and_passed_on_transitively(engines):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    bob, charlie = await engines("bob"), await engines("charlie")
    await caught_up(alice, room_id)
    prediction = await alice.share_prediction(room_id, bob.user_id)
    why = {e.event_id: e for e in prediction.events}
    assert why[a1].readable and not why[d1].readable and why[d1].code == "not_shareable"
    predicted, read = await predict_then_check(alice, bob, room_id)
    assert a1 in predicted and d1 not in predicted and predicted == read

    # bob passes on what alice gave him, including the record that dave's key was never shareable
    assert await bob.wait_until(lambda: bob.room(room_id).joined_count == 3)
    await caught_up(bob, room_id)
    prediction = await bob.share_prediction(room_id, charlie.user_id)
    about_dave = next(e for e in prediction.events if e.event_id == d1)
    assert not about_dave.readable and "told so by Alice" in about_dave.reason
    predicted, read = await predict_then_check(bob, charlie, room_id)
    assert a1 in predicted and d1 not in predicted and predicted == read


async def test_messages_we_hold_only_from_a_later_index_are_predicted_unreadable(engines):
    alice, bob, charlie = await engines("alice"), await engines("bob"), await engines("charlie")
    room_id, early = await room_with_messages(alice, ["early one", "early two"])
    outbound = alice.client.olm.outbound_group_sessions[room_id]
    await alice.invite(room_id, bob.user_id, share_history=False)
    await invited(bob, room_id)
    await bob.join(room_id)
    assert await alice.wait_until(lambda: alice.room(room_id).joined_count == 2)
    # alice keeps her session for the newcomer, as Element does: bob gets it from index 2 on
    alice.client.olm.outbound_group_sessions[room_id] = outbound
    outbound.shared = False
    late = await alice.send_text(room_id, "after bob joined")
    assert await bob.wait_until(lambda: "after bob joined" in bodies(bob.timeline(room_id)))
    await caught_up(bob, room_id)
    prediction = await bob.share_prediction(room_id, charlie.user_id)
    why = {e.event_id: e for e in prediction.events}
    assert [why[e].code for e in early] == ["late_index", "late_index"] and why[late].readable
    predicted, read = await predict_then_check(bob, charlie, room_id)
    assert predicted == read == {late}


async def test_nothing_is_predicted_readable_when_visibility_is_joined(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id, ids = await room_with_messages(alice, ["members only"], visibility="joined")
    await caught_up(alice, room_id)
    prediction = await alice.share_prediction(room_id, bob.user_id)
    assert not prediction.shareable and "'joined'" in prediction.reason
    assert all(not e.readable for e in prediction.events) and prediction.events
    predicted, read = await predict_then_check(alice, bob, room_id)
    assert predicted == read == set()


async def test_messages_sent_while_history_was_hidden_are_predicted_unreadable(engines):
    alice, bob = await engines("alice"), await engines("bob")
    room_id = await alice.create_room("Flip", history_visibility="shared")
    shown = await alice.send_text(room_id, "shown")
    await alice.set_history_visibility(room_id, "joined")
    hidden = await alice.send_text(room_id, "hidden from newcomers")
    await alice.set_history_visibility(room_id, "shared")
    shown_again = await alice.send_text(room_id, "shown again")
    await caught_up(alice, room_id)
    prediction = await alice.share_prediction(room_id, bob.user_id)
    why = {e.event_id: e for e in prediction.events}
    assert why[hidden].code == "hidden" and why[shown].readable and why[shown_again].readable
    predicted, read = await predict_then_check(alice, bob, room_id)
    assert predicted == read == {shown, shown_again}


async def test_the_invitee_sees_the_inviters_prediction_beside_what_it_read(engines):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    bob = await engines("bob")
    await predict_then_check(alice, bob, room_id)
    check = bob.inspect_room(room_id).prediction
    assert check is not None
    assert check.predicted_readable == 1 and check.read_as_predicted == 1
    assert check.surprises == () and check.missed == ()
    assert check.describe("Alice") == (
        "Alice predicted you would read 1 of 2 earlier messages; you read all 1 of them, and nothing else"
    )


def test_share_preview_cli_json_lists_what_history_lists(homeserver, make_user, cli_env):
    from tests.integration.test_cli import run

    alice, bob = make_user("alice"), make_user("bob")
    for profile, user in (("a", alice), ("b", bob)):
        run(cli_env, "--profile", profile, "login", "--homeserver", homeserver.url, "--user", user.localpart,
            "--password-stdin", input=user.password + "\n")
    room_id = run(cli_env, "--profile", "a", "create-room", "History").stdout.strip()
    first = run(cli_env, "--profile", "a", "send", room_id, "earlier").stdout.strip()
    import json

    preview = json.loads(run(cli_env, "--profile", "a", "share-preview", room_id, bob.user_id, "--json").stdout)
    history = json.loads(run(cli_env, "--profile", "a", "history", room_id, "--json").stdout)
    assert preview["shareable"] is True and preview["reason"] is None
    assert [e["event_id"] for e in preview["events"]] == [h["event_id"] for h in history]
    assert preview["events"] == [{"event_id": first, "readable": True, "reason": None}]
    text = run(cli_env, "--profile", "a", "share-preview", room_id, bob.user_id).stdout
    assert "✓ Alice: earlier" in text and f"{bob.user_id} will read 1 of 1 earlier message" in text
