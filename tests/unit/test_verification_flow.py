"""Emoji verification as a pure state machine: two of our machines talk to each other (and to a
man in the middle, and to hostile peers) with no server, so every path and every cancel code is a
test that runs in milliseconds. Interop with Element's crypto is in tests/interop."""

from __future__ import annotations

import copy

import pytest

from tui_client.engine.crypto.sas import EMOJI, MAC_V1, MAC_V2, SasSession, commitment
from tui_client.engine.crypto.signing import Ed25519Key
from tui_client.engine.keys.verification.flow import (
    ACCEPT,
    CANCEL,
    DONE,
    KEY,
    MAC,
    READY,
    REQUEST,
    START,
    Cancel,
    InvalidEvent,
    Own,
    Phase,
    Send,
    Transport,
    Verification,
    describe_cancel,
    request_content,
)

NOW = 1_750_000_000.0
ALICE, BOB = "@alice:x", "@bob:x"


class Directory:
    """Keys as /keys/query would give them."""

    def __init__(self) -> None:
        self.devices: dict[tuple[str, str], str] = {}
        self.masters: dict[str, str] = {}

    def device_key(self, user_id: str, device_id: str) -> str | None:
        return self.devices.get((user_id, device_id))

    def master_key(self, user_id: str) -> str | None:
        return self.masters.get(user_id)


def party(user: str, device: str, directory: Directory, master: bool = True) -> Own:
    key = Ed25519Key.generate().public_key
    directory.devices[(user, device)] = key
    msk = Ed25519Key.generate().public_key if master else None
    if msk:
        directory.masters.setdefault(user, msk)
    return Own(user, device, key, directory.masters.get(user) if master else None)


def pair(transport: Transport = Transport.TO_DEVICE, *, same_user: bool = False):
    """(requester, receiver, directory) with the request delivered and not yet answered."""
    directory = Directory()
    a = party(ALICE, "ADEV", directory)
    b = party(ALICE if same_user else BOB, "BDEV", directory)
    if transport is Transport.TO_DEVICE:
        flow_id = "txn1"
        content = request_content(a, flow_id=flow_id, now=NOW)
        room = None
    else:
        content = request_content(a, to=b.user_id)
        flow_id, room = "$request", "!dm:x"
    requester = Verification(flow_id, transport, a, b.user_id, True, NOW, directory, room,
                             requested_devices=("BDEV",) if transport is Transport.TO_DEVICE else ())
    receiver = Verification.incoming_request(
        b, a.user_id, content, flow_id=flow_id, transport=transport, sent_at=NOW, now=NOW, keys=directory, room_id=room
    )
    return requester, receiver, directory


def deliver(sends: list[Send], to: Verification, sender: str, now: float = NOW) -> list[Send]:
    out: list[Send] = []
    for send in sends:
        out += to.receive(sender, send.event_type, copy.deepcopy(send.content), now)
    return out


def exchange(a: Verification, b: Verification, first: list[Send], *, max_rounds: int = 10) -> None:
    """Ping-pong messages from `a` (already produced as `first`) until both are quiet."""
    pending, sender, receiver = first, a, b
    for _ in range(max_rounds):
        if not pending:
            return
        pending = deliver(pending, receiver, sender.own.user_id)
        sender, receiver = receiver, sender
    raise AssertionError("the machines kept talking")


def to_emoji(transport: Transport = Transport.TO_DEVICE, *, same_user: bool = False):
    a, b, d = pair(transport, same_user=same_user)
    ready = b.accept()
    assert [s.event_type for s in ready] == [READY]
    assert deliver(ready, a, b.own.user_id) == []
    assert a.phase is Phase.READY and a.other_device == "BDEV"
    exchange(a, b, a.start(NOW))
    assert a.phase is Phase.EMOJI and b.phase is Phase.EMOJI
    return a, b, d


