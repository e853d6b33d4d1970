"""One emoji verification as a pure state machine (spec "Key verification framework" and "SAS
verification", ``m.sas.v1``): the request/ready handshake, then start → accept → key → mac →
done, with every cancel code. No I/O: each input (an event from the other side, a user action,
the clock) returns the messages to send, which a shell (`service.py`) delivers to-device or as
room events. Modelled on matrix-rust-sdk's ``verification/requests.rs`` and ``sas/``.

A flow is either to-device (our own devices, or anyone's device; its id is a transaction id) or
in a room (another user, in a direct chat; its id is the event id of the request, and every
later event points at it with an ``m.reference`` relation).

Who starts: either side may send ``start`` once both are ready. If both do at once, the start of
the lexicographically smaller user id (then device id) wins, as the spec and rust-sdk say.

One module although it is over ~450 lines: it is one state machine whose transitions (each
checking and setting the same phase and SAS fields) read best together, with the few types and
constants it trades in; the I/O around it is in `service`, `transport` and `proved`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Protocol

from ....records import record
from ...crypto.sas import (
    HASH,
    KEY_AGREEMENT,
    MAC_METHODS,
    MAC_V2,
    SHORT_AUTH_STRINGS,
    SasError,
    SasSession,
    commitment,
    mac_info,
    sas_info,
)

logger = logging.getLogger(__name__)

SAS_METHOD = "m.sas.v1"
REQUEST = "m.key.verification.request"
READY = "m.key.verification.ready"
START = "m.key.verification.start"
ACCEPT = "m.key.verification.accept"
KEY = "m.key.verification.key"
MAC = "m.key.verification.mac"
DONE = "m.key.verification.done"
CANCEL = "m.key.verification.cancel"
EVENT_TYPES = frozenset({REQUEST, READY, START, ACCEPT, KEY, MAC, DONE, CANCEL})

REQUEST_LIFETIME = 10 * 60.0  # spec: a request is void 10 minutes after it was sent
FUTURE_SKEW = 5 * 60.0  # spec: ignore requests more than 5 minutes in the future
SAS_LIFETIME = 5 * 60.0  # rust-sdk: an emoji comparison left for 5 minutes times out

MAX_REASON = 200


class Cancel(str, Enum):
    USER = "m.user"
    TIMEOUT = "m.timeout"
    UNKNOWN_TRANSACTION = "m.unknown_transaction"
    UNKNOWN_METHOD = "m.unknown_method"
    UNEXPECTED_MESSAGE = "m.unexpected_message"
    KEY_MISMATCH = "m.key_mismatch"
    USER_MISMATCH = "m.user_mismatch"
    INVALID_MESSAGE = "m.invalid_message"
    ACCEPTED = "m.accepted"
    MISMATCHED_COMMITMENT = "m.mismatched_commitment"
    MISMATCHED_SAS = "m.mismatched_sas"


CANCEL_TEXT = {
    Cancel.USER: "the verification was cancelled",
    Cancel.TIMEOUT: "the verification took too long",
    Cancel.UNKNOWN_TRANSACTION: "the other side does not know this verification",
    Cancel.UNKNOWN_METHOD: "no verification method both sides support",
    Cancel.UNEXPECTED_MESSAGE: "a message came out of order",
    Cancel.KEY_MISMATCH: "the keys did not match what was verified",
    Cancel.USER_MISMATCH: "the message came from someone else",
    Cancel.INVALID_MESSAGE: "a message was malformed",
    Cancel.ACCEPTED: "accepted on another device",
    Cancel.MISMATCHED_COMMITMENT: "the other side's key did not match its commitment",
    Cancel.MISMATCHED_SAS: "the emoji did not match",
}


def describe_cancel(code: str) -> str:
    try:
        return CANCEL_TEXT[Cancel(code)]
    except ValueError:
        return "the verification was cancelled"


class Phase(str, Enum):
    REQUESTED = "requested"  # a request is out (ours) or waiting for the user (theirs)
    READY = "ready"  # both sides agreed on emoji; waiting for someone to start
    STARTED = "started"  # start/accept/keys being exchanged
    EMOJI = "emoji"  # both keys exchanged: compare the emoji
    CONFIRMED = "confirmed"  # the user said they match; waiting for the other side
    DONE = "done"
    CANCELLED = "cancelled"

    @property
    def finished(self) -> bool:
        return self in (Phase.DONE, Phase.CANCELLED)


class Transport(str, Enum):
    TO_DEVICE = "to_device"
    ROOM = "room"


class InvalidEvent(ValueError):
    """An incoming verification event that starts nothing and belongs to nothing; the message
    says why (for the log)."""


class KeyDirectory(Protocol):
    """What the machine needs to know of the other side's keys (from /keys/query)."""

    def device_key(self, user_id: str, device_id: str) -> str | None: ...

    def master_key(self, user_id: str) -> str | None: ...


