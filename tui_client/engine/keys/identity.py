"""Cross-signing for the engine: our own identity (create, upload, sign our device, unlock it
from secret storage with a recovery key) and other people's (keep what /keys/query returns,
check device ← self-signing key ← master key, pin master keys, notice when they change).

Element only sends key bundles to devices their owner has cross-signed, and only accepts
bundles from such devices (msc4268.md §5), so this module gates history sharing both ways.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import os
import urllib.parse
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..crypto.canonical import canonical_json
from ..crypto.cross_signing import (
    CrossSigningError,
    CrossSigningPrivateKeys,
    UserIdentity,
    device_signed_by_identity,
    identity_from_keys_query,
    master_key_signed_by_us,
    private_seeds_match,
)
from ..crypto.secret_storage import (
    DEFAULT_KEY_EVENT,
    KEY_EVENT_PREFIX,
    MASTER_SECRET,
    SELF_SIGNING_SECRET,
    USER_SIGNING_SECRET,
    SecretStorageError,
    decrypt_stored_secret,
    encode_recovery_key,
    encrypt_secret,
    make_key_description,
    unlock_cross_signing_with_input,
)
from ..crypto.signing import Ed25519Key, sign_json
from ..crypto.symmetric import seal, store_subkey, unseal
from ..history_sharing.rules import SenderTrust
from ..models import DeviceInfo, IdentityInfo, IdentityState, OwnTrust
from ..nio.store import StoredIdentity

if TYPE_CHECKING:
    from ..nio.client import EngineClient
    from ..nio.olm import AppOlm
    from ..nio.store import AppStore

logger = logging.getLogger(__name__)

_SECRET_NAME = "cross_signing_keys"


class IdentityError(Exception):
    """A cross-signing action failed; the message is for the user."""


@dataclass(frozen=True)
class StoredSecrets:
    """Other secrets read from secret storage while verifying (e.g. the key backup's key):
    their values, and why those that are there could not be read."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    problems: dict[str, str] = field(default_factory=dict)


class IdentityManager:
    """Cross-signing for one logged-in client (its store holds pins, device JSON and our
    encrypted private keys)."""

    def __init__(
        self,
        client: EngineClient,
        store_key: str,
        query_keys: Callable[[set[str]], Awaitable[Any]],
        clock: Callable[[], float],
    ) -> None:
        assert client.store is not None and client.olm is not None, "the client's store must be open"
        self.client = client
        self.store: AppStore = client.store
        self.olm: AppOlm = client.olm
        self.user_id = client.user_id
        self.device_id = client.device_id
        self._secret_key = store_subkey(store_key, "cross-signing keys")
        self._query_keys = query_keys
        self._clock = clock
        self._private: CrossSigningPrivateKeys | None = None
        self._own_identity: UserIdentity | None = None
        self._own_device_signed = False
        self.on_identity_changed: Callable[[str, str | None, str], None] = lambda u, old, new: None
        self.on_own_trust_changed: Callable[[OwnTrust], None] = lambda t: None

    def load(self) -> None:
        """Read our private keys (if any) from the store at start-up."""
        blob = self.store.get_secret(_SECRET_NAME)
        self._private = None
        if blob:
            try:
                plain = unseal(self._secret_key, base64.b64decode(blob), _SECRET_NAME.encode())
                self._private = CrossSigningPrivateKeys.from_dict(json.loads(plain))
            except Exception as exc:
                logger.error("our stored cross-signing keys cannot be read (%s); this device will need re-verifying", exc)
        own = self.store.get_identity(self.user_id)
        if own is not None:
            self._own_identity = self._identity_from_stored(own)
            device = self.store.get_device_json(self.user_id, self.device_id)
            self._own_device_signed = bool(
                device and self._own_identity and device_signed_by_identity(device, self._own_identity)
            )

    def _save_private(self, keys: CrossSigningPrivateKeys) -> None:
        sealed = seal(self._secret_key, json.dumps(keys.to_dict()).encode(), _SECRET_NAME.encode())
        self.store.put_secret(_SECRET_NAME, base64.b64encode(sealed).decode())
        self._private = keys

    @staticmethod
    def _identity_from_stored(stored: StoredIdentity) -> UserIdentity | None:
        try:
            return identity_from_keys_query(
                stored.user_id,
                stored.keys.get("master_key"),
                stored.keys.get("self_signing_key"),
                stored.keys.get("user_signing_key"),
            )
        except CrossSigningError:
            return None

    # -- /keys/query results ------------------------------------------------------------------

    def process_keys_query(self, resp: Any) -> None:
        """Keep device JSON and cross-signing keys from a /keys/query answer; pin and compare."""
        now = self._clock()
        for user_id, devices in (resp.device_keys or {}).items():
            if not isinstance(devices, dict):
                continue
            known = self.olm.device_store[user_id]
            for device_id, obj in devices.items():
                # nio has already checked each device's self-signature; keep only the ones it took.
                if isinstance(obj, dict) and (device_id in known or (user_id == self.user_id and device_id == self.device_id)):
                    self.store.put_device_json(user_id, device_id, obj)
            self.store.delete_device_json_except(user_id, devices.keys())
        for user_id, master in (getattr(resp, "master_keys", None) or {}).items():
            ssk = (resp.self_signing_keys or {}).get(user_id)
            usk = (resp.user_signing_keys or {}).get(user_id)
            try:
                identity = identity_from_keys_query(user_id, master, ssk, usk)
            except CrossSigningError as exc:
                logger.warning("ignored the cross-signing keys of %s: %s", user_id, exc)
                continue
            keys = {"master_key": master, "self_signing_key": ssk, "user_signing_key": usk}
            old = self.store.get_identity(user_id)
            msk = identity.master.public_key
            if old is None:
                stored = StoredIdentity(user_id, keys, msk, msk, None, None, False, now, now)
                logger.info("pinned the identity of %s (master key %s…)", user_id, msk[:10])
            elif old.master_key == msk:
                stored = StoredIdentity(
                    user_id, keys, msk, old.pinned_master_key, old.previous_master_key,
                    old.changed_at, old.verified, old.first_seen, now,
                )
            else:
                logger.warning(
                    "the identity of %s changed: master key %s… replaced by %s…", user_id, old.master_key[:10], msk[:10]
                )
                stored = StoredIdentity(
                    user_id, keys, msk, old.pinned_master_key, old.master_key, now, False, old.first_seen, now
                )
                if user_id != self.user_id:
                    self.on_identity_changed(user_id, old.master_key, msk)
            self.store.put_identity(stored)
            if user_id == self.user_id:
                self._own_identity = identity
        if self.user_id in (resp.device_keys or {}) or self.user_id in (getattr(resp, "master_keys", None) or {}):
            self._refresh_own_state()

    def _refresh_own_state(self) -> None:
        device = self.store.get_device_json(self.user_id, self.device_id)
        signed = bool(device and self._own_identity and device_signed_by_identity(device, self._own_identity))
        if signed != self._own_device_signed:
            self._own_device_signed = signed
            self.on_own_trust_changed(self.own_trust())

    # -- answers -----------------------------------------------------------------------------

    def identity_of(self, user_id: str) -> UserIdentity | None:
        if user_id == self.user_id and self._own_identity is not None:
            return self._own_identity
        stored = self.store.get_identity(user_id)
        return self._identity_from_stored(stored) if stored else None

    def identity_info(self, user_id: str) -> IdentityInfo:
        stored = self.store.get_identity(user_id)
        if stored is None:
            return IdentityInfo(user_id, IdentityState.UNKNOWN)
        if stored.previous_master_key and stored.master_key != stored.pinned_master_key:
            state = IdentityState.CHANGED
        else:
            theirs = self._identity_from_stored(stored)
            ours = self._own_identity
            if user_id == self.user_id:
                state = IdentityState.OWN
            elif theirs and ours and master_key_signed_by_us(theirs, ours):
                state = IdentityState.VERIFIED
            else:
                state = IdentityState.PINNED
        return IdentityInfo(user_id, state, stored.master_key, stored.previous_master_key, stored.changed_at)

    def accept_change(self, user_id: str) -> IdentityInfo:
        """The user accepts `user_id`'s new identity: pin the current master key."""
        stored = self.store.get_identity(user_id)
        if stored is None:
            raise IdentityError(f"no identity is known for {user_id}")
        self.store.put_identity(
            replace(stored, pinned_master_key=stored.master_key, previous_master_key=None, changed_at=None)
        )
        logger.info("accepted the new identity of %s (master key %s…)", user_id, stored.master_key[:10])
        return self.identity_info(user_id)

    def changed_identities(self) -> list[str]:
        """Users whose identity changed since we pinned it and who the user has not accepted yet."""
        return [i.user_id for i in self.store.list_identities()
                if i.previous_master_key and i.master_key != i.pinned_master_key]

    def identity_changed(self, user_id: str) -> bool:
        return self.identity_info(user_id).state == "changed"

    def sender_trust(self, user_id: str, sender_key: str, sender_device_keys: dict[str, Any] | None) -> SenderTrust:
        """How far we trust the device (by its Olm curve25519 key) that sent us something: it must
        be cross-signed by its owner's identity, which must not have changed since we pinned it
        (msc4268.md §5.1). The signature may be on the device keys /keys/query gave us or on the
        `sender_device_keys` it sent along."""
        info = self.identity_info(user_id)
        if info.state == "unknown":
            return SenderTrust.NO_IDENTITY
        if info.state == "changed":
            return SenderTrust.IDENTITY_CHANGED
        identity = self.identity_of(user_id)
        device = self.olm.device_store.device_from_sender_key(user_id, sender_key)
        candidates = []
        if device is not None and (stored := self.store.get_device_json(user_id, device.id)) is not None:
            candidates.append(stored)
        if sender_device_keys is not None:
            candidates.append(sender_device_keys)
        if identity is None or not any(device_signed_by_identity(c, identity) for c in candidates):
            return SenderTrust.NOT_CROSS_SIGNED
        return SenderTrust.CROSS_SIGNED

    def device_cross_signed(self, user_id: str, device_id: str) -> bool:
        identity = self.identity_of(user_id)
        device = self.store.get_device_json(user_id, device_id)
        return bool(identity and device and device_signed_by_identity(device, identity))

    def own_device_trusted(self, device_id: str) -> bool:
        """Whether another device of ours is cross-signed by our identity (which has not changed
        since we pinned it): the devices we exchange room keys and secrets with."""
        if device_id == self.device_id or self.identity_info(self.user_id).state is not IdentityState.OWN:
            return False
        return self.device_cross_signed(self.user_id, device_id)

    def devices(self, user_id: str) -> list[DeviceInfo]:
        identity = self.identity_of(user_id)
        state = self.identity_info(user_id).state
        # A device is verified when an identity we trust signs it: ours (unchanged), or one we
        # signed ourselves after comparing emoji with its owner.
        trusted = state is IdentityState.VERIFIED or (state is IdentityState.OWN and user_id == self.user_id)
        out = []
        for device_id, obj in sorted(self.store.list_device_json(user_id).items()):
            found_keys, found_unsigned = obj.get("keys"), obj.get("unsigned")
            keys: dict[str, Any] = found_keys if isinstance(found_keys, dict) else {}
            unsigned: dict[str, Any] = found_unsigned if isinstance(found_unsigned, dict) else {}
            out.append(
                DeviceInfo(
                    user_id, device_id, str(unsigned.get("device_display_name") or ""),
                    keys.get(f"ed25519:{device_id}"), keys.get(f"curve25519:{device_id}"),
                    signed := bool(identity and device_signed_by_identity(obj, identity)),
                    signed and trusted,
                )
            )
        return out

    def own_trust(self) -> OwnTrust:
        identity = self._own_identity
        have = self._private is not None and identity is not None and (
            private_seeds_match(identity, self_signing=self._private.self_signing.seed) is None
        )
        if identity is None:
            return OwnTrust(False, False, False, None, "this account has no cross-signing identity yet")
        if self._own_device_signed:
            return OwnTrust(True, True, have, identity.master.public_key, "this device is verified by your identity")
        return OwnTrust(
            True, False, have, identity.master.public_key,
            "this device is not verified: verify it with your recovery key, or compare emoji with another of your devices",
        )

    def own_device_keys(self) -> dict[str, Any] | None:
        """Our signed device keys for MSC4147 `sender_device_keys` (with the SSK signature)."""
        device = self.store.get_device_json(self.user_id, self.device_id)
        if device is None:
            return None
        device = {k: v for k, v in device.items() if k != "unsigned"}
        if self._private is not None and self._own_identity is not None and not device_signed_by_identity(device, self._own_identity):
            try:
                device = self._private.sign_device(device, self.user_id)
            except CrossSigningError:
                pass
        return device

    def own_master_key(self) -> str | None:
        """Our master key, once this device is verified by it (before that, nothing published in
        our name is trusted)."""
        if self._own_identity is None or not self._own_device_signed:
            return None
        return self._own_identity.master.public_key

    def verified_own_devices(self) -> dict[str, str]:
        """Device id -> Ed25519 key of this device and, once it is verified, of our other devices
        signed by our identity."""
        identity = self._own_identity
        out: dict[str, str] = {}
        if identity is not None and self._own_device_signed:
            for device_id, obj in self.store.list_device_json(self.user_id).items():
                keys = obj.get("keys")
                ed25519 = keys.get(f"ed25519:{device_id}") if isinstance(keys, dict) else None
                if isinstance(ed25519, str) and device_signed_by_identity(obj, identity):
                    out[device_id] = ed25519
        out[self.device_id] = self.olm.account.identity_keys["ed25519"]
        return out

    def sign_own(self, obj: dict[str, Any]) -> dict[str, Any]:
        """`obj` signed by this device and, when we hold it, by our master key (how a new key
        backup's auth_data is signed, as Element does)."""
        signed = self._device_signer(obj)
        if self._private is not None and self._own_identity is not None and private_seeds_match(
            self._own_identity, master=self._private.master.seed
        ) is None:
            signed = sign_json(signed, self._private.master, self.user_id, self._private.master.public_key)
        return signed

    # -- our own identity ---------------------------------------------------------------------

    async def query_own(self) -> None:
        await self._query_keys({self.user_id})

    async def ensure(self, password: str | None = None) -> OwnTrust:
        """Make sure our account has an identity and that our device is signed by it.

        Creates a new identity only when the account has none. If one exists that we cannot
        sign with (set up elsewhere), leaves it alone: verify with the recovery key instead.
        """
        await self.query_own()
        if self._own_identity is None:
            await self._create_identity(password, replacing=False)
        elif not self._own_device_signed and self._private is not None:
            if private_seeds_match(self._own_identity, self_signing=self._private.self_signing.seed) is None:
                await self._sign_own_device()
        return self.own_trust()

    async def reset(self, password: str) -> OwnTrust:
        """Replace our identity with a new one (explicit request only)."""
        await self.query_own()
        await self._create_identity(password, replacing=True)
        return self.own_trust()

    def _device_signer(self, obj: dict[str, Any]) -> dict[str, Any]:
        olm = self.olm
        signature = olm.account.sign(canonical_json({k: v for k, v in obj.items() if k not in ("signatures", "unsigned")}).decode())
        signed = json.loads(json.dumps(obj))
        signed.setdefault("signatures", {}).setdefault(self.user_id, {})[f"ed25519:{self.device_id}"] = signature
        return signed

    async def _create_identity(self, password: str | None, *, replacing: bool) -> None:
        keys = CrossSigningPrivateKeys.generate()
        payload = keys.public_keys_payload(self.user_id, device_signer=self._device_signer)
        path = "/_matrix/client/v3/keys/device_signing/upload"
        status, body = await self.client.raw_json("POST", path, payload)
        if status == 401 and "flows" in body:
            if not password:
                raise IdentityError(
                    "the server wants your password to "
                    + ("replace" if replacing else "publish")
                    + " your cross-signing keys"
                )
            auth = {
                "type": "m.login.password",
                "identifier": {"type": "m.id.user", "user": self.user_id},
                "password": password,
                "session": body.get("session"),
            }
            status, body = await self.client.raw_json("POST", path, {**payload, "auth": auth})
        if status != 200:
            reason = body.get("error") or f"HTTP {status}"
            if body.get("errcode") == "M_FORBIDDEN":
                reason = "wrong password"
            raise IdentityError(f"could not publish cross-signing keys: {reason}")
        self._save_private(keys)
        logger.info("published a new cross-signing identity for %s (master key %s…)", self.user_id, keys.master.public_key[:10])
        await self._sign_own_device()

    async def _sign_own_device(self) -> None:
        await self.query_own()
        await self._upload_device_signature(self.device_id, "this device")
        await self.query_own()
        if not self._own_device_signed:
            raise IdentityError("the server did not keep this device's cross-signing signature")
        logger.info("this device (%s) is now signed by our identity", self.device_id)

    async def _upload_device_signature(self, device_id: str, what: str) -> None:
        """Sign one of our devices (as /keys/query gave it) with our self-signing key and upload it."""
        assert self._private is not None
        device = self.store.get_device_json(self.user_id, device_id)
        if device is None:
            raise IdentityError(f"the server does not list the keys of {what} yet")
        try:
            signed = self._private.sign_device({k: v for k, v in device.items() if k != "unsigned"}, self.user_id)
        except CrossSigningError as exc:
            raise IdentityError(f"cannot sign {what}: {exc}") from None
        ssk_key_id = f"ed25519:{self._private.self_signing.public_key}"
        upload = {**signed, "signatures": {self.user_id: {ssk_key_id: signed["signatures"][self.user_id][ssk_key_id]}}}
        await self._upload_signatures({self.user_id: {device_id: upload}}, what)

    async def _upload_signatures(self, body: dict[str, Any], what: str) -> None:
        status, answer = await self.client.raw_json("POST", "/_matrix/client/v3/keys/signatures/upload", body)
        failures = answer.get("failures") or {}
        if status != 200 or failures:
            raise IdentityError(f"could not upload the signature of {what}: {failures or answer.get('error') or status}")

    # -- what an emoji verification proves --------------------------------------------------

    @property
    def can_sign(self) -> bool:
        """Whether this device holds our identity's private keys (and they are the published ones)."""
        identity = self._own_identity
        return self._private is not None and identity is not None and private_seeds_match(
            identity, master=self._private.master.seed, self_signing=self._private.self_signing.seed,
            user_signing=self._private.user_signing.seed,
        ) is None

    def master_key_of(self, user_id: str) -> str | None:
        identity = self.identity_of(user_id)
        return identity.master.public_key if identity is not None else None

    def device_key_of(self, user_id: str, device_id: str) -> str | None:
        """The ed25519 key of a device, as /keys/query gave it (self-signature checked by nio)."""
        device = self.store.get_device_json(user_id, device_id)
        keys = device.get("keys") if isinstance(device, dict) else None
        key = keys.get(f"ed25519:{device_id}") if isinstance(keys, dict) else None
        return key if isinstance(key, str) else None

    async def sign_own_device(self, device_id: str) -> None:
        """Cross-sign another device of ours that an emoji verification proved (self-signing key)."""
        if not self.can_sign:
            raise IdentityError("this device cannot sign for your identity")
        await self.query_own()
        await self._upload_device_signature(device_id, f"device {device_id}")
        logger.info("signed our device %s with our self-signing key", device_id)
        await self.query_own()

    async def sign_user(self, user_id: str, master_key: str) -> IdentityInfo:
        """Sign `user_id`'s master key (the one an emoji verification proved) with our user-signing
        key and upload the signature: their identity is then "verified" for us and for our other
        devices. If their identity had changed, verifying the new one accepts it."""
        if not self.can_sign:
            raise IdentityError("this device cannot sign for your identity, so it cannot mark them verified")
        assert self._private is not None
        stored = self.store.get_identity(user_id)
        if stored is None or stored.master_key != master_key:
            raise IdentityError(f"the identity of {user_id} changed during the verification")
        obj = stored.keys.get("master_key")
        if not isinstance(obj, dict):
            raise IdentityError(f"no master key is known for {user_id}")
        try:
            signed = self._private.sign_master_key_of(obj, self.user_id)
        except CrossSigningError as exc:
            raise IdentityError(f"cannot sign the identity of {user_id}: {exc}") from None
        usk_key_id = f"ed25519:{self._private.user_signing.public_key}"
        upload = {**signed, "signatures": {self.user_id: {usk_key_id: signed["signatures"][self.user_id][usk_key_id]}}}
        if stored.master_key != stored.pinned_master_key:
            self.accept_change(user_id)
        await self._upload_signatures({user_id: {master_key: upload}}, f"the identity of {user_id}")
        logger.info("signed the master key of %s (%s…) with our user-signing key", user_id, master_key[:10])
        await self._query_keys({user_id})
        return self.identity_info(user_id)

    def adopt_private_keys(self, master: bytes | None, self_signing: bytes, user_signing: bytes) -> None:
        """Keep cross-signing private keys another of our devices sent us (secret gossip), if they
        are the published ones. Raises IdentityError otherwise; nothing is stored then."""
        identity = self._own_identity
        if identity is None:
            raise IdentityError("this account has no published identity to check the keys against")
        mismatch = private_seeds_match(identity, master=master, self_signing=self_signing, user_signing=user_signing)
        if mismatch:
            raise IdentityError(f"the keys do not belong to your published identity: {mismatch}")
        if master is None:
            raise IdentityError("the master key is missing")
        try:
            keys = CrossSigningPrivateKeys(
                Ed25519Key.from_seed(master), Ed25519Key.from_seed(self_signing), Ed25519Key.from_seed(user_signing)
            )
        except ValueError as exc:
            raise IdentityError(f"unusable keys: {exc}") from None
        self._save_private(keys)
        logger.info("stored our cross-signing keys, received from another of our devices")
        self.on_own_trust_changed(self.own_trust())

    def private_seed(self, secret_name: str) -> bytes | None:
        """One of our cross-signing seeds by its secret name, to send to another device of ours
        (only while they are the published ones)."""
        if not self.can_sign or self._private is None:
            return None
        key = {
            MASTER_SECRET: self._private.master,
            SELF_SIGNING_SECRET: self._private.self_signing,
            USER_SIGNING_SECRET: self._private.user_signing,
        }.get(secret_name)
        return key.seed if key is not None else None

    async def sign_this_device_if_needed(self) -> None:
        if self.can_sign and not self._own_device_signed:
            await self._sign_own_device()

    async def setup_recovery(self, extra_secrets: Mapping[str, str] | None = None) -> str:
        """Create secret storage holding our cross-signing keys (and `extra_secrets`, e.g. the key
        backup's key); return its new recovery key.

        This lets another device of ours (Element, or tui_client) verify itself with the key.
        Replaces any earlier default secret-storage key of the account."""
        if self._private is None or self._own_identity is None:
            raise IdentityError("this device cannot sign for your identity, so it cannot set up recovery")
        if private_seeds_match(
            self._own_identity, master=self._private.master.seed,
            self_signing=self._private.self_signing.seed, user_signing=self._private.user_signing.seed,
        ):
            raise IdentityError("this device's cross-signing keys are not the account's current ones")
        key = os.urandom(32)
        key_id = base64.b64encode(os.urandom(24)).decode().replace("/", "_").replace("+", "-")
        user = urllib.parse.quote(self.user_id)

        async def put(event_type: str, content: dict[str, Any]) -> None:
            status, body = await self.client.raw_json(
                "PUT", f"/_matrix/client/v3/user/{user}/account_data/{urllib.parse.quote(event_type)}", content
            )
            if status != 200:
                raise IdentityError(f"could not store {event_type}: {body.get('error') or status}")

        await put(KEY_EVENT_PREFIX + key_id, make_key_description(key, name="tui-client recovery key"))
        for name, seed in (
            (MASTER_SECRET, self._private.master.seed),
            (SELF_SIGNING_SECRET, self._private.self_signing.seed),
            (USER_SIGNING_SECRET, self._private.user_signing.seed),
        ):
            await put(name, {"encrypted": {key_id: encrypt_secret(key, name, base64.b64encode(seed).decode())}})
        for name, value in sorted((extra_secrets or {}).items()):
            await put(name, {"encrypted": {key_id: encrypt_secret(key, name, value)}})
        # The default key last: until it points at the new key, the old setup stays usable.
        await put(DEFAULT_KEY_EVENT, {"key": key_id})
        logger.info("set up secret storage (key %s) holding our cross-signing keys", key_id)
        return encode_recovery_key(key)

    async def fetch_account_data(self, types: list[str]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        user = urllib.parse.quote(self.user_id)
        for event_type in types:
            status, body = await self.client.raw_json(
                "GET", f"/_matrix/client/v3/user/{user}/account_data/{urllib.parse.quote(event_type)}"
            )
            if status == 200:
                out[event_type] = body
        return out

    async def verify_with_recovery_key(self, user_input: str) -> OwnTrust:
        """Unlock our cross-signing keys from secret storage and sign this device with them.

        Nothing is stored or uploaded unless every check passes (key MAC, secret MACs, and the
        decrypted keys matching the published ones).
        """
        trust, _ = await self.verify_and_read(user_input, ())
        return trust

    async def verify_and_read(self, user_input: str, names: tuple[str, ...]) -> tuple[OwnTrust, StoredSecrets]:
        """`verify_with_recovery_key`, also reading the secrets `names` stored under the same
        secret storage key (one passphrase derivation for all)."""
        await self.query_own()
        if self._own_identity is None:
            raise IdentityError("this account has no cross-signing identity to verify against")
        data = await self.fetch_account_data([DEFAULT_KEY_EVENT])
        key_id = (data.get(DEFAULT_KEY_EVENT) or {}).get("key")
        types = [MASTER_SECRET, SELF_SIGNING_SECRET, USER_SIGNING_SECRET]
        if isinstance(key_id, str):
            types.append(KEY_EVENT_PREFIX + key_id)
        data.update(await self.fetch_account_data(types + list(names)))
        try:
            # A passphrase goes through PBKDF2 (hundreds of ms): keep it off the loop.
            seeds = await asyncio.to_thread(unlock_cross_signing_with_input, user_input, data)
        except SecretStorageError as exc:
            raise IdentityError(str(exc)) from None
        mismatch = private_seeds_match(
            self._own_identity, master=seeds.master, self_signing=seeds.self_signing, user_signing=seeds.user_signing
        )
        if mismatch:
            raise IdentityError(f"secret storage holds different keys than the published identity: {mismatch}")
        master = Ed25519Key.from_seed(seeds.master) if seeds.master else None
        if master is None:
            raise IdentityError("secret storage does not hold the master key; cannot take over this identity")
        self._save_private(
            CrossSigningPrivateKeys(master, Ed25519Key.from_seed(seeds.self_signing), Ed25519Key.from_seed(seeds.user_signing))
        )
        await self._sign_own_device()
        return self.own_trust(), self._read_secrets(seeds.storage_key, seeds.key_id, data, names)

    @staticmethod
    def _read_secrets(
        key: bytes | None, key_id: str | None, data: dict[str, Any], names: tuple[str, ...]
    ) -> StoredSecrets:
        found = StoredSecrets()
        if key is None or key_id is None:
            return found
        for name in names:
            try:
                value = decrypt_stored_secret(key, key_id, data, name)
            except SecretStorageError as exc:
                logger.warning("secret %s in secret storage cannot be read: %s", name, exc)
                found.problems[name] = str(exc)
                continue
            if value is not None:
                found.values[name] = value
        return found
