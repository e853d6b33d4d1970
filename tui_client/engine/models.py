"""Immutable models the UI (and the CLI) consume. Nothing here knows about nio.

One module although it is over ~450 lines: it is the whole vocabulary of data the front ends
see (with `api`, `events` and `errors`, all the import contract lets the UI import), plain
frozen data with small describing helpers, grouped by subject below; kept in one file, that
contract stays one list to read.
"""

from __future__ import annotations

from dataclasses import field
from enum import Enum

from ..records import record


class Decryption(str, Enum):
    PLAINTEXT = "plaintext"  # the event was never encrypted
    DECRYPTED = "decrypted"
    FAILED = "failed"


class IdentityState(str, Enum):
    UNKNOWN = "unknown"  # no cross-signing identity known
    PINNED = "pinned"  # trusted on first use
    CHANGED = "changed"  # not the one we pinned, and the user has not accepted the change
    VERIFIED = "verified"  # signed by our user-signing key
    OWN = "own"


@record
class KeyProvenance:
    """Who gave us the key that decrypted a message, when it was not its sender."""

    shared_by: str
    shared_by_device: str | None
    shared_by_name: str | None = None
    shared_at: float | None = None

    @property
    def badge(self) -> str:
        """"🔑 shared by Alice (@alice:example.org)": the user id always follows the display name,
        as in Element, so a look-alike name cannot pass as someone else."""
        name = self.shared_by_name
        if name and name != self.shared_by:
            return f"🔑 shared by {name} ({self.shared_by})"
        return f"🔑 shared by {self.shared_by}"

    def sentence(self, sender: str | None = None) -> str:
        """The full provenance sentence; `sender` (the message's sender) lets it say the truth
        when the sender shared their own key later, in a key bundle."""
        who = self.shared_by_name or self.shared_by
        device = f", device {self.shared_by_device}" if self.shared_by_device else ""
        if sender is not None and sender == self.shared_by:
            return (
                f"{who} ({self.shared_by}{device}) sent this message and shared its key later, in a "
                f"key bundle, because you were not in the room when it was sent. Its authenticity "
                f"rests on {who}'s word."
            )
        return (
            f"{who} ({self.shared_by}{device}) shared the keys for this message because you were "
            f"not in the room when it was sent. Its authenticity rests on {who}'s word."
        )

    def trust(self, sender: str) -> str:
        """How far a message decrypted with this key can be trusted (event details)."""
        if self.shared_by == sender:
            return (
                "authenticity rests on the sender's word: the sender shared this key later, in a key "
                "bundle, not with the message"
            )
        return (
            f"authenticity not guaranteed: the key came from {self.shared_by} in a key bundle, "
            "not from the sender"
        )


@record
class Reaction:
    """One reaction key on a message and who reacted with it (first reaction first)."""

    key: str
    senders: tuple[str, ...]
    own_event_id: str | None = None  # our own reaction with this key (redact it to take it back)

    @property
    def count(self) -> int:
        return len(self.senders)


@record
class EditVersion:
    """One version of an edited message (event details list them, newest last)."""

    event_id: str
    timestamp: int
    body: str | None
    provenance: KeyProvenance | None = None


@record
class ReplyPreview:
    """What a reply quotes: the replied-to message's sender and a one-line snippet."""

    event_id: str
    state: str  # "ok" | "deleted" | "encrypted" | "missing" (not found) | "loading"
    sender: str | None = None
    sender_name: str | None = None
    snippet: str | None = None


@record
class ThreadSummary:
    """On a thread's root: how many replies it has and the latest one."""

    replies: int
    latest_sender: str | None = None
    latest_sender_name: str | None = None
    latest_snippet: str | None = None


@record
class Attachment:
    name: str | None
    mimetype: str | None
    size: int | None
    encrypted: bool
    url: str | None = None  # mxc:// (plain) or the encrypted file's url


@record
class PollAnswer:
    id: str
    text: str
    voters: tuple[str, ...] = ()


@record
class Poll:
    question: str
    answers: tuple[PollAnswer, ...]
    kind: str = "disclosed"  # "disclosed" (results shown while open) | "undisclosed"
    max_selections: int = 1
    ended: bool = False
    voters: int = 0  # people whose latest valid vote counts

    def own_choice(self, user_id: str) -> tuple[str, ...]:
        return tuple(a.id for a in self.answers if user_id in a.voters)


