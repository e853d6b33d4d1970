"""A deterministic stand-in for `Engine` with canned rooms, invites and timelines.

It has the surface the UI uses (the same method names and signatures) and runs inside a real
`EngineHost`, so the app under test goes through the same thread hop as in production; only the
network, the crypto and the clock are replaced. Snapshot tests need that determinism; behaviour
against a real server is covered by test_pilot_live.py.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from collections.abc import Callable
from dataclasses import replace
from datetime import datetime, timezone
from typing import Any

from tui_client.engine.engine import EngineError
from tui_client.engine.events import (
    BackupChanged,
    EngineEvent,
    IdentityChanged,
    Notice,
    Notification,
    ReceiptsChanged,
    TypingChanged,
    OwnTrustChanged,
    RoomsChanged,
    SyncStateChanged,
    TimelineItemsAdded,
    TimelineItemUpdated,
    VerificationChanged,
)
from tui_client.engine.models import BackupRestore, BackupState, BackupStatus, RestoreResult
from tui_client.engine.models import IdentityInfo, IdentityState, OwnTrust
from tui_client.engine.models import (
    DeviceInfo,
    EventPrediction,
    SharePrediction,
    SharePreview,
    ShareResult,
    BundleSummary,
    Decryption,
    DeviceReport,
    EditVersion,
    EventDetails,
    Invite,
    KeyProvenance,
    Location,
    Member,
    MemberReport,
    Poll,
    PollAnswer,
    Reaction,
    ReplyPreview,
    RoomInspection,
    RoomSummary,
    SessionReport,
    SyncState,
    ThreadSummary,
    TimelineItem,
    VerificationInfo,
    VerificationPhase,
    Whoami,
    WithheldReport,
)

ME = "@bob:example.org"
ALICE = "@alice:example.org"
CAROL = "@carol:example.org"
DAVE = "@dave:example.org"
PROJECT = "!project:example.org"
GENERAL = "!general:example.org"
RANDOM = "!random:example.org"
DESIGN = "!design:example.org"
OPS = "!ops:example.org"


def ts(day: int, hour: int, minute: int) -> int:
    """Milliseconds since the epoch for a March 2025 time in UTC."""
    return int(datetime(2025, 3, day, hour, minute, tzinfo=timezone.utc).timestamp() * 1000)


ALICE_SHARED = KeyProvenance(ALICE, "ALICEDEVICE", "Alice", ts(4, 9, 0) / 1000)


def _item(n: int, room: str, sender: str, name: str, when: int, kind: str, body: str | None, **kw: Any) -> TimelineItem:
    event_type = kw.pop("event_type", "m.room.message" if kind in ("message", "emote", "notice") else "m.room.member")
    return TimelineItem(
        event_id=f"$e{n}", room_id=room, sender=sender, sender_name=name, timestamp=when,
        kind=kind, body=body, event_type=event_type, own=sender == ME, **kw,
    )


def project_timeline() -> list[TimelineItem]:
    shared = dict(decryption=Decryption.DECRYPTED, provenance=ALICE_SHARED, session_id="SESSIONAAAAAAAAAA")
    return [
        _item(1, PROJECT, ALICE, "Alice", ts(3, 9, 0), "state", "Alice created the room", event_type="m.room.create"),
        _item(2, PROJECT, ALICE, "Alice", ts(3, 9, 0), "state", "Alice turned on end-to-end encryption",
              event_type="m.room.encryption"),
        _item(3, PROJECT, ALICE, "Alice", ts(3, 9, 2), "message", "Welcome to **Project X**!",
              formatted_body="Welcome to <strong>Project X</strong>!", **shared),
        _item(4, PROJECT, ALICE, "Alice", ts(3, 9, 3), "message", "The deadline is Friday; notes are in the wiki.",
              **shared),
        _item(5, PROJECT, CAROL, "Carol", ts(3, 9, 30), "encrypted", None, event_type="m.room.encrypted",
              decryption=Decryption.FAILED, failure_code="not_shared",
              failure_reason="not shared: the sender's history settings did not allow it (m.history_not_shared)",
              session_id="SESSIONCCCCCCCCCC", sender_device="CAROLDEVICE"),
        _item(6, PROJECT, ALICE, "Alice", ts(4, 8, 55), "membership", "Alice invited Bob"),
        _item(7, PROJECT, ME, "Bob", ts(4, 9, 1), "membership", "Bob joined"),
        _item(8, PROJECT, ME, "Bob", ts(4, 9, 5), "message", "Thanks! Reading the history now. [bold]x[/]",
              decryption=Decryption.DECRYPTED, session_id="SESSIONBBBBBBBBBB"),
        _item(9, PROJECT, ALICE, "Alice", ts(4, 9, 7), "message", "Two things:\n- the *plan*\n- the `budget`",
              formatted_body="<p>Two things:</p>\n<ul>\n<li>the <em>plan</em></li>\n<li>the <code>budget</code></li>\n</ul>",
              decryption=Decryption.DECRYPTED, session_id="SESSIONDDDDDDDDDD"),
    ]


def general_timeline() -> list[TimelineItem]:
    return [
        _item(20, GENERAL, CAROL, "Carol", ts(4, 10, 0), "message", "Lunch at noon?",
              decryption=Decryption.DECRYPTED),
        _item(21, GENERAL, DAVE, "Dave", ts(4, 10, 1), "emote", "waves", decryption=Decryption.DECRYPTED),
    ]


LAUNCH = "!launch:example.org"


def launch_timeline() -> list[TimelineItem]:
    """What Element sends besides text, as the engine aggregates it: a reply, an edited message,
    reactions (one of them ours), a deleted message, a thread, a poll and a location."""
    dec = dict(decryption=Decryption.DECRYPTED, msgtype="m.text")
    return [
        _item(40, LAUNCH, ALICE, "Alice", ts(4, 9, 0), "message", "Shall we launch on Friday?", **dec,
              reactions=(Reaction("👍", (ALICE, CAROL, ME), "$r1"), Reaction("🎉", (CAROL,)))),
        _item(41, LAUNCH, ME, "Bob", ts(4, 9, 2), "message", "Yes, Friday at 10.", **dec,
              reply_to="$e40", reply=ReplyPreview("$e40", "ok", ALICE, "Alice", "Shall we launch on Friday?"),
              edited=True, edits=(EditVersion("$e41", ts(4, 9, 2), "Yes, Friday at 9."),
                                  EditVersion("$x41", ts(4, 9, 3), "Yes, Friday at 10."))),
        _item(42, LAUNCH, CAROL, "Carol", ts(4, 9, 4), "message", None, redacted=True, redacted_by=CAROL,
              redaction_reason="wrong room"),
        _item(43, LAUNCH, ALICE, "Alice", ts(4, 9, 5), "message", "Release checklist", **dec,
              thread=ThreadSummary(2, CAROL, "Carol", "docs are done")),
        _item(44, LAUNCH, ME, "Bob", ts(4, 9, 6), "message", "tests pass", **dec, thread_root="$e43"),
        _item(45, LAUNCH, CAROL, "Carol", ts(4, 9, 7), "message", "docs are done", **dec, thread_root="$e43"),
        _item(46, LAUNCH, CAROL, "Carol", ts(4, 9, 8), "poll", "Poll: Lunch after?\n1. Pizza (2 votes)\n2. Salad (1 vote)",
              decryption=Decryption.DECRYPTED, event_type="org.matrix.msc3381.poll.start",
              poll=Poll("Lunch after?", (PollAnswer("p", "Pizza", (ALICE, ME)), PollAnswer("s", "Salad", (CAROL,))))),
        _item(47, LAUNCH, ALICE, "Alice", ts(4, 9, 9), "message", "Meet here", decryption=Decryption.DECRYPTED,
              msgtype="m.location", location=Location("The office, 3rd floor", "geo:51.5,-0.12")),
    ]


def launch_room() -> RoomSummary:
    return RoomSummary(LAUNCH, "Launch", None, True, "shared",
                       members((ALICE, "Alice"), (ME, "Bob"), (CAROL, "Carol")), unread=0)


def members(*pairs: tuple[str, str]) -> tuple[Member, ...]:
    return tuple(Member(uid, name, "join") for uid, name in pairs)


def default_rooms() -> list[RoomSummary]:
    return [
        RoomSummary(PROJECT, "Project X", "Planning", True, "shared",
                    members((ALICE, "Alice"), (ME, "Bob"), (CAROL, "Carol")), unread=0),
        RoomSummary(GENERAL, "General", None, True, "shared", members((CAROL, "Carol"), (ME, "Bob"), (DAVE, "Dave")),
                    unread=3),
        RoomSummary(RANDOM, "Random", None, False, "joined", members((ME, "Bob")), unread=0),
    ]


def default_invites() -> list[Invite]:
    return [
        Invite(DESIGN, "Design review", CAROL, "Carol", True,
               BundleSummary(CAROL, "waiting", ts(4, 11, 0) / 1000, key_count=3, message_count=42)),
        Invite(OPS, "Ops", DAVE, "Dave", True,
               BundleSummary(DAVE, "imported", ts(4, 11, 5) / 1000, key_count=3, imported_count=3)),
    ]


# -- crypto: identities, inspector, event details, key files ------------------------------------

RECOVERY_KEY = "EsTc 9WDp 7hKz Qm3R xY2v L8nB c4Fd Ua6S wE1g Hj5K oP0t Zr7N"
KEY_FILE_HEADER = "-----BEGIN MEGOLM SESSION DATA-----"
MASTER_KEYS = {
    ALICE: "AliceMasterKeyAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    ME: "BobMasterKeyBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB",
    CAROL: "CarolNewMasterKeyCCCCCCCCCCCCCCCCCCCCCCCCCC",
    DAVE: "DaveMasterKeyDDDDDDDDDDDDDDDDDDDDDDDDDDDDDDD",
}
CAROL_OLD_MASTER_KEY = "CarolOldMasterKeyOOOOOOOOOOOOOOOOOOOOOOOOOO"


class FakeIdentity:
    """The engine's identity component, for what the UI reads of it (`identity_info`)."""

    def __init__(self, engine: Any) -> None:
        self.engine = engine

    def identity_info(self, user_id: str) -> IdentityInfo:
        if user_id in self.engine.changed:
            return IdentityInfo(user_id, IdentityState.CHANGED, MASTER_KEYS.get(user_id), CAROL_OLD_MASTER_KEY,
                                ts(4, 11, 30) / 1000)
        state = IdentityState.PINNED if user_id in MASTER_KEYS else IdentityState.UNKNOWN
        return IdentityInfo(user_id, state, MASTER_KEYS.get(user_id))


