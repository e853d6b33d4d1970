"""Secret storage ("4S", spec "Secrets") with ``m.secret_storage.v1.aes-hmac-sha2``.

Covers recovery keys (base58 with prefix 0x8B 0x01 and a parity byte),
passphrase keys (``m.pbkdf2``: PBKDF2-HMAC-SHA512), the per-secret keys
(HKDF-SHA256, 32 zero bytes salt, info = secret name, 32 bytes AES-CTR key +
32 bytes HMAC-SHA256 key), the key check (encrypting 32 zero bytes with name
``""``) and unlocking the cross-signing seeds stored in account data.

We write unpadded base64 as the spec asks; Element writes padded base64, so
everything read here accepts both. Every function that reads account data or
user input raises only ``SecretStorageError`` (or returns ``False`` where
documented). PBKDF2 is deliberately slow (≈0.3 s for Element's 500 000
iterations): callers in an event loop should run the passphrase paths in a
worker thread.

One spec section in one module (recovery keys, key descriptions, secrets, unlocking), which is
why it is longer than most: every function is small and pure.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from ...records import record
from .canonical import b64decode, b64encode
from .symmetric import aes_ctr, hkdf_sha256, hmac_sha256, pbkdf2_sha512, same

__all__ = [
    "SecretStorageError",
    "AES_HMAC_SHA2",
    "PBKDF2",
    "MAX_PBKDF2_ITERATIONS",
    "decode_recovery_key",
    "encode_recovery_key",
    "key_from_passphrase",
    "derive_aes_hmac_keys",
    "encrypt_secret",
    "decrypt_secret",
    "make_key_description",
    "check_key",
    "default_key_id",
    "UnlockedCrossSigningSeeds",
    "unlock_cross_signing",
    "unlock_cross_signing_with_input",
    "decrypt_stored_secret",
]

AES_HMAC_SHA2 = "m.secret_storage.v1.aes-hmac-sha2"
PBKDF2 = "m.pbkdf2"
DEFAULT_KEY_EVENT = "m.secret_storage.default_key"
KEY_EVENT_PREFIX = "m.secret_storage.key."
MASTER_SECRET = "m.cross_signing.master"
SELF_SIGNING_SECRET = "m.cross_signing.self_signing"
USER_SIGNING_SECRET = "m.cross_signing.user_signing"

# A server-supplied iteration count must not be able to hang the client;
# this is 20x Element's default.
MAX_PBKDF2_ITERATIONS = 10_000_000

_KEY_LEN = 32
_IV_LEN = 16
_MAC_LEN = 32
_RECOVERY_PREFIX = b"\x8b\x01"
_RECOVERY_DECODED_LEN = 2 + _KEY_LEN + 1
# 0x8B 0x01 + 33 bytes always encodes to exactly 48 base58 characters, so a
# dropped or extra character is reported as a length error, and long input
# never reaches the (quadratic) base58 decoding.
_RECOVERY_CHARS = 48
_RECOVERY_MAX_CHARS = 100
_BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"
_BASE58_INDEX = {c: i for i, c in enumerate(_BASE58)}

_SECRET_LABELS = {
    MASTER_SECRET: "master key",
    SELF_SIGNING_SECRET: "self-signing key",
    USER_SIGNING_SECRET: "user-signing key",
}


class SecretStorageError(Exception):
    """Secret storage could not be used; ``str(err)`` is a sentence for the user.

    ``code`` says what went wrong, for callers that react differently:
    ``invalid_recovery_key``, ``invalid_input``, ``wrong_key``,
    ``wrong_passphrase``, ``no_default_key``, ``missing_key_description``,
    ``unsupported_algorithm``, ``bad_passphrase_params``, ``missing_secret``,
    ``bad_mac``, ``bad_secret``.
    """

    def __init__(self, message: str, code: str) -> None:
        super().__init__(message)
        self.code = code


def _invalid_recovery(reason: str) -> SecretStorageError:
    return SecretStorageError(f"That recovery key is not valid: {reason}", "invalid_recovery_key")


def _parity(data: bytes) -> int:
    parity = 0
    for byte in data:
        parity ^= byte
    return parity


def decode_recovery_key(text: str) -> bytes:
    """Parse a recovery key as shown by Element; returns the 32-byte key.

    Whitespace anywhere is ignored. Raises ``SecretStorageError`` (code
    ``invalid_recovery_key``) for non-base58 characters, wrong length, wrong
    prefix or wrong checksum.
    """
    if not isinstance(text, str):
        raise _invalid_recovery("it is not text")
    compact = "".join(text.split())
    if not compact:
        raise _invalid_recovery("it is empty")
    if len(compact) > _RECOVERY_MAX_CHARS:
        raise _invalid_recovery("wrong length")
    number = 0
    for char in compact:
        digit = _BASE58_INDEX.get(char)
        if digit is None:
            raise _invalid_recovery(f"it contains {char!r}, which never appears in a recovery key")
        number = number * 58 + digit
    if len(compact) != _RECOVERY_CHARS:
        raise _invalid_recovery("wrong length")
    leading_zeros = len(compact) - len(compact.lstrip("1"))
    body = number.to_bytes((number.bit_length() + 7) // 8, "big") if number else b""
    decoded = b"\x00" * leading_zeros + body
    if len(decoded) != _RECOVERY_DECODED_LEN:
        raise _invalid_recovery("wrong length")
    if decoded[:2] != _RECOVERY_PREFIX:
        raise _invalid_recovery("wrong prefix")
    if _parity(decoded[:-1]) != decoded[-1]:
        raise _invalid_recovery("wrong checksum")
    return decoded[2:-1]


def encode_recovery_key(key: bytes) -> str:
    """Format a 32-byte key as a recovery key: base58, groups of 4 separated by spaces.

    Raises ``ValueError`` if ``key`` is not 32 bytes (a programming error).
    """
    if not isinstance(key, (bytes, bytearray)) or len(key) != _KEY_LEN:
        raise ValueError("a secret storage key is 32 bytes")
    data = _RECOVERY_PREFIX + bytes(key)
    data += bytes([_parity(data)])
    number = int.from_bytes(data, "big")
    chars: list[str] = []
    while number:
        number, digit = divmod(number, 58)
        chars.append(_BASE58[digit])
    chars.extend("1" * (len(data) - len(data.lstrip(b"\x00"))))
    text = "".join(reversed(chars))
    return " ".join(text[i : i + 4] for i in range(0, len(text), 4))


def key_from_passphrase(passphrase: str, salt: str, iterations: int, bits: int = 256) -> bytes:
    """``m.pbkdf2``: PBKDF2-HMAC-SHA512 of the UTF-8 passphrase with the UTF-8 salt.

    Raises ``SecretStorageError`` (``bad_passphrase_params``) for parameters a
    hostile server could use to break or stall us: non-str inputs, iterations
    outside ``1..MAX_PBKDF2_ITERATIONS``, ``bits`` not a multiple of 8 in
    ``8..512``.
    """
    if not isinstance(passphrase, str):
        raise SecretStorageError("The passphrase must be text", "invalid_input")
    if not isinstance(salt, str):
        raise SecretStorageError(
            "The passphrase settings are not valid: bad salt", "bad_passphrase_params"
        )
    if (
        not isinstance(iterations, int)
        or isinstance(iterations, bool)
        or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS
    ):
        raise SecretStorageError(
            "The passphrase settings are not valid: unsupported iteration count",
            "bad_passphrase_params",
        )
    if not isinstance(bits, int) or isinstance(bits, bool) or bits % 8 or not 8 <= bits <= 512:
        raise SecretStorageError(
            "The passphrase settings are not valid: unsupported key size", "bad_passphrase_params"
        )
    try:
        password = passphrase.encode("utf-8")
        salt_bytes = salt.encode("utf-8")
    except UnicodeEncodeError:
        raise SecretStorageError(
            "The passphrase contains characters that cannot be used", "invalid_input"
        ) from None
    return pbkdf2_sha512(password, salt_bytes, iterations, bits // 8)


def derive_aes_hmac_keys(key: bytes, name: str) -> tuple[bytes, bytes]:
    """HKDF-SHA256(key, salt = 32 zero bytes, info = name) -> (AES key, HMAC key)."""
    if not isinstance(key, (bytes, bytearray)) or not isinstance(name, str):
        raise SecretStorageError("The secret storage key is not usable", "wrong_key")
    try:
        info = name.encode("utf-8")
    except UnicodeEncodeError:
        raise SecretStorageError("The secret name is not valid text", "bad_secret") from None
    okm = hkdf_sha256(bytes(key), info=info, salt=b"\x00" * 32, length=64)
    return okm[:32], okm[32:]


# CTR takes the whole 16-byte block as a big-endian counter, as WebCrypto and the other SDKs
# do (bit 63 of the IV is cleared on encryption so a 64-bit-counter implementation never wraps
# differently).
_aes_ctr = aes_ctr
_mac = hmac_sha256


def _random_iv() -> bytearray:
    iv = bytearray(os.urandom(_IV_LEN))
    iv[8] &= 0x7F
    return iv


def _encrypt_bytes(key: bytes, name: str, plaintext: bytes, iv: bytes | None) -> dict[str, str]:
    if iv is None:
        iv = bytes(_random_iv())
    elif not isinstance(iv, (bytes, bytearray)) or len(iv) != _IV_LEN:
        raise ValueError("the IV must be 16 bytes")
    aes_key, hmac_key = derive_aes_hmac_keys(key, name)
    ciphertext = _aes_ctr(aes_key, bytes(iv), plaintext)
    return {
        "iv": b64encode(iv),
        "ciphertext": b64encode(ciphertext),
        "mac": b64encode(_mac(hmac_key, ciphertext)),
    }


def encrypt_secret(
    key: bytes, name: str, plaintext: str, iv: bytes | None = None
) -> dict[str, str]:
    """Encrypt ``plaintext`` as secret ``name``: ``{"iv", "ciphertext", "mac"}``, unpadded base64.

    ``iv`` is for tests and known-answer vectors; normally leave it ``None``
    for a random IV with bit 63 cleared. A given IV is used verbatim.
    """
    if not isinstance(plaintext, str):
        raise ValueError("secrets are strings")
    return _encrypt_bytes(key, name, plaintext.encode("utf-8"), iv)


def _field(encrypted: Mapping[str, Any], name: str, what: str, length: int | None) -> bytes:
    value = encrypted.get(name)
    try:
        raw = b64decode(value)  # type: ignore[arg-type]
    except ValueError:
        raise SecretStorageError(
            f"The stored {what} is damaged: its {name} is not valid base64", "bad_secret"
        ) from None
    if length is not None and len(raw) != length:
        raise SecretStorageError(
            f"The stored {what} is damaged: its {name} has the wrong length", "bad_secret"
        )
    return raw


def _decrypt_bytes(key: bytes, name: str, encrypted: object, what: str) -> bytes:
    if not isinstance(encrypted, Mapping):
        raise SecretStorageError(f"The stored {what} is damaged: it is not an object", "bad_secret")
    iv = _field(encrypted, "iv", what, _IV_LEN)
    ciphertext = _field(encrypted, "ciphertext", what, None)
    mac = _field(encrypted, "mac", what, _MAC_LEN)
    aes_key, hmac_key = derive_aes_hmac_keys(key, name)
    if not same(_mac(hmac_key, ciphertext), mac):
        raise SecretStorageError(
            f"The stored {what} could not be decrypted: the key is wrong or the data was altered",
            "bad_mac",
        )
    return _aes_ctr(aes_key, iv, ciphertext)


def decrypt_secret(key: bytes, name: str, encrypted: object) -> str:
    """Check the MAC (constant time) then decrypt secret ``name``.

    Raises ``SecretStorageError``: ``bad_secret`` for malformed data,
    ``bad_mac`` when the MAC does not match (wrong key or tampering).
    """
    what = f"secret {name!r}" if isinstance(name, str) else "secret"
    plaintext = _decrypt_bytes(key, name, encrypted, what)
    try:
        return plaintext.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretStorageError(
            f"The stored {what} is damaged: it is not text", "bad_secret"
        ) from None


def make_key_description(
    key: bytes, *, name: str | None = None, passphrase: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Content for ``m.secret_storage.key.<id>``: algorithm plus the zero-message ``iv``/``mac``.

    ``passphrase`` (e.g. ``{"algorithm": "m.pbkdf2", "salt": ..., "iterations": ...}``)
    is copied in as given when the key came from ``key_from_passphrase``.
    """
    check = _encrypt_bytes(key, "", b"\x00" * 32, None)
    description: dict[str, Any] = {
        "algorithm": AES_HMAC_SHA2,
        "iv": check["iv"],
        "mac": check["mac"],
    }
    if name is not None:
        description["name"] = name
    if passphrase is not None:
        description["passphrase"] = dict(passphrase)
    return description


