"""Self-test of the matrix-js-sdk peer harness against a real Synapse.

Two (or three) js-sdk 43 / Rust-crypto peers talk to each other: this proves the harness works and
pins down what Element's crypto stack does on the wire, so that tests of our own client can rely
on it. Each test uses fresh users.
"""
from __future__ import annotations

import asyncio
import json
import secrets
import urllib.parse
import urllib.request

import pytest

from tests.interop.jspeer import JsPeer, JsPeerError

pytestmark = [pytest.mark.interop, pytest.mark.asyncio]

HISTORY = ["history one", "history two", "history three"]


def _by_body(messages: list[dict]) -> dict[str, dict]:
    return {m["body"]: m for m in messages if m["body"] is not None}


async def test_peer_protocol_errors_and_exit(tmp_path):
    """No homeserver needed: errors come back as JsPeerError, and the process exits on quit."""
    peer = JsPeer("lonely", log_dir=tmp_path)
    await peer.start()
    try:
        with pytest.raises(JsPeerError, match="not logged in") as info:
            await peer.whoami()
        assert info.value.cmd == "whoami"
        assert "lonely" in info.value.log_tail  # the log tail rides along
        with pytest.raises(JsPeerError, match="unknown command 'frobnicate'"):
            await peer.call("frobnicate")
        with pytest.raises(JsPeerError, match="missing argument 'roomId'"):
            await peer.call("join")
    finally:
        await peer.stop()
    assert not peer.running
    with pytest.raises(JsPeerError, match="exited|not running"):
        await peer.whoami()


async def test_cross_signing_and_history_sharing_on_invite(js_peer_factory):
    alice = await js_peer_factory("alice")
    bob = await js_peer_factory("bob")

    # 1. cross-signing, and each sees the other's device signed by its owner
    a_xs = await alice.bootstrap_cross_signing()
    b_xs = await bob.bootstrap_cross_signing()
    assert a_xs["crossSigningReady"] and b_xs["crossSigningReady"]
    status = await alice.cross_signing_status()
    assert status["ready"] and status["ownDeviceVerified"]
    assert status["masterKey"] == a_xs["masterKey"]

    bob_dev = await alice.device_info(bob.user_id, bob.device_id)
    assert bob_dev["exists"] and bob_dev["signedByOwner"], bob_dev
    assert not bob_dev["crossSigningVerified"] and not bob_dev["localVerified"]
    alice_dev = await bob.device_info(alice.user_id, alice.device_id)
    assert alice_dev["exists"] and alice_dev["signedByOwner"], alice_dev
    bob_ident = await alice.user_identity(bob.user_id)
    assert bob_ident["known"] and bob_ident["masterKey"] == b_xs["masterKey"], bob_ident
    assert not bob_ident["verified"] and not bob_ident["needsUserApproval"]

    # 2. history shared on invite
    room = await alice.create_room("selftest", history_visibility="shared")
    for body in HISTORY:
        await alice.send(room, body)
    await alice.invite(room, bob.user_id)
    assert await bob.wait_for_invite(room) == alice.user_id
    bundle = await bob.wait_for_room_key_bundle(room, sender=alice.user_id)
    assert bundle["type"] == "m.room_key_bundle" and bundle["encrypted"]
    assert bundle["content"]["file"]["url"].startswith("mxc://")
    assert await bob.join(room) == alice.user_id

    msgs = _by_body(await bob.messages(room, wait_for_bodies=HISTORY, timeout_ms=20000))
    for body in HISTORY:
        m = msgs.get(body)
        assert m is not None, f"{body!r} not decrypted by bob: {msgs}"
        assert m["decrypted"] and m["sender"] == alice.user_id
        assert m["forwardingUser"] == alice.user_id, m
        assert (m["shieldColour"], m["shieldReason"]) == ("GREY", "AUTHENTICITY_NOT_GUARANTEED"), m

    # a message sent after the join arrives by a normal m.room_key: no forwarder
    await alice.wait_for_membership(room, bob.user_id, "join")
    await alice.send(room, "after the join")
    msgs = _by_body(await bob.messages(room, wait_for_bodies=["after the join"], timeout_ms=20000))
    after = msgs.get("after the join")
    assert after is not None and after["decrypted"], msgs
    assert after["forwardingUser"] is None
    assert after["shieldReason"] != "AUTHENTICITY_NOT_GUARANTEED", after

    # and the other way round
    await bob.send(room, "reply from bob")
    msgs = _by_body(await alice.messages(room, wait_for_bodies=["reply from bob"], timeout_ms=20000))
    assert msgs.get("reply from bob", {}).get("decrypted"), msgs