def _project_inspection(engine: Any) -> RoomInspection:
    received = ts(4, 9, 1) / 1000

    def member(user_id: str, name: str, devices: tuple[DeviceReport, ...], state: str = "pinned") -> MemberReport:
        if user_id in engine.changed:
            state = "changed"
        return MemberReport(user_id, name, "join", state, MASTER_KEYS.get(user_id), devices)

    return RoomInspection(
        room_id=PROJECT,
        name="Project X",
        history_visibility="shared",
        encrypted=True,
        sessions=(
            SessionReport("SESSIONAAAAAAAAAA", ALICE, "ALICEDEVICE", "aliceCurveKey", 0, True, "bundle",
                          "shared by @alice:example.org (ALICEDEVICE) in a key bundle on 2025-03-04 09:01",
                          ALICE, "ALICEDEVICE", received),
            SessionReport("SESSIONBBBBBBBBBB", ME, "BOBDEVICE", "bobCurveKey", 0, True, "own",
                          "created by this device", received_at=ts(4, 9, 5) / 1000),
            SessionReport("SESSIONDDDDDDDDDD", ALICE, "ALICEDEVICE", "aliceCurveKey", 3, True, "direct",
                          "received directly from its creator", received_at=ts(4, 9, 7) / 1000),
        ),
        withheld=(
            WithheldReport("SESSIONCCCCCCCCCC", "m.history_not_shared", "The sender disabled sharing encrypted history.",
                           "carolCurveKey", ALICE, "ALICEDEVICE", "bundle", received),
        ),
        bundles=(BundleSummary(ALICE, "imported", received, key_count=2, withheld_count=1, imported_count=1),),
        pending_inviter=None,
        pending_since=None,
        members=(
            member(ALICE, "Alice", (DeviceReport("ALICEDEVICE", "Alice's laptop", True, "aliceEd25519"),)),
            member(ME, "Bob", (DeviceReport("BOBDEVICE", "tui_client", True, "bobEd25519"),
                               DeviceReport("BOBPHONE", "Element Android", False, "bobPhoneEd25519")), "verified"),
            member(CAROL, "Carol", (DeviceReport("CAROLDEVICE", "Carol's desktop", False, "carolEd25519"),
                                    DeviceReport("CAROLNEW", "Element Web", True, "carolNewEd25519"))),
        ),
    )


