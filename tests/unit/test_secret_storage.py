"""Secret storage: recovery keys, passphrases, aes-hmac-sha2, unlocking cross-signing seeds."""

from __future__ import annotations

import contextlib
import copy
import hashlib
import hmac
import os
from typing import Any

import pytest

from tui_client.engine.crypto.canonical import b64decode, b64encode
from tui_client.engine.crypto.cross_signing import identity_from_keys_query, private_seeds_match
from tui_client.engine.crypto.secret_storage import (
    AES_HMAC_SHA2,
    MAX_PBKDF2_ITERATIONS,
    SecretStorageError,
    check_key,
    decode_recovery_key,
    decrypt_secret,
    default_key_id,
    derive_aes_hmac_keys,
    encode_recovery_key,
    encrypt_secret,
    key_from_passphrase,
    make_key_description,
    unlock_cross_signing,
    unlock_cross_signing_with_input,
)
from tui_client.engine.crypto.signing import Ed25519Key

# --- vectors from matrix-org/matrix-rust-sdk -------------------------------------
# crates/matrix-sdk-crypto/src/secret_storage.rs, test `base58_parsing`.
RS_BASE58 = "EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRK"
RS_BASE58_KEY = bytes(
    [
        159,
        189,
        70,
        187,
        52,
        81,
        113,
        198,
        246,
        2,
        44,
        154,
        37,
        213,
        104,
        27,
        165,
        78,
        236,
        106,
        108,
        73,
        83,
        243,
        173,
        192,
        185,
        110,
        157,
        145,
        173,
        163,
    ]
)
# Same file, test `from_account_data_and_passphrase` (unpadded iv/mac, 10 iterations).
RS_PASSPHRASE = "It's a secret to everybody"
RS_PASSPHRASE_DESCRIPTION = {
    "algorithm": AES_HMAC_SHA2,
    "iv": "gH2iNpiETFhApvW6/FFEJQ",
    "mac": "9Lw12m5SKDipNghdQXKjgpfdj1/K7HFI2brO+UWAGoM",
    "passphrase": {
        "algorithm": "m.pbkdf2",
        "salt": "IuLnH7S85YtZmkkBJKwNUKxWF42g9O1H",
        "iterations": 10,
    },
}
# crates/matrix-sdk/tests/integration/encryption/secret_storage.rs,
# test_restore_cross_signing_from_secret_store: a full 4S account (padded base64,
# as Element writes it) and the public keys /keys/query returns for it
# (RS_MSK/RS_SSK/RS_USK, also used in test_cross_signing.py).
RS_RECOVERY_KEY = "EsTj 3yST y93F SLpB jJsz eAXc 2XzA ygD3 w69H fGaN TKBj jXEd"
RS_KEY_ID = "bmur2d9ypPUH1msSwCxQOJkuKRmJI55e"
RS_ACCOUNT_DATA: dict[str, Any] = {
    "m.secret_storage.default_key": {"key": RS_KEY_ID},
    "m.secret_storage.key." + RS_KEY_ID: {
        "algorithm": AES_HMAC_SHA2,
        "iv": "xv5b6/p3ExEw++wTyfSHEg==",
        "mac": "ujBBbXahnTAMkmPUX2/0+VTfUh63pGyVRuBcDMgmJC8=",
    },
    "m.cross_signing.master": {
        "encrypted": {
            RS_KEY_ID: {
                "ciphertext": "lCRSSA1lChONEXj/8RyogsgAa8ouQwYDnLr4XBCheRikrZykLRzPCx3doCE=",
                "iv": "bdfCwu+ECYgZ/jWTkGrQ/A==",
                "mac": "NXeV1dZaOe2JLvQ6Hh6tFto7AgFFdaQnY0l9pruwdtE=",
            }
        }
    },
    "m.cross_signing.self_signing": {
        "encrypted": {
            RS_KEY_ID: {
                "ciphertext": "+B9WD02IvtQ8S4OaquhuYEZAx20xvz0oTN7r2VM9VOBxmlOyi+KkkWOvLAo=",
                "iv": "3BCaKGCaSMkg1x9WnTqUmw==",
                "mac": "xQEDxQbPH0bYeZUFC3wYJh0lsLkP2amcFGdaZ3VdfQg=",
            }
        }
    },
    "m.cross_signing.user_signing": {
        "encrypted": {
            RS_KEY_ID: {
                "ciphertext": "atqNy5IDzYRkRC+lkKoflwsyHkd0dr4UeoViwJdUzexiq0M8h1i8JMkADNg=",
                "iv": "bjb1V2n9YmA8j31Z9muMqQ==",
                "mac": "vusvNuV8Kkq50VxtC78oioofVBurnTTVEhiRyZkfu/4=",
            }
        }
    },
    "m.push_rules": {"unrelated": True},
}
RS_MASTER_SECRET = "VcY1+LNyV6aSMne8mvi4lc/q+JiCHe+m6+hKLtgLP30="
RS_MSK = "fKJdf5b3ga1hshUT5obkBteMNTtLkfy8qh4h5/XLNew"
RS_SSK = "vsEoa0HHxc8hmlWgoohTQBGWcCRh1BFoTzI8HNIxg5Q"
RS_USK = "IGfFj6KhzqBWxiMm6/e+Pu/x/5NV6a7iEe8AKhuRiq0"


