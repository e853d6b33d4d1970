"""The key backup's crypto (`m.megolm_backup.v1.curve25519-aes-sha2`): a known answer from
matrix-rust-sdk, the spec's steps done by hand with `cryptography` (including its MAC quirk),
the shareable flag, auth_data trust, and hostile backup data refused with a reason."""

from __future__ import annotations

import hmac
import json
import os

import pytest
import vodozemac
from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from tui_client.engine.crypto.backup import (
    BACKUP_ALGORITHM,
    BackupEntry,
    BackupError,
    Decryptor,
    Encryptor,
    backup_trust,
    backed_up_session_data,
    count_entries,
    decode_backup_key,
    encode_backup_key,
    iter_rooms,
    new_auth_data,
    new_backup_key,
    parse_backup_info,
    public_key_of,
)
from tui_client.engine.crypto.canonical import b64decode, b64encode
from tui_client.engine.crypto.key_export import ExportedKey
from tui_client.engine.crypto.megolm import import_exported
from tui_client.engine.crypto.signing import Ed25519Key, sign_json

ROOM = "!room:example.org"

# matrix-rust-sdk's test vector (crates/matrix-sdk-crypto/src/backups/keys/decryption.rs).
RUST_KEY = "Ha9cklU/9NqFo9WKdVfGzmqUL/9wlkdxfEitbSIPVXw"
RUST_ENTRY = {
    "first_message_index": 0,
    "forwarded_count": 0,
    "is_verified": False,
    "session_data": {
        "ephemeral": "HlLi76oV6wxHz3PCqE/bxJi6yF1HnYz5Dq3T+d/KpRw",
        "ciphertext": (
            "MuM8E3Yc6TSAvhVGb77rQ++jE6p9dRepx63/3YPD2wACKAppkZHeFrnTH6wJ/HSyrmzo7HfwqVl6tKNpfooSTHqUf6x1LHz+"
            "h4B/Id5ITO1WYt16AaI40LOnZqTkJZCfSPuE2oxalwEHnCS3biWybutcnrBFPR3LMtaeHvvkb+k3ny9l5ZpsU9G7vCm3XoeY"
            "kWfLekWXvDhbqWrylXD0+CNUuaQJ/S527TzLd4XKctqVjjO/cCH7q+9utt9WJAfK8LGaWT/mZ3AeWjf5kiqOpKKf5Cn4n5SS"
            "il5p/pvGYmjnURvZSEeQIzHgvunIBEPtzK/MYEPOXe/P5achNGlCx+5N19Ftyp9TFaTFlTWCTi0mpD7ePfCNISrwpozAz9HZ"
            "c0OhA8+1aSc7rhYFIeAYXFU326NuFIFHI5pvpSxjzPQlOA+mavIKmiRAtjlLw11IVKTxgrdT4N8lXeMr4ndCSmvIkAzFMo1u"
            "ZA4fzjiAdQJE4/2WeXFNNpvdfoYmX8Zl9CAYjpSO5HvpwkAbk4/iLEH3hDfCVUwDfMh05PdGLnxeRpiEFWSMSsJNp+OWAA+5"
            "JsF41BoRGrxoXXT+VKqlUDONd+O296Psu8Q+d8/S618"
        ),
        "mac": "GtMrurhDTwo",
    },
}


def _session() -> tuple[str, str]:
    """(session id, export at index 0) of a fresh Megolm session."""
    inbound = vodozemac.InboundGroupSession(vodozemac.GroupSession().session_key)
    return inbound.session_id, inbound.export_at(0).to_base64()


def _key(shared: bool = True, chain: tuple[str, ...] = ()) -> ExportedKey:
    session_id, exported = _session()
    sender = b64encode(os.urandom(32))
    return ExportedKey(ROOM, sender, session_id, exported, b64encode(os.urandom(32)), chain, shared)


# -- what the spec says, by hand -----------------------------------------------------------------------


