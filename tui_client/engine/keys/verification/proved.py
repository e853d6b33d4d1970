"""What a successful verification leads to: another person's master key is signed with our
user-signing key (their identity becomes "verified"), another device of ours with our
self-signing key; and a device of ours that just verified a device holding our keys asks it for
them (secret gossip). Each returns a sentence for the user about what was done."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from ..identity import IdentityError
from .flow import Verified

if TYPE_CHECKING:
    from ..identity import IdentityManager


async def own_device_verified(
    identity: IdentityManager, verified: Verified, on_own_identity_proved: Callable[[str], Awaitable[None]]
) -> str:
    """Another device of ours passed: sign it, and ask it for our keys if it vouched for our
    identity and we lack them."""
    own_master = identity.master_key_of(identity.user_id)
    parts: list[str] = []
    if identity.can_sign:
        try:
            await identity.sign_own_device(verified.device_id)
            parts.append(f"your device {verified.device_id} is now verified by your identity")
        except IdentityError as exc:
            parts.append(f"your device {verified.device_id} could not be signed: {exc}")
    if verified.master_key is not None and verified.master_key == own_master:
        # It vouched for our identity: it holds our keys, so ask it for them (and for the key
        # backup's key) if we lack them.
        await on_own_identity_proved(verified.device_id)
        if not identity.can_sign:
            parts.append(f"asked your device {verified.device_id} for your identity's keys")
    return "; ".join(parts) or f"your device {verified.device_id} matched"


async def user_verified(identity: IdentityManager, verified: Verified) -> str:
    """Another person's device passed: sign their identity if they vouched for it."""
    if verified.master_key is None:
        return f"{verified.user_id}'s device {verified.device_id} matched, but they did not vouch for their identity"
    try:
        info = await identity.sign_user(verified.user_id, verified.master_key)
    except IdentityError as exc:
        return f"the emoji matched, but {exc}"
    if info.state == "verified":
        return f"{verified.user_id} is now verified"
    return f"signed the identity of {verified.user_id}; the server has not shown the signature yet"