@record
class Own:
    user_id: str
    device_id: str
    ed25519: str
    # Our master cross-signing key, MACed only when this device is verified by it (the other side
    # then trusts our whole identity), as rust-sdk does.
    master_key: str | None = None


@record
class Send:
    """A message to deliver: to the other side's device(s) for a to-device flow (``devices``:
    which ones), or as a room event in the flow's room."""

    event_type: str
    content: dict[str, Any]
    devices: tuple[str, ...] = ()


@record
class Verified:
    """What a finished verification proved: the other device's key, and their master key if
    they vouched for it."""

    user_id: str
    device_id: str
    device_key: str
    master_key: str | None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value and len(value) <= 255 else None


def _strings(value: Any) -> list[str]:
    return [v for v in value if isinstance(v, str)] if isinstance(value, list) else []


def request_content(own: Own, *, to: str | None = None, flow_id: str | None = None, now: float = 0.0) -> dict[str, Any]:
    """The content of a request: to-device (with ``transaction_id`` and ``timestamp``) or a
    room message for `to` (its id becomes the flow id once it is sent)."""
    content: dict[str, Any] = {"from_device": own.device_id, "methods": [SAS_METHOD]}
    if to is not None:
        content.update(
            msgtype=REQUEST,
            to=to,
            body=f"{own.user_id} is asking to verify your key, but your client does not support "
            "in-chat key verification. You will need to use legacy key verification to verify keys.",
        )
    else:
        content.update(transaction_id=flow_id, timestamp=int(now * 1000))
    return content


