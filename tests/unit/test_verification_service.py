"""The verification shell with its I/O replaced by recorders: how events are routed to flows,
what is refused (with the reason in the log), and that an answer which beats our own HTTP
response is not lost. The protocol itself is tested in test_verification_flow.py; the real thing
against Synapse and Element in tests/integration and tests/interop."""

from __future__ import annotations

import asyncio
import logging
from types import SimpleNamespace
from typing import Any

import pytest

from tui_client.engine.crypto.signing import Ed25519Key
from tui_client.engine.events import VerificationChanged
from tui_client.engine.keys.verification.flow import READY, REQUEST, START
from tui_client.engine.keys.verification.service import MAX_FLOWS, Verifications, VerificationError
from tui_client.engine.models import OwnTrust, VerificationPhase

ME, DEVICE = "@me:x", "MYDEVICE"
NOW = 1_750_000_000.0


class Rooms:
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, dict[str, Any]]] = []
        self.on_send: Any = None

    async def send_event(self, room_id: str, event_type: str, content: dict[str, Any]) -> str:
        self.sent.append((room_id, event_type, content))
        if self.on_send is not None:
            hook, self.on_send = self.on_send, None
            hook()
        return f"$event{len(self.sent)}"

    async def direct_room(self, user_id: str, timeout: float) -> str:
        return "!dm:x"

    def display_name_in(self, room_id: str | None, user_id: str) -> str | None:
        return None


class Client:
    def __init__(self) -> None:
        self.user_id, self.device_id = ME, DEVICE
        self.olm = SimpleNamespace(account=SimpleNamespace(identity_keys={"ed25519": Ed25519Key.generate().public_key}),
                                   device_store=SimpleNamespace(active_user_devices=lambda user: []))
        self.to_device: list[tuple[str, dict[str, Any]]] = []

    async def raw_json(self, method: str, path: str, body: Any = None, **kwargs: Any) -> tuple[int, dict[str, Any]]:
        self.to_device.append((path, body))
        return 200, {}


class Identity:
    def own_trust(self) -> OwnTrust:
        return OwnTrust(True, True, True, "MSK", "")

    def device_key_of(self, user_id: str, device_id: str) -> str | None:
        return None

    def master_key_of(self, user_id: str) -> str | None:
        return None


@pytest.fixture
def shell():
    events: list[Any] = []
    tasks: list[Any] = []
    rooms, client = Rooms(), Client()

    async def query(users: set[str]) -> None:
        return None

    async def proved(device_id: str) -> None:
        return None

    def spawn(coro: Any, name: str) -> None:
        try:
            tasks.append(asyncio.get_running_loop().create_task(coro))
        except RuntimeError:  # a synchronous test: nothing runs in the background
            coro.close()

    service = Verifications(client, Identity(), rooms, events.append, lambda: NOW, spawn, query,  # type: ignore[arg-type]
                            lambda device, key: None, proved)
    return SimpleNamespace(service=service, events=events, rooms=rooms, client=client, tasks=tasks)


def room_event(event_type: str, content: dict[str, Any], sender: str = "@them:x", event_id: str = "$x") -> Any:
    source = {"type": event_type, "content": content, "sender": sender, "event_id": event_id,
              "origin_server_ts": int(NOW * 1000)}
    return SimpleNamespace(source=source, sender=sender, event_id=event_id)


def to_device(event_type: str, content: dict[str, Any], sender: str = ME) -> dict[str, Any]:
    return {"type": event_type, "sender": sender, "content": content}


async def test_an_answer_faster_than_our_own_request_is_kept_and_used(shell):
    """The other side's ready reaches our sync before our /send returned the request's id."""
    ready = room_event(READY, {"from_device": "THEIRS", "methods": ["m.sas.v1"],
                               "m.relates_to": {"rel_type": "m.reference", "event_id": "$event1"}})
    shell.rooms.on_send = lambda: shell.service.on_room_event("!dm:x", ready)
    info = await shell.service.request("@them:x")
    assert info.flow_id == "$event1"
    await asyncio.gather(*shell.tasks)
    assert shell.service.get("$event1").phase is VerificationPhase.STARTED
    assert [t for _, t, _ in shell.rooms.sent] == ["m.room.message", START], "we asked, so we start"


