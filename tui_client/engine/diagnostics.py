"""Read-only views of the crypto state for QA: the crypto inspector, event details, doctor's
store and device-key checks, versions and paths.

Everything here is derived from the store and nio's in-memory state; nothing is changed.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__, paths
from ..records import record
from .history_sharing.records import AcceptState
from .models import (
    SyncState,
    DeviceReport,
    EventDetails,
    MemberReport,
    PredictionCheck,
    RoomInspection,
    SessionReport,
    WithheldReport,
)


if TYPE_CHECKING:
    from .history_sharing.service import HistorySharing
    from .keys.backup import BackupManager
    from .keys.identity import IdentityManager
    from .nio.client import EngineClient
    from .nio.olm import AppOlm
    from .nio.store import AppStore
    from .timeline.timelines import Timelines


@record
class Context:
    """What the views read: the logged-in client and the parts that know about it."""

    client: EngineClient
    identity: IdentityManager
    sharing: HistorySharing
    timelines: Timelines
    backup: BackupManager | None = None

    @property
    def olm(self) -> AppOlm:
        assert self.client.olm is not None
        return self.client.olm

    @property
    def store(self) -> AppStore:
        assert self.client.store is not None
        return self.client.store


def _when(ts: float | None) -> str:
    if not ts:
        return "an unknown time"
    return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


def _creator(engine: Context, curve_key: str) -> tuple[str | None, str | None]:
    """Who owns a curve25519 key, as far as our device lists know."""
    olm = engine.olm
    if curve_key == olm.account.identity_keys["curve25519"]:
        return engine.client.user_id, engine.client.device_id
    for device in olm.device_store:
        if device.curve25519 == curve_key:
            return device.user_id, device.id
    return None, None


def inspect_room(engine: Context, room_id: str) -> RoomInspection:
    client = engine.client
    olm = engine.olm
    room = client.rooms.get(room_id) or client.invited_rooms.get(room_id)
    sessions = []
    for per_sender in olm.inbound_group_store._entries.get(room_id, {}).values():
        for session in per_sender.values():
            sid = session.id
            meta = olm.meta_for(room_id, sid)
            user, device = _creator(engine, session.sender_key)
            origin = meta.origin if meta else "unknown"
            detail = {
                "own": "created by this device",
                "direct": "received directly from its creator",
                "import": "imported from a key file",
                "forwarded": "forwarded by one of our own devices",
                "unknown": "origin not recorded",
            }.get(origin, origin)
            if origin == "bundle" and meta is not None:
                detail = (
                    f"shared by {meta.forwarder_user} ({meta.forwarder_device or 'unknown device'}) "
                    f"in a key bundle on {_when(meta.received_at)}"
                )
            elif origin == "backup" and meta is not None:
                detail = f"restored from the key backup on {_when(meta.received_at)}"
            sessions.append(
                SessionReport(
                    session_id=sid,
                    creator_user=user,
                    creator_device=device,
                    creator_key=session.sender_key,
                    first_known_index=session.first_known_index,
                    shareable=bool(meta and meta.shared_history),
                    origin=origin,
                    origin_detail=detail,
                    shared_by=meta.forwarder_user if meta and origin == "bundle" else None,
                    shared_by_device=meta.forwarder_device if meta and origin == "bundle" else None,
                    received_at=meta.received_at if meta else None,
                )
            )
    sessions.sort(key=lambda s: (s.received_at or 0, s.session_id))
    withheld = tuple(
        WithheldReport(w.session_id, w.code, w.reason, w.sender_key, w.from_user, w.from_device, w.via.value,
                       w.received_at)
        for w in engine.sharing.records.withheld_in(room_id)
    )
    bundles = tuple(b.summary() for b in engine.sharing.records.bundles(room_id))
    acceptance = engine.sharing.acceptance(room_id)
    pending = acceptance if acceptance is not None and acceptance.open else None
    members = []
    for user_id, user in sorted((room.users if room else {}).items()):
        info = engine.identity.identity_info(user_id)
        devices = tuple(
            DeviceReport(d.device_id, d.display_name, d.cross_signed_by_owner, d.ed25519)
            for d in engine.identity.devices(user_id)
        )
        members.append(
            MemberReport(
                user_id, user.display_name, "invite" if user.invited else "join", info.state, info.master_key, devices
            )
        )
    return RoomInspection(
        prediction=_prediction_check(engine, room_id),
        room_id=room_id,
        name=(room.display_name if room else room_id) or room_id,
        history_visibility=room.history_visibility if room else "unknown",
        encrypted=bool(room and room.encrypted),
        sessions=tuple(sessions),
        withheld=withheld,
        bundles=bundles,
        pending_inviter=pending.inviter if pending else None,
        pending_since=pending.accepted_at if pending else None,
        members=tuple(members),
    )


def _prediction_check(engine: Context, room_id: str) -> PredictionCheck | None:
    """Our inviter's prediction of what we would read, beside what we did read (of what we
    have loaded of the messages sent before we accepted)."""
    acceptance = engine.sharing.acceptance(room_id)
    if acceptance is None:
        return None
    bundle = engine.sharing.bundle(room_id, acceptance.inviter)
    if bundle is None or bundle.predicted is None:
        return None
    predicted = set(bundle.predicted)
    before = [i for i in engine.timelines.items(room_id)
              if i.is_message and i.timestamp < acceptance.accepted_at * 1000]
    read = {i.event_id for i in before if i.decrypted}
    loaded = {i.event_id for i in before}
    return PredictionCheck(
        inviter=acceptance.inviter,
        predicted_total=bundle.predicted_total if bundle.predicted_total is not None else len(predicted),
        predicted_readable=len(predicted),
        read_as_predicted=len(read & predicted),
        missed=tuple(sorted((predicted - read) & loaded)),
        surprises=tuple(sorted(read - predicted)),
    )


def event_details(engine: Context, room_id: str, event_id: str) -> EventDetails | None:
    timeline = engine.timelines.get(room_id)
    if timeline is None:
        return None
    item = timeline.item(event_id)
    facts = timeline.events.facts(event_id)
    if item is None or facts is None:
        return None
    olm = engine.olm
    encrypted = olm.encrypted_sources.get(event_id) if not item.redacted else None
    if encrypted is None and facts.wire is not None:
        encrypted = dict(facts.wire)
    decrypted: dict[str, Any] | None = None
    if item.decrypted and not item.redacted:
        decrypted = {
            "event_id": event_id, "sender": facts.sender, "origin_server_ts": facts.timestamp,
            "type": facts.type, "content": dict(facts.content),
        }
    sender_device = item.sender_device or (encrypted or {}).get("content", {}).get("device_id")
    provenance = item.provenance.sentence(item.sender) if item.provenance else None
    restored = _restored_from_backup(engine, room_id, item)
    if provenance is None and restored is not None:
        provenance = (
            f"The key for this message was restored from your key backup on {_when(restored)}, not received "
            "from its sender."
        )
    return EventDetails(
        event_id=event_id,
        room_id=room_id,
        sender=item.sender,
        sender_device=sender_device,
        session_id=item.session_id,
        sender_key=item.sender_key,
        trust=_trust_sentence(engine, item, sender_device),
        provenance=provenance,
        failure_reason=item.failure_reason,
        decrypted_json=decrypted,
        encrypted_json=encrypted if isinstance(encrypted, dict) else None,
        edits=item.edits,
        body=item.body,
    )


def _restored_from_backup(engine: Context, room_id: str, item: Any) -> float | None:
    """When the key that decrypted `item` was restored from the key backup, if it was."""
    if not item.decrypted:
        return None
    meta = engine.olm.meta_for(room_id, item.session_id)
    if meta is None or meta.origin.value != "backup":
        return None
    return meta.received_at or 0.0


def _trust_sentence(engine: Context, item: Any, device_id: str | None) -> str:
    if item.decryption.value == "plaintext":
        return "not encrypted: anyone on the servers could read or change it"
    if item.failed:
        return "not decrypted, so nothing can be said about it"
    if item.provenance is not None:
        return str(item.provenance.trust(item.sender))
    if _restored_from_backup(engine, item.room_id, item) is not None:
        return (
            "authenticity not guaranteed: the key was restored from the key backup, to which anyone able to "
            "write to it (your homeserver) could have added keys, not received from the sender"
        )
    if item.sender == engine.client.user_id and device_id == engine.client.device_id:
        return "sent by this device"
    identity = engine.identity.identity_info(item.sender)
    if identity.state == "changed":
        return f"{item.sender}'s identity changed since you first saw it"
    if device_id and engine.identity.device_cross_signed(item.sender, device_id):
        if identity.state == "verified":
            return "from a device its owner cross-signed; you verified the owner"
        return "from a device its owner cross-signed (the owner is not verified by you)"
    if device_id:
        return "from a device its owner has not cross-signed"
    return "from an unknown device"


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def versions() -> dict[str, str]:
    return {
        "tui_client": __version__,
        "python": platform.python_version(),
        "matrix-nio": _version("matrix-nio"),
        "vodozemac": _version("vodozemac"),
        "textual": _version("textual"),
        "cryptography": _version("cryptography"),
        "platform": f"{platform.system()} {platform.machine()}",
        "executable": sys.executable,
    }


def store_health(engine: Context) -> dict[str, Any]:
    store = engine.store
    path = store.database_path
    size = sum(os.path.getsize(p) for p in (path, f"{path}-wal") if os.path.exists(p))
    rows = store.conn.execute("PRAGMA quick_check").fetchall()
    integrity = "; ".join(str(row[0]) for row in rows[:5]) if rows else "unknown"
    counts = store.count_inbound_sessions_by_room()
    account = engine.olm.account.identity_keys
    return {
        "path": path,
        "usable": True,
        "account_ed25519": account.get("ed25519"),
        "account_curve25519": account.get("curve25519"),
        "size_bytes": size,
        "integrity": integrity,
        "sessions_total": sum(counts.values()),
        "sessions_by_room": counts,
        "in_memory_sessions": len(list(engine.olm.inbound_group_store)),
        "olm_sessions": sum(len(v) for v in engine.olm.session_store._entries.values()),
    }


def all_paths() -> dict[str, str]:
    return {k: str(v) for k, v in paths.all_paths().items()}


async def device_keys_check(client: EngineClient) -> tuple[dict[str, Any], str | None]:
    """What the server publishes for our device, compared with the account in our store.

    Returns (report, problem): a problem when the server has no keys for this device, or keys of
    another Olm account (the store was replaced or reset: nobody can encrypt to this one)."""
    user_id, device_id = client.user_id, client.device_id
    local = client.olm.account.identity_keys if client.olm is not None else None
    try:
        status, body = await client.raw_json(
            "POST", "/_matrix/client/v3/keys/query", {"device_keys": {user_id: [device_id]}}, timeout=10
        )
    except Exception as exc:
        return {"checked": False, "error": f"{type(exc).__name__}: {exc}"}, None
    if status != 200:
        return {"checked": False, "error": f"HTTP {status}"}, None
    device = ((body.get("device_keys") or {}).get(user_id) or {}).get(device_id)
    keys = device.get("keys") if isinstance(device, dict) else None
    keys = keys if isinstance(keys, dict) else {}
    server = {"ed25519": keys.get(f"ed25519:{device_id}"), "curve25519": keys.get(f"curve25519:{device_id}")}
    report: dict[str, Any] = {
        "checked": True,
        "server_ed25519": server["ed25519"],
        "server_curve25519": server["curve25519"],
        "local_ed25519": local.get("ed25519") if local else None,
        "local_curve25519": local.get("curve25519") if local else None,
    }
    if not device:
        report["matches"] = False
        return report, f"the server lists no keys for this device ({device_id})"
    if local is None:
        report["matches"] = None
        return report, None
    report["matches"] = server == {"ed25519": local.get("ed25519"), "curve25519": local.get("curve25519")}
    if not report["matches"]:
        return report, (
            f"the server's keys for device {device_id} (ed25519 {server['ed25519']}) are not those of the "
            f"account in this store (ed25519 {local.get('ed25519')}): the store was replaced or reset, so "
            "others encrypt to keys this device does not have. Log in again as a new device."
        )
    return report, None


async def doctor(
    *,
    profile: str,
    profile_dir: Path,
    client: EngineClient | None,
    context: Context | None,
    store_problem: str | None,
    sync_state: SyncState,
) -> dict[str, Any]:
    """Versions, paths, the homeserver, the store's health, cross-signing, pending key bundles:
    everything a tester or a bug report needs, without secrets. `client` is None when logged
    out; `context` when the store could not be opened."""
    report: dict[str, Any] = {
        "versions": versions(),
        "paths": {**all_paths(), "profile_dir": str(profile_dir), "log_file": str(paths.log_dir() / "tui-client.log")},
        "profile": profile,
        "logged_in": client is not None,
    }
    if client is None:
        return report
    report["account"] = {"user_id": client.user_id, "device_id": client.device_id, "homeserver": client.homeserver}
    try:
        status, body = await client.raw_json("GET", "/_matrix/client/versions", timeout=10)
        report["homeserver"] = {"reachable": status == 200, "versions": body.get("versions", [])}
        status, body = await client.raw_json("GET", "/_matrix/federation/v1/version", timeout=10)
        if status == 200:
            report["homeserver"]["server"] = body.get("server")
    except Exception as exc:
        report["homeserver"] = {"reachable": False, "error": f"{type(exc).__name__}: {exc}"}
    problems: list[str] = []
    report["problems"] = problems
    if store_problem or context is None:
        problem = store_problem or "the crypto store is not open"
        report["store"] = {"path": str(profile_dir / "crypto.db"), "usable": False, "problem": problem}
        problems.append(problem)
        report["device_keys"], _ = await device_keys_check(client)
        return report
    trust = context.identity.own_trust()
    report["cross_signing"] = {
        "identity": "published" if trust.identity_exists else "none",
        "master_key": trust.master_key,
        "device_verified": trust.device_verified,
        "can_sign": trust.have_private_keys,
        "detail": trust.detail,
    }
    report["store"] = store_health(context)
    if report["store"]["integrity"] != "ok":
        problems.append(f"the crypto store is damaged: {report['store']['integrity']}")
    report["device_keys"], key_problem = await device_keys_check(client)
    if key_problem:
        problems.append(key_problem)
    records = context.sharing.records
    report["pending_bundles"] = [
        {"room_id": p.room_id, "inviter": p.inviter, "accepted_at": p.accepted_at, "state": p.state.value}
        for p in records.acceptances(AcceptState.JOINING, AcceptState.JOINED)
    ]
    report["received_bundles"] = [
        {"room_id": b.room_id, "sender": b.sender_user, "state": b.state.value, "detail": b.detail,
         "key_count": b.key_count, "imported": b.imported_count}
        for b in records.bundles()
    ]
    report["sync"] = {"state": sync_state.state.value, "detail": sync_state.detail}
    if context.backup is not None:
        backup = context.backup.status()
        report["key_backup"] = {"state": backup.state.value, "detail": backup.detail, "version": backup.version,
                                "keys_on_server": backup.keys_on_server, "keys_restored": backup.keys_restored,
                                "uploading": backup.uploading}
    return report
