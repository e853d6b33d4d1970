"""The Olm fallback key our machine uploads (nio never does): signed with "fallback": true, part of
the first upload, and replaced only when the server says the one it holds was used."""

from __future__ import annotations

from nio.responses import KeysUploadResponse

from tui_client.engine.crypto.signing import verify_json
from tui_client.engine.nio.olm import AppOlm
from tui_client.engine.nio.store import AppStore


def machine(tmp_path) -> AppOlm:
    store = AppStore("@me:x", "DEV", str(tmp_path), "store-key", "crypto.db")
    return AppOlm("@me:x", "DEV", store)


def uploaded(olm: AppOlm, content: dict) -> None:
    """What a 200 from /keys/upload does to the machine."""
    olm.handle_response(KeysUploadResponse(len(content.get("one_time_keys", {})), 0))


def test_the_first_upload_carries_a_signed_fallback_key(tmp_path):
    olm = machine(tmp_path)
    content = olm.share_keys()
    assert "device_keys" in content and content["one_time_keys"]
    (key_id, fallback), = content["fallback_keys"].items()
    assert key_id.startswith("signed_curve25519:") and fallback["fallback"] is True
    assert verify_json(fallback, "@me:x", "DEV", olm.account.identity_keys["ed25519"])
    uploaded(olm, content)
    assert not olm._unpublished_fallback_keys()


def test_a_used_fallback_key_is_replaced_once(tmp_path):
    olm = machine(tmp_path)
    first = olm.share_keys()
    uploaded(olm, first)
    olm.uploaded_key_count = olm.account.max_one_time_keys  # no one-time keys wanted
    olm.note_unused_fallback_keys(["signed_curve25519"])
    assert not olm.should_upload_keys, "the server still holds an unused one"
    olm.note_unused_fallback_keys([])  # it was claimed
    assert olm.should_upload_keys
    pending = dict(olm._unpublished_fallback_keys())
    olm.note_unused_fallback_keys([])  # the next sync, before the upload went out
    assert dict(olm._unpublished_fallback_keys()).keys() == pending.keys(), "not made twice"
    content = olm.share_keys()
    assert set(content) == {"fallback_keys"}, "only the new fallback key goes up"
    (old_id,), (new_id,) = first["fallback_keys"], content["fallback_keys"]
    assert old_id != new_id
    uploaded(olm, content)
    olm.uploaded_key_count = olm.account.max_one_time_keys
    olm.note_unused_fallback_keys(None)  # a sync that does not say: nothing happens
    olm.note_unused_fallback_keys("signed_curve25519")  # nonsense from the server: nothing either
    assert not olm._unpublished_fallback_keys() and not olm.should_upload_keys
