"""Keys and secrets between our own devices: every rule (who may send us a room key or a
secret, whom we answer), hostile inputs first, and the backup key sealed at rest. The same paths
against Element are in tests/interop/test_verification_interop.py."""

from __future__ import annotations

import base64
import os
from types import SimpleNamespace

import pytest
import vodozemac
from nio.crypto import OlmAccount

from tui_client.engine.keys.gossip import Gossip
from tui_client.engine.keys.gossip_rules import (
    BACKUP_SECRET,
    DeviceFacts,
    ReceivedSecret,
    SecretRequest,
    backup_mismatch,
    backup_public_key,
    decode_secret,
    forward_refusal,
    key_request_refusal,
    parse_secret_request,
    secret_request_refusal,
    secret_send_refusal,
)
from tui_client.engine.nio.store import AppStore

ME, DEV = "@me:x", "MINE"
OURS = DeviceFacts(ME, "LAPTOP", True)
UNVERIFIED = DeviceFacts(ME, "PHONE", False)
STRANGER = DeviceFacts("@mallory:x", "EVIL", True)
UNKNOWN = DeviceFacts(ME, None, False)
MEGOLM = "m.megolm.v1.aes-sha2"


# -- forwarded room keys and key requests ----------------------------------------------------------


def test_a_forward_is_taken_only_from_our_verified_device_for_the_room_we_asked_about():
    ok = dict(algorithm=MEGOLM, room_id="!r:x", requested_room="!r:x")
    assert forward_refusal(ME, DEV, OURS, **ok) is None
    assert forward_refusal(ME, DEV, STRANGER, **ok) == "@mallory:x is not us"
    assert forward_refusal(ME, DEV, UNVERIFIED, **ok) == "our device PHONE is not verified"
    assert forward_refusal(ME, DEV, UNKNOWN, **ok) == "it comes from a device we do not know"
    assert forward_refusal(ME, DEV, DeviceFacts(ME, DEV, True), **ok) == "it comes from this very device"
    assert forward_refusal(ME, DEV, OURS, algorithm=MEGOLM, room_id="!r:x", requested_room=None) == \
        "we did not ask for this session"
    assert forward_refusal(ME, DEV, OURS, algorithm=MEGOLM, room_id="!other:x", requested_room="!r:x") == \
        "it is for another room than the one we asked about"
    assert forward_refusal(ME, DEV, OURS, algorithm="m.olm.v1", room_id="!r:x", requested_room="!r:x").startswith(
        "unsupported algorithm")


def test_key_requests_are_answered_only_for_our_verified_devices():
    assert key_request_refusal(ME, DEV, OURS) is None
    assert key_request_refusal(ME, DEV, UNVERIFIED) == "our device PHONE is not verified"
    assert key_request_refusal(ME, DEV, STRANGER) == "@mallory:x is not us"


# -- secret requests -------------------------------------------------------------------------------


def test_secret_requests_are_parsed_strictly():
    good = {"name": BACKUP_SECRET, "action": "request", "requesting_device_id": "LAPTOP", "request_id": "r1"}
    assert parse_secret_request(ME, good, ME, DEV) == SecretRequest(BACKUP_SECRET, "r1", "LAPTOP", False)
    assert parse_secret_request(ME, {**good, "action": "request_cancellation"}, ME, DEV).cancel
    assert parse_secret_request("@mallory:x", good, ME, DEV) == "@mallory:x is not us"
    assert parse_secret_request(ME, {**good, "requesting_device_id": DEV}, ME, DEV) == "the request is our own"
    assert parse_secret_request(ME, {**good, "action": "steal"}, ME, DEV).startswith("unknown action")
    assert parse_secret_request(ME, {**good, "request_id": None}, ME, DEV).startswith("the request names no")
    assert parse_secret_request(ME, {**good, "name": 7}, ME, DEV) == "the request names no secret"
    assert parse_secret_request(ME, "nope", ME, DEV) == "the request is not an object"


def test_secrets_go_only_to_our_verified_devices_and_only_known_ones():
    request = SecretRequest("m.cross_signing.self_signing", "r", "LAPTOP", False)
    assert secret_request_refusal(ME, DEV, request, OURS, True) is None
    assert secret_request_refusal(ME, DEV, request, UNVERIFIED, True) == "our device PHONE is not verified"
    assert secret_request_refusal(ME, DEV, request, OURS, False) == "we do not have m.cross_signing.self_signing"
    odd = SecretRequest("m.my_diary", "r", "LAPTOP", False)
    assert secret_request_refusal(ME, DEV, odd, OURS, True) == "we do not share 'm.my_diary'"


# -- secrets sent to us ------------------------------------------------------------------------------


def test_a_secret_is_taken_only_from_our_verified_device_for_our_request():
    key = os.urandom(32)
    content = {"request_id": "r1", "secret": base64.b64encode(key).decode()}
    asked = {"r1": BACKUP_SECRET}
    assert secret_send_refusal(ME, DEV, OURS, content, asked) == ReceivedSecret(BACKUP_SECRET, "r1", key)
    assert secret_send_refusal(ME, DEV, STRANGER, content, asked) == "@mallory:x is not us"
    assert secret_send_refusal(ME, DEV, UNVERIFIED, content, asked) == "our device PHONE is not verified"
    assert secret_send_refusal(ME, DEV, OURS, content, {}) == "it answers no request of ours"
    assert secret_send_refusal(ME, DEV, OURS, {**content, "secret": "c2hvcnQ"}, asked) == \
        "the m.megolm_backup.v1 it holds is not a 32-byte key"
    assert secret_send_refusal(ME, DEV, OURS, [], asked) == "the message is not an object"


