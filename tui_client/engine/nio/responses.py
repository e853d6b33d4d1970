"""The responses nio parses for us, extended to keep what nio throws away: the cross-signing keys
of a /keys/query answer, and from a sync the invite-state JSON, the verification and secret
requests as the server sent them, the account data we read ourselves and the unused fallback
key types."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from nio.responses import KeysQueryResponse, SyncResponse


@dataclass
class FullKeysQueryResponse(KeysQueryResponse):
    """A /keys/query answer that also keeps master, self-signing and user-signing keys."""

    master_keys: dict[str, Any] = field(default_factory=dict)
    self_signing_keys: dict[str, Any] = field(default_factory=dict)
    user_signing_keys: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, parsed_dict: dict[Any, Any]) -> Any:
        base = KeysQueryResponse.from_dict(parsed_dict)
        if not isinstance(base, KeysQueryResponse):
            return base
        resp = cls(base.device_keys, base.failures)

        def section(name: str) -> dict[str, Any]:
            value = parsed_dict.get(name)
            return value if isinstance(value, dict) else {}

        resp.master_keys = section("master_keys")
        resp.self_signing_keys = section("self_signing_keys")
        resp.user_signing_keys = section("user_signing_keys")
        return resp


RAW_TO_DEVICE_PREFIXES = ("m.key.verification.", "m.secret.request")

# Global account data we read ourselves (nio keeps no m.direct, and parses push rules into a
# model that drops what it does not know).
RAW_ACCOUNT_DATA = ("m.direct", "m.push_rules")


class AppSyncResponse(SyncResponse):
    """A SyncResponse that keeps the parsed JSON (`raw`): nio drops invite-state encryption
    events and account data it does not model, which we need; and the fallback key types the
    server still holds unused for us (`unused_fallback_key_types`, None when not said)."""

    raw: dict[str, Any]
    unused_fallback_key_types: list[str] | None = None

    @classmethod
    def from_dict(cls, parsed_dict: dict[Any, Any]) -> Any:
        # nio's parsers pop fields out of the dicts they are given: copy what we read first.
        found = parsed_dict.get("rooms")
        rooms: dict[str, Any] = found if isinstance(found, dict) else {}
        unused = parsed_dict.get("device_unused_fallback_key_types",
                                 parsed_dict.get("org.matrix.msc2732.device_unused_fallback_key_types"))
        raw: dict[str, Any] = {"rooms": {"invite": copy.deepcopy(rooms.get("invite", {}))}}
        to_device = parsed_dict.get("to_device")
        events = to_device.get("events") if isinstance(to_device, dict) else None
        # Verification and secret requests as the server sent them: nio parses some of them
        # into its own (legacy) classes, and a commitment covers the exact content.
        raw["to_device"] = [
            copy.deepcopy(e) for e in (events if isinstance(events, list) else [])
            if isinstance(e, dict) and isinstance(e.get("type"), str) and e["type"].startswith(RAW_TO_DEVICE_PREFIXES)
        ]
        account_data = parsed_dict.get("account_data")
        events = account_data.get("events") if isinstance(account_data, dict) else None
        raw["account_data"] = {
            e["type"]: copy.deepcopy(e.get("content"))
            for e in (events if isinstance(events, list) else [])
            if isinstance(e, dict) and e.get("type") in RAW_ACCOUNT_DATA
        }
        resp = super().from_dict(parsed_dict)
        if isinstance(resp, SyncResponse):
            resp.raw = raw
            if isinstance(unused, list) and all(isinstance(t, str) for t in unused):
                resp.unused_fallback_key_types = list(unused)
        return resp
