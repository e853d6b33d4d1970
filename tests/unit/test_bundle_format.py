"""The key bundle's format: what a hostile inviter can put in the file, and what we make of it.

Every case is pure (no server, no store) and runs in milliseconds."""

from __future__ import annotations

import base64
import json
import time

import pytest
import vodozemac

from tests.forge import forged_export, random_key
from tui_client.engine.crypto.attachments import AttachmentError, decrypt_attachment, encrypt_attachment
from tui_client.engine.history_sharing.bundle import (
    MAX_ROOM_KEYS,
    MAX_WITHHELD,
    BundleError,
    HistoricKey,
    WithheldEntry,
    build_bundle,
    parse_bundle,
    serialize_bundle,
)
from tui_client.engine.history_sharing.importer import pending_sessions

ROOM = "!room:x"
OTHER = "!other:x"


def key_entry(room: str = ROOM, **over) -> dict:
    group = vodozemac.GroupSession()
    inbound = vodozemac.InboundGroupSession(group.session_key)
    entry = HistoricKey(room, random_key(), inbound.session_id, inbound.export_at(0).to_base64(), random_key()).to_json()
    entry.update(over)
    return entry


def withheld_entry(room: str = ROOM, **over) -> dict:
    entry = WithheldEntry(room, random_key(), random_key(), "m.history_not_shared", "no", "DEV").to_json()
    entry.update(over)
    return entry


def parse(obj) -> object:
    return parse_bundle(json.dumps(obj).encode(), ROOM)


def test_round_trip_of_what_we_build():
    keys = [HistoricKey(**{k: v for k, v in zip(
        ("room_id", "sender_key", "session_id", "session_key", "sender_claimed_ed25519"),
        (ROOM, e["sender_key"], e["session_id"], e["session_key"], e["sender_claimed_keys"]["ed25519"]),
    )}) for e in (key_entry(), key_entry())]
    withheld = [WithheldEntry(ROOM, random_key(), random_key(), "m.history_not_shared", "why", "DEV")]
    parsed = parse_bundle(serialize_bundle(build_bundle(keys, withheld)), ROOM)
    assert list(parsed.room_keys) == keys and list(parsed.withheld) == withheld
    assert parsed.other_room_entries == 0


def test_malformed_json_is_refused():
    with pytest.raises(BundleError, match="not valid JSON"):
        parse_bundle(b'{"room_keys": [ {"oops"', ROOM)
    with pytest.raises(BundleError, match="not valid JSON"):
        parse_bundle(b"\xff\xfe garbage", ROOM)
    with pytest.raises(BundleError, match="not a JSON object"):
        parse_bundle(b"[]", ROOM)
    with pytest.raises(BundleError, match="not lists"):
        parse({"room_keys": {}, "withheld": []})


def test_deep_nesting_is_refused_not_a_crash():
    """A 2 KB bundle nested 1,000 deep made the parser raise RecursionError (hole 4)."""
    data = b'{"room_keys": [' + b"[" * 1000 + b"]" * 1000 + b"]}"
    assert len(data) < 2100
    with pytest.raises(BundleError, match="nested deeper"):
        parse_bundle(data, ROOM)
    deep_field = {"room_keys": [key_entry(extra=json.loads("[" * 900 + "]" * 900))]}
    assert len(parse(deep_field).room_keys) == 1, "unknown fields are ignored, however deep (within the parser's limit)"


def test_caps_refuse_a_bundle_of_too_many_withheld_entries_quickly():
    """550,000 withheld entries blocked the engine for ~10 s and grew the store by 180 MB."""
    entry = withheld_entry()
    data = ('{"room_keys":[],"withheld":[' + ",".join([json.dumps(entry)] * 550_000) + "]}").encode()
    started = time.perf_counter()
    with pytest.raises(BundleError, match=f"at most {MAX_WITHHELD}"):
        parse_bundle(data, ROOM)
    assert time.perf_counter() - started < 5, "refused without looking at every entry"


def test_caps_on_keys():
    with pytest.raises(BundleError, match=f"at most {MAX_ROOM_KEYS}"):
        parse_bundle(('{"room_keys":[' + ",".join(["{}"] * (MAX_ROOM_KEYS + 1)) + "]}").encode(), ROOM)


def test_a_session_listed_twice_rejects_the_bundle():
    """Hole 3: the merge kept the first copy and the stored blob the last."""
    first = key_entry()
    second = key_entry(session_id=first["session_id"], session_key=forged_export(first["session_id"]))
    with pytest.raises(BundleError, match="twice"):
        parse({"room_keys": [first, second]})
    with pytest.raises(BundleError, match="twice"):
        parse({"room_keys": [first, dict(first)]})


def test_duplicate_withheld_entries_are_dropped_and_keys_win_over_withheld():
    key = key_entry()
    w = withheld_entry()
    parsed = parse({"room_keys": [key], "withheld": [w, dict(w), withheld_entry(session_id=key["session_id"])]})
    assert [x.session_id for x in parsed.withheld] == [w["session_id"]]
    assert parsed.dropped_withheld == 2 and len(parsed.room_keys) == 1