def _ssk_obj(public: str, usage: str, signature: str | None) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "user_id": "@example:morpheus.localhost",
        "usage": [usage],
        "keys": {"ed25519:" + public: public},
    }
    if signature:
        obj["signatures"] = {"@example:morpheus.localhost": {"ed25519:" + RS_MSK: signature}}
    return obj


# --- recovery keys -----------------------------------------------------------------


def test_recovery_key_vector() -> None:
    assert decode_recovery_key(RS_BASE58) == RS_BASE58_KEY
    assert (
        decode_recovery_key("EsT           pRvZTnjck8    YrhRAtw XLS84Nr2r9S9LGAWDaExVAPBvLRK   ")
        == RS_BASE58_KEY
    )
    assert (
        decode_recovery_key("\tEsTp\nRvZT njck 8Yrh RAtw XLS8 4Nr2 r9S9 LGAW DaEx VAPB vLRK\n")
        == RS_BASE58_KEY
    )
    assert (
        encode_recovery_key(RS_BASE58_KEY)
        == "EsTp RvZT njck 8Yrh RAtw XLS8 4Nr2 r9S9 LGAW DaEx VAPB vLRK"
    )


def test_recovery_key_round_trip() -> None:
    for key in (bytes(32), b"\xff" * 32, *(os.urandom(32) for _ in range(30))):
        text = encode_recovery_key(key)
        assert all(len(group) == 4 for group in text.split(" "))
        assert decode_recovery_key(text) == key


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk", "wrong checksum"),  # rust-sdk vector
        ("AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRk", "wrong prefix"),  # rust-sdk vector
        ("AATpRvZTnjck8YrhRAtwXLS84Nr2r9S9", "wrong length"),  # rust-sdk vector
        ("AATpRvZTnjck8YrhRAtwXLS84Nr0OIl", "'0', which never appears"),  # rust-sdk vector
        ("EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLR", "wrong length"),
        ("EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRKK", "wrong length"),
        ("1111EsTpRvZTnjck8YrhRAtwXLS84Nr2r9S9LGAWDaExVAPBvLRK", "wrong length"),
        ("E" * 10_000, "wrong length"),
        ("EsTp RvZT njck 8Yrh RAtw XLS8 4Nr2 r9S9 LGAW DaEx VAPB vLR+", "'+', which never appears"),
        ("", "it is empty"),
        ("   \n ", "it is empty"),
        (None, "not text"),
        (b"EsTp", "not text"),
        (12, "not text"),
    ],
)
def test_recovery_key_errors(text: object, reason: str) -> None:
    with pytest.raises(SecretStorageError) as info:
        decode_recovery_key(text)  # type: ignore[arg-type]
    assert str(info.value).startswith("That recovery key is not valid: ")
    assert reason in str(info.value)
    assert info.value.code == "invalid_recovery_key"


def test_encode_recovery_key_needs_32_bytes() -> None:
    for bad in (b"", b"x" * 31, "x" * 32):
        with pytest.raises(ValueError):
            encode_recovery_key(bad)  # type: ignore[arg-type]


# --- primitives, cross-checked with the standard library ------------------------------


