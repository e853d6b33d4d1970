"""How a verification's messages leave: to-device (our own devices; plaintext, to the devices a
`Send` names) or as room events in the flow's direct chat. A message that cannot be sent is
logged with its reason, never raised: the flow times out or the user cancels."""

from __future__ import annotations

import logging
import secrets
import urllib.parse
from typing import TYPE_CHECKING, Any, Protocol

from .flow import Send, Transport, Verification

if TYPE_CHECKING:
    from ...nio.client import EngineClient

logger = logging.getLogger(__name__)


class RoomIO(Protocol):
    """Room operations the shell needs (implemented by `commands.RoomCommands`)."""

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str: ...

    async def direct_room(self, user_id: str, timeout: float) -> str: ...

    def display_name_in(self, room_id: str | None, user_id: str) -> str | None: ...


class _NotSent(Exception):
    """A to-device message could not be sent (the reason is logged by `Delivery.deliver`)."""


class Delivery:
    """Sends the messages of flows, by each flow's transport."""

    def __init__(self, client: EngineClient, rooms: RoomIO) -> None:
        self._client = client
        self._rooms = rooms

    async def deliver(self, flow: Verification, sends: list[Send]) -> None:
        for send in sends:
            try:
                if flow.transport is Transport.ROOM:
                    assert flow.room_id is not None
                    await self._rooms.send_event(flow.room_id, send.event_type, send.content)
                else:
                    await self._send_to_device(flow.other_user, send)
            except Exception as exc:
                logger.warning(
                    "verification %s: could not send %s to %s: %s", flow.flow_id[:40], send.event_type,
                    flow.other_user, str(exc) or type(exc).__name__,
                )

    async def _send_to_device(self, user_id: str, send: Send) -> None:
        if not send.devices:
            raise _NotSent("no device to send to")
        messages = {user_id: {device: send.content for device in send.devices}}
        status, body = await self._client.raw_json(
            "PUT",
            f"/_matrix/client/v3/sendToDevice/{urllib.parse.quote(send.event_type)}/{secrets.token_hex(12)}",
            {"messages": messages},
        )
        if status != 200:
            raise _NotSent(body.get("error") or f"HTTP {status}")
