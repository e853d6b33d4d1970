"""Cross-signing: our own master/self-signing/user-signing keys, and checking
other people's identities and devices (spec "Cross-signing"; MSC4147).

Producer side: ``CrossSigningPrivateKeys`` builds the body of
``/keys/device_signing/upload`` and signs devices and other users' master keys.

Consumer side: ``identity_from_keys_query`` turns the ``master_keys`` /
``self_signing_keys`` / ``user_signing_keys`` entries of ``/keys/query`` into a
``UserIdentity`` (MSK -> SSK/USK signatures checked), and
``device_signed_by_identity`` checks the SSK -> device link. These functions
look at server-supplied data and fail closed: they raise only
``CrossSigningError`` or return ``False``/a reason string, as documented.

Pinning (TOFU) of master keys and "was verified, identity changed" tracking
are the caller's job; nothing here remembers anything.

One module (at the ~450-line limit): the producer checks what it makes and
what it signs with the consumer's parser (``identity``, ``sign_master_key_of``)
and shares its role names and messages, so split, one side would import the
other's private parts.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import field
from typing import Any

from ...records import record
from .canonical import b64decode, b64encode, canonical_json
from .signing import Ed25519Key, is_valid_public_key, sign_json, verify_json

__all__ = [
    "CrossSigningError",
    "CrossSigningPrivateKeys",
    "CrossSigningPublicKey",
    "UserIdentity",
    "parse_cross_signing_key",
    "identity_from_keys_query",
    "device_signed_by_identity",
    "master_key_signed_by_us",
    "private_seeds_match",
    "check_sender_device_keys",
]

MASTER = "master"
SELF_SIGNING = "self_signing"
USER_SIGNING = "user_signing"

_ROLE_NAMES = {
    MASTER: "master key",
    SELF_SIGNING: "self-signing key",
    USER_SIGNING: "user-signing key",
}


class CrossSigningError(Exception):
    """A cross-signing key or identity is malformed or not validly signed.

    The message is one short reason, suitable for logs and for the user.
    """


def _short(value: object, limit: int = 60) -> str:
    # Hostile values end up in error messages: quote strings, cut them short,
    # and never repr() arbitrary structures.
    if value is None:
        return "None"
    if not isinstance(value, str):
        return f"a {type(value).__name__}"
    text = repr(value[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _key_object(user_id: str, usage: str, key: Ed25519Key) -> dict[str, Any]:
    public = key.public_key
    return {"user_id": user_id, "usage": [usage], "keys": {"ed25519:" + public: public}}


@record
class CrossSigningPrivateKeys:
    """Our three private cross-signing keys.

    The caller decides where to keep them; ``to_dict`` gives base64 seeds for
    that, ``from_dict`` reads them back.
    """

    master: Ed25519Key
    self_signing: Ed25519Key
    user_signing: Ed25519Key

    @classmethod
    def generate(cls) -> CrossSigningPrivateKeys:
        return cls(Ed25519Key.generate(), Ed25519Key.generate(), Ed25519Key.generate())

    def to_dict(self) -> dict[str, str]:
        return {
            MASTER: b64encode(self.master.seed),
            SELF_SIGNING: b64encode(self.self_signing.seed),
            USER_SIGNING: b64encode(self.user_signing.seed),
        }

    @classmethod
    def from_dict(cls, data: object) -> CrossSigningPrivateKeys:
        """Raises ``CrossSigningError`` if any seed is missing or not 32 bytes of base64."""
        if not isinstance(data, Mapping):
            raise CrossSigningError("stored cross-signing keys are not an object")
        keys: list[Ed25519Key] = []
        for role in (MASTER, SELF_SIGNING, USER_SIGNING):
            try:
                keys.append(Ed25519Key.from_seed(b64decode(data.get(role))))  # type: ignore[arg-type]
            except ValueError:
                raise CrossSigningError(
                    f"stored {_ROLE_NAMES[role]} is missing or not a 32-byte seed"
                ) from None
        return cls(*keys)

    def public_keys_payload(
        self,
        user_id: str,
        device_signer: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Body of ``POST /_matrix/client/v3/keys/device_signing/upload`` (without ``auth``).

        SSK and USK are signed by the MSK. If ``device_signer`` is given it is
        called with the MSK object and must return it with our device's
        signature added (Element signs the MSK with the device key, which helps
        other clients trust it); its return value is used as ``master_key``.
        """
        master_obj = _key_object(user_id, MASTER, self.master)
        if device_signer is not None:
            master_obj = device_signer(master_obj)
        msk_id = self.master.public_key
        return {
            "master_key": master_obj,
            "self_signing_key": sign_json(
                _key_object(user_id, SELF_SIGNING, self.self_signing), self.master, user_id, msk_id
            ),
            "user_signing_key": sign_json(
                _key_object(user_id, USER_SIGNING, self.user_signing), self.master, user_id, msk_id
            ),
        }

    def identity(self, user_id: str) -> UserIdentity:
        """Our own identity as other clients will see it once the payload is uploaded."""
        payload = self.public_keys_payload(user_id)
        return identity_from_keys_query(
            user_id,
            payload["master_key"],
            payload["self_signing_key"],
            payload["user_signing_key"],
        )

    def sign_device(self, device_keys: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Return ``device_keys`` with our self-signing signature added.

        For ``/keys/signatures/upload`` the caller sends
        ``{user_id: {device_id: <result>}}``. Raises ``CrossSigningError`` if
        the object is not one of ``user_id``'s device-keys objects.
        """
        if not isinstance(device_keys, dict) or device_keys.get("user_id") != user_id:
            raise CrossSigningError("can only sign our own device keys")
        if not isinstance(device_keys.get("device_id"), str):
            raise CrossSigningError("device keys have no device_id")
        try:
            return sign_json(device_keys, self.self_signing, user_id, self.self_signing.public_key)
        except ValueError as exc:
            raise CrossSigningError(f"device keys cannot be signed: {exc}") from None

    def sign_master_key_of(
        self, other_master_key_obj: dict[str, Any], our_user_id: str
    ) -> dict[str, Any]:
        """Sign another user's master key object with our user-signing key.

        The result goes to ``/keys/signatures/upload`` as
        ``{their_user_id: {their_msk_public_key: <result>}}``. Raises
        ``CrossSigningError`` if the object is not a well-formed master key of
        someone else.
        """
        their_user_id = (
            other_master_key_obj.get("user_id") if isinstance(other_master_key_obj, dict) else None
        )
        if not isinstance(their_user_id, str):
            raise CrossSigningError("master key: user_id is missing")
        if their_user_id == our_user_id:
            raise CrossSigningError("our user-signing key only signs other users' master keys")
        parse_cross_signing_key(other_master_key_obj, their_user_id, MASTER)
        try:
            return sign_json(
                other_master_key_obj, self.user_signing, our_user_id, self.user_signing.public_key
            )
        except ValueError as exc:
            raise CrossSigningError(f"master key cannot be signed: {exc}") from None


@record
class CrossSigningPublicKey:
    """One validated cross-signing key object from the server."""

    user_id: str
    usage: tuple[str, ...]
    public_key: str
    raw: dict[str, Any] = field(compare=False, repr=False)


@record
class UserIdentity:
    """A user's cross-signing identity with the MSK -> SSK/USK signatures checked.

    Whether ``master`` is the key we expect (pinned, verified) is for the
    caller to decide.
    """

    user_id: str
    master: CrossSigningPublicKey
    self_signing: CrossSigningPublicKey | None
    user_signing: CrossSigningPublicKey | None

    def public_keys(self) -> tuple[str, ...]:
        return tuple(k.public_key for k in (self.master, self.self_signing, self.user_signing) if k)


def parse_cross_signing_key(
    obj: object, expected_user_id: str, expected_usage: str
) -> CrossSigningPublicKey:
    """Validate the shape of one cross-signing key object (signatures not checked).

    Raises ``CrossSigningError`` unless ``obj`` is an object whose
    ``user_id`` is ``expected_user_id``, whose ``usage`` list contains
    ``expected_usage``, and whose ``keys`` holds exactly one entry
    ``"ed25519:<k>": "<k>"`` where ``<k>`` is the unpadded base64 of a valid
    32-byte Ed25519 public key.
    """
    what = _ROLE_NAMES.get(expected_usage, "cross-signing key")
    if not isinstance(obj, dict):
        raise CrossSigningError(f"{what}: not a JSON object")
    try:
        # Also bounds the nesting depth before the deepcopy below.
        canonical_json(obj)
    except ValueError:
        raise CrossSigningError(f"{what}: not valid canonical JSON") from None
    user_id = obj.get("user_id")
    if user_id != expected_user_id:
        raise CrossSigningError(
            f"{what}: belongs to {_short(user_id)}, expected {_short(expected_user_id)}"
        )
    usage = obj.get("usage")
    if not isinstance(usage, list) or not all(isinstance(u, str) for u in usage):
        raise CrossSigningError(f"{what}: 'usage' is not a list of strings")
    if expected_usage not in usage:
        raise CrossSigningError(f"{what}: its usage does not include {expected_usage!r}")
    keys = obj.get("keys")
    if not isinstance(keys, dict) or len(keys) != 1:
        raise CrossSigningError(f"{what}: 'keys' must hold exactly one key")
    ((key_id, value),) = keys.items()
    if not isinstance(key_id, str) or not key_id.startswith("ed25519:"):
        raise CrossSigningError(f"{what}: the key is not an ed25519 key")
    public = key_id[len("ed25519:") :]
    if value != public:
        raise CrossSigningError(f"{what}: key id and key value differ")
    # Key ids are compared as strings elsewhere, so insist on the one spelling
    # every client emits (unpadded standard base64).
    try:
        canonical = b64encode(b64decode(public))
    except ValueError:
        canonical = None
    if canonical != public or not is_valid_public_key(public):
        raise CrossSigningError(f"{what}: {_short(public)} is not a valid Ed25519 public key")
    return CrossSigningPublicKey(
        user_id=expected_user_id,
        usage=tuple(usage),
        public_key=public,
        raw=copy.deepcopy(obj),
    )


def identity_from_keys_query(
    user_id: str, master_obj: object, ssk_obj: object | None, usk_obj: object | None
) -> UserIdentity:
    """Build a user's identity from their ``/keys/query`` cross-signing entries.

    ``ssk_obj``/``usk_obj`` may be ``None`` (absent; the USK is only visible
    to its owner). Raises ``CrossSigningError`` if the MSK is malformed, or if
    an SSK/USK is present but malformed or not validly signed by that MSK.

    Design choice: a bad SSK/USK makes the whole identity unusable (we raise)
    instead of silently dropping the bad part. A server that serves a key the
    MSK never signed is broken or hostile; the caller should treat the user
    as having no usable identity until a clean copy arrives, which fails
    closed (their devices count as not cross-signed).
    """
    master = parse_cross_signing_key(master_obj, user_id, MASTER)
    parsed: dict[str, CrossSigningPublicKey | None] = {}
    for usage, obj in ((SELF_SIGNING, ssk_obj), (USER_SIGNING, usk_obj)):
        if obj is None:
            parsed[usage] = None
            continue
        key = parse_cross_signing_key(obj, user_id, usage)
        if not verify_json(obj, user_id, master.public_key, master.public_key):
            raise CrossSigningError(
                f"{_ROLE_NAMES[usage]} is not signed by {_short(user_id)}'s master key"
            )
        parsed[usage] = key
    return UserIdentity(
        user_id=user_id,
        master=master,
        self_signing=parsed[SELF_SIGNING],
        user_signing=parsed[USER_SIGNING],
    )


def _device_ed25519(device_keys: dict[str, Any], device_id: str) -> str | None:
    keys = device_keys.get("keys")
    if not isinstance(keys, dict):
        return None
    key = keys.get("ed25519:" + device_id)
    return key if isinstance(key, str) else None


def device_signed_by_identity(device_keys: object, identity: UserIdentity) -> bool:
    """True if this ``/keys/query`` device object is cross-signed by ``identity``.

    Requires: ``user_id`` is the identity's user, a valid self-signature by the
    device's own ``ed25519:<device_id>`` key, and a valid signature by the
    identity's self-signing key. A device whose id equals one of the
    identity's cross-signing public keys is refused (the spec's key-id
    collision precaution). Never raises.
    """
    try:
        if not isinstance(device_keys, dict) or not isinstance(identity, UserIdentity):
            return False
        ssk = identity.self_signing
        if ssk is None or device_keys.get("user_id") != identity.user_id:
            return False
        device_id = device_keys.get("device_id")
        if not isinstance(device_id, str) or not device_id:
            return False
        if device_id in identity.public_keys():
            return False
        device_key = _device_ed25519(device_keys, device_id)
        if device_key is None:
            return False
        return verify_json(device_keys, identity.user_id, device_id, device_key) and verify_json(
            device_keys, identity.user_id, ssk.public_key, ssk.public_key
        )
    except (ValueError, TypeError, RecursionError):
        return False


def master_key_signed_by_us(their_identity: UserIdentity, our_identity: UserIdentity) -> bool:
    """True if their MSK carries a valid signature by our user-signing key.

    ``our_identity`` must be one the caller trusts as ours (e.g. its MSK
    matches our private master key). Never raises.
    """
    try:
        if not isinstance(their_identity, UserIdentity) or not isinstance(
            our_identity, UserIdentity
        ):
            return False
        usk = our_identity.user_signing
        if usk is None:
            return False
        return verify_json(
            their_identity.master.raw, our_identity.user_id, usk.public_key, usk.public_key
        )
    except (ValueError, TypeError, RecursionError):
        return False


def private_seeds_match(
    identity: UserIdentity,
    *,
    master: bytes | None = None,
    self_signing: bytes | None = None,
    user_signing: bytes | None = None,
) -> str | None:
    """Check private seeds (e.g. unlocked from secret storage) against a published identity.

    Returns ``None`` if every seed given derives the matching public key, else
    a short reason. Seeds passed as ``None`` are not checked. Never raises.
    """
    for role, seed, public in (
        (MASTER, master, identity.master),
        (SELF_SIGNING, self_signing, identity.self_signing),
        (USER_SIGNING, user_signing, identity.user_signing),
    ):
        if seed is None:
            continue
        name = _ROLE_NAMES[role]
        if public is None:
            return f"the published identity has no {name}"
        try:
            derived = Ed25519Key.from_seed(seed).public_key
        except ValueError:
            return f"the private {name} is not a 32-byte seed"
        if derived != public.public_key:
            return f"the private {name} does not match the published one"
    return None


def check_sender_device_keys(
    sender_device_keys: object,
    *,
    sender: str,
    claimed_ed25519: str | None,
    olm_sender_curve25519: str,
) -> str | None:
    """MSC4147 checks on ``sender_device_keys`` from an Olm-decrypted payload.

    Returns ``None`` if it is acceptable, else a short reason. Checks: it is
    an object for ``sender`` with a ``device_id``; it has
    ``ed25519:<device_id>`` and ``curve25519:<device_id>`` keys; the ed25519
    key equals ``keys.ed25519`` of the Olm payload (``claimed_ed25519``); the
    curve25519 key equals the Olm session's sender key; and the object has a
    valid self-signature. Whether the device is also cross-signed is a
    separate question (``device_signed_by_identity``). Never raises.
    """
    try:
        if not isinstance(sender_device_keys, dict):
            return "sender_device_keys is not an object"
        if not isinstance(sender, str) or sender_device_keys.get("user_id") != sender:
            return "sender_device_keys belongs to a different user than the sender"
        device_id = sender_device_keys.get("device_id")
        if not isinstance(device_id, str) or not device_id:
            return "sender_device_keys has no device_id"
        keys = sender_device_keys.get("keys")
        if not isinstance(keys, dict):
            return "sender_device_keys has no keys"
        ed25519 = keys.get("ed25519:" + device_id)
        curve25519 = keys.get("curve25519:" + device_id)
        if not isinstance(ed25519, str):
            return "sender_device_keys has no ed25519 key for the device"
        if not isinstance(curve25519, str):
            return "sender_device_keys has no curve25519 key for the device"
        if not isinstance(claimed_ed25519, str):
            return "the Olm payload does not claim an ed25519 key"
        if not _same_key(ed25519, claimed_ed25519):
            return "the device's ed25519 key differs from the one claimed in the Olm payload"
        if not _same_key(curve25519, olm_sender_curve25519):
            return "the device's curve25519 key differs from the Olm session's sender key"
        if not verify_json(sender_device_keys, sender, device_id, ed25519):
            return "sender_device_keys has no valid self-signature"
        return None
    except (ValueError, TypeError, RecursionError):
        return "sender_device_keys is malformed"


def _same_key(a: object, b: object) -> bool:
    # Compare decoded bytes so padded and unpadded spellings of a key agree.
    try:
        raw_a = b64decode(a)  # type: ignore[arg-type]
        raw_b = b64decode(b)  # type: ignore[arg-type]
    except ValueError:
        return False
    return len(raw_a) == 32 and raw_a == raw_b