def _hkdf_stdlib(key: bytes, info: bytes) -> bytes:
    # RFC 5869 written out with hmac/hashlib, independent of `cryptography`.
    prk = hmac.new(b"\x00" * 32, key, hashlib.sha256).digest()
    t1 = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    t2 = hmac.new(prk, t1 + info + b"\x02", hashlib.sha256).digest()
    return t1 + t2


def test_hkdf_matches_stdlib() -> None:
    key = os.urandom(32)
    aes, mac = derive_aes_hmac_keys(key, "m.cross_signing.master")
    assert aes + mac == _hkdf_stdlib(key, b"m.cross_signing.master")


def test_pbkdf2_matches_stdlib_and_rust_vector() -> None:
    assert key_from_passphrase("pässword", "salt", 7) == hashlib.pbkdf2_hmac(
        "sha512", "pässword".encode(), b"salt", 7, 32
    )
    assert len(key_from_passphrase("p", "s", 2, bits=512)) == 64
    params = RS_PASSPHRASE_DESCRIPTION["passphrase"]
    key = key_from_passphrase(RS_PASSPHRASE, params["salt"], params["iterations"])
    assert check_key(key, RS_PASSPHRASE_DESCRIPTION)
    assert not check_key(
        key_from_passphrase("It's a secret to nobody", params["salt"], 10),
        RS_PASSPHRASE_DESCRIPTION,
    )


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ((None, "s", 1), "invalid_input"),
        (("p", None, 1), "bad_passphrase_params"),
        (("p", "s", 0), "bad_passphrase_params"),
        (("p", "s", -5), "bad_passphrase_params"),
        (("p", "s", True), "bad_passphrase_params"),
        (("p", "s", 1.0), "bad_passphrase_params"),
        (("p", "s", "100"), "bad_passphrase_params"),
        (("p", "s", MAX_PBKDF2_ITERATIONS + 1), "bad_passphrase_params"),
        (("p", "s", 10**100), "bad_passphrase_params"),
        (("p", "s", 1, 7), "bad_passphrase_params"),
        (("p", "s", 1, 0), "bad_passphrase_params"),
        (("p", "s", 1, 10**9), "bad_passphrase_params"),
        (("\ud800", "s", 1), "invalid_input"),
    ],
)
def test_key_from_passphrase_rejects_bad_params(args: tuple[Any, ...], code: str) -> None:
    with pytest.raises(SecretStorageError) as info:
        key_from_passphrase(*args)
    assert info.value.code == code


def test_check_key_vectors() -> None:
    key = decode_recovery_key(RS_RECOVERY_KEY)
    description = RS_ACCOUNT_DATA["m.secret_storage.key." + RS_KEY_ID]
    assert check_key(key, description)
    # Accepts the unpadded spelling too.
    unpadded = {
        **description,
        "iv": description["iv"].rstrip("="),
        "mac": description["mac"].rstrip("="),
    }
    assert check_key(key, unpadded)
    assert not check_key(RS_BASE58_KEY, description)


def test_decrypt_secret_vector() -> None:
    key = decode_recovery_key(RS_RECOVERY_KEY)
    entry = RS_ACCOUNT_DATA["m.cross_signing.master"]["encrypted"][RS_KEY_ID]
    assert decrypt_secret(key, "m.cross_signing.master", entry) == RS_MASTER_SECRET
    # The secret name is bound into the keys.
    with pytest.raises(SecretStorageError) as info:
        decrypt_secret(key, "m.cross_signing.self_signing", entry)
    assert info.value.code == "bad_mac"