class FakeCrypto:
    """The cross-signing and QA surface of the engine (mixed into FakeEngine): identities, the
    crypto inspector, event details, recovery, key files. Canned data for Project X."""

    calls: list[tuple[str, tuple[Any, ...]]]
    changed: list[str]
    password: str
    recovery_key: str
    verify_delay: float
    _trust: object
    _timelines: dict[str, list[TimelineItem]]
    _invites: list[Invite]

    def inspect_room(self, room_id: str) -> RoomInspection:
        self.calls.append(("inspect_room", (room_id,)))
        if room_id == PROJECT:
            return _project_inspection(self)
        room = self.room(room_id)
        invite = next((i for i in self._invites if i.room_id == room_id), None)
        return RoomInspection(
            room_id, room.name if room else (invite.name if invite else room_id), "shared", True, (), (),
            (invite.bundle,) if invite and invite.bundle else (), None, None, (),
        )

    def event_details(self, room_id: str, event_id: str) -> EventDetails | None:
        item = next((i for i in self._timelines.get(room_id, []) if i.event_id == event_id), None)
        if item is None:
            return None
        device = item.sender_device or ("ALICEDEVICE" if item.sender == ALICE else "BOBDEVICE" if item.own else None)
        encrypted = None
        if item.session_id:
            encrypted = {
                "type": "m.room.encrypted", "event_id": event_id, "room_id": room_id, "sender": item.sender,
                "origin_server_ts": item.timestamp,
                "content": {"algorithm": "m.megolm.v1.aes-sha2", "ciphertext": "AwgAEpAB" + "x" * 40,
                            "device_id": device, "sender_key": "curveKey", "session_id": item.session_id},
            }
        decrypted = None
        if item.decrypted:
            decrypted = {"type": item.event_type, "event_id": event_id, "room_id": room_id, "sender": item.sender,
                         "origin_server_ts": item.timestamp, "content": {"msgtype": "m.text", "body": item.body}}
        if item.failed:
            trust = "not decrypted, so nothing can be said about it"
        elif item.provenance is not None:
            trust = item.provenance.trust(item.sender)
        elif item.decrypted:
            trust = "from a device its owner cross-signed (the owner is not verified by you)"
        else:
            trust = "not encrypted: anyone on the servers could read or change it"
        return EventDetails(event_id, room_id, item.sender, device, item.session_id, "curveKey" if encrypted else None,
                            trust, item.provenance.sentence(item.sender) if item.provenance else None, item.failure_reason,
                            decrypted, encrypted)

    async def verify_with_recovery_key(self, key_or_passphrase: str) -> OwnTrust:
        text = key_or_passphrase
        self.calls.append(("verify_with_recovery_key", ()))
        await asyncio.sleep(self.verify_delay)
        gate = getattr(self, "verify_gate", None)
        if gate is not None:  # the test decides when the (slow) verification finishes
            await asyncio.to_thread(gate.wait, 10)
        if text.strip() != self.recovery_key:
            raise EngineError("The recovery key does not match this account's secret storage key")
        self._trust = OwnTrust(True, True, True, MASTER_KEYS[ME], "this device is verified by your identity")
        self.emit(OwnTrustChanged(self._trust))
        return self._trust

    async def setup_recovery(self) -> str:
        self.calls.append(("setup_recovery", ()))
        if not getattr(self._trust, "have_private_keys", False):
            raise EngineError("this device cannot sign for your identity, so it cannot set up recovery")
        return self.recovery_key

    async def reset_identity(self, password: str) -> OwnTrust:
        self.calls.append(("reset_identity", ()))
        if password != self.password:
            raise EngineError("could not publish cross-signing keys: wrong password")
        self._trust = OwnTrust(True, True, True, "BobNewMasterKey", "this device is verified by your identity")
        self.emit(OwnTrustChanged(self._trust))
        return self._trust

    def changed_identities(self) -> list[str]:
        return list(self.changed)

    def identity_info(self, user_id: str) -> IdentityInfo:
        return self.identity.identity_info(user_id)

    def devices(self, user_id: str) -> list[DeviceInfo]:
        return []

    async def refresh_keys(self, user_id: str) -> None:
        self.calls.append(("refresh_keys", (user_id,)))

    def accept_identity(self, user_id: str) -> None:
        self.calls.append(("accept_identity", (user_id,)))
        if user_id not in self.changed:
            raise EngineError(f"no identity is known for {user_id}")
        self.changed.remove(user_id)

    def change_identity(self, user_id: str) -> None:
        """Test helper: `user_id` resets their identity (as a /keys/query would reveal)."""
        self.changed.append(user_id)
        self.emit(IdentityChanged(user_id, CAROL_OLD_MASTER_KEY, MASTER_KEYS.get(user_id, "newKey")))
        self.emit(Notice(f"{user_id} has a new cryptographic identity. If you did not expect this, check with them "
                         "before trusting new messages or shared history.", level="warning"))

    async def export_keys(self, path: Any, passphrase: str, room_id: str | None = None) -> int:
        from pathlib import Path

        self.calls.append(("export_keys", (str(path), room_id)))
        if not passphrase:
            raise EngineError("a passphrase is required to protect exported keys")
        Path(path).write_text(f"{KEY_FILE_HEADER}\n{passphrase}\n-----END MEGOLM SESSION DATA-----\n")
        return 3 if room_id else 5

    async def import_keys(self, path: Any, passphrase: str) -> tuple[int, int, int]:
        from pathlib import Path

        self.calls.append(("import_keys", (str(path),)))
        try:
            lines = Path(path).read_text().splitlines()
        except OSError as exc:
            raise EngineError(f"cannot read {path}: {exc}") from None
        if not lines or lines[0] != KEY_FILE_HEADER:
            raise EngineError("this is not a key export file (the MEGOLM SESSION DATA markers are missing)")
        if lines[1] != passphrase:
            raise EngineError("wrong passphrase, or the file is damaged")
        return 4, 1, 0

    # -- the key backup ------------------------------------------------------------------------------

    backup: BackupStatus = BackupStatus(BackupState.READY, "restoring from and backing up to version 1", "1",
                                        "m.megolm_backup.v1.curve25519-aes-sha2", 1200, 0, 0)

    def backup_status(self) -> BackupStatus:
        return self.backup

    async def refresh_backup(self) -> BackupStatus:
        self.calls.append(("refresh_backup", ()))
        return self.backup

    async def restore_backup(self, room_id: str | None = None) -> RestoreResult:
        self.calls.append(("restore_backup", (room_id,)))
        total = self.backup.keys_on_server or 0
        self.set_backup_progress(total, total, finished=True)
        return RestoreResult(total, total, 0, room_id)

    def room_opened(self, room_id: str) -> None:
        self.calls.append(("room_opened", (room_id,)))

    def set_backup_progress(self, done: int, total: int, *, finished: bool = False, failed: int = 0,
                            error: str | None = None) -> None:
        """Test helper: a whole-backup restore got this far (emits what the engine would)."""
        restore = BackupRestore(None, total, done, done - failed, failed, finished, error)
        self.backup = replace(self.backup, restore=restore, keys_restored=done - failed)
        self.emit(BackupChanged(self.backup))


