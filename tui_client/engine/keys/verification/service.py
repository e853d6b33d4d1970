"""The shell around `flow.Verification`: where its messages come from and go to, the user's
actions, timeouts, and what a finished verification leads to.

- Our own devices verify each other to-device (plaintext ``m.key.verification.*``; a request goes
  to every other device of ours, the first to answer gets it). Other people are verified in a
  direct chat: the request is an ``m.room.message`` of msgtype ``m.key.verification.request``,
  the rest are (encrypted) room events pointing at it.
- nio's own (legacy, request-less) SAS is switched off in `nio.olm.AppOlm`; every verification
  event reaches this module raw, from the sync response.
- After a successful verification: another person's master key is signed with our user-signing
  key (their identity becomes "verified"), another device of ours with our self-signing key; and a
  device of ours that just verified a device holding our keys asks it for them (secret gossip).

Anything odd is logged with its reason and otherwise ignored; nothing here raises into a sync.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable, Coroutine, Mapping
from typing import TYPE_CHECKING, Any, Protocol

from ...events import EngineEvent, VerificationChanged
from ...models import VerificationInfo, VerificationPhase
from ..identity import IdentityError
from .flow import (
    EVENT_TYPES,
    REQUEST,
    InvalidEvent,
    Own,
    Phase,
    Send,
    Transport,
    Verification,
    Verified,
    request_content,
)

if TYPE_CHECKING:
    from ...nio.client import EngineClient
    from ..identity import IdentityManager

logger = logging.getLogger(__name__)

MAX_FLOWS = 16  # live flows at once; a flood of requests beyond this is dropped
START_GRACE = 5.0  # seconds an accepter waits for the requester to start before starting itself
MAX_UNCLAIMED = 64  # room verification events kept for flows we do not know yet
UNCLAIMED_LIFETIME = 60.0


class VerificationError(Exception):
    """A verification action cannot be done; the message is for the user."""


class RoomIO(Protocol):
    """Room operations the shell needs (implemented by `commands.RoomCommands`)."""

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str: ...

    async def direct_room(self, user_id: str, timeout: float) -> str: ...

    def display_name_in(self, room_id: str | None, user_id: str) -> str | None: ...


class _Keys:
    """`flow.KeyDirectory` over the identity manager's view of /keys/query."""

    def __init__(self, identity: IdentityManager) -> None:
        self._identity = identity

    def device_key(self, user_id: str, device_id: str) -> str | None:
        return self._identity.device_key_of(user_id, device_id)

    def master_key(self, user_id: str) -> str | None:
        return self._identity.master_key_of(user_id)


