"""Where a sync's key traffic goes: verification events (to-device, and in room timelines) to
`verification.service`, secret requests and secrets to `gossip`; what they queued is sent after
the sync."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from ..nio.olm import SECRET_SEND, DecryptedOlmEvent

if TYPE_CHECKING:
    from .gossip import Gossip
    from .verification.service import Verifications

logger = logging.getLogger(__name__)


class KeyEvents:
    def __init__(self, verifications: Verifications, gossip: Gossip) -> None:
        self.verifications = verifications
        self.gossip = gossip

    def on_sync(self, resp: Any) -> None:
        raw = (getattr(resp, "raw", None) or {}).get("to_device") or []
        self.verifications.on_to_device([e for e in raw if str(e.get("type")).startswith("m.key.verification.")])
        self.gossip.on_secret_requests([e for e in raw if e.get("type") == "m.secret.request"])
        for event in resp.to_device_events:
            if isinstance(event, DecryptedOlmEvent) and event.type == SECRET_SEND:
                self.gossip.on_secret_send(event)
        for room_id, info in resp.rooms.join.items():
            for event in info.timeline.events:
                self.verifications.on_room_event(room_id, event)

    async def after_sync(self) -> None:
        for name, step in (("verification", self.verifications.flush), ("key sharing", self.gossip.flush)):
            try:
                await step()
            except Exception:
                logger.exception("%s upkeep after a sync failed", name)