async def test_incoming_requests_open_a_flow_and_say_so(shell):
    shell.service.on_room_event("!dm:x", room_event("m.room.message", {
        "msgtype": REQUEST, "to": ME, "from_device": "THEIRS", "methods": ["m.sas.v1"], "body": "…"}, event_id="$r"))
    [info] = shell.service.all()
    assert info.incoming and info.phase is VerificationPhase.REQUESTED and info.room_id == "!dm:x"
    assert [e.info.flow_id for e in shell.events if isinstance(e, VerificationChanged)] == ["$r"]
    shell.service.on_to_device([to_device(REQUEST, {"from_device": "PHONE", "methods": ["m.sas.v1"],
                                                    "transaction_id": "t1", "timestamp": int(NOW * 1000)})])
    assert {i.flow_id for i in shell.service.all()} == {"$r", "t1"}
    assert shell.service.get("t1").own_devices


@pytest.mark.parametrize(
    "event, why",
    [
        (to_device(REQUEST, {"from_device": "X", "methods": ["m.sas.v1"], "transaction_id": "t", "timestamp": 1},
                   sender="@stranger:x"), "other people are verified in a direct chat"),
        (to_device(REQUEST, {"from_device": "X", "methods": ["m.sas.v1"], "timestamp": 1}), "without a usable transaction id"),
        (to_device(REQUEST, {"from_device": "X", "methods": ["m.sas.v1"], "transaction_id": "t"}), "without a timestamp"),
        (to_device(REQUEST, {"from_device": "X", "methods": ["m.sas.v1"], "transaction_id": "t",
                             "timestamp": int((NOW - 3600) * 1000)}), "more than 10 minutes old"),
        (to_device(START, {"transaction_id": "nobody-knows"}), "a verification we do not know"),
        (to_device(REQUEST, {"from_device": "X", "methods": ["m.sas.v1"], "transaction_id": "t" * 300,
                             "timestamp": int(NOW * 1000)}), "without a usable transaction id"),
    ],
)
def test_hostile_to_device_events_are_refused_with_a_reason(shell, caplog, event, why):
    caplog.set_level(logging.INFO)
    shell.service.on_to_device([event])
    assert shell.service.all() == []
    assert why in caplog.text


def test_garbage_never_raises(shell, caplog):
    for junk in ({}, {"type": None}, {"type": REQUEST, "content": "x"}, {"type": READY, "content": {"transaction_id": 5}},
                 {"type": REQUEST, "sender": ME, "content": {"transaction_id": "t", "timestamp": True}}):
        shell.service.on_to_device([junk])
    for junk in (SimpleNamespace(), SimpleNamespace(source={"type": REQUEST}), room_event("m.room.message", {"msgtype": REQUEST}),
                 room_event(READY, {"m.relates_to": "nope"}), room_event(START, {"m.relates_to": {"event_id": 7}})):
        shell.service.on_room_event("!r:x", junk)
    assert shell.service.all() == []


def test_a_flood_of_requests_is_capped(shell, caplog):
    for n in range(MAX_FLOWS + 5):
        shell.service.on_to_device([to_device(REQUEST, {"from_device": f"D{n}", "methods": ["m.sas.v1"],
                                                        "transaction_id": f"t{n}", "timestamp": int(NOW * 1000)})])
    assert len(shell.service.all()) == MAX_FLOWS
    assert "verifications are already open" in caplog.text


async def test_actions_on_unknown_flows_say_so(shell):
    with pytest.raises(VerificationError, match="no such verification"):
        await shell.service.confirm("nope")
    with pytest.raises(VerificationError, match="no other device"):
        await shell.service.request(ME)