async def test_unshared_history_is_withheld(js_peer_factory):
    """A session created while visibility was `joined` goes into the bundle as withheld."""
    alice = await js_peer_factory("alice", cross_signing=True)
    bob = await js_peer_factory("bob", cross_signing=True)
    room = await alice.create_room("withheld", history_visibility="shared")
    await alice.send(room, "shared before")
    await alice.set_history_visibility(room, "joined")
    hidden = await alice.send(room, "not shared")  # js-sdk rotates the session on the change
    await alice.set_history_visibility(room, "shared")
    await alice.send(room, "shared after")

    flags = {k["session_id"]: k.get("m.shared_history") for k in await alice.export_room_keys()}
    assert sorted(flags.values()) == [False, True, True], flags

    await alice.invite(room, bob.user_id)
    await bob.wait_for_invite(room)
    await bob.join(room)
    msgs = _by_body(await bob.messages(room, wait_for_bodies=["shared before", "shared after"],
                                       timeout_ms=20000))
    assert {"shared before", "shared after"} <= msgs.keys(), msgs
    assert "not shared" not in msgs  # Synapse does not even serve it to bob

    # so fetch it from alice's side and let bob's crypto judge it
    raw = await alice.call("rawEvent", room_id=room, event_id=hidden)
    assert raw["type"] == "m.room.encrypted"
    judged = await bob.call("decryptRawEvent", event=raw)
    assert not judged["decrypted"] and judged["isWithheld"], judged
    assert judged["decryptionFailureReason"] == "MEGOLM_KEY_WITHHELD"
    assert "disabled sharing encrypted history" in judged["failureMessage"]


async def test_secret_storage_recovery_key(js_peer_factory):
    alice = await js_peer_factory("alice", cross_signing=True)
    res = await alice.bootstrap_secret_storage(setup_key_backup=True)
    key = res["recoveryKey"]
    groups = key.split(" ")
    assert key.startswith("Es") and all(len(g) == 4 for g in groups[:-1]) and 1 <= len(groups[-1]) <= 4, key
    raw = _b58decode(key.replace(" ", ""))
    assert len(raw) == 35 and raw[:2] == b"\x8b\x01", raw[:2]
    parity = 0
    for b in raw:
        parity ^= b
    assert parity == 0, "recovery key parity byte is wrong"
    assert res["keyId"] and res["keyBackupVersion"]
    status = await alice.cross_signing_status()
    assert status["status"]["privateKeysInSecretStorage"], status


async def test_room_key_export_import_round_trip(js_peer_factory):
    alice = await js_peer_factory("alice", cross_signing=True)
    carol = await js_peer_factory("carol")
    room = await alice.create_room("export", history_visibility="shared")
    for body in HISTORY[:2]:
        await alice.send(room, body)
    await alice.invite(room, carol.user_id, share_history=False)  # bare /invite: no bundle
    await carol.wait_for_invite(room)
    await carol.join(room)
    before = await carol.messages(room)
    assert [m["decrypted"] for m in before] == [False, False], before

    keys = await alice.export_room_keys()
    assert keys, "alice exported no keys"
    for k in keys:
        assert k["room_id"] == room and k["session_id"] and k["session_key"].startswith("AQAAAA"), k
        # the flag spelling js-sdk 43 / crypto-wasm 18.9.0 (matrix-sdk-crypto 0.19.1) writes in exports
        assert k.get("m.shared_history") is True, k
        assert "shared_history" not in k and "org.matrix.msc3061.shared_history" not in k, k

    await carol.import_room_keys(keys)
    after = _by_body(await carol.messages(room, wait_for_bodies=HISTORY[:2], timeout_ms=20000))
    for body in HISTORY[:2]:
        assert body in after and after[body]["decrypted"], after
        assert after[body]["forwardingUser"] is None  # exports carry no forwarder