@record
class Location:
    description: str | None
    geo_uri: str | None


@record
class TimelineItem:
    event_id: str
    room_id: str
    sender: str
    sender_name: str
    timestamp: int  # ms since the epoch, from the server
    # "message" | "emote" | "notice" | "sticker" | "poll" | "encrypted" | "membership" | "state" | "bad"
    kind: str
    body: str | None
    event_type: str
    formatted_body: str | None = None
    decryption: Decryption = Decryption.PLAINTEXT
    failure_code: str | None = None  # machine-readable, e.g. "not_shared", "waiting_for_bundle"
    failure_reason: str | None = None  # what the user reads
    provenance: KeyProvenance | None = None
    session_id: str | None = None
    sender_key: str | None = None
    sender_device: str | None = None
    own: bool = False
    # What Element sends besides plain text, aggregated on this item (engine.timeline.relations).
    msgtype: str | None = None
    edited: bool = False  # an m.replace from the sender applies: body is the newest edit's
    edits: tuple[EditVersion, ...] = ()  # the original first, then each edit (event details)
    edit_provenance: KeyProvenance | None = None  # of the edit shown, when its key came in a bundle
    reply_to: str | None = None
    reply: ReplyPreview | None = None
    thread_root: str | None = None  # this item is a reply in that thread
    thread: ThreadSummary | None = None  # this item is a thread's root
    reactions: tuple[Reaction, ...] = ()
    redacted: bool = False  # deleted: body is None and the content is gone
    redacted_by: str | None = None
    redaction_reason: str | None = None
    attachment: Attachment | None = None
    poll: Poll | None = None
    location: Location | None = None
    # The user's push rules, evaluated on the decrypted event, say it mentions them (or one of
    # their keywords): shown highlighted.
    highlight: bool = False

    @property
    def decrypted(self) -> bool:
        return self.decryption is Decryption.DECRYPTED

    @property
    def failed(self) -> bool:
        return self.decryption is Decryption.FAILED

    @property
    def is_message(self) -> bool:
        return self.kind in ("message", "emote", "notice", "encrypted", "bad", "sticker", "poll")

    @property
    def shown_provenance(self) -> KeyProvenance | None:
        """Whose word the text shown rests on, when a key bundle gave the key: the original's,
        else that of the edit shown."""
        return self.provenance or self.edit_provenance

    @property
    def editable(self) -> bool:
        """An own text message that can be edited (not deleted, not undecryptable)."""
        return (
            self.own and not self.redacted and self.kind in ("message", "emote", "notice")
            and self.msgtype in ("m.text", "m.emote", "m.notice") and self.body is not None
        )

    def reaction(self, key: str) -> Reaction | None:
        return next((r for r in self.reactions if r.key == key), None)


@record
class Member:
    user_id: str
    display_name: str | None
    membership: str  # "join" | "invite"

    @property
    def name(self) -> str:
        return self.display_name or self.user_id


@record
class BundleSummary:
    """A key bundle from the inviter, as an invite or the inspector shows it."""

    sender: str
    state: str  # history_sharing.BundleState: waiting, downloading, importing, retrying, held, imported, rejected
    received_at: float
    key_count: int | None = None
    withheld_count: int | None = None
    imported_count: int | None = None
    detail: str | None = None
    message_count: int | None = None  # the sender's claim, shown until the keys are imported
    bytes_done: int | None = None  # download progress, while downloading
    bytes_total: int | None = None

    def describe(self, sender_name: str) -> str:
        """One line for an invite or the inspector, e.g. 'Alice shared the keys to 3 earlier messages'."""
        if self.state == "imported":
            return f"{sender_name}'s keys imported: {self.imported_count or 0} of {self.key_count or 0} session keys"
        if self.state == "rejected":
            return f"keys from {sender_name} refused: {self.detail}"
        if self.state == "held":
            return f"keys from {sender_name} on hold: {self.detail}"
        if self.state == "downloading":
            if self.bytes_total:
                done, total = (self.bytes_done or 0) / 1e6, self.bytes_total / 1e6
                return f"downloading the keys {sender_name} shared… {done:.1f} of {total:.1f} MB"
            return f"downloading the keys {sender_name} shared…"
        if self.state == "retrying":
            return f"the keys {sender_name} shared could not be downloaded yet ({self.detail}); trying again"
        if self.state == "importing":
            return f"importing the keys {sender_name} shared…"
        if self.message_count:
            return f"{sender_name} shared the keys to {self.message_count} earlier message{'s' if self.message_count != 1 else ''}"
        if self.key_count:
            return f"{sender_name} shared the keys to earlier messages ({self.key_count} session key{'s' if self.key_count != 1 else ''})"
        return f"{sender_name} shared keys for earlier messages"


