"""What arrives over to-device before any file is fetched: the `m.room_key_bundle`
announcement (after Olm decryption) and the plaintext `m.room_key.withheld`. The pure check
returns an announcement or a reason; the receiver keeps what passes and, for what it refuses,
tells the user and stores nothing."""

from __future__ import annotations

from hypothesis import event, given
from hypothesis import strategies as st

from tests.forge import random_key
from tests.fuzz.profile import counted, examples
from tests.fuzz.strategies import json_values, mutated
from tests.fuzz.world import shared_receiver, snapshot
from tui_client.engine.crypto.attachments import check_file_info, encrypt_attachment
from tui_client.engine.crypto.signing import Ed25519Key, sign_json
from tui_client.engine.history_sharing.bundle import KEY_COUNT_HINT, MESSAGE_COUNT_HINT, count_hint
from tui_client.engine.history_sharing.records import ReceivedBundle
from tui_client.engine.history_sharing.rules import Announcement, check_announcement

SENDER, DEVICE = "@inviter:localhost", "INVITERDEV"
ROOM = "!room:localhost"
SIGNING = Ed25519Key.generate()
CURVE = random_key()
DEVICE_KEYS = sign_json({
    "user_id": SENDER, "device_id": DEVICE, "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
    "keys": {f"ed25519:{DEVICE}": SIGNING.public_key, f"curve25519:{DEVICE}": CURVE},
}, SIGNING, SENDER, DEVICE)
_, FILE = encrypt_attachment(b"{}")
PAYLOAD = {
    "sender": SENDER, "sender_device": DEVICE, "keys": {"ed25519": SIGNING.public_key},
    "recipient": "@me:localhost", "recipient_keys": {"ed25519": random_key()}, "type": "m.room_key_bundle",
    "content": {"room_id": ROOM, "file": {**FILE, "url": "mxc://localhost/AbC"}, KEY_COUNT_HINT: 3,
                MESSAGE_COUNT_HINT: 12},
    "sender_device_keys": DEVICE_KEYS,
}

payloads = st.one_of(mutated(PAYLOAD, max_mutations=3), json_values())


def test_the_seed_announcement_is_accepted():
    assert isinstance(check_announcement(PAYLOAD, SENDER, CURVE, {}), Announcement)


@examples(400)
@given(payloads, st.sampled_from([{}, {DEVICE: SIGNING.public_key}, {DEVICE: random_key()}]))
@counted
def test_check_announcement_returns_an_announcement_or_a_reason(payload, known):
    if not isinstance(payload, dict):
        payload = {"content": payload}
    checked = check_announcement(payload, SENDER, CURVE, known)
    if isinstance(checked, str):
        event("refused")
        assert checked
        return
    event("accepted")
    assert isinstance(checked, Announcement)
    assert checked.room_id.startswith("!") and check_file_info(checked.file) is None
    assert checked.sender_device_keys["user_id"] == SENDER


@examples(250)
@given(payloads)
@counted
def test_on_announcement_keeps_what_passes_and_stores_nothing_it_refuses(payload):
    if not isinstance(payload, dict):
        payload = {"content": payload}
    rx, host = shared_receiver("announcement", joined=set())
    olm = host.client.olm
    before = snapshot(olm)
    record = rx.on_announcement(SENDER, CURVE, payload)
    after = snapshot(olm)
    if record is None:
        event("refused")
        assert after == before, "a refused announcement changed the store"
        assert any("Ignored a key bundle" in n for n in host.notices), "the user is told"
    else:
        event("kept")
        assert isinstance(record, ReceivedBundle) and rx.records.bundle(record.room_id, SENDER) == record
        assert check_file_info(record.file) is None and set(record.file) == {"v", "url", "key", "iv", "hashes"}
        for hint in (record.key_count, record.withheld_count, record.message_count):
            assert hint is None or 0 <= hint < 10**9


withheld_seed = {"algorithm": "m.megolm.v1.aes-sha2", "room_id": ROOM, "session_id": random_key(),
                 "sender_key": random_key(), "code": "m.unverified", "reason": "Device not verified",
                 "from_device": "DEV"}


@examples(250)
@given(st.one_of(mutated(withheld_seed, max_mutations=3), json_values()))
@counted
def test_on_withheld_stores_a_bounded_record_or_nothing(content):
    rx, host = shared_receiver("withheld", joined=set())
    olm = host.client.olm
    before = snapshot(olm)
    room_id = rx.on_withheld(SENDER, content)
    after = snapshot(olm)
    if room_id is None:
        event("ignored")
        assert after == before
    else:
        event("kept")
        record = rx.records.withheld(room_id, content["session_id"])
        assert record is not None and record.from_user == SENDER
        assert record.reason is None or len(record.reason) <= 300
        assert record.from_device is None or len(record.from_device) <= 255
        assert record.sender_key is None or len(record.sender_key) <= 64


@examples(200)
@given(json_values(), st.sampled_from([KEY_COUNT_HINT, MESSAGE_COUNT_HINT]))
@counted
def test_count_hints_are_sane_numbers_or_none(content, key):
    hint = count_hint({key: content}, key)
    assert hint is None or (type(hint) is int and 0 <= hint < 10**9)