# The seven emoji every fake verification shows (indices 0, 13, 21, 36, 41, 47, 63 of the spec's).
FAKE_EMOJI = (("🐶", "Dog"), ("🐙", "Octopus"), ("☁️", "Cloud"), ("👍", "Thumbs Up"), ("💡", "Light Bulb"),
              ("🔑", "Key"), ("📌", "Pin"))


class FakeVerifications:
    """Emoji verification, played by the test: `incoming_verification` (someone asks us),
    `peer_ready` (the person we asked accepted; emoji show), `peer_cancels`."""

    verifications_by_id: dict[str, VerificationInfo]

    def _set(self, info: VerificationInfo) -> VerificationInfo:
        self.verifications_by_id[info.flow_id] = info
        self.emit(VerificationChanged(info))  # type: ignore[attr-defined]
        return info

    def _get(self, flow_id: str) -> VerificationInfo:
        info = self.verifications_by_id.get(flow_id)
        if info is None:
            raise EngineError("there is no such verification (it may have timed out)")
        return info

    def verifications(self) -> list[VerificationInfo]:
        return list(self.verifications_by_id.values())

    async def request_verification(self, user_id: str, *, device_id: str | None = None,
                                   timeout: float = 120.0) -> VerificationInfo:
        self.calls.append(("request_verification", (user_id, device_id)))  # type: ignore[attr-defined]
        own = user_id == ME
        if own and device_id is None and not self.other_devices:
            raise EngineError("you have no other device to verify with; log in on one first")
        flow_id = f"flow-{len(self.verifications_by_id) + 1}"
        name = {ALICE: "Alice", CAROL: "Carol", DAVE: "Dave"}.get(user_id)
        return self._set(VerificationInfo(flow_id, user_id, device_id, own, True, VerificationPhase.REQUESTED,
                                          None if own else "!dm:example.org", other_name=name))

    def incoming_verification(self, user_id: str = ALICE, device_id: str = "ALICEDEVICE") -> VerificationInfo:
        """Test helper: `user_id` asks us to compare emoji."""
        flow_id = f"flow-{len(self.verifications_by_id) + 1}"
        own = user_id == ME
        name = {ALICE: "Alice", CAROL: "Carol", DAVE: "Dave"}.get(user_id)
        return self._set(VerificationInfo(flow_id, user_id, device_id, own, False, VerificationPhase.REQUESTED,
                                          None if own else "!dm:example.org", other_name=name))

    def peer_ready(self, flow_id: str, device_id: str = "ALICEDEVICE") -> VerificationInfo:
        """Test helper: the other side accepted our request; keys exchanged; emoji to compare."""
        info = self._get(flow_id)
        return self._set(replace(info, other_device=info.other_device or device_id, phase=VerificationPhase.EMOJI,
                                 emoji=FAKE_EMOJI, decimals=(1234, 5678, 910)))

    def peer_cancels(self, flow_id: str, code: str = "m.user", reason: str = "the verification was cancelled") -> None:
        info = self._get(flow_id)
        self._set(replace(info, phase=VerificationPhase.CANCELLED, emoji=(), decimals=None, cancel_code=code,
                          cancel_reason=reason, cancelled_by_us=False))

    async def accept_verification(self, flow_id: str) -> VerificationInfo:
        self.calls.append(("accept_verification", (flow_id,)))  # type: ignore[attr-defined]
        info = self._get(flow_id)
        if info.phase is not VerificationPhase.REQUESTED or info.we_requested:
            raise EngineError("there is no request to accept")
        self._set(replace(info, phase=VerificationPhase.READY))
        return self.peer_ready(flow_id)

    async def confirm_verification(self, flow_id: str) -> VerificationInfo:
        self.calls.append(("confirm_verification", (flow_id,)))  # type: ignore[attr-defined]
        info = self._get(flow_id)
        if info.phase is not VerificationPhase.EMOJI:
            raise EngineError("there are no emoji to confirm")
        self._set(replace(info, phase=VerificationPhase.CONFIRMED))
        if self.confirm_gate is not None:  # the test decides when the other side confirms
            await asyncio.to_thread(self.confirm_gate.wait, 10)
        result = (f"your device {info.other_device} is now verified by your identity" if info.own_devices
                  else f"{info.other_user} is now verified")
        return self._set(replace(info, phase=VerificationPhase.DONE, emoji=(), decimals=None, result=result))

    async def mismatch_verification(self, flow_id: str) -> VerificationInfo:
        self.calls.append(("mismatch_verification", (flow_id,)))  # type: ignore[attr-defined]
        info = self._get(flow_id)
        if info.phase is not VerificationPhase.EMOJI:
            raise EngineError("there are no emoji to compare")
        return self._set(replace(info, phase=VerificationPhase.CANCELLED, emoji=(), decimals=None,
                                 cancel_code="m.mismatched_sas", cancel_reason="the emoji did not match",
                                 cancelled_by_us=True))

    async def cancel_verification(self, flow_id: str) -> VerificationInfo:
        self.calls.append(("cancel_verification", (flow_id,)))  # type: ignore[attr-defined]
        info = self._get(flow_id)
        if info.phase.finished:
            return info
        return self._set(replace(info, phase=VerificationPhase.CANCELLED, emoji=(), decimals=None,
                                 cancel_code="m.user", cancel_reason="cancelled by the user", cancelled_by_us=True))