def test_encrypt_decrypt_round_trip_and_format() -> None:
    key = os.urandom(32)
    for plaintext in ("", "x", "ünïcødé secret ✓", "A" * 1000):
        encrypted = encrypt_secret(key, "org.example.secret", plaintext)
        assert set(encrypted) == {"iv", "ciphertext", "mac"}
        assert not any(v.endswith("=") for v in encrypted.values())
        assert b64decode(encrypted["iv"])[8] & 0x80 == 0
        assert decrypt_secret(key, "org.example.secret", encrypted) == plaintext
    # A fixed IV is used verbatim, so the result is deterministic.
    iv = bytes(range(16))
    fixed = encrypt_secret(key, "n", "hello", iv=iv)
    assert fixed == encrypt_secret(key, "n", "hello", iv=iv)
    assert b64decode(fixed["iv"]) == iv
    # Independent check: HKDF/HMAC from the stdlib, AES-CTR from pycryptodome
    # (installed with matrix-nio; used only here, as a second implementation).
    okm = _hkdf_stdlib(key, b"n")
    ciphertext = b64decode(fixed["ciphertext"])
    assert b64decode(fixed["mac"]) == hmac.new(okm[32:], ciphertext, hashlib.sha256).digest()
    aes_module = pytest.importorskip("Crypto.Cipher.AES")
    ctr = aes_module.new(okm[:32], aes_module.MODE_CTR, nonce=b"", initial_value=iv)
    assert ctr.encrypt(b"hello") == ciphertext
    with pytest.raises(ValueError):
        encrypt_secret(key, "n", "x", iv=bytes(15))


def test_iv_bit_63_always_cleared() -> None:
    key = os.urandom(32)
    for _ in range(64):
        assert b64decode(encrypt_secret(key, "n", "x")["iv"])[8] < 0x80


def _flip(text: str, index: int = 0) -> str:
    raw = bytearray(b64decode(text))
    raw[index] ^= 0x01
    return b64encode(bytes(raw))


def test_tampering_is_detected() -> None:
    key = os.urandom(32)
    good = encrypt_secret(key, "n", "the secret text")
    for field in ("ciphertext", "mac"):
        with pytest.raises(SecretStorageError) as info:
            decrypt_secret(key, "n", {**good, field: _flip(good[field])})
        assert info.value.code == "bad_mac"
    with pytest.raises(SecretStorageError) as info:
        decrypt_secret(os.urandom(32), "n", good)
    assert info.value.code == "bad_mac"
    assert "key is wrong or the data was altered" in str(info.value)


def test_tampered_iv() -> None:
    # The spec's MAC covers only the ciphertext, so a changed IV is not caught
    # by the MAC; it garbles the plaintext instead. For the rust-sdk vector the
    # result is not valid UTF-8, and for seeds unlock_cross_signing rejects it.
    key = decode_recovery_key(RS_RECOVERY_KEY)
    entry = RS_ACCOUNT_DATA["m.cross_signing.master"]["encrypted"][RS_KEY_ID]
    with pytest.raises(SecretStorageError) as info:
        decrypt_secret(key, "m.cross_signing.master", {**entry, "iv": _flip(entry["iv"], 15)})
    assert info.value.code == "bad_secret"
    data = copy.deepcopy(RS_ACCOUNT_DATA)
    ssk = data["m.cross_signing.self_signing"]["encrypted"][RS_KEY_ID]
    ssk["iv"] = _flip(ssk["iv"], 3)
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing(key, RS_KEY_ID, data)
    assert info.value.code == "bad_secret"


@pytest.mark.parametrize(
    "encrypted",
    [
        None,
        "x",
        [],
        {},
        {"iv": "AAAA"},
        {"iv": None, "ciphertext": "AAAA", "mac": b64encode(bytes(32))},
        {"iv": b64encode(bytes(15)), "ciphertext": "AAAA", "mac": b64encode(bytes(32))},
        {"iv": b64encode(bytes(16)), "ciphertext": "A", "mac": b64encode(bytes(32))},
        {"iv": b64encode(bytes(16)), "ciphertext": 5, "mac": b64encode(bytes(32))},
        {"iv": b64encode(bytes(16)), "ciphertext": "AAAA", "mac": b64encode(bytes(31))},
        {"iv": b64encode(bytes(16)), "ciphertext": "AAAA", "mac": "not base64!"},
        {"iv": b64encode(bytes(16)), "ciphertext": "AAAA", "mac": b64encode(bytes(32))},
    ],
)
def test_decrypt_secret_malformed(encrypted: object) -> None:
    with pytest.raises(SecretStorageError) as info:
        decrypt_secret(os.urandom(32), "n", encrypted)
    assert info.value.code in {"bad_secret", "bad_mac"}


def test_decrypt_secret_bad_key_or_name_type() -> None:
    good = encrypt_secret(bytes(32), "n", "x")
    for key, name in ((None, "n"), ("k", "n"), (bytes(32), None)):
        with pytest.raises(SecretStorageError):
            decrypt_secret(key, name, good)  # type: ignore[arg-type]


