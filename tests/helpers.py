"""Small test helpers: raw client-server API calls (for crafting hostile input) and waiting."""

from __future__ import annotations

import asyncio
import json
import secrets
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any


def raw_request(base_url: str, token: str, method: str, path: str, body: Any = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        base_url + path, data=data, method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=30) as resp:
        return json.loads(resp.read() or b"{}")


async def send_raw_event(engine: Any, room_id: str, event_type: str, content: dict) -> str:
    """Send an event exactly as given (no encryption, no validation) as `engine`'s user."""
    client = engine.client
    path = (
        f"/_matrix/client/v3/rooms/{urllib.parse.quote(room_id)}/send/"
        f"{urllib.parse.quote(event_type)}/{secrets.token_hex(8)}"
    )
    result = await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT", path, content)
    return result["event_id"]


async def send_raw_to_device(engine: Any, event_type: str, messages: dict) -> None:
    client = engine.client
    path = f"/_matrix/client/v3/sendToDevice/{urllib.parse.quote(event_type)}/{secrets.token_hex(8)}"
    await asyncio.to_thread(raw_request, client.homeserver, client.access_token, "PUT", path, {"messages": messages})


async def eventually(predicate: Callable[[], bool], engine: Any, timeout: float = 20.0) -> bool:
    """Sync `engine` until `predicate()` holds; return whether it did."""
    return await engine.wait_until(predicate, timeout)


def bodies(items) -> list[str | None]:
    return [i.body for i in items if i.is_message]
