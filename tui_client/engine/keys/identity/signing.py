"""Signing what an emoji verification proved: another device of ours with our self-signing key,
another user's master key with our user-signing key (their identity is then "verified" for us
and for our other devices)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

from ...crypto.cross_signing import CrossSigningError
from ...models import IdentityInfo
from .known import KnownIdentities
from .own import IdentityError, OwnIdentity

logger = logging.getLogger(__name__)


async def sign_own_device(own: OwnIdentity, device_id: str) -> None:
    """Cross-sign another device of ours that an emoji verification proved (self-signing key)."""
    if not own.can_sign:
        raise IdentityError("this device cannot sign for your identity")
    await own.query_own()
    await own.upload_device_signature(device_id, f"device {device_id}")
    logger.info("signed our device %s with our self-signing key", device_id)
    await own.query_own()


async def sign_user(
    own: OwnIdentity, known: KnownIdentities, query_keys: Callable[[set[str]], Awaitable[Any]],
    user_id: str, master_key: str,
) -> IdentityInfo:
    """Sign `user_id`'s master key (the one an emoji verification proved) with our user-signing
    key and upload the signature: their identity is then "verified" for us and for our other
    devices. If their identity had changed, verifying the new one accepts it."""
    if not own.can_sign:
        raise IdentityError("this device cannot sign for your identity, so it cannot mark them verified")
    assert own.private is not None
    stored = own.store.get_identity(user_id)
    if stored is None or stored.master_key != master_key:
        raise IdentityError(f"the identity of {user_id} changed during the verification")
    obj = stored.keys.get("master_key")
    if not isinstance(obj, dict):
        raise IdentityError(f"no master key is known for {user_id}")
    try:
        signed = own.private.sign_master_key_of(obj, own.user_id)
    except CrossSigningError as exc:
        raise IdentityError(f"cannot sign the identity of {user_id}: {exc}") from None
    usk_key_id = f"ed25519:{own.private.user_signing.public_key}"
    upload = {**signed, "signatures": {own.user_id: {usk_key_id: signed["signatures"][own.user_id][usk_key_id]}}}
    if stored.master_key != stored.pinned_master_key:
        known.accept_change(user_id)
    await own.upload_signatures({user_id: {master_key: upload}}, f"the identity of {user_id}")
    logger.info("signed the master key of %s (%s…) with our user-signing key", user_id, master_key[:10])
    await query_keys({user_id})
    return known.identity_info(user_id)
