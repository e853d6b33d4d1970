"""Our own cross-signing identity on this device: its private keys (sealed in the store with the
profile's store key), the identity the account publishes (as /keys/query last gave it), and
whether it signs this device. Creating and publishing an identity, signing this device with it,
keys another of our devices sends us, and what the key backup and secret gossip need of it."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from ...crypto.canonical import canonical_json
from ...crypto.cross_signing import (
    CrossSigningError,
    CrossSigningPrivateKeys,
    UserIdentity,
    device_signed_by_identity,
    identity_from_keys_query,
    private_seeds_match,
)
from ...crypto.secret_storage import MASTER_SECRET, SELF_SIGNING_SECRET, USER_SIGNING_SECRET
from ...crypto.signing import Ed25519Key, sign_json
from ...crypto.symmetric import seal, store_subkey, unseal
from ...models import OwnTrust
from ...nio.store import StoredIdentity

if TYPE_CHECKING:
    from ...nio.client import EngineClient
    from ...nio.olm import AppOlm
    from ...nio.store import AppStore

logger = logging.getLogger(__name__)

_SECRET_NAME = "cross_signing_keys"


class IdentityError(Exception):
    """A cross-signing action failed; the message is for the user."""


def identity_from_stored(stored: StoredIdentity) -> UserIdentity | None:
    """The identity a stored /keys/query answer describes (None if it no longer checks out)."""
    try:
        return identity_from_keys_query(
            stored.user_id,
            stored.keys.get("master_key"),
            stored.keys.get("self_signing_key"),
            stored.keys.get("user_signing_key"),
        )
    except CrossSigningError:
        return None


class OwnIdentity:
    """Our identity as this device holds it (see the module's docstring)."""

    def __init__(
        self,
        client: EngineClient,
        store_key: str,
        query_keys: Callable[[set[str]], Awaitable[Any]],
        on_trust_changed: Callable[[OwnTrust], None],
    ) -> None:
        assert client.store is not None and client.olm is not None, "the client's store must be open"
        self.client = client
        self.store: AppStore = client.store
        self.olm: AppOlm = client.olm
        self.user_id = client.user_id
        self.device_id = client.device_id
        self._secret_key = store_subkey(store_key, "cross-signing keys")
        self._query_keys = query_keys
        self._on_trust_changed = on_trust_changed
        self.private: CrossSigningPrivateKeys | None = None
        self.identity: UserIdentity | None = None  # the published one, as /keys/query last gave it
        self.device_signed = False  # whether it signs this device

    def load(self) -> None:
        """Read our private keys (if any) from the store at start-up."""
        blob = self.store.get_secret(_SECRET_NAME)
        self.private = None
        if blob:
            try:
                plain = unseal(self._secret_key, base64.b64decode(blob), _SECRET_NAME.encode())
                self.private = CrossSigningPrivateKeys.from_dict(json.loads(plain))
            except Exception as exc:
                logger.error("our stored cross-signing keys cannot be read (%s); this device will need re-verifying", exc)
        own = self.store.get_identity(self.user_id)
        if own is not None:
            self.identity = identity_from_stored(own)
            device = self.store.get_device_json(self.user_id, self.device_id)
            self.device_signed = bool(
                device and self.identity and device_signed_by_identity(device, self.identity)
            )

    def save_private(self, keys: CrossSigningPrivateKeys) -> None:
        sealed = seal(self._secret_key, json.dumps(keys.to_dict()).encode(), _SECRET_NAME.encode())
        self.store.put_secret(_SECRET_NAME, base64.b64encode(sealed).decode())
        self.private = keys

    def refresh_state(self) -> None:
        """After a /keys/query that named us: is this device (still) signed by our identity?"""
        device = self.store.get_device_json(self.user_id, self.device_id)
        signed = bool(device and self.identity and device_signed_by_identity(device, self.identity))
        if signed != self.device_signed:
            self.device_signed = signed
            self._on_trust_changed(self.own_trust())

    # -- answers -----------------------------------------------------------------------------

    def own_trust(self) -> OwnTrust:
        identity = self.identity
        have = self.private is not None and identity is not None and (
            private_seeds_match(identity, self_signing=self.private.self_signing.seed) is None
        )
        if identity is None:
            return OwnTrust(False, False, False, None, "this account has no cross-signing identity yet")
        if self.device_signed:
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
        if self.private is not None and self.identity is not None and not device_signed_by_identity(device, self.identity):
            try:
                device = self.private.sign_device(device, self.user_id)
            except CrossSigningError:
                pass
        return device

    def own_master_key(self) -> str | None:
        """Our master key, once this device is verified by it (before that, nothing published in
        our name is trusted)."""
        if self.identity is None or not self.device_signed:
            return None
        return self.identity.master.public_key

    def verified_own_devices(self) -> dict[str, str]:
        """Device id -> Ed25519 key of this device and, once it is verified, of our other devices
        signed by our identity."""
        identity = self.identity
        out: dict[str, str] = {}
        if identity is not None and self.device_signed:
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
        if self.private is not None and self.identity is not None and private_seeds_match(
            self.identity, master=self.private.master.seed
        ) is None:
            signed = sign_json(signed, self.private.master, self.user_id, self.private.master.public_key)
        return signed

    @property
    def can_sign(self) -> bool:
        """Whether this device holds our identity's private keys (and they are the published ones)."""
        identity = self.identity
        return self.private is not None and identity is not None and private_seeds_match(
            identity, master=self.private.master.seed, self_signing=self.private.self_signing.seed,
            user_signing=self.private.user_signing.seed,
        ) is None

    # -- our own identity ---------------------------------------------------------------------

    async def query_own(self) -> None:
        await self._query_keys({self.user_id})

    async def ensure(self, password: str | None = None) -> OwnTrust:
        """Make sure our account has an identity and that our device is signed by it.

        Creates a new identity only when the account has none. If one exists that we cannot
        sign with (set up elsewhere), leaves it alone: verify with the recovery key instead.
        """
        await self.query_own()
        if self.identity is None:
            await self._create_identity(password, replacing=False)
        elif not self.device_signed and self.private is not None:
            if private_seeds_match(self.identity, self_signing=self.private.self_signing.seed) is None:
                await self.sign_this_device()
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
        self.save_private(keys)
        logger.info("published a new cross-signing identity for %s (master key %s…)", self.user_id, keys.master.public_key[:10])
        await self.sign_this_device()

    async def sign_this_device(self) -> None:
        """Sign this device with our self-signing key, and check that the server kept the signature."""
        await self.query_own()
        await self.upload_device_signature(self.device_id, "this device")
        await self.query_own()
        if not self.device_signed:
            raise IdentityError("the server did not keep this device's cross-signing signature")
        logger.info("this device (%s) is now signed by our identity", self.device_id)

    async def upload_device_signature(self, device_id: str, what: str) -> None:
        """Sign one of our devices (as /keys/query gave it) with our self-signing key and upload it."""
        assert self.private is not None
        device = self.store.get_device_json(self.user_id, device_id)
        if device is None:
            raise IdentityError(f"the server does not list the keys of {what} yet")
        try:
            signed = self.private.sign_device({k: v for k, v in device.items() if k != "unsigned"}, self.user_id)
        except CrossSigningError as exc:
            raise IdentityError(f"cannot sign {what}: {exc}") from None
        ssk_key_id = f"ed25519:{self.private.self_signing.public_key}"
        upload = {**signed, "signatures": {self.user_id: {ssk_key_id: signed["signatures"][self.user_id][ssk_key_id]}}}
        await self.upload_signatures({self.user_id: {device_id: upload}}, what)

    async def upload_signatures(self, body: dict[str, Any], what: str) -> None:
        """Upload cross-signing signatures (`body` as /keys/signatures/upload takes it)."""
        status, answer = await self.client.raw_json("POST", "/_matrix/client/v3/keys/signatures/upload", body)
        failures = answer.get("failures") or {}
        if status != 200 or failures:
            raise IdentityError(f"could not upload the signature of {what}: {failures or answer.get('error') or status}")

    # -- our keys from and to our other devices -----------------------------------------------

    def adopt_private_keys(self, master: bytes | None, self_signing: bytes, user_signing: bytes) -> None:
        """Keep cross-signing private keys another of our devices sent us (secret gossip), if they
        are the published ones. Raises IdentityError otherwise; nothing is stored then."""
        identity = self.identity
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
        self.save_private(keys)
        logger.info("stored our cross-signing keys, received from another of our devices")
        self._on_trust_changed(self.own_trust())

    def private_seed(self, secret_name: str) -> bytes | None:
        """One of our cross-signing seeds by its secret name, to send to another device of ours
        (only while they are the published ones)."""
        if not self.can_sign or self.private is None:
            return None
        key = {
            MASTER_SECRET: self.private.master,
            SELF_SIGNING_SECRET: self.private.self_signing,
            USER_SIGNING_SECRET: self.private.user_signing,
        }.get(secret_name)
        return key.seed if key is not None else None

    async def sign_this_device_if_needed(self) -> None:
        if self.can_sign and not self.device_signed:
            await self.sign_this_device()
