"""`IdentityManager`, what the rest of the engine talks to about cross-signing. It puts the parts
together and forwards to them; each method is documented where it is implemented:

- `own`: our identity on this device (private keys, publishing, signing this device);
- `known`: everyone's identities from /keys/query, pinning, and the trust answers;
- `recovery`: secret storage (set up recovery; verify with the recovery key);
- `signing`: signing what an emoji verification proved.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import TYPE_CHECKING, Any

from ...crypto.cross_signing import UserIdentity
from ...history_sharing.rules import SenderTrust
from ...models import DeviceInfo, IdentityInfo, OwnTrust
from . import signing
from .known import KnownIdentities
from .own import OwnIdentity
from .recovery import Recovery, StoredSecrets

if TYPE_CHECKING:
    from ...nio.client import EngineClient
    from ...nio.olm import AppOlm
    from ...nio.store import AppStore


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
        self._query_keys = query_keys
        self.on_identity_changed: Callable[[str, str | None, str], None] = lambda u, old, new: None
        self.on_own_trust_changed: Callable[[OwnTrust], None] = lambda t: None
        # The parts call the hooks as they are when called (the engine sets them after this).
        self._own = OwnIdentity(client, store_key, query_keys, lambda trust: self.on_own_trust_changed(trust))
        self._known = KnownIdentities(self._own, clock, lambda u, old, new: self.on_identity_changed(u, old, new))
        self._recovery = Recovery(self._own)

    def load(self) -> None:
        self._own.load()

    # -- everyone's identities (`known`) -------------------------------------------------------

    def process_keys_query(self, resp: Any) -> None:
        self._known.process_keys_query(resp)

    def identity_of(self, user_id: str) -> UserIdentity | None:
        return self._known.identity_of(user_id)

    def identity_info(self, user_id: str) -> IdentityInfo:
        return self._known.identity_info(user_id)

    def accept_change(self, user_id: str) -> IdentityInfo:
        return self._known.accept_change(user_id)

    def changed_identities(self) -> list[str]:
        return self._known.changed_identities()

    def identity_changed(self, user_id: str) -> bool:
        return self._known.identity_changed(user_id)

    def sender_trust(self, user_id: str, sender_key: str, sender_device_keys: dict[str, Any] | None) -> SenderTrust:
        return self._known.sender_trust(user_id, sender_key, sender_device_keys)

    def device_cross_signed(self, user_id: str, device_id: str) -> bool:
        return self._known.device_cross_signed(user_id, device_id)

    def own_device_trusted(self, device_id: str) -> bool:
        return self._known.own_device_trusted(device_id)

    def devices(self, user_id: str) -> list[DeviceInfo]:
        return self._known.devices(user_id)

    def master_key_of(self, user_id: str) -> str | None:
        return self._known.master_key_of(user_id)

    def device_key_of(self, user_id: str, device_id: str) -> str | None:
        return self._known.device_key_of(user_id, device_id)

    # -- our own identity (`own`) --------------------------------------------------------------

    def own_trust(self) -> OwnTrust:
        return self._own.own_trust()

    def own_device_keys(self) -> dict[str, Any] | None:
        return self._own.own_device_keys()

    def own_master_key(self) -> str | None:
        return self._own.own_master_key()

    def verified_own_devices(self) -> dict[str, str]:
        return self._own.verified_own_devices()

    def sign_own(self, obj: dict[str, Any]) -> dict[str, Any]:
        return self._own.sign_own(obj)

    @property
    def can_sign(self) -> bool:
        return self._own.can_sign

    async def query_own(self) -> None:
        await self._own.query_own()

    async def ensure(self, password: str | None = None) -> OwnTrust:
        return await self._own.ensure(password)

    async def reset(self, password: str) -> OwnTrust:
        return await self._own.reset(password)

    def adopt_private_keys(self, master: bytes | None, self_signing: bytes, user_signing: bytes) -> None:
        self._own.adopt_private_keys(master, self_signing, user_signing)

    def private_seed(self, secret_name: str) -> bytes | None:
        return self._own.private_seed(secret_name)

    async def sign_this_device_if_needed(self) -> None:
        await self._own.sign_this_device_if_needed()

    # -- what an emoji verification proves (`signing`) ---------------------------------------

    async def sign_own_device(self, device_id: str) -> None:
        await signing.sign_own_device(self._own, device_id)

    async def sign_user(self, user_id: str, master_key: str) -> IdentityInfo:
        return await signing.sign_user(self._own, self._known, self._query_keys, user_id, master_key)

    # -- secret storage (`recovery`) -------------------------------------------------------------

    async def setup_recovery(self, extra_secrets: Mapping[str, str] | None = None) -> str:
        return await self._recovery.setup_recovery(extra_secrets)

    async def fetch_account_data(self, types: list[str]) -> dict[str, Any]:
        return await self._recovery.fetch_account_data(types)

    async def verify_with_recovery_key(self, user_input: str) -> OwnTrust:
        return await self._recovery.verify_with_recovery_key(user_input)

    async def verify_and_read(self, user_input: str, names: tuple[str, ...]) -> tuple[OwnTrust, StoredSecrets]:
        return await self._recovery.verify_and_read(user_input, names)
