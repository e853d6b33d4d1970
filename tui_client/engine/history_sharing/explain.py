"""Why a message from before we joined cannot be read, in words (pure).

The engine asks this for an undecryptable message when we hold no key for its session and no
withheld record explains it. The answer depends on how far the inviter's key bundle got.
"""

from __future__ import annotations

from .records import AcceptedInvite, AcceptState, BundleState, ReceivedBundle

# After the join, how long a missing bundle counts as "on its way" before we say it is not
# coming (bundles are sent before the invite, so they normally arrive first).
BUNDLE_GRACE_SECONDS = 60.0


def _mb(n: int | None) -> str:
    return f"{(n or 0) / 1_000_000:.1f} MB"


def explain_before_join(
    name: str,
    acceptance: AcceptedInvite,
    bundle: ReceivedBundle | None,
    *,
    now: float,
    own_device_cross_signed: bool,
) -> tuple[str, str]:
    """(code, sentence) for a message sent before we accepted `acceptance` (inviter `name`)."""
    fresh = bundle is not None and (bundle.received_at >= acceptance.accepted_at or not bundle.state.final
                                     or (bundle.finished_at or 0) >= acceptance.accepted_at)
    if bundle is not None and fresh:
        state = bundle.state
        if state is BundleState.IMPORTED:
            return "not_in_bundle", f"sent before you joined; {name} did not share its key"
        if state is BundleState.REJECTED:
            return "bundle_rejected", f"sent before you joined; the keys {name} shared were refused ({bundle.detail})"
        if state is BundleState.HELD:
            return "bundle_held", f"sent before you joined; the keys {name} shared are on hold: {bundle.detail}"
        if state is BundleState.DOWNLOADING:
            progress = ""
            if bundle.bytes_total:
                progress = f" ({_mb(bundle.bytes_done)} of {_mb(bundle.bytes_total)})"
            return "importing_bundle", f"sent before you joined — downloading the keys {name} shared{progress}"
        if state is BundleState.IMPORTING:
            return "importing_bundle", f"sent before you joined — importing the keys {name} shared"
        if state is BundleState.RETRYING:
            return (
                "bundle_retrying",
                f"sent before you joined — the keys {name} shared could not be downloaded yet "
                f"({bundle.detail}); trying again",
            )
        if acceptance.open:
            return "waiting_for_bundle", f"sent before you joined — waiting for keys from {name}"
    if not own_device_cross_signed:
        return (
            "device_not_eligible",
            f"sent before you joined; {name}'s client did not share keys with this device: it is not cross-signed",
        )
    if acceptance.state is AcceptState.JOINING:
        return "waiting_for_bundle", f"sent before you joined — waiting for keys from {name}"
    joined_at = acceptance.joined_at or acceptance.accepted_at
    if acceptance.open and now - joined_at < BUNDLE_GRACE_SECONDS:
        return "waiting_for_bundle", f"sent before you joined — waiting for keys from {name}"
    return "before_join", f"sent before you joined; {name} did not share the keys to earlier messages with you"