@dataclass
class Verification:
    """One verification flow, from either side."""

    flow_id: str
    transport: Transport
    own: Own
    other_user: str
    we_requested: bool
    requested_at: float  # seconds; when the request was sent (its timestamp)
    keys: KeyDirectory
    room_id: str | None = None
    other_device: str | None = None  # known from their request, or their ready
    requested_devices: tuple[str, ...] = ()  # to-device requests we sent (for m.accepted)
    phase: Phase = Phase.REQUESTED
    cancel_code: str | None = None
    cancel_reason: str | None = None
    cancelled_by_us: bool = False
    emoji: tuple[tuple[str, str], ...] = ()
    decimals: tuple[int, int, int] | None = None
    verified: Verified | None = None
    # SAS state
    we_started: bool = False
    started_at: float | None = None
    _sas: SasSession | None = field(default=None, repr=False)
    _start_content: dict[str, Any] | None = field(default=None, repr=False)
    _mac_method: str = MAC_V2
    _their_commitment: str | None = field(default=None, repr=False)
    _their_key: str | None = field(default=None, repr=False)
    _their_mac: dict[str, Any] | None = field(default=None, repr=False)
    _sent_done: bool = False
    _their_done: bool = False

    # -- construction ---------------------------------------------------------------------------

    @classmethod
    def incoming_request(
        cls,
        own: Own,
        sender: str,
        content: Any,
        *,
        flow_id: str,
        transport: Transport,
        sent_at: float,
        now: float,
        keys: KeyDirectory,
        room_id: str | None = None,
    ) -> Verification:
        """A request from `sender`; raises InvalidEvent (with the reason) for one to ignore."""
        if not isinstance(content, Mapping):
            raise InvalidEvent("the request is not an object")
        device = _text(content.get("from_device"))
        if device is None:
            raise InvalidEvent("the request names no device")
        if sender == own.user_id and device == own.device_id:
            raise InvalidEvent("the request is our own")
        if transport is Transport.ROOM:
            if content.get("to") != own.user_id:
                raise InvalidEvent("the request is for someone else")
            if sender == own.user_id:
                raise InvalidEvent("a request in a room comes from another user")
        if sent_at > now + FUTURE_SKEW:
            raise InvalidEvent("the request is dated in the future")
        if sent_at < now - REQUEST_LIFETIME:
            raise InvalidEvent("the request is more than 10 minutes old")
        flow = cls(flow_id, transport, own, sender, False, sent_at, keys, room_id, device)
        if SAS_METHOD not in _strings(content.get("methods")):
            # Nothing we can do together: say so, so their client does not wait.
            flow._cancelled(Cancel.UNKNOWN_METHOD, "no method both sides support (we offer m.sas.v1)", by_us=True)
        return flow

    # -- helpers --------------------------------------------------------------------------------

    def _flow(self, content: dict[str, Any]) -> dict[str, Any]:
        if self.transport is Transport.TO_DEVICE:
            content["transaction_id"] = self.flow_id
        else:
            content["m.relates_to"] = {"rel_type": "m.reference", "event_id": self.flow_id}
        return content

    def _send(self, event_type: str, content: dict[str, Any], devices: tuple[str, ...] | None = None) -> Send:
        if self.transport is Transport.ROOM:
            return Send(event_type, self._flow(content))
        if devices is None:
            devices = (self.other_device,) if self.other_device else self.requested_devices
        return Send(event_type, self._flow(content), devices)

    def _cancelled(self, code: Cancel | str, reason: str, *, by_us: bool) -> None:
        self.phase = Phase.CANCELLED
        self.cancel_code = code.value if isinstance(code, Cancel) else code
        self.cancel_reason = reason[:MAX_REASON]
        self.cancelled_by_us = by_us
        self._sas = None

    def _cancel(self, code: Cancel, reason: str) -> list[Send]:
        """Cancel from our side: tell the other side why."""
        if self.phase.finished:
            return []
        logger.info("verification %s with %s cancelled: %s (%s)", self.flow_id, self.other_user, reason, code.value)
        self._cancelled(code, reason, by_us=True)
        return [self._send(CANCEL, {"code": code.value, "reason": reason[:MAX_REASON]})]

    def pending_cancel(self) -> list[Send]:
        """The cancel to send for a flow that was cancelled on arrival (see incoming_request)."""
        if self.phase is Phase.CANCELLED and self.cancelled_by_us and self.cancel_code:
            return [self._send(CANCEL, {"code": self.cancel_code, "reason": self.cancel_reason or ""})]
        return []

    @property
    def other_party(self) -> tuple[str, str]:
        return self.other_user, self.other_device or ""

    @property
    def self_verification(self) -> bool:
        return self.other_user == self.own.user_id

    # -- user actions ---------------------------------------------------------------------------

    def accept(self) -> list[Send]:
        """The user accepts their request: say we are ready for emoji."""
        if self.we_requested or self.phase is not Phase.REQUESTED:
            raise InvalidEvent("there is no request to accept")
        self.phase = Phase.READY
        return [self._send(READY, {"from_device": self.own.device_id, "methods": [SAS_METHOD]})]

    def start(self, now: float) -> list[Send]:
        """Start the emoji comparison (either side may, once both are ready)."""
        if self.phase is not Phase.READY:
            raise InvalidEvent("the verification is not ready to start")
        self._sas = SasSession()
        content = self._flow({
            "from_device": self.own.device_id,
            "method": SAS_METHOD,
            "key_agreement_protocols": [KEY_AGREEMENT],
            "hashes": [HASH],
            "message_authentication_codes": list(MAC_METHODS),
            "short_authentication_string": list(SHORT_AUTH_STRINGS),
        })
        self._start_content = content
        self.we_started = True
        self.started_at = now
        self.phase = Phase.STARTED
        if self.transport is Transport.ROOM:
            return [Send(START, content)]
        return [Send(START, content, (self.other_device,) if self.other_device else ())]

    def confirm(self) -> list[Send]:
        """The user says the emoji match: send our MACs (and finish if theirs already came)."""
        if self.phase is not Phase.EMOJI:
            raise InvalidEvent("there are no emoji to confirm")
        self.phase = Phase.CONFIRMED
        out = [self._our_mac()]
        if self._their_mac is not None:
            out += self._check_their_mac()
        return out

    def mismatch(self) -> list[Send]:
        """The user says the emoji differ."""
        if self.phase is not Phase.EMOJI:
            raise InvalidEvent("there are no emoji to compare")
        return self._cancel(Cancel.MISMATCHED_SAS, "the emoji did not match")

    def cancel(self, code: Cancel = Cancel.USER, reason: str = "cancelled by the user") -> list[Send]:
        """Cancel from our side (before anyone answered our request, every device we asked hears it)."""
        return self._cancel(code, reason)

    def tick(self, now: float) -> list[Send]:
        """Time out a flow nobody finished."""
        if self.phase.finished:
            return []
        if self.started_at is not None and now > self.started_at + SAS_LIFETIME:
            return self.cancel(Cancel.TIMEOUT, "the emoji were not compared within 5 minutes")
        if self.started_at is None and now > self.requested_at + REQUEST_LIFETIME:
            if not self.we_requested and self.phase is Phase.REQUESTED:
                # Their request lapsed without an answer: nothing to tell them.
                self._cancelled(Cancel.TIMEOUT, "the request was not answered within 10 minutes", by_us=True)
                return []
            return self.cancel(Cancel.TIMEOUT, "the request was not answered within 10 minutes")
        return []

    # -- events from the other side ---------------------------------------------------------------

    def receive(self, sender: str, event_type: str, content: Any, now: float) -> list[Send]:
        """An event of this flow from `sender`. Returns what to send back (often a cancel)."""
        if not isinstance(content, Mapping):
            return self._cancel(Cancel.INVALID_MESSAGE, f"{event_type} is not an object")
        if event_type == CANCEL:
            return self._on_cancel(sender, content)
        if event_type == READY and sender == self.own.user_id and not self.we_requested:
            # Another of our devices answered a request made to all of them.
            if self.phase is Phase.REQUESTED and _text(content.get("from_device")) != self.own.device_id:
                self._cancelled(Cancel.ACCEPTED, "answered on another of your devices", by_us=False)
            return []
        if sender != self.other_user:
            logger.warning("verification %s: ignored %s from %s, not %s", self.flow_id, event_type, sender, self.other_user)
            return []
        if self.phase.finished:
            logger.info("verification %s: ignored %s after it ended", self.flow_id, event_type)
            return []
        handler = {
            READY: self._on_ready,
            START: self._on_start,
            ACCEPT: self._on_accept,
            KEY: self._on_key,
            MAC: self._on_mac,
            DONE: self._on_done,
        }.get(event_type)
        if handler is None:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, f"unexpected {event_type}")
        return handler(dict(content), now)

    def _on_cancel(self, sender: str, content: Mapping[str, Any]) -> list[Send]:
        if sender not in (self.other_user, self.own.user_id) or self.phase.finished:
            return []
        code = _text(content.get("code")) or Cancel.USER.value
        reason = _text(content.get("reason")) or describe_cancel(code)
        if sender == self.own.user_id and sender != self.other_user:
            return []  # our own other device cancelling a room flow it is not part of
        logger.info("verification %s cancelled by %s: %s (%s)", self.flow_id, sender, reason, code)
        self._cancelled(code, reason, by_us=False)
        out: list[Send] = []
        if self.transport is Transport.TO_DEVICE and self.we_requested and self.other_device is None:
            others = tuple(d for d in self.requested_devices if d != _text(content.get("from_device")))
            if others:
                out.append(self._send(CANCEL, {"code": code, "reason": reason}, others))
        return out

    def _on_ready(self, content: dict[str, Any], now: float) -> list[Send]:
        if not self.we_requested or self.phase is not Phase.REQUESTED:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a ready came when none was expected")
        device = _text(content.get("from_device"))
        if device is None:
            return self._cancel(Cancel.INVALID_MESSAGE, "the ready names no device")
        if self.transport is Transport.TO_DEVICE and self.requested_devices and device not in self.requested_devices:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a device we did not ask answered")
        if SAS_METHOD not in _strings(content.get("methods")):
            return self._cancel(Cancel.UNKNOWN_METHOD, "the other side does not offer emoji verification")
        self.other_device = device
        self.phase = Phase.READY
        out: list[Send] = []
        others = tuple(d for d in self.requested_devices if d != device)
        if self.transport is Transport.TO_DEVICE and others:
            out.append(self._send(CANCEL, {"code": Cancel.ACCEPTED.value, "reason": "accepted on another device"}, others))
        return out

    def _on_start(self, content: dict[str, Any], now: float) -> list[Send]:
        if content.get("method") != SAS_METHOD:
            return self._cancel(Cancel.UNKNOWN_METHOD, f"unsupported method {str(content.get('method'))[:40]!r}")
        device = _text(content.get("from_device"))
        if device is None or (self.other_device is not None and device != self.other_device):
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "the start came from another device")
        if self.phase is Phase.STARTED and self.we_started and self._their_commitment is None:
            # Both started at once: the smaller user id (then device id) wins.
            if (self.other_user, device) > (self.own.user_id, self.own.device_id):
                logger.info("verification %s: both sides started; ours wins", self.flow_id)
                return []
            logger.info("verification %s: both sides started; theirs wins", self.flow_id)
            self.phase = Phase.READY
        if self.phase is not Phase.READY:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a start came when none was expected")
        if KEY_AGREEMENT not in _strings(content.get("key_agreement_protocols")):
            return self._cancel(Cancel.UNKNOWN_METHOD, "no key agreement both sides support")
        if HASH not in _strings(content.get("hashes")):
            return self._cancel(Cancel.UNKNOWN_METHOD, "no hash both sides support")
        offered = _strings(content.get("message_authentication_codes"))
        mac = next((m for m in MAC_METHODS if m in offered), None)
        if mac is None:
            return self._cancel(Cancel.UNKNOWN_METHOD, "no MAC method both sides support")
        strings = [s for s in SHORT_AUTH_STRINGS if s in _strings(content.get("short_authentication_string"))]
        if "emoji" not in strings and "decimal" not in strings:
            return self._cancel(Cancel.UNKNOWN_METHOD, "no short authentication string both sides support")
        sas = SasSession()
        try:
            committed = commitment(sas.public_key, content)
        except ValueError:
            return self._cancel(Cancel.INVALID_MESSAGE, "the start is not canonical JSON")
        self.other_device = device
        self._sas = sas
        self._mac_method = mac
        self._start_content = content
        self.we_started = False
        self.started_at = now
        self.phase = Phase.STARTED
        accept = {
            "method": SAS_METHOD,
            "key_agreement_protocol": KEY_AGREEMENT,
            "hash": HASH,
            "message_authentication_code": mac,
            "short_authentication_string": strings,
            "commitment": committed,
        }
        return [self._send(ACCEPT, accept)]

    def _on_accept(self, content: dict[str, Any], now: float) -> list[Send]:
        if not (self.phase is Phase.STARTED and self.we_started and self._their_commitment is None):
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "an accept came when none was expected")
        assert self._sas is not None
        if content.get("key_agreement_protocol") != KEY_AGREEMENT or content.get("hash") != HASH:
            return self._cancel(Cancel.UNKNOWN_METHOD, "the accept chose a method we did not offer")
        mac = content.get("message_authentication_code")
        if mac not in MAC_METHODS:
            return self._cancel(Cancel.UNKNOWN_METHOD, "the accept chose a MAC we did not offer")
        strings = _strings(content.get("short_authentication_string"))
        if "emoji" not in strings and "decimal" not in strings:
            return self._cancel(Cancel.UNKNOWN_METHOD, "the accept chose no short authentication string")
        committed = _text(content.get("commitment"))
        if committed is None:
            return self._cancel(Cancel.INVALID_MESSAGE, "the accept has no commitment")
        self._mac_method = str(mac)
        self._their_commitment = committed
        return [self._send(KEY, {"key": self._sas.public_key})]

    def _on_key(self, content: dict[str, Any], now: float) -> list[Send]:
        sas = self._sas
        if self.phase is not Phase.STARTED or sas is None or self._their_key is not None:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a key came when none was expected")
        if self.we_started and self._their_commitment is None:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a key came before the accept")
        key = content.get("key")
        if self.we_started:
            assert self._start_content is not None
            try:
                expected = commitment(key, self._start_content) if isinstance(key, str) else None
            except ValueError:
                expected = None
            if expected != self._their_commitment:
                return self._cancel(Cancel.MISMATCHED_COMMITMENT, "their key does not match their commitment")
        try:
            sas.establish(key)
        except SasError as exc:
            return self._cancel(Cancel.INVALID_MESSAGE, str(exc))
        self._their_key = str(key)
        mine = (self.own.user_id, self.own.device_id, sas.public_key)
        theirs = (self.other_user, self.other_device or "", self._their_key)
        starter, accepter = (mine, theirs) if self.we_started else (theirs, mine)
        short = sas.short_auth_string(sas_info(starter, accepter, self.flow_id))
        self.emoji, self.decimals = short.emoji, short.decimals
        self.phase = Phase.EMOJI
        if self.we_started:
            return []
        return [self._send(KEY, {"key": sas.public_key})]

    def _on_mac(self, content: dict[str, Any], now: float) -> list[Send]:
        if self.phase not in (Phase.EMOJI, Phase.CONFIRMED) or self._their_mac is not None:
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a MAC came when none was expected")
        self._their_mac = content
        if self.phase is Phase.CONFIRMED:
            return self._check_their_mac()
        return []  # kept until the user has compared the emoji

    def _on_done(self, content: dict[str, Any], now: float) -> list[Send]:
        if self.phase not in (Phase.EMOJI, Phase.CONFIRMED):
            return self._cancel(Cancel.UNEXPECTED_MESSAGE, "a done came when none was expected")
        self._their_done = True
        self._maybe_done()
        return []

    # -- MACs -----------------------------------------------------------------------------------

    def _our_mac(self) -> Send:
        sas = self._sas
        assert sas is not None
        me, them = (self.own.user_id, self.own.device_id), self.other_party
        keys = {f"ed25519:{self.own.device_id}": self.own.ed25519}
        if self.own.master_key:
            keys[f"ed25519:{self.own.master_key}"] = self.own.master_key
        macs = {key_id: sas.mac(self._mac_method, value, mac_info(me, them, self.flow_id, key_id))
                for key_id, value in keys.items()}
        key_ids = ",".join(sorted(macs))
        return self._send(MAC, {"mac": macs, "keys": sas.mac(self._mac_method, key_ids, mac_info(me, them, self.flow_id, "KEY_IDS"))})

    def _check_their_mac(self) -> list[Send]:
        sas, content = self._sas, self._their_mac
        assert sas is not None and content is not None
        them, me = self.other_party, (self.own.user_id, self.own.device_id)
        macs = content.get("mac")
        if not isinstance(macs, Mapping) or not macs or len(macs) > 20:
            return self._cancel(Cancel.INVALID_MESSAGE, "the MAC message lists no keys")
        key_ids = sorted(k for k in macs if isinstance(k, str))
        if len(key_ids) != len(macs) or not sas.verify_mac(
            self._mac_method, ",".join(key_ids), mac_info(them, me, self.flow_id, "KEY_IDS"), content.get("keys")
        ):
            return self._cancel(Cancel.KEY_MISMATCH, "the list of keys they vouch for does not match its MAC")
        device = self.other_device or ""
        device_key = self.keys.device_key(self.other_user, device)
        master = self.keys.master_key(self.other_user)
        device_ok = False
        master_ok: str | None = None
        for key_id in key_ids:
            tag = macs[key_id]
            info = mac_info(them, me, self.flow_id, key_id)
            if key_id == f"ed25519:{device}":
                if device_key is None:
                    return self._cancel(Cancel.KEY_MISMATCH, f"we do not know the keys of device {device}")
                if not sas.verify_mac(self._mac_method, device_key, info, tag):
                    return self._cancel(Cancel.KEY_MISMATCH, f"the key of device {device} does not match")
                device_ok = True
            elif master is not None and key_id == f"ed25519:{master}":
                if not sas.verify_mac(self._mac_method, master, info, tag):
                    return self._cancel(Cancel.KEY_MISMATCH, "their master key does not match")
                master_ok = master
            else:
                logger.info("verification %s: ignored a MAC for unknown key %s", self.flow_id, key_id[:60])
        if not device_ok or device_key is None:
            return self._cancel(Cancel.KEY_MISMATCH, "they did not vouch for their device key")
        self.verified = Verified(self.other_user, device, device_key, master_ok)
        self._sent_done = True
        out = [self._send(DONE, {})]
        self._maybe_done()
        return out

    def _maybe_done(self) -> None:
        if self.verified is not None and self._sent_done and self._their_done:
            self.phase = Phase.DONE
            self._sas = None
