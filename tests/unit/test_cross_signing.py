"""Cross-signing: producing our identity, checking other people's, MSC4147."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import vodozemac

from tui_client.engine.crypto.canonical import b64decode, b64encode
from tui_client.engine.crypto.cross_signing import (
    CrossSigningError,
    CrossSigningPrivateKeys,
    UserIdentity,
    check_sender_device_keys,
    device_signed_by_identity,
    identity_from_keys_query,
    master_key_signed_by_us,
    parse_cross_signing_key,
    private_seeds_match,
)
from tui_client.engine.crypto.signing import Ed25519Key, sign_json, signed_bytes, verify_json

# matrix-org/matrix-js-sdk spec/test-utils/test-data/index.ts:
# SIGNED_CROSS_SIGNING_KEYS_DATA and the private seeds behind it.
ALICE = "@alice:localhost"
JS_SEEDS = {
    "master": "ZG95b3VzcGVha3doYWFhYWFhYWFhYWFhYWFhYWFhbGU",
    "self_signing": "c2VsZnNlbGZzZWxmc2VsZnNlbGZzZWxmc2VsZnNlbGY",
    "user_signing": "dXNlcnVzZXJ1c2VydXNlcnVzZXJ1c2VydXNlcnVzZXI",
}
JS_MSK = "J+5An10v1vzZpAXTYFokD1/PEVccFnLC61EfRXit0UY"
JS_SSK = "aU2+2CyXQTCuDcmWW0EL2bhJ6PdjFW2LbAsbHqf02AY"
JS_USK = "g5TC/zjQXyZYuDLZv7a41z5fFVrXpYPypG//AFQj8hY"
JS_KEYS_QUERY: dict[str, Any] = {
    "master_keys": {
        ALICE: {"keys": {"ed25519:" + JS_MSK: JS_MSK}, "user_id": ALICE, "usage": ["master"]}
    },
    "self_signing_keys": {
        ALICE: {
            "keys": {"ed25519:" + JS_SSK: JS_SSK},
            "user_id": ALICE,
            "usage": ["self_signing"],
            "signatures": {
                ALICE: {
                    "ed25519:" + JS_MSK: "XfhYEhZmOs8BJdb3viatILBZ/bElsHXEW28V4tIaY5CxrBR0YOym"
                    "3yZHWmRmypXessHZAKOhZn3yBMXzdajyCw"
                }
            },
        }
    },
    "user_signing_keys": {
        ALICE: {
            "keys": {"ed25519:" + JS_USK: JS_USK},
            "user_id": ALICE,
            "usage": ["user_signing"],
            "signatures": {
                ALICE: {
                    "ed25519:" + JS_MSK: "6AkD1XM2H0/ebgP9oBdMKNeft7uxsrb0XN1CsjjHgeZCvCTMmv3B"
                    "HlLiT/Hzy4fe8H+S1tr484dcXN/PIdnfDA"
                }
            },
        }
    },
}

# matrix-org/matrix-rust-sdk crates/matrix-sdk/tests/integration/encryption/secret_storage.rs
# (test_restore_cross_signing_from_secret_store): a /keys/query answer whose MSK
# also carries a device signature.
MORPHEUS = "@example:morpheus.localhost"
RS_MSK = "fKJdf5b3ga1hshUT5obkBteMNTtLkfy8qh4h5/XLNew"
RS_SSK = "vsEoa0HHxc8hmlWgoohTQBGWcCRh1BFoTzI8HNIxg5Q"
RS_USK = "IGfFj6KhzqBWxiMm6/e+Pu/x/5NV6a7iEe8AKhuRiq0"
RS_KEYS_QUERY: dict[str, Any] = {
    "master_keys": {
        MORPHEUS: {
            "keys": {"ed25519:" + RS_MSK: RS_MSK},
            "signatures": {
                MORPHEUS: {
                    "ed25519:QLEYYETKXR": "2UCY7IS+5NFdzGGPgyovI2+uHM13pbrsAJIUp0daUCzJdl6hvp5rK/"
                    "6L5AgyxiVAhbK/XT4lDDJeSymeJAs7Cg"
                }
            },
            "usage": ["master"],
            "user_id": MORPHEUS,
        }
    },
    "self_signing_keys": {
        MORPHEUS: {
            "keys": {"ed25519:" + RS_SSK: RS_SSK},
            "signatures": {
                MORPHEUS: {
                    "ed25519:" + RS_MSK: "YFvSUX40E81EO8jibgn+kklMFkqfGTDPcENsq6UEepMY9UUOp9iredNC"
                    "A/NR2INlfq4gkQhMJk2QRGZ31pQZCg"
                }
            },
            "usage": ["self_signing"],
            "user_id": MORPHEUS,
        }
    },
    "user_signing_keys": {
        MORPHEUS: {
            "keys": {"ed25519:" + RS_USK: RS_USK},
            "signatures": {
                MORPHEUS: {
                    "ed25519:" + RS_MSK: "+b9IdTCC7WezR/XJX+K/wI7DukcTOfBukyy9iyZJP3SFZCNWVRmMG1Ku"
                    "c8iQg8txSNY5NP0M3PI/Srv9nHZjDQ"
                }
            },
            "usage": ["user_signing"],
            "user_id": MORPHEUS,
        }
    },
}


def _identity_of(query: dict[str, Any], user: str) -> UserIdentity:
    return identity_from_keys_query(
        user,
        query["master_keys"][user],
        query["self_signing_keys"].get(user),
        query["user_signing_keys"].get(user),
    )


def _device(user_id: str, device_id: str = "DEV") -> tuple[dict[str, Any], vodozemac.Account]:
    """A device-keys object self-signed by a real vodozemac (Olm) account."""
    account = vodozemac.Account()
    obj = {
        "user_id": user_id,
        "device_id": device_id,
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "keys": {
            f"ed25519:{device_id}": account.ed25519_key.to_base64(),
            f"curve25519:{device_id}": account.curve25519_key.to_base64(),
        },
    }
    obj["signatures"] = {
        user_id: {f"ed25519:{device_id}": account.sign(signed_bytes(obj)).to_base64()}
    }
    return obj, account


@pytest.fixture(scope="module")
def alice_keys() -> CrossSigningPrivateKeys:
    return CrossSigningPrivateKeys.generate()


@pytest.fixture(scope="module")
def alice_payload(alice_keys: CrossSigningPrivateKeys) -> dict[str, Any]:
    return alice_keys.public_keys_payload("@alice:x")


# --- known-answer vectors -----------------------------------------------------


def test_js_sdk_identity_parses_and_our_keys_reproduce_it() -> None:
    identity = _identity_of(JS_KEYS_QUERY, ALICE)
    assert (identity.master.public_key, identity.self_signing.public_key) == (JS_MSK, JS_SSK)  # type: ignore[union-attr]
    assert identity.user_signing is not None and identity.user_signing.public_key == JS_USK

    keys = CrossSigningPrivateKeys.from_dict(JS_SEEDS)
    payload = keys.public_keys_payload(ALICE)
    # Ed25519 is deterministic: our payload must equal js-sdk's byte for byte.
    assert payload["master_key"] == JS_KEYS_QUERY["master_keys"][ALICE]
    assert payload["self_signing_key"] == JS_KEYS_QUERY["self_signing_keys"][ALICE]
    assert payload["user_signing_key"] == JS_KEYS_QUERY["user_signing_keys"][ALICE]
    assert keys.to_dict() == JS_SEEDS
    assert keys.identity(ALICE) == identity


def test_rust_sdk_identity_parses() -> None:
    identity = _identity_of(RS_KEYS_QUERY, MORPHEUS)
    assert identity.master.public_key == RS_MSK
    assert identity.self_signing is not None and identity.self_signing.public_key == RS_SSK
    assert identity.user_signing is not None and identity.user_signing.public_key == RS_USK


# --- round trips ----------------------------------------------------------------


def test_payload_shape(alice_keys: CrossSigningPrivateKeys, alice_payload: dict[str, Any]) -> None:
    msk = alice_keys.master.public_key
    assert alice_payload["master_key"] == {
        "user_id": "@alice:x",
        "usage": ["master"],
        "keys": {"ed25519:" + msk: msk},
    }
    for field, usage in (
        ("self_signing_key", "self_signing"),
        ("user_signing_key", "user_signing"),
    ):
        obj = alice_payload[field]
        assert obj["usage"] == [usage]
        assert set(obj["signatures"]["@alice:x"]) == {"ed25519:" + msk}


def test_device_signer_signs_master_key(alice_keys: CrossSigningPrivateKeys) -> None:
    account = vodozemac.Account()

    def device_signer(obj: dict[str, Any]) -> dict[str, Any]:
        signed = copy.deepcopy(obj)
        sig = account.sign(signed_bytes(obj)).to_base64()
        signed.setdefault("signatures", {}).setdefault("@alice:x", {})["ed25519:DEV"] = sig
        return signed

    payload = alice_keys.public_keys_payload("@alice:x", device_signer=device_signer)
    assert verify_json(payload["master_key"], "@alice:x", "DEV", account.ed25519_key.to_base64())
    identity = identity_from_keys_query(
        "@alice:x", payload["master_key"], payload["self_signing_key"], payload["user_signing_key"]
    )
    assert identity.master.public_key == alice_keys.master.public_key


def test_sign_own_device_then_verify(alice_keys: CrossSigningPrivateKeys) -> None:
    identity = alice_keys.identity("@alice:x")
    device, _ = _device("@alice:x")
    assert not device_signed_by_identity(device, identity)
    signed = alice_keys.sign_device(device, "@alice:x")
    assert device_signed_by_identity(signed, identity)
    assert "@alice:x" in signed["signatures"] and len(signed["signatures"]["@alice:x"]) == 2
    assert "unsigned" not in signed


def test_sign_device_refuses_other_users(alice_keys: CrossSigningPrivateKeys) -> None:
    device, _ = _device("@bob:x")
    with pytest.raises(CrossSigningError):
        alice_keys.sign_device(device, "@alice:x")
    with pytest.raises(CrossSigningError):
        alice_keys.sign_device({"user_id": "@alice:x"}, "@alice:x")


def test_user_signing_round_trip(alice_keys: CrossSigningPrivateKeys) -> None:
    bob_keys = CrossSigningPrivateKeys.generate()
    bob_payload = bob_keys.public_keys_payload("@bob:x")
    alice_identity = alice_keys.identity("@alice:x")
    bob_identity = bob_keys.identity("@bob:x")
    assert not master_key_signed_by_us(bob_identity, alice_identity)

    signed_msk = alice_keys.sign_master_key_of(bob_payload["master_key"], "@alice:x")
    bob_seen = identity_from_keys_query("@bob:x", signed_msk, bob_payload["self_signing_key"], None)
    assert master_key_signed_by_us(bob_seen, alice_identity)
    # A different "us" did not sign it.
    assert not master_key_signed_by_us(
        bob_seen, CrossSigningPrivateKeys.generate().identity("@alice:x")
    )
    # We without a USK cannot have signed anything.
    no_usk = identity_from_keys_query(
        "@alice:x",
        alice_identity.master.raw,
        alice_identity.self_signing.raw,
        None,  # type: ignore[union-attr]
    )
    assert not master_key_signed_by_us(bob_seen, no_usk)
    assert not master_key_signed_by_us("junk", alice_identity)  # type: ignore[arg-type]


def test_sign_master_key_of_rejects_bad_input(alice_keys: CrossSigningPrivateKeys) -> None:
    own = alice_keys.public_keys_payload("@alice:x")["master_key"]
    bad_inputs: list[object] = [
        None,
        "x",
        {},
        own,
        {"user_id": "@bob:x", "usage": ["master"], "keys": {}},
    ]
    for bad in bad_inputs:
        with pytest.raises(CrossSigningError):
            alice_keys.sign_master_key_of(bad, "@alice:x")  # type: ignore[arg-type]


def test_private_keys_dict_round_trip_and_errors(alice_keys: CrossSigningPrivateKeys) -> None:
    again = CrossSigningPrivateKeys.from_dict(alice_keys.to_dict())
    assert again.master.public_key == alice_keys.master.public_key
    good = alice_keys.to_dict()
    for bad in (
        None,
        [],
        {},
        {**good, "master": "!!"},
        {**good, "user_signing": b64encode(b"x" * 31)},
        {**good, "self_signing": None},
        {**good, "master": 5},
    ):
        with pytest.raises(CrossSigningError):
            CrossSigningPrivateKeys.from_dict(bad)


def test_private_seeds_match(alice_keys: CrossSigningPrivateKeys) -> None:
    identity = alice_keys.identity("@alice:x")
    assert (
        private_seeds_match(
            identity,
            master=alice_keys.master.seed,
            self_signing=alice_keys.self_signing.seed,
            user_signing=alice_keys.user_signing.seed,
        )
        is None
    )
    assert private_seeds_match(identity, self_signing=alice_keys.self_signing.seed) is None
    reason = private_seeds_match(identity, self_signing=alice_keys.user_signing.seed)
    assert reason == "the private self-signing key does not match the published one"
    assert "32-byte" in (private_seeds_match(identity, master=b"short") or "")
    no_usk = identity_from_keys_query("@alice:x", identity.master.raw, None, None)
    assert "no user-signing key" in (private_seeds_match(no_usk, user_signing=bytes(32)) or "")


# --- hostile identities -----------------------------------------------------------


def _ssk_signed_by(
    key: Ed25519Key, user_id: str, ssk_public: str, signer_id: str
) -> dict[str, Any]:
    obj = {
        "user_id": user_id,
        "usage": ["self_signing"],
        "keys": {"ed25519:" + ssk_public: ssk_public},
    }
    return sign_json(obj, key, user_id, signer_id)


def test_ssk_not_signed_by_msk(
    alice_keys: CrossSigningPrivateKeys, alice_payload: dict[str, Any]
) -> None:
    msk = alice_payload["master_key"]
    ssk_public = alice_keys.self_signing.public_key
    forged = [
        # signed by some other key but claiming to be the MSK's signature
        _ssk_signed_by(Ed25519Key.generate(), "@alice:x", ssk_public, alice_keys.master.public_key),
        # signed by the MSK under a different key id
        _ssk_signed_by(alice_keys.master, "@alice:x", ssk_public, "OTHER"),
        # signed by the MSK for another user entry
        sign_json(
            {**alice_payload["self_signing_key"], "signatures": {}},
            alice_keys.master,
            "@mallory:x",
            alice_keys.master.public_key,
        ),
        # no signatures at all
        {k: v for k, v in alice_payload["self_signing_key"].items() if k != "signatures"},
        # valid signature, but the key was swapped afterwards
        {**alice_payload["self_signing_key"], "keys": {"ed25519:" + JS_SSK: JS_SSK}},
        # truncated signature
        {
            **alice_payload["self_signing_key"],
            "signatures": {
                "@alice:x": {
                    "ed25519:" + alice_keys.master.public_key: alice_payload["self_signing_key"][
                        "signatures"
                    ]["@alice:x"]["ed25519:" + alice_keys.master.public_key][:-4]
                }
            },
        },
    ]
    for ssk in forged:
        with pytest.raises(CrossSigningError, match="self-signing key is not signed by"):
            identity_from_keys_query("@alice:x", msk, ssk, None)


def test_usk_signed_by_a_different_msk(alice_payload: dict[str, Any]) -> None:
    other = CrossSigningPrivateKeys.generate().public_keys_payload("@alice:x")
    with pytest.raises(CrossSigningError, match="user-signing key is not signed by"):
        identity_from_keys_query(
            "@alice:x",
            alice_payload["master_key"],
            alice_payload["self_signing_key"],
            other["user_signing_key"],
        )
    # The other MSK with our SSK: also refused.
    with pytest.raises(CrossSigningError, match="self-signing key"):
        identity_from_keys_query(
            "@alice:x", other["master_key"], alice_payload["self_signing_key"], None
        )


def _key_obj(public: str, **changes: Any) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "user_id": "@a:x",
        "usage": ["master"],
        "keys": {"ed25519:" + public: public},
    }
    obj.update(changes)
    return obj


_PUB = Ed25519Key.from_seed(b"p" * 32).public_key
_PUB2 = Ed25519Key.from_seed(b"q" * 32).public_key


@pytest.mark.parametrize(
    ("obj", "reason"),
    [
        (None, "not a JSON object"),
        ([_key_obj(_PUB)], "not a JSON object"),
        ("master", "not a JSON object"),
        (_key_obj(_PUB, user_id="@b:x"), "belongs to '@b:x'"),
        (_key_obj(_PUB, user_id=None), "belongs to None"),
        (_key_obj(_PUB, user_id="@b:" + "x" * 500), "belongs to"),
        (_key_obj(_PUB, usage=["self_signing"]), "does not include 'master'"),
        (_key_obj(_PUB, usage="master"), "not a list of strings"),
        (_key_obj(_PUB, usage=[1]), "not a list of strings"),
        (_key_obj(_PUB, usage=None), "not a list of strings"),
        (
            _key_obj(_PUB, keys={"ed25519:" + _PUB: _PUB, "ed25519:" + _PUB2: _PUB2}),
            "exactly one key",
        ),
        (_key_obj(_PUB, keys={}), "exactly one key"),
        (_key_obj(_PUB, keys=None), "exactly one key"),
        (_key_obj(_PUB, keys=[_PUB]), "exactly one key"),
        (_key_obj(_PUB, keys={"curve25519:" + _PUB: _PUB}), "not an ed25519 key"),
        (_key_obj(_PUB, keys={"ed25519:" + _PUB: _PUB2}), "key id and key value differ"),
        (_key_obj(_PUB, keys={"ed25519:" + _PUB: None}), "key id and key value differ"),
        (_key_obj(_PUB, keys={"ed25519:abc!": "abc!"}), "not a valid Ed25519 public key"),
        (
            _key_obj(_PUB, keys={"ed25519:" + b64encode(b"k" * 31): b64encode(b"k" * 31)}),
            "not a valid",
        ),
        (_key_obj(_PUB, keys={"ed25519:" + _PUB + "=": _PUB + "="}), "not a valid"),
        (
            _key_obj(
                _PUB,
                keys={
                    "ed25519:" + b64encode(bytes([1]) + bytes(31)): b64encode(
                        bytes([1]) + bytes(31)
                    )
                },
            ),
            "not a valid",
        ),
        (_key_obj(_PUB, extra=1.5), "not valid canonical JSON"),
        (_key_obj(_PUB, extra=2**60), "not valid canonical JSON"),
    ],
)
def test_parse_cross_signing_key_rejections(obj: object, reason: str) -> None:
    with pytest.raises(CrossSigningError) as info:
        parse_cross_signing_key(obj, "@a:x", "master")
    assert reason in str(info.value)
    assert len(str(info.value)) < 200


def test_parse_accepts_extra_usages_and_fields() -> None:
    key = parse_cross_signing_key(
        _key_obj(_PUB, usage=["master", "x"], other={"a": 1}), "@a:x", "master"
    )
    assert key.usage == ("master", "x") and key.public_key == _PUB
    hash(key)  # usable as a dict key / in sets despite the raw dict


def test_identity_requires_valid_msk() -> None:
    for bad in (None, {}, _key_obj(_PUB, usage=["self_signing"]), _key_obj(_PUB, user_id="@z:x")):
        with pytest.raises(CrossSigningError):
            identity_from_keys_query("@a:x", bad, None, None)


def test_identity_user_id_mismatch_in_subkeys(alice_keys: CrossSigningPrivateKeys) -> None:
    mallory = alice_keys.public_keys_payload("@mallory:x")
    alice = alice_keys.public_keys_payload("@alice:x")
    with pytest.raises(CrossSigningError, match="belongs to '@mallory:x'"):
        identity_from_keys_query("@alice:x", alice["master_key"], mallory["self_signing_key"], None)
    # SSK offered where the USK should be: usage mismatch.
    with pytest.raises(CrossSigningError, match="does not include 'user_signing'"):
        identity_from_keys_query("@alice:x", alice["master_key"], None, alice["self_signing_key"])


# --- device checks --------------------------------------------------------------


def _signed_alice_device(keys: CrossSigningPrivateKeys) -> dict[str, Any]:
    device, _ = _device("@alice:x")
    return keys.sign_device(device, "@alice:x")


def test_device_signed_by_identity_rejects_tampering(alice_keys: CrossSigningPrivateKeys) -> None:
    identity = alice_keys.identity("@alice:x")
    good = _signed_alice_device(alice_keys)
    assert device_signed_by_identity(good, identity)
    ssk_id = "ed25519:" + alice_keys.self_signing.public_key
    other_ssk = Ed25519Key.generate()

    def variant(fn: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
        copy_ = copy.deepcopy(good)
        fn(copy_)
        return copy_

    bad = [
        variant(lambda d: d["keys"].__setitem__("curve25519:DEV", b64encode(bytes(32)))),
        variant(lambda d: d.__setitem__("extra", "field")),
        variant(lambda d: d["algorithms"].append("m.fake")),
        variant(lambda d: d["signatures"]["@alice:x"].pop(ssk_id)),
        variant(lambda d: d["signatures"]["@alice:x"].pop("ed25519:DEV")),
        variant(
            lambda d: d["signatures"]["@alice:x"].__setitem__(
                ssk_id, other_ssk.sign(signed_bytes(d))
            )
        ),
        variant(
            lambda d: d["signatures"]["@alice:x"].__setitem__(
                ssk_id, d["signatures"]["@alice:x"][ssk_id][:-3]
            )
        ),
        variant(lambda d: d.__setitem__("user_id", "@bob:x")),
        variant(lambda d: d.__setitem__("device_id", "OTHER")),
        variant(lambda d: d.__setitem__("keys", {})),
        variant(lambda d: d.__setitem__("signatures", None)),
    ]
    for device in bad:
        assert device_signed_by_identity(device, identity) is False
    # Cross-signed by a *different* identity of the same user.
    assert not device_signed_by_identity(
        good, CrossSigningPrivateKeys.generate().identity("@alice:x")
    )
    # Identity without an SSK cannot vouch for devices.
    assert not device_signed_by_identity(
        good, identity_from_keys_query("@alice:x", identity.master.raw, None, None)
    )


def test_device_id_colliding_with_cross_signing_key_is_refused(
    alice_keys: CrossSigningPrivateKeys,
) -> None:
    # A hostile server could present the SSK itself as a "device": the SSK's
    # own signature would then count as both the self- and the SSK-signature.
    ssk = alice_keys.self_signing
    fake = {
        "user_id": "@alice:x",
        "device_id": ssk.public_key,
        "keys": {"ed25519:" + ssk.public_key: ssk.public_key},
    }
    fake = sign_json(fake, ssk, "@alice:x", ssk.public_key)
    assert verify_json(fake, "@alice:x", ssk.public_key, ssk.public_key)
    assert not device_signed_by_identity(fake, alice_keys.identity("@alice:x"))


def test_js_sdk_device_is_not_cross_signed() -> None:
    device = {
        "algorithms": ["m.olm.v1.curve25519-aes-sha2", "m.megolm.v1.aes-sha2"],
        "device_id": "test_device",
        "keys": {
            "curve25519:test_device": "F4uCNNlcbRvc7CfBz95ZGWBvY1ALniG1J8+6rhVoKS0",
            "ed25519:test_device": "YI/7vbGVLpGdYtuceQR8MSsKB/QjgfMXM1xqnn+0NWU",
        },
        "user_id": ALICE,
        "signatures": {
            ALICE: {
                "ed25519:test_device": "LmQC/yAUZJmkxZ+3L0nEwvtVWOzjqQqADWBhk+C47SPa"
                "FYHeV+E291mgXaSCJVeGltX+HC49Aw7nb6ga7sw0Aw"
            }
        },
    }
    identity = _identity_of(JS_KEYS_QUERY, ALICE)
    assert not device_signed_by_identity(device, identity)
    keys = CrossSigningPrivateKeys.from_dict(JS_SEEDS)
    assert device_signed_by_identity(keys.sign_device(device, ALICE), identity)


# --- MSC4147 --------------------------------------------------------------------


def test_sender_device_keys_ok_and_each_failure() -> None:
    device, account = _device("@s:x", "SDEV")
    ed = account.ed25519_key.to_base64()
    curve = account.curve25519_key.to_base64()
    ok = {"sender": "@s:x", "claimed_ed25519": ed, "olm_sender_curve25519": curve}
    assert check_sender_device_keys(device, **ok) is None
    # The key strings may come padded from some paths.
    assert check_sender_device_keys(device, **{**ok, "olm_sender_curve25519": curve + "="}) is None

    other = vodozemac.Account()
    cases: list[tuple[object, dict[str, Any], str]] = [
        ("nope", ok, "not an object"),
        (device, {**ok, "sender": "@t:x"}, "different user"),
        ({**device, "device_id": None}, ok, "no device_id"),
        ({**device, "keys": []}, ok, "no keys"),
        ({**device, "keys": {"curve25519:SDEV": curve}}, ok, "no ed25519 key"),
        ({**device, "keys": {"ed25519:SDEV": ed}}, ok, "no curve25519 key"),
        (device, {**ok, "claimed_ed25519": None}, "does not claim"),
        (device, {**ok, "claimed_ed25519": other.ed25519_key.to_base64()}, "ed25519 key differs"),
        (
            device,
            {**ok, "olm_sender_curve25519": other.curve25519_key.to_base64()},
            "curve25519 key differs",
        ),
        (device, {**ok, "olm_sender_curve25519": "garbage"}, "curve25519 key differs"),
        ({**device, "signatures": {}}, ok, "self-signature"),
        ({**device, "algorithms": []}, ok, "self-signature"),
    ]
    for obj, kwargs, reason in cases:
        result = check_sender_device_keys(obj, **kwargs)
        assert result is not None and reason in result, (obj, kwargs, result)

    # Claimed keys swapped consistently to an attacker's device still fail the
    # self-signature (the object is signed by the real device).
    swapped = copy.deepcopy(device)
    swapped["keys"]["ed25519:SDEV"] = other.ed25519_key.to_base64()
    reason = check_sender_device_keys(
        swapped, **{**ok, "claimed_ed25519": other.ed25519_key.to_base64()}
    )
    assert reason is not None and "self-signature" in reason


# --- fuzz: every mutation fails cleanly ---------------------------------------


_JUNK: list[object] = [
    None,
    True,
    0,
    -1,
    2**64,
    10**30,
    1.5,
    "",
    "x",
    "!!!",
    [],
    [1],
    {},
    {"a": None},
    b"b",
]


def _mutations(obj: object) -> Iterator[object]:
    """Yield copies of ``obj`` with one value replaced by junk or one key removed."""
    if isinstance(obj, dict):
        for key in list(obj):
            for junk in _JUNK:
                yield {**obj, key: junk}
            yield {k: v for k, v in obj.items() if k != key}
            for inner in _mutations(obj[key]):
                yield {**obj, key: inner}
    elif isinstance(obj, list):
        for i in range(len(obj)):
            for junk in _JUNK[:5]:
                yield [*obj[:i], junk, *obj[i + 1 :]]


def test_fuzz_identity_and_device_checks(
    alice_keys: CrossSigningPrivateKeys, alice_payload: dict[str, Any]
) -> None:
    identity = alice_keys.identity("@alice:x")
    count = 0
    for field in ("master_key", "self_signing_key", "user_signing_key"):
        for mutated in _mutations(alice_payload[field]):
            args = {
                k: alice_payload[k] for k in ("master_key", "self_signing_key", "user_signing_key")
            }
            args[field] = mutated
            try:
                result = identity_from_keys_query(
                    "@alice:x",
                    args["master_key"],
                    args["self_signing_key"],
                    args["user_signing_key"],
                )
            except CrossSigningError:
                count += 1
                continue
            # Only mutations outside the signed content may survive.
            assert result.master.public_key == alice_keys.master.public_key
    assert count > 100

    device = _signed_alice_device(alice_keys)
    for mutated in _mutations(device):
        assert isinstance(device_signed_by_identity(mutated, identity), bool)
        assert (
            check_sender_device_keys(
                mutated, sender="@alice:x", claimed_ed25519="x", olm_sender_curve25519="y"
            )
            is not None
        )


@pytest.mark.parametrize("junk", _JUNK)
def test_junk_never_raises_unexpected(junk: object, alice_keys: CrossSigningPrivateKeys) -> None:
    identity = alice_keys.identity("@alice:x")
    assert device_signed_by_identity(junk, identity) is False
    assert device_signed_by_identity({}, junk) is False  # type: ignore[arg-type]
    assert master_key_signed_by_us(junk, identity) is False  # type: ignore[arg-type]
    assert isinstance(
        check_sender_device_keys(
            junk, sender=junk, claimed_ed25519=junk, olm_sender_curve25519=junk
        ),  # type: ignore[arg-type]
        str,
    )
    with pytest.raises(CrossSigningError):
        identity_from_keys_query("@alice:x", junk, None, None)
    if junk is not None:
        with pytest.raises(CrossSigningError):
            identity_from_keys_query("@alice:x", identity.master.raw, junk, None)


def test_deeply_nested_hostile_object() -> None:
    deep: object = "x"
    for _ in range(20_000):
        deep = [deep]
    obj = _key_obj(_PUB, extra=deep)
    with pytest.raises(CrossSigningError):
        parse_cross_signing_key(obj, "@a:x", "master")
    device, account = _device("@d:x")
    device["extra"] = deep
    assert (
        check_sender_device_keys(
            device,
            sender="@d:x",
            claimed_ed25519=account.ed25519_key.to_base64(),
            olm_sender_curve25519=account.curve25519_key.to_base64(),
        )
        is not None
    )


def test_b64_helpers_used_consistently() -> None:
    # Sanity: the public key string round-trips through our decoder unchanged.
    assert b64encode(b64decode(JS_MSK)) == JS_MSK
