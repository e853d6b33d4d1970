"""Cross-signing keys from /keys/query, `sender_device_keys`, secret storage payloads from
account data, and recovery keys typed by the user: each returns its result or raises its own
error (`CrossSigningError`, `SecretStorageError`), or a reason string, never anything else."""

from __future__ import annotations

import os

from hypothesis import assume, event, given
from hypothesis import strategies as st

from tests.fuzz.profile import counted, examples
from tests.fuzz.strategies import hostile_text, json_values, mutated
from tests.fuzz.test_fuzz_announcements import CURVE, DEVICE_KEYS, SENDER, SIGNING
from tui_client.engine.crypto.cross_signing import (
    CrossSigningError,
    CrossSigningPrivateKeys,
    UserIdentity,
    check_sender_device_keys,
    device_signed_by_identity,
    identity_from_keys_query,
    parse_cross_signing_key,
)
from tui_client.engine.crypto.secret_storage import (
    MASTER_SECRET,
    SELF_SIGNING_SECRET,
    USER_SIGNING_SECRET,
    SecretStorageError,
    check_key,
    decode_recovery_key,
    decrypt_secret,
    encode_recovery_key,
    encrypt_secret,
    key_from_passphrase,
    make_key_description,
    unlock_cross_signing,
    unlock_cross_signing_with_input,
)

PRIVATE = CrossSigningPrivateKeys.generate()
PUBLIC = PRIVATE.public_keys_payload(SENDER)
SIGNED_DEVICE = PRIVATE.sign_device(dict(DEVICE_KEYS), SENDER)


@examples(300)
@given(st.sampled_from(["master_key", "self_signing_key", "user_signing_key"]).flatmap(
    lambda role: st.tuples(st.just(role), st.one_of(mutated(PUBLIC[role], max_mutations=3), json_values()))))
@counted
def test_a_cross_signing_key_parses_or_is_refused(role_and_obj):
    role, obj = role_and_obj
    usage = role.removesuffix("_key")
    try:
        key = parse_cross_signing_key(obj, SENDER, usage)
    except CrossSigningError as exc:
        event("refused")
        assert str(exc)
        return
    event("accepted")
    assert key.user_id == SENDER and usage in key.usage


@examples(300)
@given(st.data())
@counted
def test_an_identity_from_a_keys_query_is_whole_or_refused(data):
    parts = [data.draw(st.one_of(st.just(PUBLIC[r]), mutated(PUBLIC[r], max_mutations=2), st.none()))
             for r in ("master_key", "self_signing_key", "user_signing_key")]
    try:
        identity = identity_from_keys_query(SENDER, *parts)
    except CrossSigningError as exc:
        event("refused")
        assert str(exc)
        return
    event("accepted")
    assert isinstance(identity, UserIdentity)
    device = data.draw(st.one_of(st.just(SIGNED_DEVICE), mutated(SIGNED_DEVICE, max_mutations=2), json_values()))
    assert device_signed_by_identity(device, identity) in (True, False)


@examples(300)
@given(st.one_of(mutated(DEVICE_KEYS, max_mutations=3), json_values()),
       st.one_of(st.just(SIGNING.public_key), st.just(SIGNING.public_key), hostile_text, st.none()),
       st.one_of(st.just(CURVE), st.just(CURVE), hostile_text))
@counted
def test_sender_device_keys_are_checked_without_raising(device_keys, claimed, curve):
    problem = check_sender_device_keys(device_keys, sender=SENDER, claimed_ed25519=claimed,
                                       olm_sender_curve25519=curve)
    event("refused" if problem else "accepted")
    assert problem is None or (isinstance(problem, str) and problem)


# -- secret storage ---------------------------------------------------------------------------------