# --- key descriptions --------------------------------------------------------------


def test_make_key_description() -> None:
    key = os.urandom(32)
    description = make_key_description(key)
    assert description["algorithm"] == AES_HMAC_SHA2 and set(description) == {
        "algorithm",
        "iv",
        "mac",
    }
    assert check_key(key, description)
    assert not check_key(os.urandom(32), description)
    params = {"algorithm": "m.pbkdf2", "salt": "s", "iterations": 3}
    named = make_key_description(key, name="Recovery", passphrase=params)
    assert named["name"] == "Recovery" and named["passphrase"] == params
    assert check_key(key, named)


@pytest.mark.parametrize(
    "mutate",
    [
        lambda d: {**d, "algorithm": "m.secret_storage.v1.curve25519-aes-sha2"},
        lambda d: {k: v for k, v in d.items() if k != "algorithm"},
        lambda d: {k: v for k, v in d.items() if k != "iv"},
        lambda d: {k: v for k, v in d.items() if k != "mac"},
        lambda d: {**d, "iv": b64encode(bytes(14))},
        lambda d: {**d, "mac": b64encode(bytes(10))},
        lambda d: {**d, "iv": 42},
        lambda d: {**d, "mac": ["x"]},
        lambda d: {**d, "mac": _flip(d["mac"])},
        lambda d: {**d, "iv": _flip(d["iv"])},
        lambda d: None,
        lambda d: "description",
        lambda d: [d],
    ],
)
def test_check_key_false_on_bad_descriptions(mutate: Any) -> None:
    key = os.urandom(32)
    assert check_key(key, mutate(make_key_description(key))) is False


def test_check_key_without_check_values_assumes_valid() -> None:
    # Spec: iv/mac are optional; without them the key must be assumed valid.
    assert check_key(os.urandom(32), {"algorithm": AES_HMAC_SHA2})


@pytest.mark.parametrize("key", [None, "k" * 32, b"", b"k" * 31, b"k" * 33, 5])
def test_check_key_bad_key(key: object) -> None:
    assert check_key(key, make_key_description(bytes(32))) is False  # type: ignore[arg-type]


# --- unlocking cross-signing -----------------------------------------------------------


def test_unlock_rust_sdk_account_matches_published_identity() -> None:
    seeds = unlock_cross_signing_with_input(RS_RECOVERY_KEY, RS_ACCOUNT_DATA)
    assert seeds.master == b64decode(RS_MASTER_SECRET)
    assert Ed25519Key.from_seed(seeds.master).public_key == RS_MSK
    assert Ed25519Key.from_seed(seeds.self_signing).public_key == RS_SSK
    assert Ed25519Key.from_seed(seeds.user_signing).public_key == RS_USK
    assert "secret" in repr(seeds) and RS_MASTER_SECRET not in repr(seeds)
    # The same result through the explicit-key entry point and the default key id.
    key = decode_recovery_key(RS_RECOVERY_KEY)
    assert unlock_cross_signing(key, RS_KEY_ID, RS_ACCOUNT_DATA) == seeds
    assert unlock_cross_signing(key, None, RS_ACCOUNT_DATA) == seeds
    # The rust-sdk /keys/query answer for the same account.
    identity = identity_from_keys_query(
        "@example:morpheus.localhost",
        {
            "user_id": "@example:morpheus.localhost",
            "usage": ["master"],
            "keys": {"ed25519:" + RS_MSK: RS_MSK},
        },
        _ssk_obj(
            RS_SSK,
            "self_signing",
            "YFvSUX40E81EO8jibgn+kklMFkqfGTDPcENsq6UEepMY9UUOp9iredNCA/NR2INlfq4gkQhMJk2QRGZ31pQZCg",
        ),
        _ssk_obj(
            RS_USK,
            "user_signing",
            "+b9IdTCC7WezR/XJX+K/wI7DukcTOfBukyy9iyZJP3SFZCNWVRmMG1Kuc8iQg8txSNY5NP0M3PI/Srv9nHZjDQ",
        ),
    )
    assert (
        private_seeds_match(
            identity,
            master=seeds.master,
            self_signing=seeds.self_signing,
            user_signing=seeds.user_signing,
        )
        is None
    )


