"""The rules of history sharing as pure functions on plain data.

Each decision the feature makes lives here, so every case (hostile ones first) is a unit test
that runs in milliseconds:

- what sharing with an invitee would do (`preview`), and what a bundle we build holds
  (`plan_bundle`, with the caps);
- whether an ``m.room_key_bundle`` announcement is acceptable (`check_announcement`);
- whether, now, the inviter's bundle should be imported, waited for, held or refused
  (`decide_accept`, `trust_verdict`), and how a failed download goes on (`download_failure`,
  `retry_delay`);
- which received-bundle records to forget (`records_to_drop`).

The rules follow matrix-rust-sdk where the spec leaves room (msc4268.md §3–§5). Which copy of a
Megolm session wins when one arrives again is decided in `engine.room_keys`, for every origin.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any, NamedTuple

from ...records import record
from ..crypto.attachments import check_file_info
from ..crypto.cross_signing import check_sender_device_keys
from .bundle import MAX_ROOM_KEYS, MAX_WITHHELD, WithheldEntry, not_shared_entry
from ..models import SharePreview
from .records import AcceptedInvite, BundleState, ReceivedBundle, WithheldRecord

SHAREABLE_VISIBILITIES = frozenset({"shared", "world_readable"})


def plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


# -- what we share -------------------------------------------------------------------------------


class SessionFacts(NamedTuple):
    """A Megolm session we hold, as the bundle plan needs it."""

    room_id: str
    session_id: str
    sender_key: str
    shareable: bool


@record
class BundlePlan:
    keys: tuple[SessionFacts, ...]  # exported at their first known index
    withheld: tuple[WithheldEntry, ...]  # ours (not shareable) first, then passed on
    capped: int = 0  # entries left out because of the caps


def plan_bundle(
    room_id: str,
    sessions: Iterable[SessionFacts],
    received_withheld: Iterable[WithheldRecord],
    our_device_id: str,
) -> BundlePlan:
    """Shareable sessions go in as keys; the others are listed as not shared; not-shared records
    we received ourselves (in bundles or to-device) are passed on. Never more than the caps."""
    keys: list[SessionFacts] = []
    withheld: list[WithheldEntry] = []
    listed: set[str] = set()
    for s in sessions:
        if s.room_id != room_id or s.session_id in listed:
            continue
        listed.add(s.session_id)
        if s.shareable:
            keys.append(s)
        else:
            withheld.append(not_shared_entry(room_id, s.session_id, s.sender_key, our_device_id))
    for withheld_record in received_withheld:
        entry = withheld_record.entry()
        if withheld_record.room_id == room_id and entry.not_shared and withheld_record.session_id not in listed:
            listed.add(withheld_record.session_id)
            withheld.append(entry)
    capped = max(0, len(keys) - MAX_ROOM_KEYS) + max(0, len(withheld) - MAX_WITHHELD)
    return BundlePlan(tuple(keys[:MAX_ROOM_KEYS]), tuple(withheld[:MAX_WITHHELD]), capped)


@record
class RoomFacts:
    joined: bool
    encrypted: bool
    history_visibility: str | None


@record
class InviteeFacts:
    """What we know of the person about to be invited (after a key query)."""

    user_id: str
    exists: bool | None  # None: could not tell (the server did not say)
    identity: str  # "unknown" | "pinned" | "changed" | "verified" | "own"
    devices: int
    cross_signed_devices: int


def preview(
    room: RoomFacts | None,
    own_device_verified: bool,
    own_trust_detail: str,
    key_count: int,
    withheld_count: int,
    invitee: InviteeFacts | None = None,
) -> SharePreview:
    """What inviting someone now would do to the room's history, in one sentence."""
    if room is None or not room.joined:
        return SharePreview(False, "you are not in this room")
    if not room.encrypted:
        return SharePreview(False, "the room is not encrypted: its history is readable anyway")
    visibility = room.history_visibility
    if visibility not in SHAREABLE_VISIBILITIES:
        return SharePreview(
            False, f"the room's history visibility is '{visibility}', so earlier messages are not shared"
        )
    if not own_device_verified:
        return SharePreview(False, f"history is only shared from a cross-signed device ({own_trust_detail})")
    if not key_count and not withheld_count:
        return SharePreview(False, "there are no earlier messages to share keys for")
    warning = None
    if invitee is not None:
        name = invitee.user_id
        if invitee.exists is False:
            return SharePreview(
                False, f"{name} does not seem to exist on their server, so nothing would be shared",
                key_count, withheld_count, warning=f"{name} may not exist: check the user id",
            )
        if invitee.identity == "changed":
            return SharePreview(
                False, f"{name}'s identity changed since you first saw it; their devices get no keys "
                "until you accept the new identity", key_count, withheld_count,
                warning=f"{name}'s identity changed",
            )
        if invitee.identity == "unknown":
            warning = f"{name} may not exist: the server knows no devices for them" if not invitee.devices else None
            return SharePreview(
                False, f"{name} has no cross-signing identity, so no device of theirs may receive the keys",
                key_count, withheld_count, warning=warning,
            )
        if not invitee.cross_signed_devices:
            return SharePreview(
                False, f"none of {name}'s devices is cross-signed by its owner, so none may receive the keys",
                key_count, withheld_count,
            )
    what = f"the keys to earlier messages ({plural(key_count, 'session')}) will be shared"
    if invitee is not None:
        what += f" with {plural(invitee.cross_signed_devices, 'device')} of {invitee.user_id}"
    return SharePreview(True, what, key_count, withheld_count, warning)


