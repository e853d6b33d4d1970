"""Everyone's cross-signing identities (ours included) as /keys/query gives them: device JSON and
master/self-signing/user-signing keys kept in the store, master keys pinned on first sight and
compared after, and the trust questions asked of them (is this device cross-signed by its
owner, has this identity changed, have we verified it). Element only sends key bundles to
devices their owner has cross-signed, and only accepts bundles from such devices (msc4268.md
§5), so these answers gate history sharing both ways."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ...crypto.cross_signing import (
    CrossSigningError,
    UserIdentity,
    device_signed_by_identity,
    identity_from_keys_query,
    master_key_signed_by_us,
)
from ...history_sharing.rules import SenderTrust
from ...models import DeviceInfo, IdentityInfo, IdentityState
from ...nio.store import StoredIdentity
from .own import IdentityError, OwnIdentity, identity_from_stored

logger = logging.getLogger(__name__)


class KnownIdentities:
    """The identities /keys/query told us of; `own` is kept up to date with ours."""

    def __init__(
        self,
        own: OwnIdentity,
        clock: Callable[[], float],
        on_identity_changed: Callable[[str, str | None, str], None],
    ) -> None:
        self._own = own
        self.store = own.store
        self.olm = own.olm
        self.user_id = own.user_id
        self.device_id = own.device_id
        self._clock = clock
        self._on_identity_changed = on_identity_changed

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
                    self._on_identity_changed(user_id, old.master_key, msk)
            self.store.put_identity(stored)
            if user_id == self.user_id:
                self._own.identity = identity
        if self.user_id in (resp.device_keys or {}) or self.user_id in (getattr(resp, "master_keys", None) or {}):
            self._own.refresh_state()

    # -- answers -----------------------------------------------------------------------------

    def identity_of(self, user_id: str) -> UserIdentity | None:
        if user_id == self.user_id and self._own.identity is not None:
            return self._own.identity
        stored = self.store.get_identity(user_id)
        return identity_from_stored(stored) if stored else None

    def identity_info(self, user_id: str) -> IdentityInfo:
        stored = self.store.get_identity(user_id)
        if stored is None:
            return IdentityInfo(user_id, IdentityState.UNKNOWN)
        if stored.previous_master_key and stored.master_key != stored.pinned_master_key:
            state = IdentityState.CHANGED
        else:
            theirs = identity_from_stored(stored)
            ours = self._own.identity
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

    def master_key_of(self, user_id: str) -> str | None:
        identity = self.identity_of(user_id)
        return identity.master.public_key if identity is not None else None

    def device_key_of(self, user_id: str, device_id: str) -> str | None:
        """The ed25519 key of a device, as /keys/query gave it (self-signature checked by nio)."""
        device = self.store.get_device_json(user_id, device_id)
        keys = device.get("keys") if isinstance(device, dict) else None
        key = keys.get(f"ed25519:{device_id}") if isinstance(keys, dict) else None
        return key if isinstance(key, str) else None