def _account(
    key: bytes,
    key_id: str = "KEY",
    passphrase: dict[str, Any] | None = None,
    seeds: dict[str, bytes] | None = None,
) -> dict[str, Any]:
    seeds = seeds or {name: os.urandom(32) for name in ("master", "self_signing", "user_signing")}
    data: dict[str, Any] = {
        "m.secret_storage.default_key": {"key": key_id},
        "m.secret_storage.key." + key_id: make_key_description(key, passphrase=passphrase),
    }
    for name, seed in seeds.items():
        event = "m.cross_signing." + name
        data[event] = {"encrypted": {key_id: encrypt_secret(key, event, b64encode(seed))}}
    return data


def test_unlock_round_trip_with_recovery_key() -> None:
    key = os.urandom(32)
    seeds = {n: os.urandom(32) for n in ("master", "self_signing", "user_signing")}
    data = _account(key, seeds=seeds)
    unlocked = unlock_cross_signing_with_input(encode_recovery_key(key), data)
    assert (unlocked.master, unlocked.self_signing, unlocked.user_signing) == (
        seeds["master"],
        seeds["self_signing"],
        seeds["user_signing"],
    )


def test_unlock_with_passphrase() -> None:
    params = {"algorithm": "m.pbkdf2", "salt": "saltysalt", "iterations": 5}
    key = key_from_passphrase("  correct horse  ", "saltysalt", 5)
    data = _account(key, passphrase=params)
    assert unlock_cross_signing_with_input("  correct horse  ", data).self_signing
    # Passphrases are not whitespace-normalised.
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing_with_input("correct horse", data)
    assert info.value.code == "wrong_passphrase"
    assert str(info.value) == "That is neither a valid recovery key nor the correct passphrase"
    # The recovery key still works when a passphrase exists.
    assert unlock_cross_signing_with_input(encode_recovery_key(key), data).user_signing
    # A well-formed but wrong recovery key is reported as such, not as a bad passphrase.
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing_with_input(encode_recovery_key(os.urandom(32)), data)
    assert info.value.code == "wrong_key"
    assert str(info.value) == "The recovery key does not match this account's secret storage key"


def test_unlock_with_input_without_passphrase_params() -> None:
    data = _account(os.urandom(32))
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing_with_input("correct horse battery staple", data)
    assert info.value.code == "invalid_recovery_key"
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing_with_input(RS_BASE58[:-1] + "k", data)
    assert str(info.value) == "That recovery key is not valid: wrong checksum"
    for empty in ("", "   ", None):
        with pytest.raises(SecretStorageError) as info:
            unlock_cross_signing_with_input(empty, data)  # type: ignore[arg-type]
        assert info.value.code == "invalid_input"


@pytest.mark.parametrize(
    "params",
    [
        {"algorithm": "m.scrypt", "salt": "s", "iterations": 5},
        {"algorithm": "m.pbkdf2", "salt": 5, "iterations": 5},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": 10**100},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": -1},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": True},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": "5"},
        {"algorithm": "m.pbkdf2", "salt": "s"},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": 5, "bits": 128},
        {"algorithm": "m.pbkdf2", "salt": "s", "iterations": 5, "bits": True},
        "m.pbkdf2",
        [],
    ],
)
def test_unlock_with_bad_passphrase_params(params: object) -> None:
    key = os.urandom(32)
    data = _account(key)
    data["m.secret_storage.key.KEY"]["passphrase"] = params
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing_with_input("my passphrase", data)
    assert info.value.code == "bad_passphrase_params"
    # A recovery key does not need the passphrase settings.
    assert unlock_cross_signing_with_input(encode_recovery_key(key), data).master


def _expect(code: str, text: str, key: bytes, key_id: str | None, data: object) -> None:
    with pytest.raises(SecretStorageError) as info:
        unlock_cross_signing(key, key_id, data)  # type: ignore[arg-type]
    assert info.value.code == code
    assert text in str(info.value)