def check_key(key: bytes, key_description: object) -> bool:
    """True if ``key`` matches an ``m.secret_storage.key.*`` description. Never raises.

    False for other algorithms and malformed descriptions. If the description
    has neither ``iv`` nor ``mac``, the spec says to assume the key is valid,
    so this returns True; a wrong key then shows up as a MAC failure when a
    secret is decrypted.
    """
    try:
        if not isinstance(key, (bytes, bytearray)) or len(key) != _KEY_LEN:
            return False
        if not isinstance(key_description, Mapping):
            return False
        if key_description.get("algorithm") != AES_HMAC_SHA2:
            return False
        iv_text = key_description.get("iv")
        mac_text = key_description.get("mac")
        if iv_text is None and mac_text is None:
            return True
        iv = b64decode(iv_text)  # type: ignore[arg-type]
        mac = b64decode(mac_text)  # type: ignore[arg-type]
        if len(iv) != _IV_LEN or len(mac) != _MAC_LEN:
            return False
        aes_key, hmac_key = derive_aes_hmac_keys(bytes(key), "")
        ciphertext = _aes_ctr(aes_key, iv, b"\x00" * 32)
        return same(_mac(hmac_key, ciphertext), mac)
    except (ValueError, TypeError, SecretStorageError):
        return False