class Verifications:
    def __init__(
        self,
        client: EngineClient,
        identity: IdentityManager,
        rooms: RoomIO,
        emit: Callable[[EngineEvent], None],
        clock: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, Any], str], Any],
        query_keys: Callable[[set[str]], Coroutine[Any, Any, Any]],
        on_own_device_proved: Callable[[str, str], None],
        on_own_identity_proved: Callable[[str], Awaitable[None]],
    ) -> None:
        self._client = client
        self._identity = identity
        self._rooms = rooms
        self._emit = emit
        self._clock = clock
        self._spawn = spawn
        self._query_keys = query_keys
        # Another device of ours passed (device id, ed25519 key): trusted for keys at once.
        self._on_own_device_proved = on_own_device_proved
        # ... and it vouched for our identity (so it holds our keys): ask it for them.
        self._on_own_identity_proved = on_own_identity_proved
        self._keys = _Keys(identity)
        self._flows: dict[str, Verification] = {}
        self._results: dict[str, str] = {}
        self._shown: dict[str, VerificationInfo] = {}
        self._outbox: list[tuple[Verification, list[Send]]] = []
        self._acted_on: set[str] = set()  # flows whose success we have acted on
        # Room verification events for a flow id we do not know (yet): (time, room, flow id,
        # sender, type, content).
        self._unclaimed: list[tuple[float, str, str, str, str, dict[str, Any]]] = []

    # -- what front ends read ---------------------------------------------------------------------

    def info(self, flow: Verification) -> VerificationInfo:
        return VerificationInfo(
            flow_id=flow.flow_id,
            other_user=flow.other_user,
            other_device=flow.other_device,
            own_devices=flow.self_verification,
            we_requested=flow.we_requested,
            phase=VerificationPhase(flow.phase.value),
            room_id=flow.room_id,
            emoji=flow.emoji if flow.phase in (Phase.EMOJI, Phase.CONFIRMED) else (),
            decimals=flow.decimals if flow.phase in (Phase.EMOJI, Phase.CONFIRMED) else None,
            cancel_code=flow.cancel_code,
            cancel_reason=flow.cancel_reason,
            cancelled_by_us=flow.cancelled_by_us,
            result=self._results.get(flow.flow_id),
            other_name=None if flow.self_verification else self._rooms.display_name_in(flow.room_id, flow.other_user),
        )

    def all(self) -> list[VerificationInfo]:
        return [self.info(f) for f in self._flows.values()]

    def get(self, flow_id: str) -> VerificationInfo | None:
        flow = self._flows.get(flow_id)
        return self.info(flow) if flow is not None else None

    def _changed(self, flow: Verification) -> None:
        info = self.info(flow)
        if self._shown.get(flow.flow_id) != info:
            self._shown[flow.flow_id] = info
            self._emit(VerificationChanged(info))

    # -- who we are ---------------------------------------------------------------------------------

    def _own(self) -> Own:
        olm = self._client.olm
        assert olm is not None
        trust = self._identity.own_trust()
        return Own(
            self._client.user_id, self._client.device_id, olm.account.identity_keys["ed25519"],
            trust.master_key if trust.device_verified else None,
        )

    # -- incoming -----------------------------------------------------------------------------------

    def on_to_device(self, raw_events: list[dict[str, Any]]) -> None:
        """Verification events from a sync's to-device section (as the server sent them)."""
        for event in raw_events:
            try:
                self._on_to_device(event)
            except Exception:
                logger.exception("could not handle a verification event from %s", event.get("sender", "?"))

    def _on_to_device(self, event: dict[str, Any]) -> None:
        event_type, sender, content = event.get("type"), event.get("sender"), event.get("content")
        if event_type not in EVENT_TYPES or not isinstance(sender, str) or not isinstance(content, dict):
            return
        flow_id = content.get("transaction_id")
        if not isinstance(flow_id, str) or not flow_id or len(flow_id) > 255:
            logger.warning("ignored a %s from %s without a usable transaction id", event_type, sender)
            return
        if event_type == REQUEST:
            if sender != self._client.user_id:
                logger.warning(
                    "ignored a to-device verification request from %s: other people are verified in a "
                    "direct chat", sender,
                )
                return
            timestamp = content.get("timestamp")
            if not isinstance(timestamp, int) or isinstance(timestamp, bool):
                logger.warning("ignored a verification request from %s without a timestamp", sender)
                return
            self._incoming_request(sender, content, flow_id, Transport.TO_DEVICE, timestamp / 1000, None)
            return
        flow = self._flows.get(flow_id)
        if flow is None or flow.transport is not Transport.TO_DEVICE:
            logger.info("ignored a %s from %s for a verification we do not know (%s)", event_type, sender, flow_id[:40])
            return
        self._receive(flow, sender, str(event_type), content)

    def on_room_event(self, room_id: str, event: Any) -> None:
        """A timeline event of a joined room (from a sync): verification requests and events."""
        try:
            self._on_room_event(room_id, event)
        except Exception:
            logger.exception("could not handle a verification event in %s", room_id)

    def _on_room_event(self, room_id: str, event: Any) -> None:
        source = getattr(event, "source", None)
        if not isinstance(source, dict):
            return
        event_type, content = source.get("type"), source.get("content")
        sender, event_id = getattr(event, "sender", None) or source.get("sender"), getattr(event, "event_id", None)
        if not isinstance(content, dict) or not isinstance(sender, str) or not isinstance(event_id, str):
            return
        if event_type == "m.room.message" and content.get("msgtype") == REQUEST:
            if sender == self._client.user_id:
                return  # ours (this device's, or another device's request to someone else)
            sent = source.get("origin_server_ts")
            sent_at = sent / 1000 if isinstance(sent, int) and not isinstance(sent, bool) else 0.0
            self._incoming_request(sender, content, event_id, Transport.ROOM, sent_at, room_id)
            return
        if event_type not in EVENT_TYPES or event_type == REQUEST:
            return
        relation = content.get("m.relates_to")
        flow_id = relation.get("event_id") if isinstance(relation, Mapping) else None
        flow = self._flows.get(flow_id) if isinstance(flow_id, str) else None
        if flow is None and isinstance(flow_id, str) and sender != self._client.user_id:
            # Maybe the answer to a request of ours whose sending has not returned yet (the
            # other side can be faster than our own HTTP response): keep it for a moment.
            self._unclaimed.append((self._clock(), room_id, flow_id, sender, str(event_type), content))
            del self._unclaimed[:-MAX_UNCLAIMED]
            logger.debug("kept a %s in %s for a verification we do not know yet", event_type, room_id)
            return
        if flow is None or flow.transport is not Transport.ROOM or flow.room_id != room_id:
            return
        if sender == self._client.user_id and content.get("from_device") == self._client.device_id:
            return  # the echo of what we sent
        if sender == self._client.user_id and event_type not in ("m.key.verification.ready", "m.key.verification.cancel"):
            return  # our echo; only another device of ours answering matters
        self._receive(flow, sender, str(event_type), content)

    def _claim(self, flow: Verification) -> None:
        """Events for `flow` that arrived before we knew its id (see `_on_room_event`)."""
        now = self._clock()
        kept = [u for u in self._unclaimed if now - u[0] < UNCLAIMED_LIFETIME]
        self._unclaimed = [u for u in kept if u[2] != flow.flow_id]
        for _, room_id, _, sender, event_type, content in (u for u in kept if u[2] == flow.flow_id):
            if room_id == flow.room_id:
                self._receive(flow, sender, event_type, content)
        if self._outbox:
            self._spawn(self.flush(), "verification-send")

    def _incoming_request(
        self, sender: str, content: dict[str, Any], flow_id: str, transport: Transport, sent_at: float,
        room_id: str | None,
    ) -> None:
        if flow_id in self._flows:
            logger.info("ignored a repeated verification request %s from %s", flow_id[:40], sender)
            return
        live = [f for f in self._flows.values() if not f.phase.finished]
        if len(live) >= MAX_FLOWS:
            logger.warning("ignored a verification request from %s: %d verifications are already open", sender, len(live))
            return
        try:
            flow = Verification.incoming_request(
                self._own(), sender, content, flow_id=flow_id, transport=transport, sent_at=sent_at,
                now=self._clock(), keys=self._keys, room_id=room_id,
            )
        except InvalidEvent as exc:
            # Info, not warning: every start re-reads recent timelines, old requests included.
            logger.info("ignored a verification request from %s: %s", sender, exc)
            return
        # A new request from the same device replaces one it left open.
        for old in live:
            if old.other_user == sender and old.other_device == flow.other_device and not old.we_requested:
                self._queue(old, old.cancel())
        self._flows[flow_id] = flow
        logger.info("verification request %s from %s (%s)", flow_id[:40], sender, flow.other_device)
        self._queue(flow, flow.pending_cancel())
        self._spawn(self._query_keys({sender}), "verification-keys")
        self._changed(flow)

    def _receive(self, flow: Verification, sender: str, event_type: str, content: dict[str, Any]) -> None:
        was = flow.phase
        sends = flow.receive(sender, event_type, content, self._clock())
        if flow.phase is Phase.READY and was is Phase.REQUESTED and flow.we_requested:
            sends += flow.start(self._clock())  # they are ready: we asked, so we start
        self._queue(flow, sends)
        self._after_change(flow)

    def _queue(self, flow: Verification, sends: list[Send]) -> None:
        if sends:
            self._outbox.append((flow, sends))

    def _after_change(self, flow: Verification) -> None:
        self._changed(flow)
        if flow.verified is not None and flow.flow_id not in self._acted_on:
            self._acted_on.add(flow.flow_id)
            if flow.verified.user_id == self._client.user_id:
                self._on_own_device_proved(flow.verified.device_id, flow.verified.device_key)
            self._spawn(self._verified(flow, flow.verified), "verification-success")

    # -- sending ------------------------------------------------------------------------------------

    async def flush(self) -> None:
        """Send what incoming events asked us to (after a sync), and time out stale flows."""
        now = self._clock()
        for flow in list(self._flows.values()):
            self._queue(flow, flow.tick(now))
            self._changed(flow)
        outbox, self._outbox = self._outbox, []
        for flow, sends in outbox:
            await self._deliver(flow, sends)
        self._forget_old(now)

    async def _deliver(self, flow: Verification, sends: list[Send]) -> None:
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
            raise VerificationError("no device to send to")
        messages = {user_id: {device: send.content for device in send.devices}}
        status, body = await self._client.raw_json(
            "PUT",
            f"/_matrix/client/v3/sendToDevice/{urllib.parse.quote(send.event_type)}/{secrets.token_hex(12)}",
            {"messages": messages},
        )
        if status != 200:
            raise VerificationError(body.get("error") or f"HTTP {status}")

    def _forget_old(self, now: float) -> None:
        """Finished flows stay visible for a while (for `verifications` and the dialog), not forever."""
        for flow_id, flow in list(self._flows.items()):
            if flow.phase.finished and now - max(flow.requested_at, flow.started_at or 0) > 3600:
                del self._flows[flow_id]
                self._shown.pop(flow_id, None)
                self._results.pop(flow_id, None)

    # -- user actions -----------------------------------------------------------------------------

    def _flow(self, flow_id: str) -> Verification:
        flow = self._flows.get(flow_id)
        if flow is None:
            raise VerificationError("there is no such verification (it may have timed out)")
        return flow

    async def _act(self, flow: Verification, sends: list[Send]) -> VerificationInfo:
        await self._deliver(flow, sends)
        self._after_change(flow)
        return self.info(flow)

    async def request(self, user_id: str, device_id: str | None = None, timeout: float = 120.0) -> VerificationInfo:
        """Ask `user_id` to compare emoji: our own other devices to-device (all of them, or
        `device_id`), anyone else in a direct chat (created if there is none)."""
        own = self._own()
        now = self._clock()
        await self._query_keys({user_id})
        if user_id == own.user_id:
            olm = self._client.olm
            assert olm is not None
            devices = sorted(d.id for d in olm.device_store.active_user_devices(user_id) if d.id != own.device_id)
            if device_id is not None:
                if device_id not in devices:
                    raise VerificationError(f"you have no device {device_id}")
                devices = [device_id]
            if not devices:
                raise VerificationError("you have no other device to verify with; log in on one first")
            flow_id = secrets.token_urlsafe(18)
            flow = Verification(flow_id, Transport.TO_DEVICE, own, user_id, True, now, self._keys,
                                requested_devices=tuple(devices))
            self._flows[flow_id] = flow
            await self._deliver(flow, [Send(REQUEST, request_content(own, flow_id=flow_id, now=now), tuple(devices))])
            logger.info("asked our devices %s to verify (%s)", ", ".join(devices), flow_id)
        else:
            try:
                room_id = await self._rooms.direct_room(user_id, timeout)
            except Exception as exc:
                raise VerificationError(f"could not open a direct chat with {user_id}: {exc or type(exc).__name__}") from None
            content = request_content(own, to=user_id)
            try:
                event_id = await self._rooms.send_event(room_id, "m.room.message", content)
            except Exception as exc:
                raise VerificationError(f"could not send the verification request: {exc or type(exc).__name__}") from None
            flow = Verification(event_id, Transport.ROOM, own, user_id, True, now, self._keys, room_id)
            self._flows[event_id] = flow
            logger.info("asked %s to verify in %s (%s)", user_id, room_id, event_id)
            self._claim(flow)
        self._changed(flow)
        return self.info(flow)

    async def accept(self, flow_id: str) -> VerificationInfo:
        flow = self._flow(flow_id)
        try:
            sends = flow.accept()
        except InvalidEvent as exc:
            raise VerificationError(str(exc)) from None
        await self._query_keys({flow.other_user})
        info = await self._act(flow, sends)
        self._spawn(self._start_if_they_do_not(flow), "verification-start")
        return info

    async def _start_if_they_do_not(self, flow: Verification) -> None:
        """Usually the requester starts; if it does not, we do (both may: the spec settles it)."""
        await asyncio.sleep(START_GRACE)
        if flow.phase is Phase.READY:
            logger.info("verification %s: they did not start; starting it ourselves", flow.flow_id[:40])
            await self._act(flow, flow.start(self._clock()))

    async def start(self, flow_id: str) -> VerificationInfo:
        flow = self._flow(flow_id)
        try:
            sends = flow.start(self._clock())
        except InvalidEvent as exc:
            raise VerificationError(str(exc)) from None
        return await self._act(flow, sends)

    async def confirm(self, flow_id: str) -> VerificationInfo:
        flow = self._flow(flow_id)
        try:
            sends = flow.confirm()
        except InvalidEvent as exc:
            raise VerificationError(str(exc)) from None
        return await self._act(flow, sends)

    async def mismatch(self, flow_id: str) -> VerificationInfo:
        flow = self._flow(flow_id)
        try:
            sends = flow.mismatch()
        except InvalidEvent as exc:
            raise VerificationError(str(exc)) from None
        return await self._act(flow, sends)

    async def cancel(self, flow_id: str) -> VerificationInfo:
        flow = self._flow(flow_id)
        return await self._act(flow, flow.cancel())

    # -- what a verification proves -----------------------------------------------------------------

    async def _verified(self, flow: Verification, verified: Verified) -> None:
        """Sign what the emoji proved, and tell the user what that means."""
        try:
            if verified.user_id == self._client.user_id:
                result = await self._own_device_verified(verified)
            else:
                result = await self._user_verified(verified)
        except Exception as exc:
            logger.warning("after verifying %s: %s", verified.user_id, exc)
            result = f"the emoji matched, but {exc}"
        self._results[flow.flow_id] = result
        logger.info("verification %s with %s: %s", flow.flow_id[:40], verified.user_id, result)
        self._changed(flow)

    async def _own_device_verified(self, verified: Verified) -> str:
        identity = self._identity
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
            await self._on_own_identity_proved(verified.device_id)
            if not identity.can_sign:
                parts.append(f"asked your device {verified.device_id} for your identity's keys")
        return "; ".join(parts) or f"your device {verified.device_id} matched"

    async def _user_verified(self, verified: Verified) -> str:
        if verified.master_key is None:
            return f"{verified.user_id}'s device {verified.device_id} matched, but they did not vouch for their identity"
        try:
            info = await self._identity.sign_user(verified.user_id, verified.master_key)
        except IdentityError as exc:
            return f"the emoji matched, but {exc}"
        if info.state == "verified":
            return f"{verified.user_id} is now verified"
        return f"signed the identity of {verified.user_id}; the server has not shown the signature yet"
