"""The inviter's side of MSC4268, with I/O: say what an invite would share, then build, encrypt,
upload and send the key bundle to the invitee's cross-signed devices before ``/invite``.

A thin shell (like matrix-rust-sdk's ``shared_room_history.rs``): the decisions are in
`rules.py`, the format in `bundle.py`.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import urllib.parse
from collections.abc import Awaitable, Callable
from typing import Any

from ..crypto.attachments import encrypt_attachment
from ..errors import EngineError
from .bundle import BUNDLE_EVENT_TYPE, HistoricKey, build_bundle, bundle_content, serialize_bundle
from ..models import SharePrediction, ShareResult
from .host import SharingHost
from .rules import (
    BundlePlan,
    InviteeFacts,
    RoomFacts,
    SessionFacts,
    SharePreview,
    count_opened_messages,
    plan_bundle,
    plural,
    preview,
)
from .store import SharingStore

logger = logging.getLogger(__name__)


class SharingError(EngineError):
    """Sharing history with an invitee failed for a reason the user should decide about."""


async def _nothing_first(room_id: str) -> None:
    return None


class BundleSender:
    def __init__(
        self, host: SharingHost, records: SharingStore,
        before_share: Callable[[str], Awaitable[None]] = _nothing_first,
    ) -> None:
        self.host = host
        self.records = records
        # Called with the room before its bundle is built: the key backup restores the room's
        # keys, so a device that holds them only in the backup still passes them on.
        self.before_share = before_share

    @property
    def _client(self) -> Any:
        return self.host.client

    # -- what an invite would do -----------------------------------------------------------------

    def room_facts(self, room_id: str) -> RoomFacts | None:
        room = self._client.rooms.get(room_id)
        if room is None:
            return None
        return RoomFacts(True, room.encrypted, room.history_visibility)

    def plan(self, room_id: str) -> BundlePlan:
        olm = self._client.olm
        sessions = [
            SessionFacts(room_id, sid, s.sender_key, bool((m := olm.meta_for(room_id, sid)) and m.shared_history))
            for per_sender in olm.inbound_group_store._entries.get(room_id, {}).values()
            for sid, s in per_sender.items()
        ]
        return plan_bundle(room_id, sessions, self.records.withheld_in(room_id), self._client.device_id)

    def preview(self, room_id: str, invitee: InviteeFacts | None = None) -> SharePreview:
        trust = self.host.identity.own_trust()
        plan = self.plan(room_id)
        return preview(self.room_facts(room_id), trust.device_verified, trust.detail, len(plan.keys),
                       len(plan.withheld), invitee)

    async def invitee_facts(self, user_id: str) -> InviteeFacts:
        """Who the invitee is as far as the server and cross-signing tell (a key query and a
        profile lookup; Element warns the same way before inviting someone unknown). Raises
        SharingError if the server did not answer the key query: "no eligible device" would
        then be a guess, and an invite would go out without the keys and without asking."""
        try:
            await self.host.query_keys({user_id})
        except Exception as exc:
            raise SharingError(f"could not ask the server about the devices of {user_id}: {exc}") from exc
        exists: bool | None = None
        try:
            status, _ = await self._client.raw_json(
                "GET", f"/_matrix/client/v3/profile/{urllib.parse.quote(user_id)}", timeout=10
            )
            exists = True if status == 200 else False if status == 404 else None
        except Exception as exc:
            logger.info("could not look up the profile of %s: %s", user_id, exc)
        identity = self.host.identity
        devices = list(self._client.olm.device_store.active_user_devices(user_id))
        signed = [d for d in devices if identity.device_cross_signed(user_id, d.id)]
        return InviteeFacts(user_id, exists, identity.identity_info(user_id).state, len(devices), len(signed))

    async def restore_first(self, room_id: str) -> None:
        """Fetch the room's keys from the key backup before counting or sharing them."""
        try:
            await self.before_share(room_id)
        except Exception as exc:  # share what we hold
            logger.warning("could not fetch the keys of %s from the key backup first: %s", room_id, exc)

    # -- sharing ---------------------------------------------------------------------------------

    async def share(
        self, room_id: str, invitee: str, *, facts: InviteeFacts | None = None,
        predicted: SharePrediction | None = None,
    ) -> ShareResult:
        """Build, upload and send the room's key bundle to `invitee`'s cross-signed devices.

        Returns `shared=False` with a reason when there is nothing to do (not shareable, no
        eligible device); raises SharingError when sharing should have happened but failed.
        `predicted` (what we expect them to read) travels along as a hint for their inspector."""
        await self.restore_first(room_id)
        facts = facts or await self.invitee_facts(invitee)
        decision = self.preview(room_id, facts)
        if not decision.shareable:
            if facts.identity == "changed":
                raise SharingError(decision.reason)
            logger.info("not sharing history of %s with %s: %s", room_id, invitee, decision.reason)
            return ShareResult(False, decision.reason)
        identity = self.host.identity
        devices = [
            d for d in self._client.olm.device_store.active_user_devices(invitee)
            if identity.device_cross_signed(invitee, d.id)
        ]
        plan = self.plan(room_id)
        keys = await asyncio.to_thread(self._export, room_id, plan)
        data = serialize_bundle(build_bundle(keys, plan.withheld))
        if plan.capped:
            logger.warning("the key bundle for %s leaves out %d entries over the caps", room_id, plan.capped)
        ciphertext, file = await asyncio.to_thread(encrypt_attachment, data)
        try:
            file["url"] = await self._client.upload_bytes(ciphertext)
        except Exception as exc:
            raise SharingError(f"could not upload the key bundle: {exc}") from exc
        hint = None
        if predicted is not None:
            hint = ([e.event_id for e in predicted.events if e.readable], len(predicted.events))
        content = bundle_content(
            room_id, file, len(keys), len(plan.withheld), self._message_count(room_id, keys), hint
        )
        sent = await self.send_to_devices(invitee, [d.id for d in devices], content)
        result = ShareResult(
            True,
            f"shared the keys to {plural(len(keys), 'session')} with {plural(len(sent), 'device')} of {invitee}",
            len(keys), len(plan.withheld), tuple(sent),
        )
        logger.info("history of %s: %s", room_id, result.reason)
        return result

    def build(self, room_id: str) -> dict[str, Any]:
        """The bundle JSON we would send for the room now (for tests, benchmarks and QA)."""
        plan = self.plan(room_id)
        return build_bundle(self._export(room_id, plan), plan.withheld)

    def _export(self, room_id: str, plan: BundlePlan) -> list[HistoricKey]:
        entries = self._client.olm.inbound_group_store._entries.get(room_id, {})
        keys = []
        for facts in plan.keys:
            session = entries.get(facts.sender_key, {}).get(facts.session_id)
            if session is None:
                continue
            keys.append(HistoricKey(
                room_id, session.sender_key, facts.session_id,
                session.export_session(session.first_known_index), session.ed25519,
            ))
        return keys

    def _message_count(self, room_id: str, keys: list[HistoricKey]) -> int | None:
        """How many messages the shared keys open: a hint for the invitee's invite card, counted
        over what we have loaded, and only when that reaches the start of the room (we never
        page back just to count)."""
        if not self.host.timeline_at_start(room_id):
            return None
        shared = {k.session_id for k in keys}
        return count_opened_messages(((i.session_id, i.is_message) for i in self.host.timeline(room_id)), shared)

    async def send_to_devices(
        self, user_id: str, device_ids: list[str], content: dict[str, Any], event_type: str = BUNDLE_EVENT_TYPE
    ) -> list[str]:
        """Olm-encrypt `content` as `event_type` for each device and send it in one request."""
        olm = self._client.olm
        missing = [
            d for d in device_ids
            if (dev := olm.device_store[user_id].get(d)) is not None and not olm.session_store.get(dev.curve25519)
        ]
        if missing:
            try:
                await self._client.keys_claim({user_id: missing})
            except Exception as exc:
                raise SharingError(f"could not open an encrypted channel to {user_id}: {exc}") from exc
        messages: dict[str, Any] = {}
        for device_id in device_ids:
            device = olm.device_store[user_id].get(device_id)
            session = olm.session_store.get(device.curve25519) if device else None
            if session is None:
                logger.warning("no Olm session with %s %s; the key bundle is not sent to it", user_id, device_id)
                continue
            messages[device_id] = olm._olm_encrypt(session, device, event_type, content)
        if not messages:
            raise SharingError(f"could not open an encrypted channel to any device of {user_id}")
        try:
            status, body = await self._client.raw_json(
                "PUT",
                f"/_matrix/client/v3/sendToDevice/m.room.encrypted/{secrets.token_hex(12)}",
                {"messages": {user_id: messages}},
            )
        except Exception as exc:
            raise SharingError(f"could not send the key bundle: {exc}") from exc
        if status != 200:
            raise SharingError(f"could not send the key bundle: {body.get('error') or f'HTTP {status}'}")
        return list(messages)
