"""The QA toolbox on a real Synapse: crypto inspector data, event details, key files, doctor."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.integration.test_history_sharing import _room_with_legacy_member, by_event, invited
from tui_client.engine.engine import EngineError

pytestmark = pytest.mark.integration


async def test_inspector_after_a_bundle_import(engines):
    alice, dave, room_id, a1, d1 = await _room_with_legacy_member(engines)
    bob = await engines("bob")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    await bob.load_full_history(room_id)

    report = bob.inspect_room(room_id)
    assert report.history_visibility == "shared" and report.encrypted
    alice_session = by_event(bob, room_id)[a1].session_id
    sess = next(s for s in report.sessions if s.session_id == alice_session)
    assert sess.origin == "bundle" and sess.shared_by == alice.user_id and sess.shareable
    assert sess.origin_detail.startswith(f"shared by {alice.user_id} ({alice.device_id}) in a key bundle on ")
    assert sess.creator_user == alice.user_id and sess.creator_device == alice.device_id
    assert [(w.code, w.via, w.from_user) for w in report.withheld] == [("m.history_not_shared", "bundle", alice.user_id)]
    assert report.withheld[0].session_id == by_event(bob, room_id)[d1].session_id
    [bundle] = report.bundles
    assert bundle.sender == alice.user_id and bundle.state == "imported"
    assert bundle.key_count == len([s for s in report.sessions if s.origin == "bundle"]) and bundle.withheld_count == 1
    assert report.pending_inviter is None
    members = {m.user_id: m for m in report.members}
    assert members[alice.user_id].identity == "pinned"
    assert all(d.cross_signed_by_owner for d in members[alice.user_id].devices)

    details = bob.event_details(room_id, a1)
    assert details.session_id == alice_session and details.sender_device == alice.device_id
    # Alice wrote it and shared its key in her bundle: the details say so, without claiming
    # the key came from someone other than the sender.
    assert details.provenance.startswith(
        f"Alice ({alice.user_id}, device {alice.device_id}) sent this message and shared its key later, in a key bundle"
    )
    assert details.trust == (
        "authenticity rests on the sender's word: the sender shared this key later, in a key bundle, "
        "not with the message"
    )
    assert details.decrypted_json["content"]["body"] == "alice speaks"
    assert details.encrypted_json["type"] == "m.room.encrypted" and "ciphertext" in details.encrypted_json["content"]
    failed = bob.event_details(room_id, d1)
    assert failed.failure_reason.startswith("not shared") and failed.decrypted_json is None
    assert failed.encrypted_json["content"]["session_id"] == failed.session_id


async def test_event_details_say_who_shared_a_key_whether_or_not_it_was_the_sender(engines):
    """Charlie, invited by Bob, reads Alice's message (Bob passed its key on) and Bob's own
    (Bob shared his own key): the trust line and the provenance sentence tell the two apart."""
    alice, bob, charlie = await engines("alice"), await engines("bob"), await engines("charlie")
    room_id = await alice.create_room("Passed on", history_visibility="shared")
    a1 = await alice.send_text(room_id, "alice wrote this")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    b1 = await bob.send_text(room_id, "bob wrote this")
    await bob.invite(room_id, charlie.user_id)
    await invited(charlie, room_id)
    await charlie.join(room_id)
    await charlie.load_full_history(room_id)
    items = by_event(charlie, room_id)
    assert items[a1].provenance.shared_by == bob.user_id and items[b1].provenance.shared_by == bob.user_id
    assert items[a1].provenance.badge == items[b1].provenance.badge == f"🔑 shared by Bob ({bob.user_id})"

    passed_on = charlie.event_details(room_id, a1)
    assert passed_on.trust == (
        f"authenticity not guaranteed: the key came from {bob.user_id} in a key bundle, not from the sender"
    )
    assert passed_on.provenance.startswith(f"Bob ({bob.user_id}, device {bob.device_id}) shared the keys for this message")

    own = charlie.event_details(room_id, b1)
    assert "not from the sender" not in own.trust and "the sender shared this key later" in own.trust
    assert own.provenance.startswith(f"Bob ({bob.user_id}, device {bob.device_id}) sent this message and shared its key later")


async def test_inspector_shows_a_refused_bundle_with_its_reason(engines):
    alice, bob = await engines("alice"), await engines("bob")
    await bob.refresh_keys(alice.user_id)
    await alice.reset_identity(alice.test_user.password)
    room_id = await alice.create_room("Refused")
    await alice.send_text(room_id, "x")
    await alice.invite(room_id, bob.user_id)
    await invited(bob, room_id)
    await bob.join(room_id)
    [bundle] = bob.inspect_room(room_id).bundles
    # refused until bob accepts alice's new identity (then it is evaluated again)
    assert bundle.state == "held" and "identity changed" in bundle.detail
    assert "on hold" in bundle.describe("Alice")


async def test_key_file_round_trip_and_bad_input(engines, tmp_path):
    alice = await engines("alice")
    room_id = await alice.create_room("Keys")
    event_id = await alice.send_text(room_id, "exported")
    path = tmp_path / "keys.txt"
    count = await alice.export_keys(path, "correct horse")
    assert count >= 1 and (path.stat().st_mode & 0o777) == 0o600
    text = path.read_text()
    assert text.startswith("-----BEGIN MEGOLM SESSION DATA-----")

    other = await engines("alice2", user=alice.test_user)  # a second device of alice, no keys yet
    await other.sync_once()
    await other.load_full_history(room_id)
    assert by_event(other, room_id)[event_id].failed
    before = dict(other.client.olm.session_meta)

    with pytest.raises(EngineError, match="wrong passphrase"):
        await other.import_keys(path, "wrong horse")
    damaged = tmp_path / "damaged.txt"
    lines = text.splitlines()
    lines[2] = lines[2][:10] + ("A" if lines[2][10] != "A" else "B") + lines[2][11:]
    damaged.write_text("\n".join(lines))
    with pytest.raises(EngineError, match="wrong passphrase, or the file is damaged"):
        await other.import_keys(damaged, "correct horse")
    junk = tmp_path / "junk.txt"
    junk.write_text("hello")
    with pytest.raises(EngineError, match="not a key export file"):
        await other.import_keys(junk, "correct horse")
    assert other.client.olm.session_meta == before, "failed imports change nothing"

    imported, known, skipped = await other.import_keys(path, "correct horse")
    assert imported == count and skipped == 0
    item = by_event(other, room_id)[event_id]
    assert item.decrypted and item.body == "exported"
    meta = other.client.olm.meta_for(room_id, item.session_id)
    assert meta.origin == "import" and meta.shared_history, "the shareable flag survives the file"
    assert await other.import_keys(path, "correct horse") == (0, count, 0)


def test_doctor_json(homeserver, make_user, cli_env):
    def cli(*args, input=None):
        return subprocess.run([sys.executable, "-m", "tui_client", *args], env=cli_env, input=input,
                              capture_output=True, text=True, timeout=120)

    fresh = json.loads(cli("--profile", "nobody", "doctor", "--json").stdout)
    assert fresh["logged_in"] is False and fresh["versions"]["matrix-nio"] == "0.26.0"
    assert set(fresh["paths"]) >= {"config_file", "data_dir", "log_dir", "profile_dir", "log_file"}
    assert fresh["paths"]["data_dir"].startswith(cli_env["XDG_DATA_HOME"])

    user = make_user("doc")
    assert cli("--profile", "d", "login", "--homeserver", homeserver.url, "--user", user.localpart,
               "--password-stdin", input=user.password + "\n").returncode == 0
    assert cli("--profile", "d", "create-room", "Doctor").returncode == 0
    out = cli("--profile", "d", "doctor", "--json")
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["account"]["user_id"] == user.user_id
    assert report["homeserver"]["reachable"] and "v1.11" in report["homeserver"]["versions"]
    assert report["cross_signing"]["device_verified"] is True
    assert report["store"]["integrity"] == "ok" and report["store"]["sessions_total"] >= 0
    assert report["pending_bundles"] == [] and report["problems"] == []
    assert user.password not in out.stdout
