"""The first sync after a login, asked for while the TUI is still starting.

On a first start after login nothing can be listed before the initial sync of every room, and
the server takes 0.2-0.7 s to answer it (a fresh Synapse, 100 rooms). The engine can ask only
once nio is imported and the store is open (~0.6 s of a 2-core machine, shared with the UI's own
start). So the claim starts the request at once, on a thread, with the standard library (no nio,
no aiohttp); the engine's first sync then takes this answer instead of asking again
(`EngineClient.sync`), and handles it exactly as it would its own.

Only a full-state sync without a token is asked for early: it is what the engine would ask,
and it is only ever made before the first token is saved. Anything other than a 200 with JSON
(an expired token, a server that is down) is not interpreted here: the engine sees the future
fail and makes its own request, whose error it reports as usual.
"""

from __future__ import annotations

import threading
from concurrent.futures import Future

from .session import SessionInfo

PATH = "/_matrix/client/v3/sync?full_state=true"
TIMEOUT = 120.0  # seconds: what the engine allows a full-state sync
MAX_BYTES = 512 * 1024 * 1024  # a first sync of thousands of rooms is tens of MiB


class EarlySyncFailed(Exception):
    """The early request got no usable answer (the engine asks again)."""


def prefetch(session: SessionInfo) -> Future[bytes]:
    """Start the initial sync of `session` on a daemon thread; the future holds the body."""
    future: Future[bytes] = Future()
    future.set_running_or_notify_cancel()

    def run() -> None:
        try:
            future.set_result(_fetch(session))
        except BaseException as exc:  # the engine falls back to its own request
            future.set_exception(exc if isinstance(exc, EarlySyncFailed) else EarlySyncFailed(
                f"{type(exc).__name__}: {exc}"))

    threading.Thread(target=run, name="early-first-sync", daemon=True).start()
    return future


def _fetch(session: SessionInfo) -> bytes:
    import urllib.request

    # No proxy from the environment: the engine's own requests (aiohttp) do not use one either.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    request = urllib.request.Request(
        session.homeserver.rstrip("/") + PATH,
        headers={"Authorization": f"Bearer {session.access_token}", "Accept": "application/json"},
    )
    with opener.open(request, timeout=TIMEOUT) as response:  # raises HTTPError for non-2xx
        if response.status != 200 or response.headers.get_content_type() != "application/json":
            raise EarlySyncFailed(f"HTTP {response.status}, {response.headers.get_content_type()}")
        body = response.read(MAX_BYTES + 1)
    if len(body) > MAX_BYTES:
        raise EarlySyncFailed(f"the answer is over {MAX_BYTES // 2**20} MiB")
    return bytes(body)