def _has_check_values(description: Mapping[str, Any]) -> bool:
    return description.get("iv") is not None or description.get("mac") is not None


@record
class UnlockedCrossSigningSeeds:
    """Ed25519 seeds of our cross-signing keys, from secret storage.

    ``master`` is ``None`` when the account stores no master key under this
    secret storage key (some setups keep only SSK/USK); the other two are
    required. Check them against the published identity before use
    (``cross_signing.private_seeds_match``).
    """

    master: bytes | None
    self_signing: bytes
    user_signing: bytes
    # The secret storage key that unlocked them and its id, to read other secrets stored under
    # it (the key backup's, `decrypt_stored_secret`).
    storage_key: bytes | None = field(default=None, compare=False)
    key_id: str | None = field(default=None, compare=False)

    def __repr__(self) -> str:
        return "UnlockedCrossSigningSeeds(<secret>)"


def default_key_id(account_data: Mapping[str, Any]) -> str:
    """The key id in ``m.secret_storage.default_key``.

    Raises ``SecretStorageError`` (``no_default_key``) if there is none.
    """
    if not isinstance(account_data, Mapping):
        raise SecretStorageError("Secret storage is not set up for this account", "no_default_key")
    content = account_data.get(DEFAULT_KEY_EVENT)
    key_id = content.get("key") if isinstance(content, Mapping) else None
    if not isinstance(key_id, str) or not key_id:
        raise SecretStorageError(
            "Secret storage is not set up for this account (there is no default key)",
            "no_default_key",
        )
    return key_id


