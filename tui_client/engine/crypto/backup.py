"""Server-side key backup, algorithm ``m.megolm_backup.v1.curve25519-aes-sha2`` (spec
"Server-side key backups"). Pure: no I/O, no nio.

Each backed-up Megolm session is a ``BackedUpSessionData`` JSON object encrypted to the
backup's Curve25519 public key: an ephemeral key pair, X25519 with the backup key, HKDF-SHA256
(32 zero bytes of salt, empty info) to 80 bytes = AES-256 key ‖ MAC key ‖ IV, AES-256-CBC with
PKCS#7 padding, and an 8-byte HMAC-SHA256. The spec's quirk: libolm MACs the *empty string*
instead of the ciphertext, and every implementation since does the same (the spec now says so),
so the MAC proves knowledge of the shared secret and nothing about the ciphertext. We use
vodozemac's ``PkEncryption``/``PkDecryption`` (the code Element's crypto runs), which implement
exactly that; ``tests/unit/test_key_backup_crypto.py`` checks it against the spec's steps done by
hand.

What that means for trust: anyone who can write to the backup (the homeserver) can add keys to
it. A key restored from a backup is therefore never authenticated (``room_keys.Origin.BACKUP``
ranks like an imported file), and every field of what we decrypt is checked here before it
reaches the store.

The backup's decryption key is a Curve25519 private key (32 bytes); in secret storage it is the
secret ``m.megolm_backup.v1``, base64. A backup may be written to by a device that trusts its
``auth_data``: signed by the user's master key or by one of their verified devices, or whose
public key is the one of a private key obtained from a trusted source (secret storage, the
user, a verified device of ours).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

import vodozemac

from ...records import record
from ..room_keys import SHARED_HISTORY_SEND_KEY, shared_history_flag
from .canonical import b64decode, b64encode
from .key_export import MEGOLM, ExportedKey
from .signing import verify_json

BACKUP_ALGORITHM = "m.megolm_backup.v1.curve25519-aes-sha2"
BACKUP_SECRET = "m.megolm_backup.v1"  # the decryption key's name in secret storage

KEY_LEN = 32
MAC_LEN = 8
MAX_CIPHERTEXT = 64 * 1024  # base64 characters of one entry; a real one is under 2 KiB
MAX_CHAIN = 100  # forwarding chain entries we keep
MAX_ID = 255  # room ids are at most 255 bytes (spec "Room IDs")


class BackupError(ValueError):
    """Backup data (or a key) is unusable; ``str(err)`` says why, for the log and the user."""


# -- the decryption key ----------------------------------------------------------------------------


def new_backup_key() -> bytes:
    """A fresh Curve25519 private key for a new backup."""
    return vodozemac.Curve25519SecretKey().to_bytes()


def decode_backup_key(secret: object) -> bytes:
    """The 32-byte private key from its base64 form (the ``m.megolm_backup.v1`` secret)."""
    if not isinstance(secret, str):
        raise BackupError("the backup key is not text")
    try:
        raw = b64decode(secret.strip())
    except ValueError:
        raise BackupError("the backup key is not valid base64") from None
    if len(raw) != KEY_LEN:
        raise BackupError(f"the backup key is {len(raw)} bytes, not {KEY_LEN}")
    return raw


def encode_backup_key(key: bytes) -> str:
    """The secret-storage form of a private key (unpadded base64, as Element writes it)."""
    _check_private(key)
    return b64encode(key)


def _check_private(key: object) -> None:
    if not isinstance(key, (bytes, bytearray)) or len(key) != KEY_LEN:
        raise BackupError(f"a backup key is {KEY_LEN} bytes")


def public_key_of(key: bytes) -> str:
    """The backup public key (unpadded base64) of a private key."""
    _check_private(key)
    return vodozemac.PkDecryption.from_key(vodozemac.Curve25519SecretKey.from_bytes(bytes(key))).public_key.to_base64()


def _curve25519(value: object, what: str) -> bytes:
    if not isinstance(value, str) or len(value) > 64:
        raise BackupError(f"{what} is not a Curve25519 key")
    try:
        raw = b64decode(value)
    except ValueError:
        raise BackupError(f"{what} is not valid base64") from None
    if len(raw) != KEY_LEN:
        raise BackupError(f"{what} is {len(raw)} bytes, not {KEY_LEN}")
    return raw


# -- the backup version ----------------------------------------------------------------------------


@record
class BackupInfo:
    """One backup version as ``GET /room_keys/version`` describes it."""

    version: str
    algorithm: str
    public_key: str | None  # None when the algorithm is not one we support
    auth_data: dict[str, Any]
    count: int | None
    etag: str | None

    @property
    def supported(self) -> bool:
        return self.algorithm == BACKUP_ALGORITHM and self.public_key is not None


def parse_backup_info(body: object) -> BackupInfo:
    """Check a backup version description; raises BackupError with the reason."""
    if not isinstance(body, Mapping):
        raise BackupError("the backup description is not an object")
    version = body.get("version")
    if not isinstance(version, str) or not version or len(version) > 64:
        raise BackupError("the backup has no usable version")
    algorithm = body.get("algorithm")
    if not isinstance(algorithm, str) or len(algorithm) > 200:
        raise BackupError(f"backup version {version} has no usable algorithm")
    auth_data = body.get("auth_data")
    if not isinstance(auth_data, dict):
        raise BackupError(f"backup version {version} has no auth_data")
    count = body.get("count")
    etag = body.get("etag")
    public_key: str | None = None
    if algorithm == BACKUP_ALGORITHM:
        raw = _curve25519(auth_data.get("public_key"), f"the public key of backup version {version}")
        public_key = b64encode(raw)
    return BackupInfo(
        version,
        algorithm,
        public_key,
        auth_data,
        count if isinstance(count, int) and not isinstance(count, bool) and count >= 0 else None,
        etag if isinstance(etag, str) and len(etag) <= 200 else None,
    )


def new_auth_data(key: bytes) -> dict[str, Any]:
    """The unsigned ``auth_data`` of a new backup for `key` (sign it before uploading)."""
    return {"public_key": public_key_of(key)}


@record
class BackupTrust:
    """Whether we may use a backup: to restore we need its private key; to add keys to it, its
    private key or a signature of its ``auth_data`` by a key we trust."""

    key_matches: bool  # the private key we hold is this backup's
    signed_by: tuple[str, ...]  # who of ours signed auth_data: "your identity", "device ABC"

    @property
    def can_upload(self) -> bool:
        return self.key_matches or bool(self.signed_by)

    def describe(self) -> str:
        parts = []
        if self.key_matches:
            parts.append("this device holds its key")
        if self.signed_by:
            parts.append("signed by " + ", ".join(self.signed_by))
        return "; ".join(parts) if parts else "not signed by your identity or a verified device, and its key is unknown"


def backup_trust(
    info: BackupInfo,
    user_id: str,
    private_key: bytes | None,
    master_key: str | None,
    verified_devices: Mapping[str, str],
) -> BackupTrust:
    """How far `info` can be trusted by `user_id`: `master_key` is their (pinned) master key,
    `verified_devices` maps device id to Ed25519 key for their devices verified by it (this one
    included)."""
    matches = False
    if private_key is not None and info.public_key is not None:
        try:
            matches = public_key_of(private_key) == info.public_key
        except BackupError:
            matches = False
    signers: list[str] = []
    if info.supported:
        if master_key and verify_json(info.auth_data, user_id, master_key, master_key):
            signers.append("your identity")
        for device_id, ed25519 in sorted(verified_devices.items()):
            if verify_json(info.auth_data, user_id, device_id, ed25519):
                signers.append(f"device {device_id}")
    return BackupTrust(matches, tuple(signers))


# -- one session: encrypt for the backup, decrypt from it ---------------------------------------------


class Encryptor:
    """Encrypts sessions for one backup public key."""

    def __init__(self, public_key: str) -> None:
        raw = _curve25519(public_key, "the backup public key")
        self._inner = vodozemac.PkEncryption.from_key(vodozemac.Curve25519PublicKey.from_bytes(raw))

    def session_data(self, plaintext: bytes) -> dict[str, str]:
        message = self._inner.encrypt(plaintext)
        return {
            "ephemeral": b64encode(message.ephemeral_key),
            "ciphertext": b64encode(message.ciphertext),
            "mac": b64encode(message.mac),
        }

    def entry(self, key: ExportedKey, first_message_index: int, forwarded_count: int) -> dict[str, Any]:
        """A ``KeyBackupData`` for one session."""
        return {
            "first_message_index": first_message_index,
            "forwarded_count": forwarded_count,
            "is_verified": False,  # as matrix-rust-sdk: nothing reads it, and we cannot know it
            "session_data": self.session_data(backed_up_session_data(key)),
        }


def backed_up_session_data(key: ExportedKey) -> bytes:
    """The ``BackedUpSessionData`` plaintext: the shareable flag is spelled as Element's crypto
    reads it."""
    return json.dumps(
        {
            "algorithm": MEGOLM,
            "sender_key": key.sender_key,
            "session_key": key.session_key,
            "sender_claimed_keys": {"ed25519": key.sender_claimed_ed25519} if key.sender_claimed_ed25519 else {},
            "forwarding_curve25519_key_chain": list(key.forwarding_chain),
            SHARED_HISTORY_SEND_KEY: key.shared_history,
        },
        separators=(",", ":"),
    ).encode()


class Decryptor:
    """Decrypts the sessions of one backup with its private key."""

    def __init__(self, private_key: bytes) -> None:
        _check_private(private_key)
        self._inner = vodozemac.PkDecryption.from_key(vodozemac.Curve25519SecretKey.from_bytes(bytes(private_key)))
        self.public_key: str = self._inner.public_key.to_base64()

    def decrypt(self, room_id: str, session_id: str, entry: object) -> ExportedKey:
        """One ``KeyBackupData`` as the session it claims to be; raises BackupError.

        The session key itself is checked against `session_id` when it is imported
        (`crypto.megolm.import_exported`)."""
        if not isinstance(entry, Mapping):
            raise BackupError("the entry is not an object")
        data = entry.get("session_data")
        if not isinstance(data, Mapping):
            raise BackupError("the entry has no session_data")
        ephemeral = _curve25519(data.get("ephemeral"), "its ephemeral key")
        ciphertext_text = data.get("ciphertext")
        if not isinstance(ciphertext_text, str) or not ciphertext_text or len(ciphertext_text) > MAX_CIPHERTEXT:
            raise BackupError("its ciphertext is missing or too long")
        try:
            ciphertext = b64decode(ciphertext_text)
            mac = b64decode(data.get("mac"))  # type: ignore[arg-type]
        except ValueError:
            raise BackupError("its ciphertext or MAC is not valid base64") from None
        if len(mac) != MAC_LEN:
            raise BackupError(f"its MAC is {len(mac)} bytes, not {MAC_LEN}")
        try:
            plaintext = self._inner.decrypt(vodozemac.Message(ciphertext, mac, ephemeral))
        except (vodozemac.PkDecodeException, vodozemac.PkInvalidKeySizeException) as exc:
            raise BackupError(f"it cannot be decrypted with this backup's key ({exc})") from None
        return parse_session_data(plaintext, room_id, session_id)


def parse_session_data(plaintext: bytes, room_id: str, session_id: str) -> ExportedKey:
    """A decrypted ``BackedUpSessionData``, every field checked."""
    try:
        obj = json.loads(plaintext.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BackupError("it does not decrypt to JSON") from None
    if not isinstance(obj, dict):
        raise BackupError("it does not decrypt to a JSON object")
    if obj.get("algorithm") != MEGOLM:
        raise BackupError("it is not a Megolm session")
    sender_key = b64encode(_curve25519(obj.get("sender_key"), "its sender key"))
    session_key = obj.get("session_key")
    if not isinstance(session_key, str) or not session_key or len(session_key) > 4096:
        raise BackupError("it has no usable session key")
    claimed = obj.get("sender_claimed_keys", {})
    if not isinstance(claimed, dict):
        raise BackupError("its sender_claimed_keys is not an object")
    ed25519 = claimed.get("ed25519", "")
    if not isinstance(ed25519, str) or len(ed25519) > 64:
        raise BackupError("its claimed Ed25519 key is not a key")
    chain = obj.get("forwarding_curve25519_key_chain", [])
    if not isinstance(chain, list) or not all(isinstance(c, str) and len(c) <= 64 for c in chain):
        raise BackupError("its forwarding chain is not a list of keys")
    return ExportedKey(
        room_id, sender_key, session_id, session_key, ed25519, tuple(chain[-MAX_CHAIN:]), shared_history_flag(obj)
    )


# -- a whole backup (GET /room_keys/keys) ---------------------------------------------------------------


def valid_room_id(room_id: object) -> bool:
    return (
        isinstance(room_id, str) and room_id.startswith("!") and 2 < len(room_id.encode("utf-8", "replace")) <= MAX_ID
        and room_id.isprintable()
    )


def valid_session_id(session_id: object) -> bool:
    if not isinstance(session_id, str) or len(session_id) != 43:
        return False
    try:
        return len(b64decode(session_id)) == KEY_LEN
    except ValueError:
        return False


@record
class BackupEntry:
    room_id: str
    session_id: str
    data: Mapping[str, Any]


def iter_rooms(body: object) -> Iterator[BackupEntry | BackupError]:
    """The entries of a whole-backup answer ``{"rooms": {room: {"sessions": {id: data}}}}``,
    in order; an entry whose room or session id is malformed comes out as a BackupError."""
    if not isinstance(body, Mapping):
        raise BackupError("the backup is not a JSON object")
    rooms = body.get("rooms", {})
    if not isinstance(rooms, Mapping):
        raise BackupError("the backup's rooms are not an object")
    for room_id, room in rooms.items():
        yield from iter_room(room_id, room)


def iter_room(room_id: object, room: object) -> Iterator[BackupEntry | BackupError]:
    """The entries of one room's answer ``{"sessions": {id: data}}``."""
    sessions = room.get("sessions") if isinstance(room, Mapping) else None
    if not valid_room_id(room_id):
        yield BackupError(f"a room id in the backup is not a room id ({str(room_id)[:40]!r})")
        return
    assert isinstance(room_id, str)
    if not isinstance(sessions, Mapping):
        yield BackupError(f"the sessions of {room_id} are not an object")
        return
    for session_id, data in sessions.items():
        if not valid_session_id(session_id):
            yield BackupError(f"a session id in {room_id} is not a session id ({str(session_id)[:20]!r})")
            continue
        if not isinstance(data, Mapping):
            yield BackupError(f"session {session_id[:10]}… of {room_id} is not an object")
            continue
        yield BackupEntry(room_id, session_id, data)


def count_entries(body: object) -> int:
    """How many session entries a whole-backup answer has (for progress), malformed ones included."""
    if not isinstance(body, Mapping) or not isinstance(body.get("rooms"), Mapping):
        return 0
    return sum(
        len(room["sessions"]) for room in body["rooms"].values()
        if isinstance(room, Mapping) and isinstance(room.get("sessions"), Mapping)
    )


def first_message_index(data: Mapping[str, Any]) -> int | None:
    value = data.get("first_message_index")
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else None