# -- the happy paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize("transport", [Transport.TO_DEVICE, Transport.ROOM])
def test_both_sides_see_the_same_emoji_and_finish(transport):
    a, b, _ = to_emoji(transport)
    assert len(a.emoji) == 7 and a.emoji == b.emoji and a.decimals == b.decimals
    assert all(e in EMOJI for e in a.emoji)
    mac_a = a.confirm()
    assert [s.event_type for s in mac_a] == [MAC]
    assert deliver(mac_a, b, a.own.user_id) == []  # kept until Bob compares
    assert b.phase is Phase.EMOJI
    out = b.confirm()
    assert [s.event_type for s in out] == [MAC, DONE]
    assert b.verified is not None and b.verified.device_key == a.own.ed25519
    assert b.verified.master_key == a.own.master_key
    exchange(b, a, out)
    assert a.phase is Phase.DONE and b.phase is Phase.DONE
    assert a.verified is not None and a.verified.device_id == "BDEV" and a.verified.master_key == b.own.master_key


def test_room_messages_point_at_the_request_and_to_device_ones_carry_the_transaction():
    a, b, _ = pair(Transport.ROOM)
    ready = b.accept()[0]
    assert ready.content["m.relates_to"] == {"rel_type": "m.reference", "event_id": "$request"}
    assert "transaction_id" not in ready.content and ready.devices == ()
    a, b, _ = pair(Transport.TO_DEVICE)
    ready = b.accept()[0]
    assert ready.content["transaction_id"] == "txn1" and ready.devices == ("ADEV",)


def test_the_room_request_is_a_message_for_one_user():
    own = Own(ALICE, "ADEV", "k")
    content = request_content(own, to=BOB)
    assert content["msgtype"] == REQUEST and content["to"] == BOB and content["methods"] == ["m.sas.v1"]
    assert content["from_device"] == "ADEV" and "body" in content


def test_a_device_without_a_verified_identity_vouches_for_its_device_key_only():
    directory = Directory()
    a = party(ALICE, "ADEV", directory, master=False)
    b = party(BOB, "BDEV", directory)
    req = Verification("t", Transport.TO_DEVICE, a, BOB, True, NOW, directory, requested_devices=("BDEV",))
    rec = Verification.incoming_request(b, ALICE, request_content(a, flow_id="t", now=NOW), flow_id="t",
                                        transport=Transport.TO_DEVICE, sent_at=NOW, now=NOW, keys=directory)
    deliver(rec.accept(), req, BOB)
    exchange(req, rec, req.start(NOW))
    mac = req.confirm()
    assert list(mac[0].content["mac"]) == ["ed25519:ADEV"]
    deliver(mac, rec, ALICE)
    exchange(rec, req, rec.confirm())
    assert rec.verified is not None and rec.verified.master_key is None
    assert req.verified is not None and req.verified.master_key == rec.own.master_key
    assert req.phase is Phase.DONE and rec.phase is Phase.DONE


# -- cancelling -------------------------------------------------------------------------------------


def test_different_emoji_cancel_with_mismatched_sas_on_both_sides():
    a, b, _ = to_emoji()
    out = a.mismatch()
    assert out[0].event_type == CANCEL and out[0].content["code"] == "m.mismatched_sas"
    assert a.phase is Phase.CANCELLED and a.cancelled_by_us
    deliver(out, b, a.own.user_id)
    assert b.phase is Phase.CANCELLED and b.cancel_code == "m.mismatched_sas" and not b.cancelled_by_us
    assert b.cancel_reason and a.verified is None and b.verified is None


def test_declining_a_request_cancels_it_with_m_user():
    a, b, _ = pair()
    out = b.cancel()
    assert out[0].content["code"] == "m.user" and out[0].devices == ("ADEV",)
    deliver(out, a, b.own.user_id)
    assert a.phase is Phase.CANCELLED and a.cancel_code == "m.user"
    assert describe_cancel("m.user") == "the verification was cancelled"
    assert describe_cancel("org.example.whatever") == "the verification was cancelled"


def test_a_cancel_mid_flow_stops_everything_and_later_events_are_ignored():
    a, b, _ = to_emoji()
    deliver(b.cancel(Cancel.USER, "changed my mind"), a, b.own.user_id)
    assert a.phase is Phase.CANCELLED and a.cancel_reason == "changed my mind"
    with pytest.raises(InvalidEvent):
        a.confirm()
    assert a.receive(b.own.user_id, MAC, {"mac": {}, "keys": "x"}, NOW) == []