def _spec_keys(shared_secret: bytes) -> tuple[bytes, bytes, bytes]:
    okm = HKDF(algorithm=hashes.SHA256(), length=80, salt=b"\0" * 32, info=b"").derive(shared_secret)
    return okm[:32], okm[32:64], okm[64:]


def spec_decrypt(private_key: bytes, session_data: dict) -> bytes:
    ephemeral = X25519PublicKey.from_public_bytes(b64decode(session_data["ephemeral"]))
    aes_key, mac_key, iv = _spec_keys(X25519PrivateKey.from_private_bytes(private_key).exchange(ephemeral))
    # The quirk: the MAC is over the empty string, not the ciphertext.
    assert hmac.compare_digest(hmac.new(mac_key, b"", "sha256").digest()[:8], b64decode(session_data["mac"]))
    decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
    padded = decryptor.update(b64decode(session_data["ciphertext"])) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return unpadder.update(padded) + unpadder.finalize()


def spec_encrypt(public_key: str, plaintext: bytes, *, mac_over_ciphertext: bool = False) -> dict:
    ephemeral = X25519PrivateKey.generate()
    shared = ephemeral.exchange(X25519PublicKey.from_public_bytes(b64decode(public_key)))
    aes_key, mac_key, iv = _spec_keys(shared)
    padder = padding.PKCS7(128).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    mac = hmac.new(mac_key, ciphertext if mac_over_ciphertext else b"", "sha256").digest()[:8]
    return {
        "ephemeral": b64encode(ephemeral.public_key().public_bytes_raw()),
        "ciphertext": b64encode(ciphertext),
        "mac": b64encode(mac),
    }


def test_matrix_rust_sdk_known_answer_decrypts_to_a_real_session():
    decryptor = Decryptor(decode_backup_key(RUST_KEY))
    plain = spec_decrypt(decode_backup_key(RUST_KEY), RUST_ENTRY["session_data"])
    session_id = vodozemac.InboundGroupSession.import_session(
        vodozemac.ExportedSessionKey(json.loads(plain)["session_key"])
    ).session_id
    key = decryptor.decrypt(ROOM, session_id, RUST_ENTRY)
    assert key.sender_key == "wREG/hBdSspoqM9xPCEXd/4YwjpBFXlsobRkyDTo/Q8"
    assert key.sender_claimed_ed25519 == "MnNLGwn4j9ArCvtgU6o1jG8TgJaEXQpDTxz7QU0h7GM"
    assert key.room_id == ROOM and key.forwarding_chain == () and key.shared_history is False
    assert import_exported(key.session_key, session_id).session_id == session_id


def test_what_we_write_follows_the_spec_steps_and_its_mac_quirk():
    private = new_backup_key()
    key = _key(shared=True, chain=(b64encode(os.urandom(32)),))
    entry = Encryptor(public_key_of(private)).entry(key, first_message_index=3, forwarded_count=1)
    assert entry["first_message_index"] == 3 and entry["forwarded_count"] == 1 and entry["is_verified"] is False
    plain = json.loads(spec_decrypt(private, entry["session_data"]))
    assert plain == {
        "algorithm": "m.megolm.v1.aes-sha2",
        "sender_key": key.sender_key,
        "session_key": key.session_key,
        "sender_claimed_keys": {"ed25519": key.sender_claimed_ed25519},
        "forwarding_curve25519_key_chain": list(key.forwarding_chain),
        "org.matrix.msc3061.shared_history": True,
    }
    assert all("=" not in value for value in entry["session_data"].values()), "unpadded base64"


def test_what_the_spec_steps_make_decrypts_and_a_mac_over_the_ciphertext_does_not():
    private = new_backup_key()
    key = _key(shared=False)
    data = spec_encrypt(public_key_of(private), backed_up_session_data(key))
    assert Decryptor(private).decrypt(ROOM, key.session_id, {"session_data": data}) == key
    # A MAC over the ciphertext (what the spec first meant) is not what anyone writes.
    other = spec_encrypt(public_key_of(private), backed_up_session_data(key), mac_over_ciphertext=True)
    with pytest.raises(BackupError, match="cannot be decrypted"):
        Decryptor(private).decrypt(ROOM, key.session_id, {"session_data": other})


