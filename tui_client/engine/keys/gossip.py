"""Keys and secrets between our own devices, with I/O (the decisions are in `gossip_rules`).

- **Room keys.** A message we cannot read for want of its key makes us ask our other devices
  that our identity signed (``m.room_key_request``, once per session); their answer
  (``m.forwarded_room_key``) goes through `nio.olm.AppOlm`, which asks `forward_refusal` here
  whether to take it. Their requests to us are answered by `AppOlm.share_with_ourselves`, which
  asks `key_request_refusal`.
- **Secrets.** After this device verified another device of ours by emoji, it asks our devices
  for our cross-signing keys and the key backup's key (``m.secret.request``); what comes back
  (``m.secret.send``, Olm-encrypted) is checked against the published identity, or the server's
  current backup, before it is kept. Our other devices' requests are answered with what we hold.

The backup key is kept sealed in the store (``tc_secret``, AES-GCM under the store key's
"gossiped secrets" subkey); `received_backup_key()` gives it to the key backup.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Any

from nio.crypto import OutgoingKeyRequest

from ..crypto.symmetric import seal, store_subkey, unseal
from .gossip_rules import (
    BACKUP_SECRET,
    CROSS_SIGNING_SECRETS,
    MEGOLM,
    REQUEST_LIFETIME,
    DeviceFacts,
    ReceivedSecret,
    SecretRequest,
    backup_mismatch,
    forward_refusal,
    key_request_refusal,
    parse_secret_request,
    secret_request_refusal,
    secret_send_refusal,
)
from .identity import IdentityError

if TYPE_CHECKING:
    from ..nio.client import EngineClient
    from ..nio.olm import DecryptedOlmEvent
    from .identity import IdentityManager

logger = logging.getLogger(__name__)

SECRET_PURPOSE = "gossiped secrets"
_BACKUP_ROW = "gossip:" + BACKUP_SECRET
_OUTSTANDING = "secret_requests"
SECRET_RETRY = 15.0  # seconds before asking once more for secrets that did not come
MAX_ANSWERS = 32  # secret requests answered per sync, at most
MAX_WANTED = 5000  # missing room keys remembered until a device of ours can be asked


class Gossip:
    def __init__(
        self,
        client: EngineClient,
        identity: IdentityManager,
        store_key: str,
        clock: Callable[[], float],
        spawn: Callable[[Coroutine[Any, Any, Any], str], Any],
        query_keys: Callable[[set[str]], Awaitable[Any]],
    ) -> None:
        assert client.olm is not None and client.store is not None
        self._client = client
        self._olm = client.olm
        self._store = client.store
        self._identity = identity
        self._clock = clock
        self._spawn = spawn
        self._query_keys = query_keys
        self._secret_key = store_subkey(store_key, SECRET_PURPOSE)
        self.user_id = client.user_id
        self.device_id = client.device_id
        # Devices of ours this device verified by emoji in this run: trusted even before the
        # server shows our signature on them. device id -> its ed25519 key.
        self._emoji_verified: dict[str, str] = {}
        self._wanted: dict[str, tuple[str, str]] = {}  # session id -> (room, sender key): no one to ask yet
        self._key_requests: list[tuple[str, str, str]] = []  # queued in a sync, sent after it
        # Our secret requests: id -> (name, sent at); kept in the store, so an answer that
        # arrives after a restart (or after a CLI command exited) is still taken.
        self._outstanding: dict[str, tuple[str, float]] = self._load_outstanding()
        self._cross_signing: dict[str, bytes] = {}  # seeds received so far, until all three are here
        self._answers: list[tuple[str, SecretRequest]] = []
        self._asked_this_run: dict[str, str] = {}  # session id -> sender key
        # For the key backup (set by whoever manages it): told when another device of ours sent
        # us the backup's key (checked against the server's current backup; version or None),
        # and asked for the key we hold when one of our devices wants it.
        self.on_backup_key: Callable[[bytes, str | None], None] = lambda key, version: None
        self.backup_key_provider: Callable[[], bytes | None] | None = None

    # -- whom we trust ------------------------------------------------------------------------------

    def trust_device(self, device_id: str, ed25519: str) -> None:
        """An emoji verification just proved this device of ours: exchange keys with it now, even
        before the server shows our identity's signature on it."""
        self._emoji_verified[device_id] = ed25519
        self.retry_wanted()
        if self._key_requests:
            self._spawn(self._send_key_requests(), "key-requests")

    def _trusted(self, device_id: str) -> bool:
        if self._identity.own_device_trusted(device_id):
            return True
        key = self._emoji_verified.get(device_id)
        return key is not None and key == self._identity.device_key_of(self.user_id, device_id)

    def _facts(self, user_id: str, device_id: str | None) -> DeviceFacts:
        trusted = user_id == self.user_id and device_id is not None and self._trusted(device_id)
        return DeviceFacts(user_id, device_id, trusted)

    def _facts_by_key(self, user_id: str, sender_key: str) -> DeviceFacts:
        device = self._olm.device_store.device_from_sender_key(user_id, sender_key)
        return self._facts(user_id, device.id if device is not None else None)

    def _trusted_own_devices(self) -> list[str]:
        return sorted(
            d.id for d in self._olm.device_store.active_user_devices(self.user_id)
            if d.id != self.device_id and self._trusted(d.id)
        )

    # -- room keys ----------------------------------------------------------------------------------

    def forward_refusal(self, sender: str, sender_key: str, room_id: str, session_id: str, algorithm: Any) -> str | None:
        """For `AppOlm._should_accept_forward`: None to take the key, else why not."""
        request = self._olm.outgoing_key_requests.get(session_id)
        return forward_refusal(
            self.user_id, self.device_id, self._facts_by_key(sender, sender_key),
            algorithm=algorithm, room_id=room_id, requested_room=request.room_id if request is not None else None,
        )

    def key_request_refusal(self, sender: str, device_id: str) -> str | None:
        """For `AppOlm.share_with_ourselves`: None to answer, else why not."""
        return key_request_refusal(self.user_id, self.device_id, self._facts(sender, device_id))

    def want_key(self, room_id: str, sender_key: str | None, session_id: str | None) -> None:
        """A message of `session_id` could not be read for want of its key (called during a sync)."""
        if not session_id or not sender_key or session_id in self._olm.outgoing_key_requests:
            return
        if session_id in self._wanted:
            return  # nobody to ask yet; asked again when a device of ours becomes trusted
        if any(s == session_id for _, _, s in self._key_requests):
            return
        self._key_requests.append((room_id, sender_key, session_id))

    def retry_wanted(self) -> None:
        """Ask again for the keys nobody could be asked for (a device of ours became trusted)."""
        wanted, self._wanted = self._wanted, {}
        for session_id, (room_id, sender_key) in wanted.items():
            self.want_key(room_id, sender_key, session_id)

    async def _send_key_requests(self) -> None:
        queued, self._key_requests = self._key_requests, []
        if not queued:
            return
        devices = self._trusted_own_devices()
        if not devices:
            for room_id, sender_key, session_id in queued:
                self._wanted[session_id] = (room_id, sender_key)
            logger.info("%d missing room keys: no verified device of ours to ask yet", len(queued))
            while len(self._wanted) > MAX_WANTED:  # the oldest first
                self._wanted.pop(next(iter(self._wanted)))
            return
        for room_id, sender_key, session_id in queued:
            if session_id in self._olm.outgoing_key_requests:
                continue
            content = {
                "action": "request",
                "body": {"algorithm": MEGOLM, "room_id": room_id, "sender_key": sender_key, "session_id": session_id},
                # nio matches forwarded keys to requests by session id, so that is the request id.
                "request_id": session_id,
                "requesting_device_id": self.device_id,
            }
            try:
                await self._client.send_to_device("m.room_key_request", {self.user_id: {d: content for d in devices}})
            except Exception as exc:
                logger.warning("could not ask our devices for session %s…: %s", session_id[:8], exc)
                continue
            request = OutgoingKeyRequest(session_id, session_id, room_id, MEGOLM)
            self._olm.outgoing_key_requests[session_id] = request
            self._store.add_outgoing_key_request(request)
            self._wanted.pop(session_id, None)
            self._asked_this_run[session_id] = sender_key
            logger.info("asked our devices %s for session %s… of %s", ", ".join(devices), session_id[:8], room_id)

    # -- secrets: asking ------------------------------------------------------------------------------

    def _load_outstanding(self) -> dict[str, tuple[str, float]]:
        stored = self._store.get_kv(_OUTSTANDING, {})
        out: dict[str, tuple[str, float]] = {}
        for request_id, entry in (stored.items() if isinstance(stored, dict) else ()):
            if isinstance(entry, list) and len(entry) == 2 and isinstance(entry[0], str) and isinstance(entry[1], (int, float)):
                out[str(request_id)] = (entry[0], float(entry[1]))
        return out

    def _save_outstanding(self) -> None:
        now = self._clock()
        self._outstanding = {r: e for r, e in self._outstanding.items() if now - e[1] <= REQUEST_LIFETIME}
        self._store.put_kv(_OUTSTANDING, {r: [name, at] for r, (name, at) in self._outstanding.items()})

    def _missing_secrets(self) -> list[str]:
        names = [] if self._identity.can_sign else list(CROSS_SIGNING_SECRETS)
        if self._backup_key() is None:
            names.append(BACKUP_SECRET)
        return names

    async def request_secrets(self, device_id: str | None = None) -> list[str]:
        """Ask our trusted devices (and `device_id`, just verified) for the secrets we lack.
        Returns the names asked for."""
        names = self._missing_secrets()
        devices = sorted(set(self._trusted_own_devices()) | ({device_id} if device_id else set()))
        if not names or not devices:
            return []
        now = self._clock()
        for name in names:
            request_id = secrets.token_urlsafe(18)
            content = {"name": name, "action": "request", "requesting_device_id": self.device_id, "request_id": request_id}
            try:
                await self._client.send_to_device("m.secret.request", {self.user_id: {d: content for d in devices}})
            except Exception as exc:
                logger.warning("could not ask our devices for %s: %s", name, exc)
                continue
            self._outstanding[request_id] = (name, now)
        self._save_outstanding()
        logger.info("asked our devices %s for %s", ", ".join(devices), ", ".join(names))
        return names

    async def after_own_identity_proved(self, device_id: str) -> None:
        """Another device of ours, verified by emoji, vouched for our identity: it holds our
        keys, so ask for those we lack."""
        await self._send_key_requests()
        await self.request_secrets(device_id)
        self._spawn(self._follow_up(device_id), "secret-follow-up")

    async def _follow_up(self, device_id: str) -> None:
        """Ask once more for what did not come (the other device may have seen our requests
        before it had finished the verification), and pick up the signature it puts on ours."""
        for delay in (2.0, 5.0, SECRET_RETRY):
            await asyncio.sleep(delay)
            await self._query_keys({self.user_id})
            if not self._missing_secrets() and self._identity.own_trust().device_verified and not self._pending_keys():
                return
        if self._missing_secrets():
            await self.request_secrets(device_id)
        pending = self._pending_keys()
        if pending:
            for session_id in pending:
                request = self._olm.outgoing_key_requests.pop(session_id, None)
                if request is not None:
                    self._store.remove_outgoing_key_request(request)
                    self.want_key(request.room_id, self._asked_this_run[session_id], session_id)
            await self._send_key_requests()

    def _pending_keys(self) -> list[str]:
        """Sessions asked for in this run that no device has sent yet."""
        return [s for s in self._asked_this_run if s in self._olm.outgoing_key_requests]

    async def _cancel_request(self, request_id: str) -> None:
        content = {"action": "request_cancellation", "requesting_device_id": self.device_id, "request_id": request_id}
        devices = self._trusted_own_devices()
        if devices:
            try:
                await self._client.send_to_device("m.secret.request", {self.user_id: {d: content for d in devices}})
            except Exception as exc:
                logger.info("could not cancel secret request %s: %s", request_id[:8], exc)

    # -- secrets: receiving ---------------------------------------------------------------------------

    def on_secret_send(self, event: DecryptedOlmEvent) -> None:
        """An Olm-decrypted ``m.secret.send`` (during a sync)."""
        verdict = secret_send_refusal(
            self.user_id, self.device_id, self._facts_by_key(event.sender, event.sender_key), event.content,
            {rid: name for rid, (name, at) in self._outstanding.items() if self._clock() - at <= REQUEST_LIFETIME},
        )
        if isinstance(verdict, str):
            logger.warning("refused a secret from %s (%s…): %s", event.sender, event.sender_key[:8], verdict)
            return
        self._spawn(self._take_secret(verdict), "secret-received")

    async def _take_secret(self, secret: ReceivedSecret) -> None:
        self._outstanding.pop(secret.request_id, None)
        self._save_outstanding()
        await self._cancel_request(secret.request_id)
        if secret.name == BACKUP_SECRET:
            await self._take_backup_key(secret.value)
            return
        self._cross_signing[secret.name] = secret.value
        if not all(name in self._cross_signing for name in CROSS_SIGNING_SECRETS):
            return
        seeds, self._cross_signing = self._cross_signing, {}
        master, ssk, usk = (seeds[name] for name in CROSS_SIGNING_SECRETS)
        try:
            self._identity.adopt_private_keys(master, ssk, usk)
        except IdentityError as exc:
            logger.warning("refused the cross-signing keys our device sent: %s", exc)
            return
        try:
            await self._identity.sign_this_device_if_needed()
        except IdentityError as exc:
            logger.warning("could not sign this device with the keys received: %s", exc)

    async def _take_backup_key(self, key: bytes) -> None:
        status, info = await self._client.raw_json("GET", "/_matrix/client/v3/room_keys/version")
        version = info.get("version") if status == 200 and isinstance(info.get("version"), str) else None
        if status == 200:
            why = backup_mismatch(key, info)
            if why is not None:
                logger.warning("refused the key backup key our device sent: %s", why)
                return
        else:
            logger.info("no key backup on the server to check the received backup key against (HTTP %s)", status)
        self._save_backup_key(key, version)
        logger.info("stored the key backup key received from another of our devices (backup version %s)", version)
        try:
            self.on_backup_key(key, version)
        except Exception:
            logger.exception("the key backup could not take the received key")

    # -- the backup key, at rest ----------------------------------------------------------------------

    def _save_backup_key(self, key: bytes, version: str | None) -> None:
        plain = json.dumps({"key": base64.b64encode(key).decode(), "version": version}).encode()
        sealed = seal(self._secret_key, plain, _BACKUP_ROW.encode())
        self._store.put_secret(_BACKUP_ROW, base64.b64encode(sealed).decode())

    def _load_backup(self) -> dict[str, Any] | None:
        blob = self._store.get_secret(_BACKUP_ROW)
        if not blob:
            return None
        try:
            data = json.loads(unseal(self._secret_key, base64.b64decode(blob), _BACKUP_ROW.encode()))
        except Exception as exc:
            logger.error("the stored key backup key cannot be read: %s", exc)
            return None
        return data if isinstance(data, dict) else None

    def received_backup_key(self) -> bytes | None:
        """The key backup's private key another device of ours sent us (32 bytes), if any."""
        data = self._load_backup()
        try:
            key = base64.b64decode(data["key"]) if data else None
        except (KeyError, ValueError, TypeError):
            return None
        return key if key is not None and len(key) == 32 else None

    def received_backup_version(self) -> str | None:
        """The backup version the received key was checked against (None: not checked)."""
        data = self._load_backup()
        version = data.get("version") if data else None
        return version if isinstance(version, str) else None

    # -- secrets: answering ---------------------------------------------------------------------------

    def on_secret_requests(self, raw_events: list[dict[str, Any]]) -> None:
        """``m.secret.request`` events from a sync (plaintext to-device)."""
        for event in raw_events:
            sender = event.get("sender")
            parsed = parse_secret_request(str(sender), event.get("content"), self.user_id, self.device_id)
            if isinstance(parsed, str):
                if parsed != "the request is our own":
                    logger.warning("ignored a secret request from %s: %s", str(sender)[:80], parsed)
                continue
            if parsed.cancel:
                self._answers = [(d, r) for d, r in self._answers if r.request_id != parsed.request_id]
                continue
            if len(self._answers) >= MAX_ANSWERS:
                logger.warning("ignored a secret request from our device %s: too many at once", parsed.requesting_device)
                continue
            self._answers.append((parsed.requesting_device, parsed))

    def _backup_key(self) -> bytes | None:
        provided = self.backup_key_provider() if self.backup_key_provider is not None else None
        return provided if provided is not None else self.received_backup_key()

    def _secret_value(self, name: str) -> bytes | None:
        if name == BACKUP_SECRET:
            return self._backup_key()
        return self._identity.private_seed(name)

    async def _answer_secret_requests(self) -> None:
        answers, self._answers = self._answers, []
        for device_id, request in answers:
            value = self._secret_value(request.name)
            why = secret_request_refusal(
                self.user_id, self.device_id, request, self._facts(self.user_id, device_id), value is not None
            )
            if why is not None or value is None:
                logger.warning("did not send %s to our device %s: %s", request.name[:60], device_id, why)
                continue
            content = {"request_id": request.request_id, "secret": base64.b64encode(value).decode()}
            try:
                sent = await self._client.send_olm(self.user_id, [device_id], "m.secret.send", content)
            except Exception as exc:
                logger.warning("could not send %s to our device %s: %s", request.name, device_id, exc)
                continue
            if sent:
                logger.info("sent %s to our device %s", request.name, device_id)

    # -- after a sync ---------------------------------------------------------------------------------

    async def flush(self) -> None:
        await self._send_key_requests()
        await self._answer_secret_requests()