async def test_room_key_wire_format(js_peer_factory, homeserver):
    """Decrypt, with a bare vodozemac device, the m.room_key that js-sdk sends, to pin its flag."""
    vodozemac = pytest.importorskip("vodozemac")
    alice = await js_peer_factory("alice", cross_signing=True)
    raw = _RawDevice(vodozemac, homeserver, f"raw-{secrets.token_hex(4)}")
    await asyncio.to_thread(raw.setup)

    seen = {}
    for visibility in ("shared", "joined"):
        room = await alice.create_room(f"wire {visibility}", history_visibility=visibility)
        await alice.invite(room, raw.user_id, share_history=False)
        await asyncio.to_thread(raw.request, "POST", f"/join/{urllib.parse.quote(room)}", {})
        await alice.wait_for_membership(room, raw.user_id, "join")
        await alice.send(room, f"hello {visibility}")
        seen[visibility] = await asyncio.to_thread(raw.wait_for_room_key, room)

    for visibility, expected in (("shared", True), ("joined", False)):
        ev = seen[visibility]
        content = ev["content"]
        assert ev["type"] == "m.room_key" and ev["sender"] == alice.user_id
        assert content.get("m.shared_history") is expected, content
        assert "shared_history" not in content and "org.matrix.msc3061.shared_history" not in content, content
        # MSC4147: the sender's device keys ride along, cross-signed by the self-signing key
        sdk_keys = ev["sender_device_keys"]
        assert sdk_keys["device_id"] == alice.device_id
        assert len(sdk_keys["signatures"][alice.user_id]) == 2, sdk_keys["signatures"]


# --------------------------------------------------------------------------------------- helpers

_B58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58decode(text: str) -> bytes:
    n = 0
    for ch in text:
        n = n * 58 + _B58.index(ch)
    body = n.to_bytes((n.bit_length() + 7) // 8, "big") if n else b""
    return b"\x00" * (len(text) - len(text.lstrip("1"))) + body


def _canonical(obj) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


class _RawDevice:
    """Just enough of a Matrix device (vodozemac + blocking HTTP) to receive one Olm to-device."""

    def __init__(self, vodozemac, homeserver, localpart: str):
        self.vz = vodozemac
        self.hs = homeserver
        self.password = secrets.token_urlsafe(12)
        self.user_id = homeserver.register_user(localpart, self.password)
        self.account = vodozemac.Account()
        self.sessions: list = []
        self.token = self.device_id = self.since = None

    def request(self, method: str, path: str, body=None, timeout: float = 30):
        req = urllib.request.Request(
            f"{self.hs.url}/_matrix/client/v3{path}", method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json",
                     **({"Authorization": f"Bearer {self.token}"} if self.token else {})})
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return json.load(resp)

    def _sign(self, obj: dict) -> dict:
        sig = self.account.sign(_canonical(obj)).to_base64()
        return {**obj, "signatures": {self.user_id: {f"ed25519:{self.device_id}": sig}}}

    def setup(self) -> None:
        login = self.request("POST", "/login", {"type": "m.login.password", "password": self.password,
                                                "identifier": {"type": "m.id.user", "user": self.user_id}})
        self.token, self.device_id = login["access_token"], login["device_id"]
        self.curve = self.account.curve25519_key.to_base64()
        device_keys = self._sign({
            "user_id": self.user_id, "device_id": self.device_id,
            "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
            "keys": {f"curve25519:{self.device_id}": self.curve,
                     f"ed25519:{self.device_id}": self.account.ed25519_key.to_base64()}})
        self.account.generate_one_time_keys(5)
        otks = {f"signed_curve25519:{kid}": self._sign({"key": key.to_base64()})
                for kid, key in self.account.one_time_keys.items()}
        self.account.mark_keys_as_published()
        self.request("POST", "/keys/upload", {"device_keys": device_keys, "one_time_keys": otks})
        self.since = self.request("GET", "/sync?timeout=0")["next_batch"]

    def _decrypt(self, content: dict) -> dict:
        vz = self.vz
        ct = content["ciphertext"][self.curve]
        if ct["type"] == 0:
            msg = vz.PreKeyMessage.from_base64(ct["body"])
            for s in self.sessions:
                if s.session_matches(msg):
                    return json.loads(s.decrypt(msg.to_any()))
            session, plaintext = self.account.create_inbound_session(
                vz.Curve25519PublicKey.from_base64(content["sender_key"]), msg)
            self.sessions.append(session)
            return json.loads(plaintext)
        msg = vz.AnyOlmMessage.normal(vz.Message.from_base64(ct["body"]))
        for s in self.sessions:
            try:
                return json.loads(s.decrypt(msg))
            except Exception:  # noqa: BLE001 - try the next session
                continue
        raise AssertionError("no Olm session decrypts this message")

    def wait_for_room_key(self, room_id: str, attempts: int = 15) -> dict:
        for _ in range(attempts):
            sync = self.request("GET", f"/sync?timeout=2000&since={self.since}")
            self.since = sync["next_batch"]
            for ev in sync.get("to_device", {}).get("events", []):
                if ev["type"] != "m.room.encrypted":
                    continue
                plain = self._decrypt(ev["content"])
                if plain["type"] == "m.room_key" and plain["content"].get("room_id") == room_id:
                    return plain
        raise AssertionError(f"no m.room_key for {room_id} reached the raw device")
