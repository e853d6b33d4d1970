"""Key files between tui_client and matrix-js-sdk (Element's crypto): both directions, with the
MSC4268 shareable flag surviving."""

from __future__ import annotations

import json

import pytest

from tests.helpers import bodies
from tui_client.engine.crypto.key_export import decrypt_export, encrypt_export

pytestmark = [pytest.mark.interop, pytest.mark.integration]


async def test_our_export_imports_into_element(engines, js_peer_factory, tmp_path):
    alice = await engines("alice")
    js = await js_peer_factory("element", cross_signing=True)
    room_id = await alice.create_room("Export", history_visibility="shared")
    await alice.send_text(room_id, "only alice had the key")
    await alice.invite(room_id, js.user_id, share_history=False)
    assert await js.wait_for_invite(room_id) == alice.user_id
    await js.join(room_id)
    before = {m["body"]: m for m in await js.messages(room_id, timeout_ms=5000) if m["type"] == "m.room.encrypted" or m["body"]}
    assert not any(m.get("body") == "only alice had the key" for m in before.values())

    path = tmp_path / "alice-keys.txt"
    await alice.export_keys(path, "s3cret", room_id)
    keys = json.loads(decrypt_export(path.read_text(), "s3cret"))
    await js.import_room_keys(keys)
    msgs = {m["body"]: m for m in await js.messages(room_id, wait_for_bodies=["only alice had the key"], timeout_ms=20000) if m["body"]}
    assert msgs["only alice had the key"]["decrypted"]
    exported_again = {k["session_id"]: k for k in await js.export_room_keys()}
    session_id = keys[0]["session_id"]
    assert exported_again[session_id].get("m.shared_history") is True, "Element kept our shareable flag"


async def test_element_export_imports_into_ours(engines, js_peer_factory, tmp_path):
    js = await js_peer_factory("element", cross_signing=True)
    bob = await engines("bob")
    room_id = await js.create_room("From Element", history_visibility="shared")
    await js.send(room_id, "element's secret")
    await js.invite(room_id, bob.user_id, share_history=False)
    assert await bob.wait_until(lambda: any(i.room_id == room_id for i in bob.invites()))
    await bob.join(room_id)
    await bob.load_full_history(room_id)
    assert not any(i.body == "element's secret" for i in bob.timeline(room_id))

    keys = await js.export_room_keys()
    assert all("m.shared_history" in k for k in keys)
    path = tmp_path / "element-keys.txt"
    path.write_text(encrypt_export(json.dumps(keys).encode(), "pw", rounds=10000))
    imported, _, skipped = await bob.import_keys(path, "pw")
    assert imported >= 1 and skipped == 0
    assert "element's secret" in bodies(bob.timeline(room_id))
    item = next(i for i in bob.timeline(room_id) if i.body == "element's secret")
    meta = bob.client.olm.meta_for(room_id, item.session_id)
    assert meta.origin == "import" and meta.shared_history, "the flag Element wrote is understood"
