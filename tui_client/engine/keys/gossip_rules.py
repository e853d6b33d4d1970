"""Keys and secrets between our own devices, as pure decisions (spec "Sharing keys between
devices" and "Sharing" of secrets). matrix-rust-sdk's ``gossiping/machine.rs`` makes the same
ones:

- a room key forwarded to us (``m.forwarded_room_key``) is taken only from another device of
  ours that our identity signed, and only for a session we asked for, in the room we asked about;
- a room key request (``m.room_key_request``) is answered only for another device of ours that
  our identity signed;
- a secret request (``m.secret.request``) is answered the same way, for the secrets we know;
- a secret sent to us (``m.secret.send``, Olm-encrypted) is taken only from such a device, for a
  request of ours, and only if it is a well-formed 32-byte key (the caller then checks it against
  the published identity, or the server's key backup).

Each function returns ``None`` when the answer is yes, else the reason why not (for the log).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import vodozemac

from ...records import record
from ..crypto.canonical import b64decode
from ..crypto.secret_storage import MASTER_SECRET, SELF_SIGNING_SECRET, USER_SIGNING_SECRET

BACKUP_SECRET = "m.megolm_backup.v1"
CROSS_SIGNING_SECRETS = (MASTER_SECRET, SELF_SIGNING_SECRET, USER_SIGNING_SECRET)
KNOWN_SECRETS = (*CROSS_SIGNING_SECRETS, BACKUP_SECRET)
MEGOLM = "m.megolm.v1.aes-sha2"

REQUEST_LIFETIME = 10 * 60.0  # an unanswered secret request is forgotten after this


def _text(value: Any, limit: int = 255) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= limit else None


@record
class DeviceFacts:
    """What we know of the device something came from (or is for)."""

    user_id: str
    device_id: str | None  # None: not a device we know
    trusted: bool  # another device of ours, signed by our (unchanged) identity, or emoji-verified


def _own_trusted_device(own_user: str, own_device: str, device: DeviceFacts) -> str | None:
    if device.user_id != own_user:
        return f"{device.user_id} is not us"
    if device.device_id is None:
        return "it comes from a device we do not know"
    if device.device_id == own_device:
        return "it comes from this very device"
    if not device.trusted:
        return f"our device {device.device_id} is not verified"
    return None


# -- room keys ----------------------------------------------------------------------------------


def forward_refusal(
    own_user: str,
    own_device: str,
    sender: DeviceFacts,
    *,
    algorithm: Any,
    room_id: Any,
    requested_room: str | None,
) -> str | None:
    """Whether to take a forwarded room key: None (take it) or why not."""
    if algorithm != MEGOLM:
        return f"unsupported algorithm {str(algorithm)[:40]!r}"
    why = _own_trusted_device(own_user, own_device, sender)
    if why:
        return why
    if requested_room is None:
        return "we did not ask for this session"
    if room_id != requested_room:
        return "it is for another room than the one we asked about"
    return None


def key_request_refusal(own_user: str, own_device: str, requester: DeviceFacts) -> str | None:
    """Whether to answer a room key request with the key (None) or why not."""
    return _own_trusted_device(own_user, own_device, requester)


# -- secrets ------------------------------------------------------------------------------------


@record
class SecretRequest:
    name: str
    request_id: str
    requesting_device: str
    cancel: bool  # a request_cancellation


def parse_secret_request(sender: str, content: Any, own_user: str, own_device: str) -> SecretRequest | str:
    """An ``m.secret.request`` as data, or why it is ignored."""
    if sender != own_user:
        return f"{sender} is not us"
    if not isinstance(content, Mapping):
        return "the request is not an object"
    device = _text(content.get("requesting_device_id"))
    request_id = _text(content.get("request_id"))
    action = content.get("action")
    if device is None or request_id is None:
        return "the request names no device or request id"
    if device == own_device:
        return "the request is our own"
    if action == "request_cancellation":
        return SecretRequest("", request_id, device, True)
    if action != "request":
        return f"unknown action {str(action)[:40]!r}"
    name = _text(content.get("name"))
    if name is None:
        return "the request names no secret"
    return SecretRequest(name, request_id, device, False)


def secret_request_refusal(own_user: str, own_device: str, request: SecretRequest, requester: DeviceFacts,
                           have_secret: bool) -> str | None:
    """Whether to send the secret asked for (None) or why not."""
    if request.name not in KNOWN_SECRETS:
        return f"we do not share {request.name[:60]!r}"
    why = _own_trusted_device(own_user, own_device, requester)
    if why:
        return why
    if not have_secret:
        return f"we do not have {request.name}"
    return None


def decode_secret(value: Any) -> bytes | None:
    """The 32 bytes of a gossiped key (cross-signing seed or backup key), or None."""
    if not isinstance(value, str) or len(value) > 100:
        return None
    try:
        data = b64decode(value)
    except ValueError:
        return None
    return data if len(data) == 32 else None


@record
class ReceivedSecret:
    name: str
    request_id: str
    value: bytes


def secret_send_refusal(
    own_user: str,
    own_device: str,
    sender: DeviceFacts,
    content: Any,
    outstanding: Mapping[str, str],
) -> ReceivedSecret | str:
    """An ``m.secret.send`` we take (the secret, still to be checked against what is published),
    or why we do not. `outstanding` maps our open request ids to the secret each asked for."""
    why = _own_trusted_device(own_user, own_device, sender)
    if why:
        return why
    if not isinstance(content, Mapping):
        return "the message is not an object"
    request_id = _text(content.get("request_id"))
    if request_id is None or request_id not in outstanding:
        return "it answers no request of ours"
    value = decode_secret(content.get("secret"))
    if value is None:
        return f"the {outstanding[request_id]} it holds is not a 32-byte key"
    return ReceivedSecret(outstanding[request_id], request_id, value)


def backup_public_key(private_key: bytes) -> str:
    """The Curve25519 public key (unpadded base64) of a key backup's private key, as the
    backup's ``auth_data.public_key`` names it (``m.megolm_backup.v1.curve25519-aes-sha2``)."""
    secret = vodozemac.Curve25519SecretKey.from_bytes(private_key)
    return str(secret.public_key().to_base64())


def backup_mismatch(private_key: bytes, backup_info: Any) -> str | None:
    """Whether a backup key opens the server's current backup (None) or why not; also None if
    the server has no backup to check it against (the key is then kept for when there is)."""
    if not isinstance(backup_info, Mapping) or not backup_info:
        return None
    if backup_info.get("algorithm") != "m.megolm_backup.v1.curve25519-aes-sha2":
        return f"the server's backup uses {str(backup_info.get('algorithm'))[:60]!r}"
    auth = backup_info.get("auth_data")
    public = auth.get("public_key") if isinstance(auth, Mapping) else None
    if not isinstance(public, str):
        return "the server's backup names no public key"
    try:
        mine = b64decode(backup_public_key(private_key))
        theirs = b64decode(public)
    except ValueError:
        return "the server's backup key is malformed"
    if mine != theirs:
        return "it is not the key of the server's current backup"
    return None