class FakeEngine(FakeVerifications, FakeCrypto):
    """Engine-shaped; records the commands it was given in `calls`."""

    def __init__(
        self,
        *,
        logged_in: bool = True,
        rooms: list[RoomSummary] | None = None,
        invites: list[Invite] | None = None,
        timelines: dict[str, list[TimelineItem]] | None = None,
        older: dict[str, list[TimelineItem]] | None = None,
        password: str = "secret",
        own_trust: object = None,
    ) -> None:
        self.user_id = ME if logged_in else ""
        self.device_id = "BOBDEVICE" if logged_in else ""
        self.profile = "fake"
        self.dir = Path("/nonexistent/fake-profile")
        self.store_problem: str | None = None
        self._rooms = list(default_rooms() if rooms is None else rooms)
        self._invites = list(default_invites() if invites is None else invites)
        self._timelines = {PROJECT: project_timeline(), GENERAL: general_timeline()} if timelines is None else timelines
        self._older = dict(older or {})
        self._at_start = {room: room not in self._older for room in self._timelines}
        self.password = password
        self.sync_state = SyncState("stopped")
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._listeners: list[Callable[[EngineEvent], None]] = []
        self._counter = 100
        self._reaction_ids: dict[str, tuple[str, str, str]] = {}
        self._trust = own_trust
        self.closed = False
        # Cross-signing and QA state (see FakeCrypto).
        self.changed: list[str] = []
        self.identity = FakeIdentity(self)
        self.recovery_key = RECOVERY_KEY
        self.verify_delay = 0.0
        # Emoji verification (see FakeVerifications).
        self.verifications_by_id = {}
        self.other_devices = True
        self.confirm_gate: Any = None
        self._typing: dict[str, tuple[str, ...]] = {}
        self._receipts: dict[str, dict[str, tuple[str, ...]]] = {}
        self._markers: dict[str, str] = {}
        self._files: dict[str, bytes] = {}

    # -- subscription and lifecycle ----------------------------------------------------------

    def subscribe(self, listener: Callable[[EngineEvent], None]) -> Callable[[], None]:
        self._listeners.append(listener)
        return lambda: self._listeners.remove(listener) if listener in self._listeners else None

    def emit(self, event: EngineEvent) -> None:
        for listener in list(self._listeners):
            listener(event)

    @property
    def logged_in(self) -> bool:
        return bool(self.user_id)

    async def open(self, *, broken_store_ok: bool = False) -> bool:
        return bool(self.user_id)

    async def logout(self) -> None:
        self.calls.append(("logout", ()))
        self.user_id = self.device_id = ""

    async def settle(self, timeout: float = 30.0) -> None:
        await asyncio.sleep(0)

    async def sync_once(self, timeout_ms: int = 0) -> None:
        self.calls.append(("sync_once", ()))

    async def wait_until(self, predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
        return predicate()

    async def flush(self) -> None:
        return None

    async def doctor(self) -> dict[str, Any]:
        return {"profile": self.profile, "logged_in": self.logged_in, "problems": []}

    async def login(self, homeserver: str, user: str, password: str, device_name: str = "tui_client") -> Any:
        self.calls.append(("login", (homeserver, user)))
        await asyncio.sleep(0)
        if not homeserver.startswith(("http://", "https://")):
            raise EngineError(f"bad homeserver URL {homeserver!r}: it must start with http:// or https://")
        if password != self.password:
            raise EngineError("wrong user name or password")
        self.user_id, self.device_id = f"@{user}:example.org", "NEWDEVICE"
        return Whoami(self.user_id, self.device_id, homeserver, "ed", "curve")

    def start_sync(self) -> None:
        self.calls.append(("start_sync", ()))
        self.set_sync_state(SyncState("syncing", since=0.0))

    async def stop_sync(self) -> None:
        self.set_sync_state(SyncState("stopped"))

    def retry_now(self) -> None:
        self.calls.append(("retry_now", ()))

    async def close(self) -> None:
        self.closed = True

    def set_sync_state(self, state: SyncState) -> None:
        self.sync_state = state
        self.emit(SyncStateChanged(state))

    def own_trust(self) -> object:
        return self._trust

    # -- reads -------------------------------------------------------------------------------

    def rooms(self) -> list[RoomSummary]:
        return list(self._rooms)

    def room(self, room_id: str) -> RoomSummary | None:
        return next((r for r in self._rooms if r.room_id == room_id), None)

    def invites(self) -> list[Invite]:
        return list(self._invites)

    def timeline(self, room_id: str) -> list[TimelineItem]:
        return list(self._timelines.get(room_id, []))

    def timeline_at_start(self, room_id: str) -> bool:
        return self._at_start.get(room_id, True)

    def whoami(self) -> Whoami:
        return Whoami(self.user_id, self.device_id, "https://example.org", "ed", "curve")

    def emit_rooms(self) -> None:
        self.emit(RoomsChanged(tuple(self._rooms), tuple(self._invites)))

    # -- commands ----------------------------------------------------------------------------

    async def paginate_back(self, room_id: str, limit: int = 40) -> list[TimelineItem]:
        self.calls.append(("paginate_back", (room_id,)))
        older = self._older.pop(room_id, [])
        self._at_start[room_id] = True
        if older:
            self._timelines[room_id][:0] = older
            self.emit(TimelineItemsAdded(room_id, tuple(older), at_start=True))
        return older

    async def send_text(self, room_id: str, text: str, *, emote: bool = False, notice: bool = False) -> str:
        self.calls.append(("send_text", (room_id, text, emote)))
        if text == "fail":
            raise EngineError("could not send: the server said no")
        self._counter += 1
        item = _item(self._counter, room_id, ME, "Bob", ts(4, 12, 0), "emote" if emote else "message", text,
                     decryption=Decryption.DECRYPTED, msgtype="m.emote" if emote else "m.text")
        self._timelines.setdefault(room_id, []).append(item)
        self.emit(TimelineItemsAdded(room_id, (item,)))
        return item.event_id

    def _find(self, room_id: str, event_id: str) -> tuple[int, TimelineItem]:
        items = self._timelines.get(room_id, [])
        for index, item in enumerate(items):
            if item.event_id == event_id:
                return index, item
        raise EngineError(f"there is no message {event_id} in this room")

    def _change(self, room_id: str, index: int, item: TimelineItem) -> None:
        self._timelines[room_id][index] = item
        self.emit(TimelineItemUpdated(room_id, item))

    async def reply(
        self, room_id: str, event_id: str, text: str, *, in_thread: bool = False, emote: bool = False
    ) -> str:
        self.calls.append(("reply", (room_id, event_id, text, in_thread)))
        _, target = self._find(room_id, event_id)
        self._counter += 1
        root = (target.thread_root or target.event_id) if in_thread else target.thread_root
        preview = None if in_thread else ReplyPreview(event_id, "ok", target.sender, target.sender_name,
                                                      (target.body or "").split("\n")[0])
        item = _item(self._counter, room_id, ME, "Bob", ts(4, 12, 0), "message", text,
                     decryption=Decryption.DECRYPTED, msgtype="m.text", reply_to=None if in_thread else event_id,
                     reply=preview, thread_root=root)
        self._timelines[room_id].append(item)
        self.emit(TimelineItemsAdded(room_id, (item,)))
        if root is not None:
            index, root_item = self._find(room_id, root)
            replies = (root_item.thread.replies if root_item.thread else 0) + 1
            self._change(room_id, index, replace(root_item, thread=ThreadSummary(replies, ME, "Bob", text)))
        return item.event_id

    async def edit(self, room_id: str, event_id: str, text: str) -> str:
        self.calls.append(("edit", (room_id, event_id, text)))
        index, target = self._find(room_id, event_id)
        if not target.own:
            raise EngineError("you can only edit your own messages")
        self._counter += 1
        versions = target.edits or (EditVersion(target.event_id, target.timestamp, target.body),)
        edited = replace(target, body=text, formatted_body=None, edited=True,
                         edits=versions + (EditVersion(f"$e{self._counter}", ts(4, 12, 1), text),))
        self._change(room_id, index, edited)
        return f"$e{self._counter}"

    async def react(self, room_id: str, event_id: str, key: str) -> str:
        self.calls.append(("react", (room_id, event_id, key)))
        index, target = self._find(room_id, event_id)
        self._counter += 1
        reaction_id = f"$e{self._counter}"
        held = target.reaction(key)
        if held is not None and held.own_event_id:
            raise EngineError(f"you already reacted with {key}")
        self._reaction_ids[reaction_id] = (room_id, event_id, key)
        if held is None:
            reactions = target.reactions + (Reaction(key, (ME,), reaction_id),)
        else:
            reactions = tuple(Reaction(key, r.senders + (ME,), reaction_id) if r.key == key else r
                              for r in target.reactions)
        self._change(room_id, index, replace(target, reactions=reactions))
        return reaction_id

    async def redact(self, room_id: str, event_id: str, reason: str | None = None) -> str:
        self.calls.append(("redact", (room_id, event_id, reason)))
        self._counter += 1
        if event_id in self._reaction_ids:
            _, target_id, key = self._reaction_ids.pop(event_id)
            index, target = self._find(room_id, target_id)
            reactions = []
            for r in target.reactions:
                if r.key == key:
                    senders = tuple(s for s in r.senders if s != ME)
                    if senders:
                        reactions.append(Reaction(key, senders, None))
                else:
                    reactions.append(r)
            self._change(room_id, index, replace(target, reactions=tuple(reactions)))
            return f"$e{self._counter}"
        index, target = self._find(room_id, event_id)
        self._change(room_id, index, replace(
            target, body=None, formatted_body=None, redacted=True, redacted_by=ME, redaction_reason=reason,
            reactions=(), edits=(), edited=False, provenance=None, reply=None))
        return f"$e{self._counter}"

    def thread(self, room_id: str, root_id: str) -> list[TimelineItem]:
        items = self._timelines.get(room_id, [])
        return [i for i in items if i.event_id == root_id or i.thread_root == root_id]

    async def load_thread(self, room_id: str, root_id: str) -> list[TimelineItem]:
        self.calls.append(("load_thread", (room_id, root_id)))
        return self.thread(room_id, root_id)

    async def preview_invite(self, room_id: str, user_id: str) -> SharePreview:
        room = self.room(room_id)
        if room is None or not room.history_shareable:
            return SharePreview(False, f"the room's history visibility is '{room.history_visibility if room else '?'}', "
                                       "so earlier messages are not shared")
        if user_id.startswith("@ghost"):
            return SharePreview(False, f"{user_id} does not seem to exist on their server, so nothing would be "
                                       "shared", 2, 0, warning=f"{user_id} may not exist: check the user id")
        return SharePreview(True, f"the keys to earlier messages (2 sessions) will be shared with 1 device of "
                                  f"{user_id}", 2, 0)

    def share_preview(self, room_id: str) -> SharePreview:
        room = self.room(room_id)
        shareable = bool(room and room.history_shareable)
        return SharePreview(shareable, "the keys to earlier messages (2 sessions) will be shared" if shareable else
                            "earlier messages are not shared", 2 if shareable else 0, 0)

    async def share_history(self, room_id: str, user_id: str) -> ShareResult:
        self.calls.append(("share_history", (room_id, user_id)))
        return ShareResult(True, f"shared the keys to 2 sessions with 1 device of {user_id}", 2, 0, ("DEVICE",))

    async def resolve_room(self, room: str, *, invited_ok: bool = False) -> str:
        if room.startswith("!"):
            return room
        found = [r.room_id for r in self._rooms if r.name == room]
        if invited_ok:
            found += [i.room_id for i in self._invites if i.name == room]
        if len(found) != 1:
            raise EngineError(f"no room called {room!r} (use a room id, an alias or an exact name)")
        return found[0]

    async def load_full_history(self, room_id: str, page: int = 100) -> list[TimelineItem]:
        while not self.timeline_at_start(room_id):
            await self.paginate_back(room_id, page)
        return self.timeline(room_id)

    async def share_prediction(self, room_id: str, user_id: str) -> SharePrediction:
        preview = await self.preview_invite(room_id, user_id)
        events = []
        for item in self._timelines.get(room_id, []):
            if not item.is_message:
                continue
            if not preview.shareable:
                events.append(EventPrediction(item.event_id, False, f"no keys are shared: {preview.reason}",
                                              "nothing_shared"))
            elif item.failed:
                events.append(EventPrediction(item.event_id, False, "we never had its key", "never_had"))
            else:
                events.append(EventPrediction(item.event_id, True, None, "readable"))
        return SharePrediction(preview, tuple(events))

    async def invite(
        self, room_id: str, user_id: str, *, share_history: bool = True, invite_if_sharing_fails: bool = False
    ) -> None:
        self.calls.append(("invite", (room_id, user_id) if share_history else (room_id, user_id, "no history")))

    async def join(self, room: str, *, wait_for_keys: float = 2.0, via: tuple[str, ...] = ()) -> str:
        self.calls.append(("join", (room,)))
        invite = next((i for i in self._invites if i.room_id == room), None)
        if invite is None and not room.startswith("!"):
            raise EngineError(f"could not join {room}: no such room (404)")
        if invite is not None:
            self._invites.remove(invite)
        room_id = invite.room_id if invite else room
        name = invite.name if invite else room
        self._rooms.insert(0, RoomSummary(room_id, name, None, True, "shared", members((ME, "Bob")), unread=0))
        self._timelines.setdefault(room_id, [])
        self.emit_rooms()
        return room_id

    async def decline(self, room_id: str) -> None:
        self.calls.append(("decline", (room_id,)))
        self._invites = [i for i in self._invites if i.room_id != room_id]
        self.emit_rooms()

    async def leave(self, room_id: str) -> None:
        self.calls.append(("leave", (room_id,)))
        self._rooms = [r for r in self._rooms if r.room_id != room_id]
        self.emit_rooms()

    async def set_history_visibility(self, room_id: str, visibility: str) -> None:
        self.calls.append(("set_history_visibility", (room_id, visibility)))
        self._rooms = [replace(r, history_visibility=visibility) if r.room_id == room_id else r for r in self._rooms]
        self.emit_rooms()

    async def mark_read(self, room_id: str) -> None:
        self.calls.append(("mark_read", (room_id,)))
        self._rooms = [replace(r, unread=0) if r.room_id == room_id else r for r in self._rooms]
        self.emit_rooms()

    async def create_room(self, name: str, *, encrypted: bool = True, history_visibility: str | None = None,
                          topic: str | None = None, invite: tuple[str, ...] = ()) -> str:
        self.calls.append(("create_room", (name, encrypted, history_visibility)))
        room_id = f"!{name.lower().replace(' ', '')}:example.org"
        self._rooms.insert(0, RoomSummary(room_id, name, topic, encrypted, history_visibility or "shared",
                                          members((ME, "Bob")), unread=0))
        self._timelines[room_id] = []
        self.emit_rooms()
        return room_id

    # -- direct chats, spaces, typing, receipts ------------------------------------------------

    async def open_dm(self, user_id: str) -> str:
        self.calls.append(("open_dm", (user_id,)))
        found = next((r for r in self._rooms if r.is_direct and r.dm_user == user_id), None)
        if found is not None:
            return found.room_id
        room_id = f"!dm-{user_id[1:].split(':')[0]}:example.org"
        name = user_id[1:].split(":")[0].capitalize()
        self._rooms.insert(0, RoomSummary(room_id, name, None, True, "shared",
                                          members((ME, "Bob"), (user_id, name)), unread=0,
                                          is_direct=True, dm_user=user_id))
        self._timelines[room_id] = []
        self.emit_rooms()
        return room_id

    async def refresh_space(self, space_id: str) -> None:
        self.calls.append(("refresh_space", (space_id,)))

    def typing(self, room_id: str) -> tuple[str, ...]:
        return tuple(self._typing.get(room_id, ()))

    async def set_typing(self, room_id: str, typing: bool) -> None:
        self.calls.append(("set_typing", (room_id, typing)))

    def receipts(self, room_id: str) -> dict[str, tuple[str, ...]]:
        return dict(self._receipts.get(room_id, {}))

    def read_marker(self, room_id: str) -> str | None:
        return self._markers.get(room_id)

    # -- files -------------------------------------------------------------------------------

    async def save_attachment(self, room_id: str, event_id: str, path: Path | None = None) -> Path:
        self.calls.append(("save_attachment", (room_id, event_id)))
        target = (path or Path("/nonexistent/downloads")) / "file.bin"
        return target

    async def attachment_bytes(self, room_id: str, event_id: str, *, thumbnail: bool = False) -> bytes:
        self.calls.append(("attachment_bytes", (room_id, event_id, thumbnail)))
        return self._files.get(event_id, b"")

    async def send_file(self, room_id: str, path: Path, *, transfer_id: str | None = None) -> str:
        self.calls.append(("send_file", (room_id, str(path))))
        if not Path(path).is_file():
            raise EngineError(f"{path} is not a file")
        self._counter += 1
        return f"$file{self._counter}"

    def cancel_transfer(self, transfer_id: str) -> bool:
        self.calls.append(("cancel_transfer", (transfer_id,)))
        return True

    # -- test helpers ------------------------------------------------------------------------

    def deliver_keys(self, room_id: str, event_id: str, body: str) -> TimelineItem:
        """Pretend the keys of a failed message arrived (from Alice's bundle)."""
        items = self._timelines[room_id]
        index = next(i for i, item in enumerate(items) if item.event_id == event_id)
        fixed = replace(items[index], kind="message", body=body, decryption=Decryption.DECRYPTED,
                        failure_code=None, failure_reason=None, provenance=ALICE_SHARED)
        items[index] = fixed
        self.emit(TimelineItemUpdated(room_id, fixed))
        return fixed

    def receive(self, room_id: str, sender: str, name: str, body: str, *, highlight: bool = False,
                notify: bool = False, direct: bool = False) -> TimelineItem:
        """A message arrives; with `notify`, the engine's push rules said to notify about it."""
        self._counter += 1
        item = _item(self._counter, room_id, sender, name, ts(4, 12, 30), "message", body,
                     decryption=Decryption.DECRYPTED, highlight=highlight)
        self._timelines.setdefault(room_id, []).append(item)
        if notify:
            room = self.room(room_id)
            self.emit(Notification(room_id, room.name if room else room_id, item, highlight, direct))
        self.emit(TimelineItemsAdded(room_id, (item,)))
        return item

    def someone_types(self, room_id: str, names: tuple[str, ...]) -> None:
        self._typing[room_id] = names
        self.emit(TypingChanged(room_id, names))

    def someone_reads(self, room_id: str, receipts: dict[str, tuple[str, ...]]) -> None:
        self._receipts[room_id] = receipts
        self.emit(ReceiptsChanged(room_id, tuple(receipts.items())))