def test_unlock_error_reasons() -> None:
    key = os.urandom(32)
    base = _account(key)

    _expect(
        "no_default_key",
        "no default key",
        key,
        None,
        {k: v for k, v in base.items() if k != "m.secret_storage.default_key"},
    )
    _expect(
        "no_default_key",
        "no default key",
        key,
        None,
        {**base, "m.secret_storage.default_key": {"key": 5}},
    )
    _expect("no_default_key", "not set up", key, None, None)
    _expect(
        "missing_key_description",
        "description of its key is missing",
        key,
        None,
        {k: v for k, v in base.items() if k != "m.secret_storage.key.KEY"},
    )
    _expect("missing_key_description", "description of its key is missing", key, "OTHER", base)
    _expect(
        "unsupported_algorithm",
        "unsupported algorithm",
        key,
        None,
        {
            **base,
            "m.secret_storage.key.KEY": {"algorithm": "m.secret_storage.v1.curve25519-aes-sha2"},
        },
    )
    _expect("wrong_key", "does not match", os.urandom(32), None, base)
    _expect(
        "missing_secret",
        "self-signing key is not in secret storage",
        key,
        None,
        {k: v for k, v in base.items() if k != "m.cross_signing.self_signing"},
    )
    _expect(
        "missing_secret",
        "user-signing key is not in secret storage",
        key,
        None,
        {**base, "m.cross_signing.user_signing": {"encrypted": {"OTHER": {}}}},
    )

    tampered = copy.deepcopy(base)
    entry = tampered["m.cross_signing.self_signing"]["encrypted"]["KEY"]
    entry["mac"] = _flip(entry["mac"])
    _expect("bad_mac", "self-signing key could not be decrypted", key, None, tampered)

    short = copy.deepcopy(base)
    short["m.cross_signing.user_signing"]["encrypted"]["KEY"] = encrypt_secret(
        key, "m.cross_signing.user_signing", b64encode(bytes(31))
    )
    _expect("bad_secret", "it is 31 bytes, not 32", key, None, short)

    not_b64 = copy.deepcopy(base)
    not_b64["m.cross_signing.master"]["encrypted"]["KEY"] = encrypt_secret(
        key, "m.cross_signing.master", "this is not base64!"
    )
    _expect("bad_secret", "master key is damaged: it is not base64", key, None, not_b64)


def test_master_is_optional() -> None:
    key = os.urandom(32)
    data = _account(key)
    del data["m.cross_signing.master"]
    unlocked = unlock_cross_signing(key, None, data)
    assert unlocked.master is None and len(unlocked.self_signing) == 32


def test_no_check_values_and_wrong_key_reads_as_wrong_key() -> None:
    key = os.urandom(32)
    data = _account(key)
    data["m.secret_storage.key.KEY"] = {"algorithm": AES_HMAC_SHA2}
    assert unlock_cross_signing(key, None, data).self_signing
    _expect("wrong_key", "does not match", os.urandom(32), None, data)


def test_default_key_id() -> None:
    assert default_key_id(RS_ACCOUNT_DATA) == RS_KEY_ID
    for bad in (
        {},
        {"m.secret_storage.default_key": None},
        {"m.secret_storage.default_key": {"key": ""}},
        [],
        None,
    ):
        with pytest.raises(SecretStorageError) as info:
            default_key_id(bad)  # type: ignore[arg-type]
        assert info.value.code == "no_default_key"


_JUNK: list[object] = [None, True, 0, 2**80, 1.5, "", "x", [], [1], {}, {"a": None}, b"b"]


def test_fuzz_unlock_only_raises_secret_storage_error() -> None:
    key = os.urandom(32)
    base = _account(key)
    count = 0

    def mutations(obj: object):  # type: ignore[no-untyped-def]
        if isinstance(obj, dict):
            for k in list(obj):
                for junk in _JUNK:
                    yield {**obj, k: junk}
                yield {kk: v for kk, v in obj.items() if kk != k}
                for inner in mutations(obj[k]):
                    yield {**obj, k: inner}

    for mutated in mutations(base):
        count += 1
        try:
            unlock_cross_signing(key, None, mutated)  # type: ignore[arg-type]
        except SecretStorageError as exc:
            assert str(exc) and exc.code
        with contextlib.suppress(SecretStorageError):
            unlock_cross_signing_with_input(encode_recovery_key(key), mutated)  # type: ignore[arg-type]
    assert count > 300