@record
class SpaceChild:
    """A room a space lists, joined or not (what the server's hierarchy told us of it)."""

    room_id: str
    name: str | None
    topic: str | None
    joined: bool
    is_space: bool = False
    member_count: int | None = None
    via: tuple[str, ...] = ()  # servers to join it through


@record
class RoomSummary:
    room_id: str
    name: str
    topic: str | None
    encrypted: bool
    history_visibility: str
    members: tuple[Member, ...]
    unread: int
    highlight: int = 0
    own_membership: str = "join"
    # The keys the inviter shared, while they are still on their way (downloading, retrying,
    # on hold); None once imported or refused, or when we did not join from an invite.
    incoming_keys: BundleSummary | None = None
    # A direct chat (m.direct lists it) and with whom.
    is_direct: bool = False
    dm_user: str | None = None
    # A space: no chat of its own, a list of rooms (`children`).
    is_space: bool = False
    children: tuple[SpaceChild, ...] = ()
    last_active: int = 0  # ms since the epoch of the newest event we hold (0: none)

    @property
    def joined_count(self) -> int:
        return sum(1 for m in self.members if m.membership == "join")

    @property
    def history_shareable(self) -> bool:
        return self.encrypted and self.history_visibility in ("shared", "world_readable")


def listing_order(summary: RoomSummary, newest_ts: int = 0) -> tuple[int, str]:
    """Where a room goes in the room list: the most recently active first (`newest_ts`: the
    newest event its timeline holds, if newer than the summary says), then by name."""
    return -max(summary.last_active, newest_ts), summary.name.lower()


@record
class Invite:
    room_id: str
    name: str
    inviter: str | None
    inviter_name: str | None
    encrypted: bool
    bundle: BundleSummary | None = None
    is_direct: bool = False  # the inviter marked it as a direct chat with us
    is_space: bool = False

    @property
    def inviter_label(self) -> str:
        return self.inviter_name or self.inviter or "someone"


class SyncPhase(str, Enum):
    STOPPED = "stopped"
    CONNECTING = "connecting"
    SYNCING = "syncing"
    RETRYING = "retrying"  # the server answered with an error; trying again
    OFFLINE = "offline"  # the server cannot be reached; showing what was kept, trying again
    LOGGED_OUT = "logged_out"


@record
class SyncState:
    state: SyncPhase
    detail: str | None = None
    retry_in: float | None = None
    since: float | None = None


@record
class Whoami:
    user_id: str
    device_id: str
    homeserver: str
    ed25519: str
    curve25519: str
    extra: dict = field(default_factory=dict)


@record
class SessionReport:
    """One Megolm session as the crypto inspector shows it."""

    session_id: str
    creator_user: str | None
    creator_device: str | None
    creator_key: str
    first_known_index: int
    shareable: bool
    origin: str  # "own" | "direct" | "bundle" | "import" | "forwarded" | "backup" | "unknown"
    origin_detail: str  # e.g. "shared by @alice:x (ALICEDEV) in a key bundle on 2026-11-27 10:02"
    shared_by: str | None = None
    shared_by_device: str | None = None
    received_at: float | None = None


@record
class WithheldReport:
    session_id: str
    code: str
    reason: str | None
    sender_key: str | None
    from_user: str | None
    from_device: str | None
    via: str
    received_at: float


@record
class DeviceReport:
    device_id: str
    display_name: str
    cross_signed_by_owner: bool
    ed25519: str | None


@record
class MemberReport:
    user_id: str
    display_name: str | None
    membership: str
    identity: IdentityState
    master_key: str | None
    devices: tuple[DeviceReport, ...]