def count_opened_messages(items: Iterable[tuple[str | None, bool]], shared_sessions: set[str]) -> int:
    """How many of the (session_id, is_message) timeline items the shared keys open."""
    return sum(1 for session_id, is_message in items if is_message and session_id in shared_sessions)


# -- an announcement arrives ------------------------------------------------------------------------


@record
class Announcement:
    room_id: str
    file: dict[str, Any]
    sender_device: str
    sender_device_keys: dict[str, Any]


def check_announcement(
    payload: Mapping[str, Any],
    sender: str,
    olm_sender_key: str,
    known_device_ed25519: Mapping[str, str],
) -> Announcement | str:
    """An Olm-decrypted ``m.room_key_bundle`` payload: the announcement, or why it is refused.

    `known_device_ed25519` maps the sender's device ids we know to their signing keys."""
    content = payload.get("content")
    if not isinstance(content, dict):
        return "the content is not an object"
    room_id = content.get("room_id")
    if not isinstance(room_id, str) or not room_id.startswith("!") or len(room_id) > 255 or not room_id.isprintable():
        return "the content has no valid room_id"
    problem = check_file_info(content.get("file"))
    if problem:
        return problem
    sdk = payload.get("sender_device_keys")
    if sdk is None:
        return "it carries no sender_device_keys"
    raw_keys = payload.get("keys")
    keys: Mapping[str, Any] = raw_keys if isinstance(raw_keys, dict) else {}
    problem = check_sender_device_keys(
        sdk, sender=sender, claimed_ed25519=keys.get("ed25519"), olm_sender_curve25519=olm_sender_key
    )
    if problem:
        return problem
    device_id = sdk["device_id"]
    known = known_device_ed25519.get(device_id)
    if known is not None and known != keys.get("ed25519"):
        return "its signing key differs from the one we know for that device"
    return Announcement(room_id, content["file"], device_id, sdk)


# -- accepting the inviter's bundle -------------------------------------------------------------------


class AcceptAction(str, Enum):
    NOTHING = "nothing"  # no open acceptance for the room
    WAIT = "wait"  # not yet (not joined, no bundle, a retry pending)
    EXPIRE = "expire"  # the window passed
    IMPORT = "import"  # check the sender's trust, then download and import
    DONE = "done"  # the bundle for this acceptance was already handled


@record
class AcceptDecision:
    action: AcceptAction
    reason: str