@pytest.mark.parametrize("field,value,why", [
    ("sender_key", "not-a-curve25519-key", "sender_key"),
    ("sender_key", "A" * 44, "sender_key"),
    ("session_id", "short", "session_id"),
    ("session_key", "AQAAAA", "session export"),
    ("session_key", 7, "session export"),
    ("algorithm", "m.olm.v1", "algorithm"),
    ("room_id", "", "room_id"),
    ("room_id", "!x:y\u001b[31m", "room_id"),
    ("sender_claimed_keys", {"ed25519": "nope"}, "sender_claimed_keys"),
    ("sender_claimed_keys", "x", "sender_claimed_keys"),
])
def test_a_malformed_key_entry_rejects_the_whole_bundle(field, value, why):
    with pytest.raises(BundleError, match=why):
        parse({"room_keys": [key_entry(), key_entry(**{field: value})]})


@pytest.mark.parametrize("field,value,why", [
    ("code", None, "code"),
    ("code", "x" * 200, "code"),
    ("code", "m.bad code", "code"),
    ("session_id", "??", "session_id"),
    ("sender_key", "zz", "sender_key"),
    ("reason", 5, "reason"),
])
def test_a_malformed_withheld_entry_rejects_the_whole_bundle(field, value, why):
    with pytest.raises(BundleError, match=why):
        parse({"withheld": [withheld_entry(**{field: value})]})


def test_long_reasons_are_cut_not_stored_whole():
    parsed = parse({"withheld": [withheld_entry(reason="x" * 100_000)]})
    assert len(parsed.withheld[0].reason) == 300


def test_entries_for_other_rooms_are_skipped_and_counted():
    parsed = parse({"room_keys": [key_entry(), key_entry(OTHER)], "withheld": [withheld_entry(OTHER)]})
    assert len(parsed.room_keys) == 1 and parsed.room_keys[0].room_id == ROOM
    assert parsed.withheld == () and parsed.other_room_entries == 2


def test_a_key_that_is_not_the_session_it_names_rejects_the_bundle():
    entry = key_entry()
    entry["session_key"] = key_entry()["session_key"]
    parsed = parse({"room_keys": [entry]})
    with pytest.raises(BundleError, match="belongs to another session"):
        pending_sessions(parsed.room_keys, random_key())


@pytest.mark.parametrize("damage", ["short", "version", "not base64"])
def test_a_key_that_is_no_session_export_rejects_the_bundle(damage):
    entry = key_entry()
    raw = bytearray(base64.b64decode(entry["session_key"] + "=" * (-len(entry["session_key"]) % 4)))
    if damage == "short":
        raw = raw[:-1]
    elif damage == "version":
        raw[0] = 2
    key = base64.b64encode(bytes(raw)).decode().rstrip("=")
    if damage == "not base64":
        key = key[:-2] + "!!"
    keys = [HistoricKey(ROOM, entry["sender_key"], entry["session_id"], key, entry["sender_claimed_keys"]["ed25519"])]
    with pytest.raises(BundleError, match="unusable key"):
        pending_sessions(keys, random_key())


def test_checked_keys_are_the_sessions_they_name_once_made():
    entries = [key_entry() for _ in range(3)]
    parsed = parse({"room_keys": entries})
    pending = pending_sessions(parsed.room_keys, "FORWARDER")
    made = [p.opener(p) for p in pending]
    assert [s.id for s in made] == [e["session_id"] for e in entries]
    assert all(s.forwarding_chain == ["FORWARDER"] and s.room_id == ROOM for s in made)


def test_a_forged_export_passes_the_id_check_and_decrypts_nothing():
    """Why the session-id check proves nothing (hole 1): exports are unsigned."""
    real = vodozemac.GroupSession()
    message = real.encrypt(b"secret")
    parsed = parse({"room_keys": [key_entry(session_id=real.session_id, session_key=forged_export(real.session_id))]})
    [pending] = pending_sessions(parsed.room_keys, random_key())
    session = pending.opener(pending)
    assert session.id == real.session_id
    with pytest.raises(vodozemac.MegolmDecryptionException):
        session._session.decrypt(message)


def test_attachment_round_trip_and_tampering():
    data = b"bundle bytes" * 100
    ciphertext, info = encrypt_attachment(data)
    info["url"] = "mxc://server/media"
    assert decrypt_attachment(ciphertext, info) == data
    with pytest.raises(AttachmentError, match="SHA-256"):
        decrypt_attachment(ciphertext[:-1] + bytes([ciphertext[-1] ^ 1]), info)
    with pytest.raises(AttachmentError, match="SHA-256"):
        decrypt_attachment(ciphertext[: len(ciphertext) // 2], info)
    with pytest.raises(AttachmentError, match="mxc"):
        decrypt_attachment(ciphertext, {**info, "url": "https://evil/x"})
    with pytest.raises(AttachmentError, match="32 bytes"):
        decrypt_attachment(ciphertext, {**info, "key": {**info["key"], "k": "AAAA"}})
