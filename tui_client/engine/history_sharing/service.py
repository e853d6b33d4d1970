"""What the engine holds of history sharing: both shells over one record store."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from ..models import BundleSummary, SharePrediction
from .explain import explain_before_join
from .host import SharingHost
from .prediction import EventFacts, predict
from .receiver import BundleReceiver, ImportResult
from .records import AcceptedInvite, AcceptState, BundleState, ReceivedBundle, WithheldRecord
from .rules import InviteeFacts, SharePreview
from .sender import BundleSender, SharingError, ShareResult
from .store import Database, SharingStore

__all__ = [
    "AcceptState",
    "AcceptedInvite",
    "BundleState",
    "HistorySharing",
    "ImportResult",
    "InviteeFacts",
    "ReceivedBundle",
    "SharePreview",
    "ShareResult",
    "SharingError",
    "WithheldRecord",
]


class HistorySharing:
    def __init__(
        self, host: SharingHost, db: Database, before_share: Callable[[str], Awaitable[None]] | None = None
    ) -> None:
        self.records = SharingStore(db)
        self.sender = BundleSender(host, self.records) if before_share is None else BundleSender(
            host, self.records, before_share
        )
        self.receiver = BundleReceiver(host, self.records)
        self._host = host

    # The inviter's side.
    def preview(self, room_id: str, invitee: InviteeFacts | None = None) -> SharePreview:
        return self.sender.preview(room_id, invitee)

    async def invitee_facts(self, user_id: str) -> InviteeFacts:
        return await self.sender.invitee_facts(user_id)

    async def share(
        self, room_id: str, invitee: str, *, facts: InviteeFacts | None = None,
        predicted: SharePrediction | None = None,
    ) -> ShareResult:
        return await self.sender.share(room_id, invitee, facts=facts, predicted=predicted)

    def predict(
        self, room_id: str, events: list[EventFacts], invitee: InviteeFacts, names: Mapping[str, str]
    ) -> SharePrediction:
        """What `invitee` will read of `events` (prediction.predict over what we hold)."""
        room = self.preview(room_id, invitee)
        shared = {k.session_id for k in self.sender.plan(room_id).keys}
        withheld = {r.session_id: r for r in self.records.withheld_in(room_id)}
        return predict(events, room, shared, withheld, names)

    # The invitee's side.
    def acceptance(self, room_id: str) -> AcceptedInvite | None:
        return self.records.acceptance(room_id)

    def bundle(self, room_id: str, sender: str) -> ReceivedBundle | None:
        return self.records.bundle(room_id, sender)

    def incoming(self, room_id: str) -> BundleSummary | None:
        """The inviter's bundle for a room we joined, while it is still on its way."""
        return self.receiver.incoming(room_id)

    def explain(self, room_id: str, sent_ms: int, *, own_device_cross_signed: bool) -> tuple[str, str] | None:
        """Why a message sent at `sent_ms` cannot be read, if it predates our acceptance."""
        acceptance = self.records.acceptance(room_id)
        if acceptance is None or sent_ms >= acceptance.accepted_at * 1000:
            return None
        name = self._host.display_name(room_id, acceptance.inviter)
        return explain_before_join(
            name, acceptance, self.records.bundle(room_id, acceptance.inviter),
            now=self._host.clock(), own_device_cross_signed=own_device_cross_signed,
        )

    def withheld(self, room_id: str, session_id: str) -> WithheldRecord | None:
        return self.records.withheld(room_id, session_id)

    def on_announcement(self, sender: str, sender_key: str, payload: dict[str, Any]) -> ReceivedBundle | None:
        return self.receiver.on_announcement(sender, sender_key, payload)

    def on_plaintext_bundle(self, sender: str, event_type: str) -> None:
        self.receiver.on_plaintext_bundle(sender, event_type)

    def on_withheld(self, sender: str, content: Any) -> str | None:
        return self.receiver.on_withheld(sender, content)

    def before_join(self, room_id: str, inviter: str) -> None:
        self.receiver.before_join(room_id, inviter)

    def join_refused(self, room_id: str) -> None:
        self.receiver.join_refused(room_id)

    def joined(self, room_id: str) -> None:
        self.receiver.joined(room_id)

    def left(self, room_id: str) -> None:
        self.receiver.left(room_id)

    def identity_accepted(self, user_id: str) -> None:
        self.receiver.identity_accepted(user_id)

    def start(self) -> None:
        self.receiver.start()

    def close(self) -> None:
        self.receiver.close()

    def busy(self, room_id: str) -> bool:
        return self.receiver.busy(room_id)

    async def wait(self, room_id: str, timeout: float) -> ImportResult | None:
        return await self.receiver.wait(room_id, timeout)