def test_timeouts():
    a, b, _ = pair()
    assert a.tick(NOW + 60) == [] and b.tick(NOW + 60) == []
    out = a.tick(NOW + 601)
    assert out[0].content["code"] == "m.timeout" and a.phase is Phase.CANCELLED
    assert b.tick(NOW + 601) == [] and b.phase is Phase.CANCELLED, "their lapsed request ends quietly"
    a, b, _ = to_emoji()
    assert a.tick(NOW + 200) == []
    out = b.tick(NOW + 301)
    assert out[0].content["code"] == "m.timeout"
    deliver(out, a, b.own.user_id)
    assert a.cancel_code == "m.timeout"


def test_ready_from_one_of_several_devices_cancels_the_others_with_m_accepted():
    directory = Directory()
    a = party(ALICE, "ADEV", directory)
    requester = Verification("t", Transport.TO_DEVICE, a, ALICE, True, NOW, directory,
                             requested_devices=("B1", "B2", "B3"))
    out = requester.receive(ALICE, READY, {"from_device": "B2", "methods": ["m.sas.v1"], "transaction_id": "t"}, NOW)
    assert out == [Send(CANCEL, {"code": "m.accepted", "reason": "accepted on another device", "transaction_id": "t"},
                        ("B1", "B3"))]
    assert requester.other_device == "B2"
    start = requester.start(NOW)
    assert start[0].devices == ("B2",)


def test_our_other_device_answering_a_request_closes_it_here():
    a, b, _ = pair(same_user=True)
    # Alice asked all her devices; her device C answered first.
    assert b.receive(ALICE, READY, {"from_device": "CDEV", "methods": ["m.sas.v1"]}, NOW) == []
    assert b.phase is Phase.CANCELLED and b.cancel_code == "m.accepted" and not b.cancelled_by_us
    # In a room flow with another user, our own other device answering ends it for us.
    a, b, _ = pair(Transport.ROOM)
    assert b.receive(BOB, READY, {"from_device": "OTHER", "methods": ["m.sas.v1"]}, NOW) == []
    assert b.phase is Phase.CANCELLED and b.cancel_code == "m.accepted" and not b.cancelled_by_us


# -- both sides start at once -----------------------------------------------------------------------


@pytest.mark.parametrize("transport", [Transport.TO_DEVICE, Transport.ROOM])
def test_when_both_start_the_smaller_user_wins_and_both_agree(transport):
    a, b, _ = pair(transport)
    deliver(b.accept(), a, BOB)
    start_a, start_b = a.start(NOW), b.start(NOW)
    # Each receives the other's start: Alice (smaller) ignores Bob's; Bob takes Alice's.
    assert deliver(start_b, a, BOB) == []
    accept = deliver(start_a, b, ALICE)
    assert [s.event_type for s in accept] == [ACCEPT]
    exchange(b, a, accept)
    assert a.phase is Phase.EMOJI and b.phase is Phase.EMOJI and a.emoji == b.emoji
    assert a.we_started and not b.we_started


# -- hostile and broken peers -----------------------------------------------------------------------


def test_a_man_in_the_middle_swapping_keys_is_caught():
    """Mallory relays everything but replaces the keys: either the commitment breaks or the
    emoji differ, so the people comparing them see it."""
    a, b, _ = pair()
    deliver(b.accept(), a, BOB)
    start = a.start(NOW)
    accept = deliver(start, b, ALICE)
    key_a = deliver(accept, a, BOB)
    mallory = SasSession()
    forged = [Send(KEY, {**key_a[0].content, "key": mallory.public_key})]
    key_b = deliver(forged, b, ALICE)
    # Bob answered with his key; Mallory cannot reuse Bob's commitment with her own key.
    out = deliver([Send(KEY, {**key_b[0].content, "key": mallory.public_key})], a, BOB)
    assert a.phase is Phase.CANCELLED and a.cancel_code == "m.mismatched_commitment"
    assert out[0].content["code"] == "m.mismatched_commitment"