@record
class RoomInspection:
    room_id: str
    name: str
    history_visibility: str
    encrypted: bool
    sessions: tuple[SessionReport, ...]
    withheld: tuple[WithheldReport, ...]
    bundles: tuple[BundleSummary, ...]
    pending_inviter: str | None
    pending_since: float | None
    members: tuple[MemberReport, ...]
    prediction: PredictionCheck | None = None


@record
class PredictionCheck:
    """Our inviter predicted what we would read of the room's earlier messages: how it went."""

    inviter: str
    predicted_total: int  # messages the inviter had loaded
    predicted_readable: int
    read_as_predicted: int  # predicted readable and read
    missed: tuple[str, ...]  # predicted readable, not read (event ids we have loaded)
    surprises: tuple[str, ...]  # read, not predicted readable

    def describe(self, inviter_name: str) -> str:
        total = self.predicted_total
        line = (
            f"{inviter_name} predicted you would read {self.predicted_readable} of {total} earlier "
            f"message{'s' if total != 1 else ''}; "
        )
        if not self.missed:
            line += f"you read all {self.read_as_predicted} of them"
        else:
            line += f"you read {self.read_as_predicted} of them ({len(self.missed)} not)"
        line += f", and {len(self.surprises)} others" if self.surprises else ", and nothing else"
        return line


@record
class EventDetails:
    event_id: str
    room_id: str
    sender: str
    sender_device: str | None
    session_id: str | None
    sender_key: str | None
    trust: str  # a sentence: how much we can trust who sent it
    provenance: str | None
    failure_reason: str | None
    decrypted_json: dict | None
    encrypted_json: dict | None
    edits: tuple[EditVersion, ...] = ()  # the original and every edit, oldest first
    body: str | None = None  # the whole text shown (after edits)


# -- identities and trust (cross-signing) -------------------------------------------------------


@record
class OwnTrust:
    identity_exists: bool  # the account has a published master key
    device_verified: bool  # our device carries a valid signature of that identity
    have_private_keys: bool  # we can sign (our device is trusted to act for the identity)
    master_key: str | None = None
    detail: str = ""

    @property
    def label(self) -> str:
        if self.device_verified:
            return "verified"
        if self.identity_exists:
            return "not verified"
        return "no identity"


@record
class IdentityInfo:
    user_id: str
    state: IdentityState
    master_key: str | None = None
    previous_master_key: str | None = None
    changed_at: float | None = None


@record
class DeviceInfo:
    user_id: str
    device_id: str
    display_name: str
    ed25519: str | None
    curve25519: str | None
    cross_signed_by_owner: bool
    # Cross-signed by an identity we verified: ours (for our own devices), or one we signed with
    # our user-signing key after comparing emoji (for other people's).
    verified: bool = False


# -- emoji verification ------------------------------------------------------------------------


class VerificationPhase(str, Enum):
    REQUESTED = "requested"  # a request is out (ours) or waiting for an answer (theirs)
    READY = "ready"  # both sides agreed; the emoji comparison is about to start
    STARTED = "started"  # keys being exchanged
    EMOJI = "emoji"  # compare the emoji now
    CONFIRMED = "confirmed"  # we said they match; waiting for the other side
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (VerificationPhase.DONE, VerificationPhase.CANCELLED)


@record
class VerificationInfo:
    """One emoji verification, as front ends show it."""

    flow_id: str
    other_user: str
    other_device: str | None
    own_devices: bool  # between two devices of ours
    we_requested: bool
    phase: VerificationPhase
    room_id: str | None = None  # in a direct chat (another person), else to-device
    emoji: tuple[tuple[str, str], ...] = ()  # seven (symbol, name), in the emoji phase
    decimals: tuple[int, int, int] | None = None
    cancel_code: str | None = None
    cancel_reason: str | None = None
    cancelled_by_us: bool = False
    result: str | None = None  # once done: what the verification achieved, in a sentence
    other_name: str | None = None

    @property
    def incoming(self) -> bool:
        return not self.we_requested

    @property
    def who(self) -> str:
        """"your device ABCD", or "Alice (@alice:example.org)"."""
        if self.own_devices:
            return f"your device {self.other_device}" if self.other_device else "your other devices"
        if self.other_name and self.other_name != self.other_user:
            return f"{self.other_name} ({self.other_user})"
        return self.other_user