def _key_description(account_data: Mapping[str, Any], key_id: str) -> Mapping[str, Any]:
    description = account_data.get(KEY_EVENT_PREFIX + key_id)
    if not isinstance(description, Mapping):
        raise SecretStorageError(
            "Secret storage is not set up correctly: the description of its key is missing",
            "missing_key_description",
        )
    algorithm = description.get("algorithm")
    if algorithm != AES_HMAC_SHA2:
        shown = repr(algorithm[:60]) if isinstance(algorithm, str) else "none given"
        raise SecretStorageError(
            f"This account's secret storage uses an unsupported algorithm ({shown})",
            "unsupported_algorithm",
        )
    return description


def _wrong_key() -> SecretStorageError:
    return SecretStorageError(
        "The recovery key does not match this account's secret storage key", "wrong_key"
    )


def _unlock_seed(
    key: bytes, key_id: str, account_data: Mapping[str, Any], secret: str, *, required: bool
) -> bytes | None:
    label = _SECRET_LABELS[secret]
    content = account_data.get(secret)
    encrypted = content.get("encrypted") if isinstance(content, Mapping) else None
    entry = encrypted.get(key_id) if isinstance(encrypted, Mapping) else None
    if entry is None:
        if not required:
            return None
        raise SecretStorageError(
            f"Your cross-signing {label} is not in secret storage", "missing_secret"
        )
    plaintext = _decrypt_bytes(key, secret, entry, f"cross-signing {label}")
    try:
        seed = b64decode(plaintext.decode("ascii").strip())
    except (UnicodeDecodeError, ValueError):
        raise SecretStorageError(
            f"The stored cross-signing {label} is damaged: it is not base64", "bad_secret"
        ) from None
    if len(seed) != 32:
        raise SecretStorageError(
            f"The stored cross-signing {label} is damaged: it is {len(seed)} bytes, not 32",
            "bad_secret",
        )
    return seed