KEY = os.urandom(32)
KEY_ID = "keyid"
SEEDS = PRIVATE.to_dict()
ACCOUNT_DATA = {
    "m.secret_storage.default_key": {"key": KEY_ID},
    f"m.secret_storage.key.{KEY_ID}": make_key_description(
        KEY, name="recovery", passphrase={"algorithm": "m.pbkdf2", "salt": "salt", "iterations": 3, "bits": 256}),
    MASTER_SECRET: {"encrypted": {KEY_ID: encrypt_secret(KEY, MASTER_SECRET, SEEDS["master"])}},
    SELF_SIGNING_SECRET: {"encrypted": {KEY_ID: encrypt_secret(KEY, SELF_SIGNING_SECRET, SEEDS["self_signing"])}},
    USER_SIGNING_SECRET: {"encrypted": {KEY_ID: encrypt_secret(KEY, USER_SIGNING_SECRET, SEEDS["user_signing"])}},
}


def _slow(value: object) -> bool:
    """Passphrase settings a hostile server may set that are valid but take seconds to derive."""
    return isinstance(value, int) and not isinstance(value, bool) and 1000 < value <= 10_000_000


def _pbkdf2_iterations(data: dict) -> object:
    description = data.get(f"m.secret_storage.key.{KEY_ID}") if isinstance(data, dict) else None
    params = description.get("passphrase") if isinstance(description, dict) else None
    return params.get("iterations") if isinstance(params, dict) else None


@examples(300)
@given(mutated(ACCOUNT_DATA, max_mutations=3), st.sampled_from([KEY, os.urandom(32), b"", KEY + b"x"]))
@counted
def test_unlocking_hostile_account_data_raises_only_secret_storage_error(account_data, key):
    try:
        seeds = unlock_cross_signing(key, None, account_data)
    except SecretStorageError as exc:
        event(f"refused: {exc.code}")
        assert str(exc) and exc.code
        return
    event("unlocked")
    assert len(seeds.self_signing) == 32 and len(seeds.user_signing) == 32


@examples(150)
@given(mutated(ACCOUNT_DATA, max_mutations=2), st.one_of(
    st.just(encode_recovery_key(KEY)), st.just("passphrase"), hostile_text))
@counted
def test_whatever_the_user_types_is_a_key_a_passphrase_or_a_secret_storage_error(account_data, typed):
    assume(not _slow(_pbkdf2_iterations(account_data)))
    try:
        unlock_cross_signing_with_input(typed, account_data)
        event("unlocked")
    except SecretStorageError as exc:
        event(f"refused: {exc.code}")
        assert str(exc)


@examples(300)
@given(st.one_of(hostile_text, st.just(encode_recovery_key(KEY)),
                 st.builds(lambda k, i, c: k[:i] + c + k[i + 1:], st.just(encode_recovery_key(KEY)),
                           st.integers(0, 58), st.sampled_from("1AaZz9lO0 \t\u00a0\ud800"))))
@counted
def test_a_recovery_key_decodes_or_is_refused(text):
    try:
        key = decode_recovery_key(text)
    except SecretStorageError as exc:
        event("refused")
        assert exc.code == "invalid_recovery_key"
        return
    event("decoded")
    assert len(key) == 32


ENCRYPTED = encrypt_secret(KEY, "m.test", "the secret")


@examples(300)
@given(st.one_of(mutated(ENCRYPTED, max_mutations=3), json_values()), st.one_of(st.just("m.test"), hostile_text),
       st.one_of(mutated(ACCOUNT_DATA[f"m.secret_storage.key.{KEY_ID}"], max_mutations=2), json_values()))
@counted
def test_secrets_and_key_descriptions_are_checked_without_raising(encrypted, name, description):
    try:
        decrypt_secret(KEY, name, encrypted)
        event("decrypted")
    except SecretStorageError as exc:
        event(f"refused: {exc.code}")
    assert check_key(KEY, description) in (True, False)
    params = description.get("passphrase") if isinstance(description, dict) else None
    if isinstance(params, dict) and not _slow(params.get("iterations")):
        try:
            key_from_passphrase("pass", params.get("salt"), params.get("iterations"), params.get("bits", 256))
        except SecretStorageError:
            pass
