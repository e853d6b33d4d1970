"""Olm plaintexts and Megolm plaintexts, really encrypted: a hostile device that holds an Olm
session with us can put any bytes in a to-device message, and any room member any bytes in a
Megolm message. Whatever arrives, our Olm machine returns an event or nothing (never raises
out of the sync), stores a room key only when it is one, and the channel keeps working; a
decrypted room event is shown safely."""

from __future__ import annotations

import base64
import itertools

import vodozemac
from hypothesis import event, given
from hypothesis import strategies as st
from nio.crypto import InboundGroupSession
from nio.events import Event, MegolmEvent, ToDeviceEvent
from nio.exceptions import EncryptionError

from tests.fuzz.profile import counted, examples
from tests.fuzz.shown import Context, assert_terminal_safe, shown
from tests.fuzz.strategies import damaged_bytes, json_values, mutated, to_json_bytes
from tests.fuzz.test_fuzz_announcements import PAYLOAD as BUNDLE_PAYLOAD
from tests.fuzz.world import USER, machine, scratch, shared_receiver
from tui_client.engine.nio.olm import DecryptedOlmEvent, changed
from tui_client.engine.room_keys import Origin, SessionMeta
from tui_client.engine.timeline.convert import item_from_event

ALICE, ALICE_DEVICE = "@alice:localhost", "ALICEDEV"
ROOM = "!room:localhost"
MEGOLM, OLM = "m.megolm.v1.aes-sha2", "m.olm.v1.curve25519-aes-sha2"
_ids = itertools.count()


class Channel:
    """Alice's Olm session to our machine (`bob`), and a Megolm session of hers bob holds."""

    def __init__(self) -> None:
        self.bob = machine(scratch("olm-"))
        self.alice = vodozemac.Account()
        self.bob.account.generate_one_time_keys(1)
        otk = next(iter(self.bob.account.one_time_keys["curve25519"].values()))
        self.bob_curve = self.bob.account.identity_keys["curve25519"]
        self.session = self.alice.create_outbound_session(vodozemac.Curve25519PublicKey.from_base64(self.bob_curve),
                                                          vodozemac.Curve25519PublicKey.from_base64(otk))
        self.group = vodozemac.GroupSession()
        inbound = InboundGroupSession(self.group.session_key.to_base64(), self.alice_ed, self.alice_curve, ROOM)
        self.bob.persist(*changed(self.bob.merge_sessions(
            [(inbound, SessionMeta(ROOM, inbound.id, self.alice_curve, True, Origin.DIRECT))])))

    @property
    def alice_curve(self) -> str:
        return self.alice.curve25519_key.to_base64()

    @property
    def alice_ed(self) -> str:
        return self.alice.ed25519_key.to_base64()

    def header(self, event_type: str, content: object) -> dict:
        return {"sender": ALICE, "sender_device": ALICE_DEVICE, "keys": {"ed25519": self.alice_ed},
                "recipient": USER, "recipient_keys": {"ed25519": self.bob.account.identity_keys["ed25519"]},
                "type": event_type, "content": content}

    def to_device(self, plaintext: bytes) -> ToDeviceEvent:
        message = self.session.encrypt(plaintext)
        kind, body = message.to_parts()
        return ToDeviceEvent.parse_event({"type": "m.room.encrypted", "sender": ALICE, "content": {
            "algorithm": OLM, "sender_key": self.alice_curve,
            "ciphertext": {self.bob_curve: {"type": kind, "body": base64.b64encode(body).decode().rstrip("=")}},
        }})

    def room_key(self) -> tuple[dict, str]:
        group = vodozemac.GroupSession()
        content = {"algorithm": MEGOLM, "room_id": ROOM, "session_id": group.session_id,
                   "session_key": group.session_key.to_base64(), "org.matrix.msc3061.shared_history": True}
        return self.header("m.room_key", content), group.session_id

    def megolm(self, plaintext: bytes) -> MegolmEvent:
        ciphertext = self.group.encrypt(plaintext).to_base64()
        return Event.parse_event({
            "type": "m.room.encrypted", "event_id": f"$fuzz{next(_ids)}", "sender": ALICE, "room_id": ROOM,
            "origin_server_ts": 1_700_000_000_000, "content": {
                "algorithm": MEGOLM, "sender_key": self.alice_curve, "ciphertext": ciphertext,
                "session_id": self.group.session_id, "device_id": ALICE_DEVICE}})


_CHANNEL: Channel | None = None


def channel() -> Channel:
    global _CHANNEL
    if _CHANNEL is None:
        _CHANNEL = Channel()
    return _CHANNEL


def _payload_seeds(ch: Channel) -> list[dict]:
    room_key, _ = ch.room_key()
    exported = vodozemac.InboundGroupSession(vodozemac.GroupSession().session_key)
    forwarded = ch.header("m.forwarded_room_key", {
        "algorithm": MEGOLM, "room_id": ROOM, "sender_key": ch.alice_curve, "session_id": exported.session_id,
        "session_key": exported.export_at(0).to_base64(), "sender_claimed_ed25519_key": ch.alice_ed,
        "forwarding_curve25519_key_chain": []})
    bundle = {**ch.header("m.room_key_bundle", BUNDLE_PAYLOAD["content"])}
    return [room_key, forwarded, bundle, ch.header("m.dummy", {}), ch.header("m.unknown", {"x": 1})]


@st.composite
def olm_plaintexts(draw: st.DrawFn) -> bytes:
    seeds = _payload_seeds(channel())
    seed = draw(st.sampled_from(seeds))
    how = draw(st.sampled_from(["mutate", "mutate", "damage", "random"]))
    if how == "mutate":
        return to_json_bytes(draw(mutated(seed, max_mutations=3)))
    if how == "damage":
        return draw(damaged_bytes(to_json_bytes(seed), max_edits=2))
    return to_json_bytes(draw(json_values()))