def unlock_cross_signing(
    key: bytes, key_id: str | None, account_data: Mapping[str, Any]
) -> UnlockedCrossSigningSeeds:
    """Decrypt our cross-signing seeds from secret storage.

    ``account_data`` maps global account-data event types to their contents
    (extra entries are ignored). ``key_id`` ``None`` means the default key.
    Raises ``SecretStorageError`` with a readable reason: no default key,
    missing/unsupported key description, wrong key, SSK/USK missing, MAC
    failure, or a seed that is not 32 bytes of base64.
    """
    if not isinstance(account_data, Mapping):
        raise SecretStorageError("Secret storage is not set up for this account", "no_default_key")
    if key_id is None:
        key_id = default_key_id(account_data)
    if not isinstance(key_id, str):
        raise SecretStorageError(
            "Secret storage is not set up correctly: bad key id", "missing_key_description"
        )
    description = _key_description(account_data, key_id)
    if not check_key(key, description):
        raise _wrong_key()
    try:
        master = _unlock_seed(key, key_id, account_data, MASTER_SECRET, required=False)
        self_signing = _unlock_seed(key, key_id, account_data, SELF_SIGNING_SECRET, required=True)
        user_signing = _unlock_seed(key, key_id, account_data, USER_SIGNING_SECRET, required=True)
    except SecretStorageError as exc:
        # Without iv/mac in the description the key could not be checked up
        # front, so a MAC failure most likely means the key is wrong.
        if exc.code == "bad_mac" and not _has_check_values(description):
            raise _wrong_key() from None
        raise
    if self_signing is None or user_signing is None:  # unreachable: both are required
        raise SecretStorageError(
            "Your cross-signing keys are not in secret storage", "missing_secret"
        )
    return UnlockedCrossSigningSeeds(master, self_signing, user_signing, bytes(key), key_id)


def decrypt_stored_secret(key: bytes, key_id: str, account_data: Mapping[str, Any], name: str) -> str | None:
    """Secret ``name`` (its account-data content in ``account_data``) decrypted with the secret
    storage key ``key``/``key_id``; None when it is not stored under that key.

    Raises ``SecretStorageError`` (``bad_secret``, ``bad_mac``) when it is there but unusable."""
    content = account_data.get(name) if isinstance(account_data, Mapping) else None
    encrypted = content.get("encrypted") if isinstance(content, Mapping) else None
    entry = encrypted.get(key_id) if isinstance(encrypted, Mapping) else None
    if entry is None:
        return None
    return decrypt_secret(key, name, entry)


def _passphrase_params(description: Mapping[str, Any]) -> tuple[str, int, int] | None:
    params = description.get("passphrase")
    if params is None:
        return None
    bad = SecretStorageError(
        "This account's passphrase settings are not valid", "bad_passphrase_params"
    )
    if not isinstance(params, Mapping) or params.get("algorithm") != PBKDF2:
        raise bad
    salt = params.get("salt")
    iterations = params.get("iterations")
    bits = params.get("bits", 256)
    if not isinstance(salt, str) or not isinstance(iterations, int) or isinstance(iterations, bool):
        raise bad
    if not 1 <= iterations <= MAX_PBKDF2_ITERATIONS or bits != 256 or isinstance(bits, bool):
        raise bad
    return salt, iterations, bits


def unlock_cross_signing_with_input(
    user_input: str, account_data: Mapping[str, Any]
) -> UnlockedCrossSigningSeeds:
    """Unlock with whatever the user typed: a recovery key, else a passphrase.

    The input is first parsed as a recovery key. Only if it is not one and
    the default key has ``m.pbkdf2`` passphrase settings is it used as a
    passphrase (not stripped). Raises ``SecretStorageError`` as
    ``unlock_cross_signing`` does, plus ``invalid_input`` for empty input and
    ``wrong_passphrase`` when it is neither a valid recovery key nor the
    correct passphrase.
    """
    if not isinstance(user_input, str) or not user_input.strip():
        raise SecretStorageError("Please enter your recovery key or passphrase", "invalid_input")
    key_id = default_key_id(account_data)
    description = _key_description(account_data, key_id)
    try:
        key = decode_recovery_key(user_input)
    except SecretStorageError as not_a_key:
        params = _passphrase_params(description)
        if params is None:
            raise not_a_key
        key = key_from_passphrase(user_input, *params)
        try:
            return unlock_cross_signing(key, key_id, account_data)
        except SecretStorageError as exc:
            if exc.code == "wrong_key":
                raise SecretStorageError(
                    "That is neither a valid recovery key nor the correct passphrase",
                    "wrong_passphrase",
                ) from None
            raise
    return unlock_cross_signing(key, key_id, account_data)