@pytest.mark.parametrize(
    "spelling, value, expected",
    [
        ("org.matrix.msc3061.shared_history", True, True),
        ("m.shared_history", True, True),
        ("shared_history", True, True),
        ("org.matrix.msc3061.shared_history", False, False),
        ("org.matrix.msc3061.shared_history", "true", False),  # only a literal true counts
        (None, None, False),
    ],
)
def test_every_spelling_of_the_shareable_flag_is_read(spelling, value, expected):
    private = new_backup_key()
    session_id, exported = _session()
    plain = {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": b64encode(os.urandom(32)), "session_key": exported,
             "sender_claimed_keys": {}, "forwarding_curve25519_key_chain": []}
    if spelling:
        plain[spelling] = value
    data = spec_encrypt(public_key_of(private), json.dumps(plain).encode())
    assert Decryptor(private).decrypt(ROOM, session_id, {"session_data": data}).shared_history is expected


# -- hostile entries --------------------------------------------------------------------------------


def _entry(private: bytes, plain: object) -> dict:
    text = plain if isinstance(plain, bytes) else json.dumps(plain).encode()
    return {"session_data": spec_encrypt(public_key_of(private), text)}


def _good_plain() -> dict:
    return {"algorithm": "m.megolm.v1.aes-sha2", "sender_key": b64encode(os.urandom(32)),
            "session_key": _session()[1], "sender_claimed_keys": {}, "forwarding_curve25519_key_chain": []}


HOSTILE = {
    "not an object": lambda p: [],
    "no session_data": lambda p: {"first_message_index": 0},
    "short ephemeral key": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"], "ephemeral": "AAAA"}},
    "ephemeral key not base64": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"], "ephemeral": "!" * 43}},
    "non-contributory ephemeral key": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"],
                                                                   "ephemeral": b64encode(b"\0" * 32)}},
    "huge ciphertext": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"], "ciphertext": "A" * 70000}},
    "short mac": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"], "mac": b64encode(b"1234")}},
    "mac not base64": lambda p: {"session_data": {**_entry(p, _good_plain())["session_data"], "mac": 7}},
    "encrypted for another backup": lambda p: _entry(new_backup_key(), _good_plain()),
    "tampered ciphertext": lambda p: {"session_data": {**(d := _entry(p, _good_plain())["session_data"]),
                                                       "ciphertext": b64encode(os.urandom(len(b64decode(d["ciphertext"]))))}},
    "not JSON": lambda p: _entry(p, b"\xff\xfe not json"),
    "a JSON list": lambda p: _entry(p, [1, 2]),
    "deeply nested": lambda p: _entry(p, b"[" * 5000 + b"]" * 5000),
    "not Megolm": lambda p: _entry(p, {**_good_plain(), "algorithm": "m.olm.v1.curve25519-aes-sha2"}),
    "sender key not a key": lambda p: _entry(p, {**_good_plain(), "sender_key": "short"}),
    "no session key": lambda p: _entry(p, {**_good_plain(), "session_key": None}),
    "claimed keys not an object": lambda p: _entry(p, {**_good_plain(), "sender_claimed_keys": ["ed25519"]}),
    "chain not a list of keys": lambda p: _entry(p, {**_good_plain(), "forwarding_curve25519_key_chain": [{"x": 1}]}),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_entries_are_refused_with_a_reason(case):
    private = new_backup_key()
    entry = HOSTILE[case](private)
    with pytest.raises(BackupError) as caught:
        Decryptor(private).decrypt(ROOM, "A" * 43, entry)
    assert str(caught.value), "a reason for the log"


