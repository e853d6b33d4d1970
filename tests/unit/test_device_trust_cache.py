"""nio asks the store whether a message's sending device is verified for every event it decrypts
(a SQL query each time in nio). The store keeps the answers in memory; these check that an answer
never outlives a change: verifying, blacklisting or ignoring a device, or a key query."""

from __future__ import annotations

import json

import vodozemac
from nio.crypto import OlmAccount, OlmDevice
from nio.responses import KeysQueryResponse

from tui_client.engine.crypto.canonical import canonical_json
from tui_client.engine.nio.olm import AppOlm
from tui_client.engine.nio.store import AppStore

BOB = "@bob:x"


def _machine(tmp_path) -> AppOlm:
    store = AppStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    if store.account_id() is None:
        store.save_account(OlmAccount())
        store._account_id = None
    return AppOlm("@me:x", "DEV", store)


def _signed_device(account: vodozemac.Account, device_id: str) -> dict:
    keys = {
        "user_id": BOB, "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {f"curve25519:{device_id}": account.curve25519_key.to_base64(),
                 f"ed25519:{device_id}": account.ed25519_key.to_base64()},
    }
    signature = account.sign(canonical_json(keys)).to_base64()
    return {**keys, "signatures": {BOB: {f"ed25519:{device_id}": signature}}}


def _key_query(olm: AppOlm, devices: dict[str, dict]) -> None:
    olm.users_for_key_query.add(BOB)
    response = KeysQueryResponse.from_dict(json.loads(json.dumps({"device_keys": {BOB: devices}, "failures": {}})))
    assert isinstance(response, KeysQueryResponse), response
    olm.handle_response(response)


def test_verifying_blacklisting_and_ignoring_a_device_are_seen_at_once(tmp_path):
    olm = _machine(tmp_path)
    _key_query(olm, {"PHONE": _signed_device(vodozemac.Account(), "PHONE")})
    phone = olm.device_store[BOB]["PHONE"]
    assert not olm.is_device_verified(phone) and not olm.is_device_verified(phone), "asked twice: cached"
    olm.verify_device(phone)
    assert olm.is_device_verified(phone)
    olm.blacklist_device(phone)
    assert not olm.is_device_verified(phone) and olm.is_device_blacklisted(phone)
    olm.unblacklist_device(phone)
    olm.ignore_device(phone)
    assert olm.is_device_ignored(phone) and not olm.is_device_blacklisted(phone)
    olm.unignore_device(phone)
    assert not olm.is_device_ignored(phone)
    olm.verify_device(phone)
    olm.unverify_device(phone)
    assert not olm.is_device_verified(phone)


def test_a_key_query_is_seen_by_the_next_trust_answer(tmp_path):
    olm = _machine(tmp_path)
    _key_query(olm, {"PHONE": _signed_device(vodozemac.Account(), "PHONE")})
    phone = olm.device_store[BOB]["PHONE"]
    olm.verify_device(phone)
    assert olm.is_device_verified(phone)
    # Someone marks the device verified no more behind the cache's back (another engine on
    # this store); the next key query makes the store ask again.
    olm.app_store.conn.execute("DELETE FROM devicetruststate")
    assert olm.is_device_verified(phone), "still the cached answer before a key query"
    _key_query(olm, {"PHONE": _signed_device(vodozemac.Account(), "PHONE"),
                     "LAPTOP": _signed_device(vodozemac.Account(), "LAPTOP")})
    assert not olm.is_device_verified(olm.device_store[BOB]["PHONE"])
    assert not olm.is_device_verified(olm.device_store[BOB]["LAPTOP"])


def test_trust_answers_survive_a_restart_from_the_store(tmp_path):
    olm = _machine(tmp_path)
    _key_query(olm, {"PHONE": _signed_device(vodozemac.Account(), "PHONE")})
    olm.verify_device(olm.device_store[BOB]["PHONE"])
    olm.app_store.database.close()
    again = _machine(tmp_path)
    phone = again.device_store[BOB]["PHONE"]
    assert isinstance(phone, OlmDevice) and again.is_device_verified(phone)