@pytest.mark.parametrize("value", [None, 5, "", "not base64 at all!", "A" * 5000, base64.b64encode(b"x" * 31).decode(),
                                   base64.b64encode(b"x" * 33).decode()])
def test_only_32_byte_keys_decode(value):
    assert decode_secret(value) is None


def test_32_byte_keys_decode_padded_or_not():
    key = os.urandom(32)
    assert decode_secret(base64.b64encode(key).decode()) == key
    assert decode_secret(base64.b64encode(key).decode().rstrip("=")) == key


# -- the backup key -----------------------------------------------------------------------------------


def backup_info(private: bytes) -> dict:
    return {"version": "3", "algorithm": "m.megolm_backup.v1.curve25519-aes-sha2",
            "auth_data": {"public_key": backup_public_key(private), "signatures": {}}}


def test_the_backup_key_must_open_the_servers_current_backup():
    key = os.urandom(32)
    expected = vodozemac.PkDecryption.from_key(vodozemac.Curve25519SecretKey.from_bytes(key)).public_key.to_base64()
    assert backup_public_key(key) == expected
    assert backup_mismatch(key, backup_info(key)) is None
    assert backup_mismatch(key, backup_info(os.urandom(32))) == "it is not the key of the server's current backup"
    assert backup_mismatch(key, {}) is None, "no backup on the server: kept for when there is one"
    assert backup_mismatch(key, {**backup_info(key), "algorithm": "rot13"}).startswith("the server's backup uses")
    assert backup_mismatch(key, {**backup_info(key), "auth_data": {}}) == "the server's backup names no public key"
    assert backup_mismatch(key, {**backup_info(key), "auth_data": {"public_key": "!!"}}) == \
        "the server's backup key is malformed"


def _gossip(tmp_path, store_key: str = "store-key") -> Gossip:
    store = AppStore(ME, DEV, str(tmp_path), store_key, "crypto.db")
    if store.account_id() is None:
        store.save_account(OlmAccount())
        store._account_id = None
    client = SimpleNamespace(olm=SimpleNamespace(), store=store, user_id=ME, device_id=DEV)
    return Gossip(client, SimpleNamespace(), store_key, lambda: 0.0, lambda c, n: c.close(),  # type: ignore[arg-type]
                  lambda users: None)  # type: ignore[arg-type]


def test_the_backup_key_is_sealed_at_rest_and_only_this_store_key_opens_it(tmp_path):
    gossip = _gossip(tmp_path)
    assert gossip.received_backup_key() is None
    key = os.urandom(32)
    gossip._save_backup_key(key, "7")
    assert gossip.received_backup_key() == key and gossip.received_backup_version() == "7"
    raw = gossip._store.get_secret("gossip:" + BACKUP_SECRET)
    assert raw and key not in base64.b64decode(raw) and base64.b64encode(key).decode() not in raw
    gossip._store.database.close()
    # Reopened: still there; with another store key (a copied file): unreadable, and no crash.
    assert _gossip(tmp_path).received_backup_key() == key
    assert _gossip(tmp_path, "another-key").received_backup_key() is None


def test_our_secret_requests_survive_a_restart(tmp_path):
    gossip = _gossip(tmp_path)
    gossip._outstanding = {"r1": (BACKUP_SECRET, 0.0)}
    gossip._save_outstanding()
    assert _gossip(tmp_path)._outstanding == {"r1": (BACKUP_SECRET, 0.0)}
    gossip._store.put_kv("secret_requests", {"bad": "x", "r2": [1, 2], "r3": ["m.megolm_backup.v1", "late"]})
    assert _gossip(tmp_path)._outstanding == {}, "damaged entries are dropped, not trusted"


async def test_a_received_backup_key_is_checked_then_handed_to_the_key_backup(tmp_path, caplog):
    gossip = _gossip(tmp_path)
    key = os.urandom(32)

    async def raw_json(method: str, path: str, body: object = None, **kwargs: object) -> tuple[int, dict]:
        assert path == "/_matrix/client/v3/room_keys/version"
        return 200, backup_info(key)

    gossip._client.raw_json = raw_json
    handed: list[tuple[bytes, str | None]] = []
    gossip.on_backup_key = lambda k, version: handed.append((k, version))
    await gossip._take_backup_key(key)
    assert handed == [(key, "3")] and gossip.received_backup_key() == key

    await gossip._take_backup_key(os.urandom(32))  # not the current backup's: refused
    assert handed == [(key, "3")] and gossip.received_backup_key() == key
    assert "refused the key backup key our device sent: it is not the key of the server's current backup" in caplog.text

    # What our other devices get when they ask: the key backup's own key, if it has one.
    assert gossip._secret_value(BACKUP_SECRET) == key
    own = os.urandom(32)
    gossip.backup_key_provider = lambda: own
    assert gossip._secret_value(BACKUP_SECRET) == own