def _keys(olm) -> set[tuple[str, str]]:
    return {(s.room_id, s.id) for s in olm.inbound_group_store}


def _stored_keys(olm) -> set[tuple[str, str]]:
    return set(olm.app_store.conn.execute("SELECT room_id, session_id FROM tc_inbound_session").fetchall())


@examples(300)
@given(olm_plaintexts())
@counted
def test_a_hostile_olm_plaintext_never_escapes_and_only_a_room_key_adds_a_key(plaintext):
    ch = channel()
    rx, _ = shared_receiver("olm-bundles", joined=set())
    before = _keys(ch.bob)
    result = ch.bob.handle_to_device_event(ch.to_device(plaintext))
    added = _keys(ch.bob) - before
    event(f"-> {type(result).__name__}")
    if added:
        # Only a well-formed room key for a session whose key matches its id gets in.
        import json

        payload = json.loads(plaintext.decode("utf-8", "replace"))  # as nio decodes it
        content = payload["content"]
        assert payload["type"] in ("m.room_key", "m.forwarded_room_key") and len(added) == 1
        assert added == {(content["room_id"], content["session_id"])}
    if isinstance(result, DecryptedOlmEvent):
        rx.on_announcement(result.sender, result.sender_key, result.payload)  # what the engine does next
    assert _keys(ch.bob) == _stored_keys(ch.bob), "a key held in memory only is gone after a restart"
    # The channel still works: a genuine room key sent next is stored.
    good, session_id = ch.room_key()
    ch.bob.handle_to_device_event(ch.to_device(to_json_bytes(good)))
    assert (ROOM, session_id) in _keys(ch.bob), "a hostile message broke the Olm channel"


def test_the_olm_channel_delivers_a_room_key():
    ch = channel()
    good, session_id = ch.room_key()
    ch.bob.handle_to_device_event(ch.to_device(to_json_bytes(good)))
    assert (ROOM, session_id) in _keys(ch.bob)


MESSAGE = {"type": "m.room.message", "room_id": ROOM, "content": {
    "msgtype": "m.text", "body": "secret", "format": "org.matrix.custom.html", "formatted_body": "<b>secret</b>",
    "m.relates_to": {"m.in_reply_to": {"event_id": "$x"}}}}
megolm_plaintexts = st.one_of(
    mutated(MESSAGE, max_mutations=3).map(to_json_bytes),
    damaged_bytes(to_json_bytes(MESSAGE), max_edits=2),
    json_values().map(to_json_bytes),
)


@examples(300)
@given(megolm_plaintexts)
@counted
def test_a_hostile_megolm_plaintext_is_an_event_or_a_decryption_error(plaintext):
    ch = channel()
    encrypted = ch.megolm(plaintext)
    try:
        decrypted = ch.bob.decrypt_megolm_event(encrypted, ROOM)
    except EncryptionError as exc:
        event("refused")
        assert str(exc) and ch.bob.decryption_errors.get(encrypted.event_id), "the reason is kept for the UI"
        decrypted = encrypted  # shown as a failure
    else:
        event(f"-> {type(decrypted).__name__}")
    item = item_from_event(Context(), ROOM, decrypted)
    if item is not None:
        for text in shown(item):
            assert_terminal_safe(text)


def _plain_seeds(ch: Channel) -> list[dict]:
    return [
        {"type": "m.room_key_request", "sender": ALICE, "content": {
            "action": "request", "requesting_device_id": ALICE_DEVICE, "request_id": "r1",
            "body": {"algorithm": MEGOLM, "room_id": ROOM, "sender_key": ch.alice_curve,
                     "session_id": ch.group.session_id}}},
        {"type": "m.room_key_request", "sender": ALICE, "content": {
            "action": "request_cancellation", "requesting_device_id": ALICE_DEVICE, "request_id": "r1"}},
        {"type": "m.key.verification.start", "sender": ALICE, "content": {
            "from_device": ALICE_DEVICE, "method": "m.sas.v1", "transaction_id": "t1",
            "key_agreement_protocols": ["curve25519"], "hashes": ["sha256"],
            "message_authentication_codes": ["hkdf-hmac-sha256"], "short_authentication_string": ["emoji"]}},
        {"type": "m.room_key.withheld", "sender": ALICE, "content": {
            "algorithm": MEGOLM, "room_id": ROOM, "session_id": ch.group.session_id, "code": "m.unverified"}},
        {"type": "m.room.encrypted", "sender": ALICE, "content": {
            "algorithm": OLM, "sender_key": ch.alice_curve,
            "ciphertext": {ch.bob_curve: {"type": 0, "body": "AwoghAE"}}}},
    ]


@examples(200)
@given(st.data())
@counted
def test_a_hostile_plaintext_to_device_event_changes_no_key(data):
    ch = channel()
    source = data.draw(st.sampled_from(_plain_seeds(ch)).flatmap(lambda seed: mutated(seed, max_mutations=3)))
    before = _keys(ch.bob)
    try:
        parsed = ToDeviceEvent.parse_event(source if isinstance(source, dict) else {"content": source})
    except Exception as exc:  # nio's parser; the engine's sync contains it
        event(f"nio raised {type(exc).__name__}")
        return
    result = ch.bob.handle_to_device_event(parsed)
    event(f"{type(parsed).__name__} -> {type(result).__name__}")
    assert _keys(ch.bob) == before and _keys(ch.bob) == _stored_keys(ch.bob)