def test_whole_backup_walk_reports_malformed_ids_and_keeps_the_rest():
    good_session = _session()[0]
    body = {"rooms": {
        ROOM: {"sessions": {good_session: {"session_data": {}}, "not-a-session": {}, "B" * 43: "x"}},
        "not-a-room": {"sessions": {}},
        "!empty:x": {"sessions": []},
        "!bidi\u202e:x": {"sessions": {}},
    }}
    out = list(iter_rooms(body))
    entries = [e for e in out if isinstance(e, BackupEntry)]
    errors = [e for e in out if isinstance(e, BackupError)]
    assert [(e.room_id, e.session_id) for e in entries] == [(ROOM, good_session)]
    assert len(errors) == 5
    assert count_entries(body) == 3
    with pytest.raises(BackupError):
        list(iter_rooms([]))
    assert count_entries({"rooms": 5}) == 0


# -- keys and versions --------------------------------------------------------------------------------


def test_backup_key_round_trips_padded_or_not_and_rejects_the_wrong_size():
    key = new_backup_key()
    text = encode_backup_key(key)
    assert "=" not in text and decode_backup_key(text) == key
    assert decode_backup_key(text + "=") == key
    assert public_key_of(key) == vodozemac.PkDecryption.from_key(
        vodozemac.Curve25519SecretKey.from_bytes(key)).public_key.to_base64()
    for bad in ("", "abc", b64encode(os.urandom(16)), 5, None, "!" * 43):
        with pytest.raises(BackupError):
            decode_backup_key(bad)


def test_backup_info_is_checked():
    key = new_backup_key()
    info = parse_backup_info({"algorithm": BACKUP_ALGORITHM, "auth_data": new_auth_data(key), "version": "3",
                              "count": 12, "etag": "e"})
    assert info.supported and info.version == "3" and info.count == 12 and info.public_key == public_key_of(key)
    other = parse_backup_info({"algorithm": "org.example.future", "auth_data": {}, "version": "4", "count": -1})
    assert not other.supported and other.count is None
    for bad in ([], {"auth_data": {}, "algorithm": BACKUP_ALGORITHM},
                {"version": "1", "algorithm": BACKUP_ALGORITHM, "auth_data": {"public_key": "AAAA"}},
                {"version": "1", "algorithm": BACKUP_ALGORITHM, "auth_data": []},
                {"version": 1, "algorithm": BACKUP_ALGORITHM, "auth_data": new_auth_data(key)}):
        with pytest.raises(BackupError):
            parse_backup_info(bad)


def test_auth_data_is_trusted_by_its_key_or_a_signature_of_ours():
    user = "@me:example.org"
    key = new_backup_key()
    master = Ed25519Key.generate()
    device = Ed25519Key.generate()
    stranger = Ed25519Key.generate()
    auth = new_auth_data(key)
    signed = sign_json(sign_json(auth, master, user, master.public_key), device, user, "DEV")
    info = parse_backup_info({"algorithm": BACKUP_ALGORITHM, "auth_data": signed, "version": "1"})

    trust = backup_trust(info, user, None, master.public_key, {"DEV": device.public_key})
    assert trust.signed_by == ("your identity", "device DEV") and trust.can_upload and not trust.key_matches
    assert backup_trust(info, user, key, None, {}).key_matches
    assert not backup_trust(info, user, new_backup_key(), None, {}).can_upload
    # A signature by a device we have not verified, or by someone else's key, counts for nothing.
    assert not backup_trust(info, user, None, stranger.public_key, {"OTHER": stranger.public_key}).can_upload
    assert not backup_trust(info, "@other:example.org", None, master.public_key, {}).can_upload
    # Signatures over another public key do not carry over.
    forged = {**signed, "public_key": public_key_of(new_backup_key())}
    forged_info = parse_backup_info({"algorithm": BACKUP_ALGORITHM, "auth_data": forged, "version": "2"})
    assert backup_trust(forged_info, user, None, master.public_key, {"DEV": device.public_key}).signed_by == ()
