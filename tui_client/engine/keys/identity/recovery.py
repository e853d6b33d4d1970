"""Secret storage for our identity: set up recovery (a new recovery key, our cross-signing keys
and other secrets such as the key backup's key stored under it, as Element stores them), and
verify this device with the recovery key or passphrase by unlocking those keys."""

from __future__ import annotations

import asyncio
import base64
import logging
import os
import urllib.parse
from collections.abc import Mapping
from dataclasses import field
from typing import Any

from ....records import record
from ...crypto.cross_signing import CrossSigningPrivateKeys, private_seeds_match
from ...crypto.secret_storage import (
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
from ...crypto.signing import Ed25519Key
from ...models import OwnTrust
from .own import IdentityError, OwnIdentity

logger = logging.getLogger(__name__)


@record
class StoredSecrets:
    """Other secrets read from secret storage while verifying (e.g. the key backup's key):
    their values, and why those that are there could not be read."""

    values: dict[str, str] = field(default_factory=dict, repr=False)
    problems: dict[str, str] = field(default_factory=dict)


class Recovery:
    """Secret storage of `own`'s account (see the module's docstring)."""

    def __init__(self, own: OwnIdentity) -> None:
        self._own = own
        self.client = own.client
        self.user_id = own.user_id

    async def setup_recovery(self, extra_secrets: Mapping[str, str] | None = None) -> str:
        """Create secret storage holding our cross-signing keys (and `extra_secrets`, e.g. the key
        backup's key); return its new recovery key.

        This lets another device of ours (Element, or tui_client) verify itself with the key.
        Replaces any earlier default secret-storage key of the account."""
        own = self._own
        if own.private is None or own.identity is None:
            raise IdentityError("this device cannot sign for your identity, so it cannot set up recovery")
        if private_seeds_match(
            own.identity, master=own.private.master.seed,
            self_signing=own.private.self_signing.seed, user_signing=own.private.user_signing.seed,
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
            (MASTER_SECRET, own.private.master.seed),
            (SELF_SIGNING_SECRET, own.private.self_signing.seed),
            (USER_SIGNING_SECRET, own.private.user_signing.seed),
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
        own = self._own
        await own.query_own()
        if own.identity is None:
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
            own.identity, master=seeds.master, self_signing=seeds.self_signing, user_signing=seeds.user_signing
        )
        if mismatch:
            raise IdentityError(f"secret storage holds different keys than the published identity: {mismatch}")
        master = Ed25519Key.from_seed(seeds.master) if seeds.master else None
        if master is None:
            raise IdentityError("secret storage does not hold the master key; cannot take over this identity")
        own.save_private(
            CrossSigningPrivateKeys(master, Ed25519Key.from_seed(seeds.self_signing), Ed25519Key.from_seed(seeds.user_signing))
        )
        await own.sign_this_device()
        return own.own_trust(), self._read_secrets(seeds.storage_key, seeds.key_id, data, names)

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
