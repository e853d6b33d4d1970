"""The key bundle an inviter uploads, and its description: `parse_bundle`, `check_file_info`,
`decrypt_attachment`, `parse_mxc`, and the receiver's whole decode step (decrypt, parse, turn
each key into a session). Only BundleError / AttachmentError may come out, and what a parse
accepts has the shape the rest of the engine relies on."""

from __future__ import annotations

import vodozemac
from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.forge import forged_export, random_key
from tests.fuzz.profile import counted, examples
from tests.fuzz.strategies import (
    damaged_bytes,
    deep_json_text,
    hostile_text,
    json_values,
    mutated,
    to_json_bytes,
)
from tui_client.engine.crypto.attachments import (
    AttachmentError,
    check_file_info,
    decrypt_attachment,
    encrypt_attachment,
    minimal_file_info,
    parse_mxc,
)
from tui_client.engine.crypto.megolm import MegolmKeyError
from tui_client.engine.history_sharing.bundle import (
    MAX_REASON_CHARS,
    BundleError,
    ParsedBundle,
    is_key32,
    parse_bundle,
)
from tui_client.engine.history_sharing.importer import BundleImporter, pending_sessions
from tui_client.engine.history_sharing.records import BundleState, ReceivedBundle

ROOM = "!room:localhost"
MEGOLM = "m.megolm.v1.aes-sha2"


def real_key(room_id: str = ROOM, index: int = 0) -> dict:
    group = vodozemac.GroupSession()
    for _ in range(index):
        group.encrypt(b"x")
    inbound = vodozemac.InboundGroupSession(group.session_key)
    return {
        "algorithm": MEGOLM, "room_id": room_id, "sender_key": random_key(), "session_id": inbound.session_id,
        "session_key": inbound.export_at(index).to_base64(), "sender_claimed_keys": {"ed25519": random_key()},
    }


KEYS = [real_key(), real_key(index=3), real_key("!other:localhost")]
FORGED = {**KEYS[0], "session_key": forged_export(KEYS[0]["session_id"])}
WITHHELD = {"algorithm": MEGOLM, "code": "m.history_not_shared", "room_id": ROOM, "session_id": random_key(),
            "sender_key": random_key(), "reason": "The sender disabled sharing encrypted history.",
            "from_device": "DEVICE"}
VALID = {"room_keys": KEYS, "withheld": [WITHHELD, {**WITHHELD, "session_id": KEYS[0]["session_id"]}]}

bundles = st.one_of(
    mutated(VALID, max_mutations=4).map(to_json_bytes),
    mutated({"room_keys": [KEYS[0], FORGED], "withheld": []}).map(to_json_bytes),
    damaged_bytes(to_json_bytes(VALID)),
    json_values().map(to_json_bytes),
    st.builds(deep_json_text, st.integers(900, 100_000), st.sampled_from(["list", "dict"])).map(str.encode),
    st.builds(lambda d: b'{"room_keys": ' + d.encode() + b"}", st.builds(deep_json_text, st.integers(1, 5000))),
    st.binary(max_size=200),
)


def check_parsed(parsed: ParsedBundle) -> None:
    seen = set()
    for key in parsed.room_keys:
        assert key.room_id == ROOM
        assert is_key32(key.sender_key) and is_key32(key.session_id) and is_key32(key.sender_claimed_ed25519)
        assert len(key.session_key) == 220 and key.session_id not in seen
        seen.add(key.session_id)
    for w in parsed.withheld:
        assert w.room_id == ROOM and is_key32(w.session_id) and w.session_id not in seen
        assert w.reason is None or len(w.reason) <= MAX_REASON_CHARS
        assert w.sender_key is None or is_key32(w.sender_key)
        seen.add(w.session_id)


@examples(400)
@given(bundles)
@counted
def test_parse_bundle_refuses_with_a_reason_or_returns_a_well_formed_bundle(data):
    try:
        parsed = parse_bundle(data, ROOM)
    except BundleError as exc:
        assert str(exc)
        event(f"refused: {str(exc).split(':')[0].split('(')[0][:40]}")
        return
    event("accepted")
    check_parsed(parsed)
    try:  # what the receiver does next with the keys
        pending = pending_sessions(parsed.room_keys, random_key())
    except BundleError:
        return
    # Each accepted key, once made (when first used), is the session it names, or (a signing
    # key that is no curve point) refuses to be made, which the store treats as an absent key.
    for p in pending:
        try:
            session = p.opener(p)
        except MegolmKeyError:
            event("a checked key was unusable when made")
            continue
        assert session.id == p.session_id


def test_the_valid_bundle_of_the_fuzzer_parses():
    """The seed the mutations start from is itself accepted (so unmutated examples test the
    accepting path)."""
    parsed = parse_bundle(to_json_bytes(VALID), ROOM)
    assert len(parsed.room_keys) == 2 and len(parsed.withheld) == 1 and parsed.other_room_entries == 1


_, GOOD_FILE = encrypt_attachment(b"{}")
GOOD_FILE = {**GOOD_FILE, "url": "mxc://localhost/AbCdEf"}


@examples(400)
@given(st.one_of(mutated(GOOD_FILE, max_mutations=4), json_values()))
@counted
def test_file_info_is_checked_without_raising(file):
    problem = check_file_info(file)
    if problem is not None:
        assert isinstance(problem, str) and problem
        return
    kept = minimal_file_info(file)  # what the receiver stores: must not need anything unchecked
    assert check_file_info(kept) is None
    server, media_id = parse_mxc(kept["url"])
    assert server and media_id
    try:
        decrypt_attachment(b"ciphertext", kept)
    except AttachmentError:
        pass


@examples(300)
@given(st.one_of(hostile_text, json_values(4), st.builds(lambda s: "mxc://" + s, hostile_text)))
@counted
def test_parse_mxc_raises_only_attachment_error(url):
    try:
        server, media_id = parse_mxc(url)
    except AttachmentError:
        return
    assert isinstance(url, str) and server.isprintable() and media_id.isprintable() and "/" not in media_id


PLAINTEXT = to_json_bytes(VALID)
CIPHERTEXT, FILE = encrypt_attachment(PLAINTEXT)
FILE = {**FILE, "url": "mxc://localhost/bundle"}


def _record(file: dict) -> ReceivedBundle:
    return ReceivedBundle(ROOM, "@inviter:localhost", "DEVICE", random_key(), {}, file, 0.0, BundleState.IMPORTING)


@examples(300)
@given(st.data())
@counted
def test_the_receivers_decode_step_refuses_damage_with_its_own_errors(data):
    """Damaged ciphertext, damaged description, or a well-encrypted hostile plaintext."""
    which = data.draw(st.sampled_from(["ciphertext", "file", "plaintext"]))
    ciphertext, file = CIPHERTEXT, FILE
    if which == "ciphertext":
        ciphertext = data.draw(damaged_bytes(CIPHERTEXT))
    elif which == "file":
        file = data.draw(mutated(FILE, max_mutations=2))
        assume(check_file_info(file) is None)
        file = minimal_file_info(file)
    else:
        plaintext = data.draw(bundles)
        ciphertext, file = encrypt_attachment(plaintext)
        file = {**file, "url": "mxc://localhost/bundle"}
    try:
        parsed, sessions = BundleImporter._decode(ciphertext, _record(file))
    except (BundleError, AttachmentError) as exc:
        assert str(exc)
        return
    check_parsed(parsed)
    assert len(sessions) == len(parsed.room_keys)
