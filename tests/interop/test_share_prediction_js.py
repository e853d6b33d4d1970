"""The share prediction against Element's crypto as the invitee (matrix-js-sdk 43 + Rust crypto):
what we predict it will read before the invite is exactly what it decrypts after joining."""

from __future__ import annotations

import pytest

from tests.integration.test_history_sharing import _room_with_legacy_member
from tests.integration.test_share_prediction import caught_up

pytestmark = [pytest.mark.interop, pytest.mark.integration]


async def js_reads(js, room_id: str, asked: set[str], expect: list[str]) -> set[str]:
    await js.wait_for_invite(room_id)
    await js.join(room_id)
    messages = await js.messages(room_id, wait_for_bodies=expect, timeout_ms=20000)
    return {m["eventId"] for m in messages if m["decrypted"] and m["eventId"] in asked}


async def test_element_reads_exactly_what_we_predicted(engines, js_peer_factory):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    js = await js_peer_factory("element", cross_signing=True)
    await caught_up(alice, room_id)
    prediction = await alice.share_prediction(room_id, js.user_id)
    predicted = {e.event_id for e in prediction.events if e.readable}
    assert predicted == {a1} and d1 in {e.event_id for e in prediction.events}
    await alice.invite(room_id, js.user_id)
    read = await js_reads(js, room_id, {e.event_id for e in prediction.events}, ["alice speaks"])
    assert read == predicted


async def test_an_invitee_without_cross_signing_is_predicted_to_read_nothing(engines, js_peer_factory):
    alice = await engines("alice")
    room_id = await alice.create_room("History")
    first = await alice.send_text(room_id, "before the invite")
    js = await js_peer_factory("element-unsigned")  # never set up cross-signing
    await caught_up(alice, room_id)
    prediction = await alice.share_prediction(room_id, js.user_id)
    assert not prediction.shareable and "no cross-signing identity" in prediction.reason
    assert [e.readable for e in prediction.events] == [False] and prediction.events[0].event_id == first
    await alice.invite(room_id, js.user_id)
    read = await js_reads(js, room_id, {first}, [])
    assert read == set()
