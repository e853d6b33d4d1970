"""Importing a hostile bundle into a real store: whatever the file holds, the receiver ends in
a final state with a reason, and a refused bundle changes no key, no session record and no
withheld record, in memory or on disk. Keys held for another room are never touched, even by
a bundle that is accepted."""

from __future__ import annotations

import asyncio
import time

import vodozemac
from hypothesis import event, given
from hypothesis import strategies as st
from nio.crypto import InboundGroupSession

from tests.forge import random_key
from tests.fuzz.profile import counted, examples
from tests.fuzz.strategies import damaged_bytes, mutated, to_json_bytes
from tests.fuzz.world import receiver, shared_receiver, snapshot
from tui_client.engine.crypto.attachments import encrypt_attachment
from tui_client.engine.history_sharing.records import AcceptedInvite, AcceptState, BundleState, ReceivedBundle
from tui_client.engine.room_keys import Origin, SessionMeta

ROOM, OTHER = "!room:localhost", "!other:localhost"
INVITER = "@inviter:localhost"
MEGOLM = "m.megolm.v1.aes-sha2"
CREATOR = random_key()


def _group(index: int = 0) -> tuple[str, dict]:
    """A session's key at index 0, and a bundle entry for it exported at `index`."""
    group = vodozemac.GroupSession()
    first = group.session_key.to_base64()
    inbound = vodozemac.InboundGroupSession(group.session_key)
    return first, {
        "algorithm": MEGOLM, "room_id": ROOM, "sender_key": CREATOR, "session_id": inbound.session_id,
        "session_key": inbound.export_at(index).to_base64(), "sender_claimed_keys": {"ed25519": random_key()},
    }


SHARED, KEY0 = _group()  # its id is also held for OTHER (hole 1)
HELD, KEY1 = _group(3)  # held directly, from index 0 (a bundle must not replace it)
_, KEY2 = _group(1)
WITHHELD = {"algorithm": MEGOLM, "code": "m.history_not_shared", "room_id": ROOM, "session_id": random_key(),
            "reason": "not shared"}
VALID = {"room_keys": [KEY0, KEY1, KEY2, {**KEY2, "room_id": OTHER, "session_id": random_key()}],
         "withheld": [WITHHELD]}


def _seed(olm) -> None:
    direct = [
        (InboundGroupSession(SHARED, "ed", CREATOR, OTHER),
         SessionMeta(OTHER, KEY0["session_id"], CREATOR, False, Origin.DIRECT)),
        (InboundGroupSession(HELD, "ed", CREATOR, ROOM),
         SessionMeta(ROOM, KEY1["session_id"], CREATOR, False, Origin.DIRECT)),
    ]
    from tui_client.engine.nio.olm import changed

    olm.persist(*changed(olm.merge_sessions(direct)))


def _other_rooms(snap: dict) -> dict:
    return {k: [row for row in v if ROOM not in str(row)] for k, v in snap.items()}


plaintexts = st.one_of(
    mutated(VALID, max_mutations=3).map(to_json_bytes),
    damaged_bytes(to_json_bytes(VALID), max_edits=2),
)


@examples(150)
@given(plaintexts, st.booleans())
@counted
def test_a_refused_bundle_changes_nothing_stored(plaintext, damage_ciphertext):
    rx, host = shared_receiver("import", joined={ROOM})
    olm = host.client.olm
    if not olm.session_meta:
        _seed(olm)
    ciphertext, file = encrypt_attachment(plaintext)
    if damage_ciphertext:
        ciphertext = bytes([ciphertext[0] ^ 1]) + ciphertext[1:] if ciphertext else b"x"
    host.ciphertext = ciphertext
    rx.records.put_acceptance(AcceptedInvite(ROOM, INVITER, host.clock() - 10, AcceptState.JOINED, host.clock() - 5))
    rx.records.put_bundle(ReceivedBundle(ROOM, INVITER, "DEVICE", random_key(), {}, {**file, "url": "mxc://x/y"},
                                         host.clock() - 20, BundleState.WAITING))
    before = snapshot(olm)

    result, retry_at = asyncio.run(rx.attempt(ROOM))

    after = snapshot(olm)
    bundle = rx.records.bundle(ROOM, INVITER)
    assert retry_at is None and bundle.state.final, "an import always ends: imported or refused"
    assert _other_rooms(after) == _other_rooms(before), "a bundle for one room touched another room's keys"
    if result.state == "rejected":
        event("refused")
        assert bundle.state is BundleState.REJECTED and bundle.detail == result.detail and result.detail
        assert any("Refused the keys" in n for n in host.notices), "the user is told"
        for table in ("tc_inbound_session", "tc_session_meta", "tc_withheld", "tc_bundle_sessions", "memory", "meta"):
            assert after[table] == before[table], f"a refused bundle changed {table}"
    else:
        event("imported")
        assert result.state == "imported" and bundle.state is BundleState.IMPORTED
        held = olm.inbound_group_store.get(ROOM, CREATOR, KEY1["session_id"])
        assert held.first_known_index == 0, "a bundle never replaces a better key its creator sent us"


def test_the_seed_bundle_imports():
    """Unmutated, the fuzzer's bundle is accepted (so the accepting path is exercised)."""
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        rx, host = receiver(Path(tmp), joined={ROOM})
        _seed(host.client.olm)
        ciphertext, file = encrypt_attachment(to_json_bytes(VALID))
        host.ciphertext = ciphertext
        rx.records.put_acceptance(AcceptedInvite(ROOM, INVITER, time.time(), AcceptState.JOINED))
        host.clock = time.time
        rx.records.put_bundle(ReceivedBundle(ROOM, INVITER, "DEV", random_key(), {}, {**file, "url": "mxc://x/y"},
                                             time.time(), BundleState.WAITING))
        result, _ = asyncio.run(rx.attempt(ROOM))
        assert result.state == "imported" and result.key_count == 3, result
        host.client.olm.app_store.database.close()