def test_a_forged_mac_is_refused_with_key_mismatch():
    a, b, d = to_emoji()
    mac = a.confirm()[0]
    forged = copy.deepcopy(mac.content)
    forged["mac"]["ed25519:ADEV"] = forged["mac"]["ed25519:ADEV"][::-1]
    deliver([Send(MAC, forged)], b, ALICE)
    out = b.confirm()
    assert b.phase is Phase.CANCELLED and b.cancel_code == "m.key_mismatch" and b.verified is None
    assert out[-1].event_type == CANCEL


def test_a_mac_for_a_device_key_we_were_not_told_about_is_refused():
    a, b, d = to_emoji()
    mac = a.confirm()
    d.devices[(ALICE, "ADEV")] = Ed25519Key.generate().public_key  # the server now says another key
    deliver(mac, b, ALICE)
    b.confirm()
    assert b.cancel_code == "m.key_mismatch" and b.verified is None


def test_a_mac_that_drops_the_device_key_is_refused():
    a, b, d = to_emoji()
    mac = a.confirm()[0].content
    sas = a._sas
    assert sas is not None
    only_master = {k: v for k, v in mac["mac"].items() if k != "ed25519:ADEV"}
    from tui_client.engine.crypto.sas import mac_info

    keys = sas.mac(MAC_V2, ",".join(sorted(only_master)), mac_info((ALICE, "ADEV"), (BOB, "BDEV"), "txn1", "KEY_IDS"))
    deliver([Send(MAC, {"mac": only_master, "keys": keys, "transaction_id": "txn1"})], b, ALICE)
    b.confirm()
    assert b.cancel_code == "m.key_mismatch" and "device key" in (b.cancel_reason or "")


@pytest.mark.parametrize(
    "event_type, content, code",
    [
        (MAC, {"mac": {}, "keys": ""}, "m.unexpected_message"),
        (KEY, {"key": "AAAA"}, "m.unexpected_message"),
        (ACCEPT, {"commitment": "x"}, "m.unexpected_message"),
        (DONE, {}, "m.unexpected_message"),
        ("m.key.verification.bogus", {}, "m.unexpected_message"),
        (START, {"method": "m.reciprocate.v1", "from_device": "BDEV"}, "m.unknown_method"),
        (START, {"method": "m.sas.v1", "from_device": "BDEV", "key_agreement_protocols": ["curve25519"],
                 "hashes": ["sha256"], "message_authentication_codes": [MAC_V2],
                 "short_authentication_string": ["emoji"]}, "m.unknown_method"),
        (START, {"method": "m.sas.v1", "from_device": "BDEV", "key_agreement_protocols": ["curve25519-hkdf-sha256"],
                 "hashes": ["sha256"], "message_authentication_codes": ["hmac-md5"],
                 "short_authentication_string": ["emoji"]}, "m.unknown_method"),
        (START, {"method": "m.sas.v1", "from_device": "BDEV", "key_agreement_protocols": ["curve25519-hkdf-sha256"],
                 "hashes": ["sha256"], "message_authentication_codes": [MAC_V2],
                 "short_authentication_string": ["hieroglyphs"]}, "m.unknown_method"),
        (START, {"method": "m.sas.v1", "from_device": "SOMEONE", "key_agreement_protocols": ["curve25519-hkdf-sha256"],
                 "hashes": ["sha256"], "message_authentication_codes": [MAC_V2],
                 "short_authentication_string": ["emoji"]}, "m.unexpected_message"),
        (START, {"method": "m.sas.v1", "from_device": "BDEV", "key_agreement_protocols": ["curve25519-hkdf-sha256"],
                 "hashes": ["sha256"], "message_authentication_codes": [MAC_V2],
                 "short_authentication_string": ["emoji"], "x": 1.5}, "m.invalid_message"),
    ],
)
def test_out_of_order_and_unsupported_messages_cancel_with_their_code(event_type, content, code):
    a, b, _ = pair()
    deliver(b.accept(), a, BOB)  # Alice is ready; a hostile Bob now sends whatever he likes
    out = a.receive(BOB, event_type, {**content, "transaction_id": "txn1"}, NOW)
    assert a.phase is Phase.CANCELLED and a.cancel_code == code, (a.cancel_code, a.cancel_reason)
    assert out and out[0].event_type == CANCEL and out[0].content["code"] == code
    assert a.verified is None