def decide_accept(
    acceptance: AcceptedInvite | None,
    bundle: ReceivedBundle | None,
    *,
    joined: bool,
    now: float,
    window: float,
) -> AcceptDecision:
    """Should the inviter's bundle be imported now? (rust-sdk's `maybe_accept_key_bundle`)."""
    if acceptance is None or not acceptance.open:
        return AcceptDecision(AcceptAction.NOTHING, "no invite was accepted for this room on this device")
    age = now - acceptance.accepted_at
    if age > window:
        return AcceptDecision(
            AcceptAction.EXPIRE,
            f"the invite was accepted {age / 3600:.0f} h ago, longer than the {window / 3600:.0f} h "
            "in which shared keys are accepted",
        )
    if not joined:
        return AcceptDecision(AcceptAction.WAIT, "not joined yet")
    if bundle is None:
        return AcceptDecision(AcceptAction.WAIT, f"no key bundle from {acceptance.inviter} yet")
    if bundle.state.final:
        if (bundle.finished_at or 0) < acceptance.accepted_at:
            # Handled for an earlier acceptance (we left and were invited again): wait for the
            # bundle the inviter sends this time.
            return AcceptDecision(AcceptAction.WAIT, f"no new key bundle from {acceptance.inviter} yet")
        return AcceptDecision(AcceptAction.DONE, bundle.detail or bundle.state.value)
    if bundle.state is BundleState.RETRYING and bundle.next_attempt_at and now < bundle.next_attempt_at:
        return AcceptDecision(AcceptAction.WAIT, bundle.detail or "retrying later")
    return AcceptDecision(AcceptAction.IMPORT, "the inviter's bundle is here")


class SenderTrust(str, Enum):
    CROSS_SIGNED = "cross_signed"  # the sending device is cross-signed by the pinned identity
    NOT_CROSS_SIGNED = "not_cross_signed"
    NO_IDENTITY = "no_identity"
    IDENTITY_CHANGED = "identity_changed"  # pinned identity replaced, not accepted by the user


def trust_verdict(trust: SenderTrust, sender: str) -> tuple[BundleState | None, str]:
    """(None, "") to go on; else the state to put the bundle in and why (msc4268.md §5.1).

    A changed identity holds the bundle rather than refusing it: once the user accepts the new
    identity, it is evaluated again (within the acceptance window)."""
    if trust is SenderTrust.CROSS_SIGNED:
        return None, ""
    if trust is SenderTrust.IDENTITY_CHANGED:
        return BundleState.HELD, (
            f"{sender}'s identity changed since we first saw it; accept the new identity to use these keys"
        )
    if trust is SenderTrust.NO_IDENTITY:
        return BundleState.REJECTED, f"{sender} has no cross-signing identity"
    return BundleState.REJECTED, f"the device of {sender} that sent it is not cross-signed by its owner"


# -- downloads -------------------------------------------------------------------------------------


FINAL_HTTP = {400: "the server refused the request", 403: "the server refused access to the file",
              404: "the file is no longer on the server", 410: "the file was deleted from the server",
              413: "the file is too large for the server"}


def download_failure(status: int | None, detail: str) -> tuple[bool, str]:
    """(final, reason) for a failed download: HTTP status (None for a network error)."""
    if status in FINAL_HTTP:
        return True, f"{FINAL_HTTP[status]} (HTTP {status})"
    if status is None:
        return False, f"download failed ({detail})"
    return False, f"download failed (HTTP {status})"


def retry_delay(attempts: int) -> float:
    """Seconds before download attempt number `attempts + 1` (5 s, 15 s, 45 s, … at most 10 min)."""
    return float(min(600, 5 * 3 ** max(0, attempts - 1)))


# -- keeping records bounded ------------------------------------------------------------------------

MAX_UNANCHORED_PER_SENDER = 10
MAX_UNANCHORED = 100


def records_to_drop(
    bundles: Iterable[ReceivedBundle],
    anchored: set[tuple[str, str]],
    *,
    now: float,
    window: float,
) -> list[tuple[str, str]]:
    """(room, sender) of received bundles to forget.

    A bundle is *anchored* when we hold an invite from its sender to its room or accepted one
    (`anchored`); only anchored bundles can ever be imported. Unanchored ones expire after the
    acceptance window and are capped per sender and in all, the oldest going first."""
    drop: list[tuple[str, str]] = []
    loose: list[ReceivedBundle] = []
    for b in bundles:
        if (b.room_id, b.sender_user) in anchored or b.state.final or b.state.in_progress:
            continue
        if now - b.received_at > window:
            drop.append((b.room_id, b.sender_user))
        else:
            loose.append(b)
    loose.sort(key=lambda b: b.received_at, reverse=True)
    per_sender: dict[str, int] = {}
    kept = 0
    for b in loose:
        per_sender[b.sender_user] = per_sender.get(b.sender_user, 0) + 1
        if per_sender[b.sender_user] > MAX_UNANCHORED_PER_SENDER or kept >= MAX_UNANCHORED:
            drop.append((b.room_id, b.sender_user))
        else:
            kept += 1
    return drop