# -- history sharing, as front ends see it -----------------------------------------------------


@record
class SharePreview:
    shareable: bool
    reason: str  # why not, or what will be shared
    key_count: int = 0
    withheld_count: int = 0
    warning: str | None = None  # e.g. "this user may not exist"


@record
class ShareResult:
    shared: bool
    reason: str
    key_count: int = 0
    withheld_count: int = 0
    devices: tuple[str, ...] = ()


@record
class ImportResult:
    state: str  # "imported" | "rejected" | "held" | "waiting" | "retrying" | "expired" | "nothing"
    detail: str
    imported: int = 0
    key_count: int = 0
    withheld_count: int = 0


@record
class EventPrediction:
    """Whether an invitee will be able to read one earlier message, and why not."""

    event_id: str
    readable: bool
    reason: str | None  # None when readable
    code: str  # history_sharing.prediction.Why


@record
class SharePrediction:
    """What an invitee will read of the messages we have loaded, message by message."""

    preview: SharePreview  # the room-level answer: is anything shared at all, why not, warnings
    events: tuple[EventPrediction, ...]

    @property
    def shareable(self) -> bool:
        return self.preview.shareable

    @property
    def reason(self) -> str | None:
        """Why nothing is shared, when nothing is."""
        return None if self.preview.shareable else self.preview.reason

    @property
    def readable(self) -> int:
        return sum(1 for e in self.events if e.readable)

    def summary(self, who: str = "they") -> str:
        """'they will read 41 of 47 earlier messages; 6 were never shareable'."""
        total = len(self.events)
        if not total:
            return f"{who} will find no earlier messages here"
        line = f"{who} will read {self.readable} of {total} earlier message{'s' if total != 1 else ''}"
        reasons: dict[str, int] = {}
        for e in self.events:
            if not e.readable:
                reasons[e.code] = reasons.get(e.code, 0) + 1
        words = {  # (one, several)
            "not_shareable": ("was never shareable", "were never shareable"),
            "withheld": ("was withheld from us", "were withheld from us"),
            "late_index": ("predates the keys we hold", "predate the keys we hold"),
            "never_had": ("has a key we never had", "have keys we never had"),
            "hidden": ("is hidden from new members", "are hidden from new members"),
            "nothing_shared": ("cannot be shared", "cannot be shared"),
        }
        parts = [
            f"{n} {words.get(code, (code, code))[0 if n == 1 else 1]}"
            for code, n in sorted(reasons.items(), key=lambda kv: -kv[1])
        ]
        return line + ("; " + ", ".join(parts) if parts else "")


class BackupState(str, Enum):
    UNKNOWN = "unknown"  # not asked the server yet
    NONE = "none"  # the account has no key backup
    NO_KEY = "no_key"  # there is one, but this device cannot read it (verify with the recovery key)
    READY = "ready"  # this device restores from it and backs up new keys to it
    UPLOAD_ONLY = "upload_only"  # signed by your identity: new keys go up, but we cannot restore
    UNTRUSTED = "untrusted"  # neither its key nor a signature of ours: left alone
    UNSUPPORTED = "unsupported"  # an algorithm we do not know
    ERROR = "error"  # the server's answer was unusable, or it could not be reached


@record
class BackupRestore:
    """A restore from the key backup: running, or the last one this run."""

    room_id: str | None  # None: the whole backup
    total: int  # entries on the server
    done: int  # entries handled so far
    imported: int  # keys that were new to us or better than ours
    failed: int  # entries refused (the log says why)
    finished: bool = False
    error: str | None = None


@record
class BackupStatus:
    """The server-side key backup as this device sees it (`backup status`)."""

    state: BackupState
    detail: str  # a sentence for the user
    version: str | None = None
    algorithm: str | None = None
    keys_on_server: int | None = None
    keys_restored: int = 0  # sessions we hold that came from the backup
    uploading: int = 0  # sessions waiting to go up
    restore: BackupRestore | None = None


@record
class RestoreResult:
    total: int
    imported: int
    failed: int
    room_id: str | None = None

    @property
    def unchanged(self) -> int:
        return self.total - self.imported - self.failed