@pytest.mark.parametrize("bad", [None, [], "x", 42, {"key": None}, {"key": 12}, {"key": "A" * 43},
                                 {"key": "not base64!"}, {"key": "A" * 5000}])
def test_a_bad_key_is_refused_not_raised(bad):
    a, b, _ = pair()
    deliver(b.accept(), a, BOB)
    accept = deliver(a.start(NOW), b, ALICE)
    deliver(accept, a, BOB)  # Alice sent her key; Bob's machine would answer, a hostile one sends junk
    out = a.receive(BOB, KEY, bad, NOW)
    assert a.phase is Phase.CANCELLED and out and out[0].event_type == CANCEL
    assert a.cancel_code in ("m.invalid_message", "m.mismatched_commitment")


def test_events_from_someone_else_are_ignored():
    a, b, _ = to_emoji()
    assert a.receive("@mallory:x", CANCEL, {"code": "m.user"}, NOW) == []
    assert a.receive("@mallory:x", MAC, {"mac": {}, "keys": "x"}, NOW) == []
    assert a.phase is Phase.EMOJI


@pytest.mark.parametrize(
    "content, sent_at, why",
    [
        ("x", NOW, "not an object"),
        ({"methods": ["m.sas.v1"]}, NOW, "names no device"),
        ({"from_device": "D" * 300, "methods": ["m.sas.v1"]}, NOW, "names no device"),
        ({"from_device": "BDEV", "methods": ["m.sas.v1"]}, NOW - 700, "more than 10 minutes old"),
        ({"from_device": "BDEV", "methods": ["m.sas.v1"]}, NOW + 400, "in the future"),
    ],
)
def test_requests_to_ignore(content, sent_at, why):
    own = Own(ALICE, "ADEV", "k")
    with pytest.raises(InvalidEvent, match=why):
        Verification.incoming_request(own, BOB, content, flow_id="t", transport=Transport.TO_DEVICE,
                                      sent_at=sent_at, now=NOW, keys=Directory())


def test_room_requests_for_someone_else_or_from_ourselves_are_ignored():
    own = Own(ALICE, "ADEV", "k")
    with pytest.raises(InvalidEvent, match="someone else"):
        Verification.incoming_request(own, BOB, {"from_device": "B", "methods": ["m.sas.v1"], "to": "@carol:x"},
                                      flow_id="$r", transport=Transport.ROOM, sent_at=NOW, now=NOW, keys=Directory())
    with pytest.raises(InvalidEvent):
        Verification.incoming_request(own, ALICE, {"from_device": "ADEV", "methods": ["m.sas.v1"]},
                                      flow_id="t", transport=Transport.TO_DEVICE, sent_at=NOW, now=NOW, keys=Directory())


def test_a_request_without_emoji_is_answered_with_unknown_method():
    own = Own(ALICE, "ADEV", "k")
    flow = Verification.incoming_request(own, BOB, {"from_device": "B", "methods": ["m.qr_code.show.v1"]},
                                         flow_id="t", transport=Transport.TO_DEVICE, sent_at=NOW, now=NOW,
                                         keys=Directory())
    assert flow.phase is Phase.CANCELLED
    assert flow.pending_cancel()[0].content["code"] == "m.unknown_method"
    with pytest.raises(InvalidEvent):
        flow.accept()


def test_the_old_mac_method_is_still_understood():
    a, b, _ = pair()
    deliver(b.accept(), a, BOB)
    start = a.start(NOW)
    start[0].content["message_authentication_codes"] = [MAC_V1]
    a._start_content = start[0].content  # Alice offered only the old MAC
    exchange(a, b, start)
    assert b._mac_method == MAC_V1 and a._mac_method == MAC_V1
    exchange(b, a, deliver(a.confirm(), b, ALICE) + b.confirm())
    assert a.phase is Phase.DONE and b.phase is Phase.DONE


def test_the_commitment_covers_the_start_exactly():
    start = {"method": "m.sas.v1", "transaction_id": "t", "from_device": "D"}
    key = SasSession().public_key
    assert commitment(key, start) == commitment(key, dict(reversed(list(start.items()))))
    assert commitment(key, start) != commitment(key, {**start, "from_device": "E"})
    with pytest.raises(ValueError):
        commitment(key, {"x": 1.0})
